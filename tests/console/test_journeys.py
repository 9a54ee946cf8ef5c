"""The console's journeys in a real Chromium, found by role and accessible
name as a person finds things (UI.md's names), against the real binary."""

import csv
import io
import json
import pathlib
import re
import ssl
import urllib.request

from playwright.sync_api import expect

from conftest import check_page

FAILED = "Login failed. Check your login and password."


def api(d, method, path, token=None, body=None):
    """A request to the API, as another service would send it."""
    req = urllib.request.Request(d.url(path), method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    ctx = ssl.create_default_context(cafile=str(d.data_dir / "tls" / "cert.pem"))
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def sign_in(page, d, login, password):
    page.goto(d.url("/ui/login"))
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def first_start(page, d):
    """Journey 1's first half: the printed link shows the password once."""
    page.goto(d.activation_link())
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    check_page(page, "activation")
    page.get_by_role("button", name="Show my password").click()
    password = page.locator("dd code.secret").inner_text()
    assert len(password) >= 12
    check_page(page, "activation-revealed")
    return password


def test_r7_1_first_start_link_then_sign_in_lands_on_users_with_the_primary_contact_starred(
        daemon, contexts):
    d = daemon()
    w = contexts(d.origin)
    page = w.page
    password = first_start(page, d)
    # The link is used up: opening it again says so and shows nothing.
    page.goto(d.activation_link())
    expect(page.get_by_role("alert")).to_contain_text("already used")
    page.goto(d.url("/"))
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    check_page(page, "login")
    sign_in(page, d, "admin", password)
    expect(page).to_have_url(re.compile(r"/ui/users$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="admin"))
    expect(row.get_by_role("cell").first).to_have_text("admin *")
    expect(row).to_contain_text("Manager")
    expect(row).to_contain_text("Active")
    expect(page.get_by_text("marks a primary contact")).to_be_visible()
    check_page(page, "users")
    page.get_by_role("link", name="admin").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("admin")
    expect(page.get_by_text("Primary contact of the subscription")).to_be_visible()
    check_page(page, "user")
    page.get_by_role("navigation").get_by_role("link", name="Account Info").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Account Info")
    # R10.3: the summary of scans and maps is there even when empty.
    expect(page.get_by_role("heading", name="Scans and maps")).to_be_visible()
    expect(page.get_by_text("You have no scans or maps yet.")).to_be_visible()
    check_page(page, "account-info")
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    # Signed out means the session is gone, not only the cookie.
    page.goto(d.url("/ui/users"))
    expect(page).to_have_url(re.compile(r"/ui/login$"))


def test_keyboard_only_first_start_and_sign_in(daemon, contexts):
    """Journey 1 with Tab and Enter only."""
    d = daemon()
    page = contexts(d.origin).page
    page.goto(d.activation_link())

    def tab_to(name, limit=15):
        for _ in range(limit):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                "() => { const e = document.activeElement;"
                " return (e.labels && e.labels[0] ? e.labels[0].innerText : e.innerText || '').trim() }")
            if focused == name:
                return
        raise AssertionError("Tab never reached " + name)

    tab_to("Show my password")
    page.keyboard.press("Enter")
    password = page.locator("dd code.secret").inner_text()
    tab_to("Sign in")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    tab_to("Login")
    page.keyboard.type("admin")
    tab_to("Password")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")


def test_r8_4_every_failure_shows_the_one_message_and_r8_3_the_limit_says_the_wait(
        daemon, contexts):
    d = daemon(
        init={"login": "boss", "password": "Tall-Trees-42", "email": "boss@example.com"},
        env={"BAILIWICK_AUTH_RATE_PER_LOGIN_PER_MINUTE": "2"},
    )
    page = contexts(d.origin).page
    sign_in(page, d, "boss", "wrong-password")
    expect(page.get_by_role("alert")).to_have_text(FAILED)
    # What was typed as the login stays; the password never comes back.
    expect(page.get_by_label("Login")).to_have_value("boss")
    expect(page.get_by_label("Password")).to_have_value("")
    sign_in(page, d, "nobody-by-that-name", "wrong-password")
    expect(page.get_by_role("alert")).to_have_text(FAILED)
    # The console and the API share one limiter: the API's failures count.
    status, _ = api(d, "POST", "/api/v1/session", body={"login": "boss", "password": "nope"})
    assert status == 401
    sign_in(page, d, "boss", "Tall-Trees-42")
    expect(page.get_by_role("alert")).to_have_text(
        re.compile(r"^Too many attempts\. Try again in \d+ seconds?\.$"))


def test_r8_8_sign_out_of_other_sessions_ends_the_other_browser(daemon, contexts):
    """Journey 5: two browsers; one signs the other out."""
    d = daemon(init={"login": "boss", "password": "Tall-Trees-42", "email": "boss@example.com"})
    one = contexts(d.origin).page
    two = contexts(d.origin).page
    sign_in(one, d, "boss", "Tall-Trees-42")
    sign_in(two, d, "boss", "Tall-Trees-42")
    one.get_by_role("navigation").get_by_role("link", name="Account Activity").click()
    expect(one.get_by_role("heading", level=1)).to_have_text("Account Activity")
    expect(one.get_by_role("row")).to_have_count(3)  # header and two sessions
    expect(one.get_by_text("This session")).to_have_count(1)
    check_page(one, "account-activity")
    one.get_by_role("button", name="Sign out of other sessions").click()
    expect(one.get_by_role("status")).to_have_text("1 other session was signed out.")
    expect(one.get_by_role("row")).to_have_count(2)
    # The other browser is at Sign in on its next click.
    two.get_by_role("navigation").get_by_role("link", name="Account Info").click()
    expect(two.get_by_role("heading", level=1)).to_have_text("Sign in")
    # The first one is still signed in.
    one.get_by_role("navigation").get_by_role("link", name="Users").click()
    expect(one.get_by_role("heading", level=1)).to_have_text("Users")


def test_r10_1_users_filters_and_a_restricted_reader(daemon, contexts):
    d = daemon(init={"login": "boss", "password": "Tall-Trees-42", "email": "boss@example.com"})
    status, s = api(d, "POST", "/api/v1/session",
                    body={"login": "boss", "password": "Tall-Trees-42"})
    assert status == 201, s
    token = s["token"]
    for login, role in [("sam", "scanner"), ("rita", "reader"), ("una", "unit_manager")]:
        body = {"login": login, "email": f"{login}@example.com", "first_name": login.title(),
                "last_name": "Example", "role": role}
        if role == "unit_manager":
            st, unit = api(d, "POST", "/api/v1/business-units", token, {"name": "California"})
            assert st == 201, unit
            body["business_unit"] = unit["id"]
        st, v = api(d, "POST", "/api/v1/users", token, body)
        assert st == 201, v
    page = contexts(d.origin).page
    sign_in(page, d, "boss", "Tall-Trees-42")
    expect(page.get_by_role("row")).to_have_count(5)
    page.get_by_label("Role").select_option(label="Scanner")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row")).to_have_count(2)
    expect(page.get_by_role("link", name="Sam Example")).to_be_visible()
    expect(page.get_by_label("Role")).to_have_value("scanner")
    page.get_by_label("Role").select_option(label="All")
    page.get_by_label("Status").select_option(label="Pending activation")
    page.get_by_label("Search").fill("una")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row")).to_have_count(2)
    row = page.get_by_role("row").filter(has_text="Una Example")
    expect(row).to_contain_text("Unit Manager")
    expect(row).to_contain_text("California")
    expect(row).to_contain_text("Pending activation")
    # A user outside the caller's sight is 404, as in the API.
    page.goto(d.url("/ui/users/no-such-user"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    check_page(page, "not-found")


def test_works_without_javascript_and_on_a_phone(daemon, contexts):
    d = daemon(init={"login": "boss", "password": "Tall-Trees-42", "email": "boss@example.com"})
    w = contexts(d.origin, viewport={"width": 390, "height": 844}, java_script=False)
    page = w.page
    sign_in(page, d, "boss", "Tall-Trees-42")
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    for path, name in [("/ui/users", "users-phone"), ("/ui/account/activity", "account-activity-phone")]:
        page.goto(d.url(path))
        # Nothing wider than the phone: the page never scrolls sideways
        # (a wide table scrolls inside its own box).
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide on a 390px phone"
        page.screenshot(path=str(__import__("conftest").SHOTS / f"{name}.png"), full_page=True)
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_r8_5_security_settings_then_r8_2_a_user_locked_after_the_threshold(daemon, contexts):
    """Journey 4, up to the lock: the Manager sets the policy in the browser,
    a user fails three times and sees the one message each time, and the
    Manager sees it Locked."""
    d = daemon(init={"login": "boss", "password": "Tall-Trees-42", "email": "boss@example.com"})
    st, s = api(d, "POST", "/api/v1/session", body={"login": "boss", "password": "Tall-Trees-42"})
    token = s["token"]
    st, sam = api(d, "POST", "/api/v1/users", token,
                  {"login": "sam", "email": "sam@example.com", "first_name": "Sam",
                   "last_name": "Example", "role": "scanner"})
    assert st == 201, sam
    boss = contexts(d.origin).page
    sign_in(boss, d, "boss", "Tall-Trees-42")
    boss.get_by_role("navigation").get_by_role("link", name="Security").click()
    expect(boss.get_by_role("heading", level=1)).to_have_text("Security")
    check_page(boss, "security")
    # A refused value is said beside its field, and the rest of the input stays.
    boss.get_by_label("Allow users to define their own passwords").check()
    boss.get_by_label("Lock account after failed attempts").fill("0")
    boss.get_by_label("Minimum password length").fill("12")
    boss.get_by_role("button", name="Save").click()
    field = boss.get_by_label("Lock account after failed attempts")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(boss.locator("#lockout_threshold-error")).to_be_visible()
    expect(boss.get_by_label("Minimum password length")).to_have_value("12")
    expect(boss.get_by_label("Allow users to define their own passwords")).to_be_checked()
    st, now = api(d, "GET", "/api/v1/settings/security", token)
    assert now["lockout_threshold"] == 5 and now["min_password_length"] != 12, now
    check_page(boss, "security-refused")
    field.fill("3")
    boss.get_by_role("button", name="Save").click()
    expect(boss.get_by_role("status")).to_have_text("The security settings are saved.")
    st, now = api(d, "GET", "/api/v1/settings/security", token)
    assert now["lockout_threshold"] == 3 and now["user_defined_passwords"] is True, now
    # Sam (activated by the operator's link) fails three times.
    link = json.loads(d.ctl("--json", "users", "activation-link", "sam"))["link"]
    visitor = contexts(d.origin).page
    visitor.goto(link.replace("127.0.0.1", "localhost"))
    visitor.get_by_label("New password").fill("Sams-Own-Passphrase-1")
    visitor.get_by_label("Confirm password").fill("Sams-Own-Passphrase-1")
    visitor.get_by_role("button", name="Set password").click()
    expect(visitor.get_by_role("status")).to_contain_text("is set")
    sign_in(visitor, d, "sam", "Sams-Own-Passphrase-1")
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Users")
    visitor.get_by_role("button", name="Sign out", exact=True).click()
    for _ in range(3):
        sign_in(visitor, d, "sam", "not-the-passphrase")
        expect(visitor.get_by_role("alert")).to_have_text(FAILED)
    # Locked: the right password now gets the same one message.
    sign_in(visitor, d, "sam", "Sams-Own-Passphrase-1")
    expect(visitor.get_by_role("alert")).to_have_text(FAILED)
    boss.get_by_role("navigation").get_by_role("link", name="Users").click()
    row = boss.get_by_role("row").filter(has=boss.get_by_role("link", name="Sam Example"))
    expect(row).to_contain_text("Locked")
    # The filter finds exactly the locked ones.
    boss.get_by_label("Status").select_option(label="Locked")
    boss.get_by_role("button", name="Filter").click()
    expect(boss.get_by_role("link", name="Sam Example")).to_be_visible()
    expect(boss.get_by_role("link", name="boss")).to_have_count(0)
    # The Manager reactivates it (R8.2, R7.3) from the user's page.
    boss.get_by_role("link", name="Sam Example").click()
    expect(boss.get_by_role("heading", level=1)).to_have_text("Sam Example")
    check_page(boss, "user-locked")
    boss.get_by_role("button", name="Reactivate").click()
    expect(boss.get_by_role("status")).to_have_text("Reactivated: the user may sign in again.")
    expect(boss.get_by_role("button", name="Reactivate")).to_have_count(0)
    sign_in(visitor, d, "sam", "Sams-Own-Passphrase-1")
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Users")


def test_r11_2_activity_filters_by_user_and_api_and_the_csv_matches_the_table(daemon, contexts):
    """Journey 6: the Manager filters the log by user and "API"; "Download
    CSV" gives the same entries; a Scanner sees only its own."""
    d = daemon(init={"login": "boss", "password": "Tall-Trees-42", "email": "boss@example.com"})
    for _ in range(2):
        st, s = api(d, "POST", "/api/v1/session", body={"login": "boss", "password": "Tall-Trees-42"})
        assert st == 201, s
    token = s["token"]
    st, sam = api(d, "POST", "/api/v1/users", token,
                  {"login": "sam", "email": "sam@example.com", "first_name": "Sam",
                   "last_name": "Example", "role": "scanner"})
    assert st == 201, sam
    link = json.loads(d.ctl("--json", "users", "activation-link", "sam"))["link"]
    st, creds = api(d, "GET", link.split(str(d.port), 1)[1].replace("/ui/", "/api/v1/"))
    assert st == 200, creds
    st, s = api(d, "POST", "/api/v1/session", body={"login": "sam", "password": creds["password"]})
    assert st == 201, s

    boss = contexts(d.origin).page
    sign_in(boss, d, "boss", "Tall-Trees-42")
    boss.get_by_role("navigation").get_by_role("link", name="Activity", exact=True).click()
    expect(boss.get_by_role("heading", level=1)).to_have_text("Activity")
    check_page(boss, "activity")
    boss.get_by_label("User").fill("boss")
    boss.get_by_label("Details").fill("API")
    boss.get_by_role("button", name="Filter").click()
    body = boss.get_by_role("table").get_by_role("rowgroup").nth(1)
    rows = body.get_by_role("row")
    expect(rows).to_have_count(2)
    table = [[c.strip() for c in r.get_by_role("cell").all_inner_texts()] for r in rows.all()]
    for time, user, unit, ip, action, target, details in table:
        assert user == "boss" and action == "login" and "API" in details, table
    check_page(boss, "activity-filtered")
    with boss.expect_download() as dl:
        boss.get_by_role("link", name="Download CSV").click()
    text = pathlib.Path(dl.value.path()).read_text()
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [(r["actor_login"], r["action"], r["details"]) for r in lines] == \
        [(u, a, det) for _, u, _, _, a, _, det in table], (text, table)

    # A refused filter says which field and keeps the rest of the input.
    boss.get_by_label("Source IP").fill("not-an-address")
    boss.get_by_role("button", name="Filter").click()
    expect(boss.get_by_role("alert")).to_contain_text("Source IP:")
    expect(boss.get_by_label("User")).to_have_value("boss")

    # A Scanner sees its own entries only (R11.2).
    visitor = contexts(d.origin).page
    sign_in(visitor, d, "sam", creds["password"])
    visitor.get_by_role("navigation").get_by_role("link", name="Activity", exact=True).click()
    users = visitor.get_by_role("table").get_by_role("rowgroup").nth(1) \
        .get_by_role("row").all()
    assert users, "sam sees its own logins"
    for r in users:
        assert r.get_by_role("cell").nth(1).inner_text().strip() == "sam"


def manager_token(d):
    st, s = api(d, "POST", "/api/v1/session", body={"login": "boss", "password": "Tall-Trees-42"})
    assert st == 201, s
    return s["token"]


def activated_token(d, contexts, login):
    """`login` opens its registration link, sees its password once and signs
    in over the API, as a person's first start and a script would."""
    link = json.loads(d.ctl("--json", "users", "activation-link", login))["link"]
    page = contexts(d.origin).page
    page.goto(link.replace("127.0.0.1", "localhost"))
    page.get_by_role("button", name="Show my password").click()
    password = page.locator("dd code.secret").inner_text()
    st, s = api(d, "POST", "/api/v1/session", body={"login": login, "password": password})
    assert st == 201, s
    return s["token"]


def test_r2_every_user_form_refusal_is_shown_beside_its_field_and_keeps_the_input(daemon, contexts):
    """Journey 7: a duplicate login, a Unit Manager without a unit, a User
    Administrator's role: each refusal is the API's message, next to the
    field it is about, and what was typed stays."""
    d = daemon(init={"login": "boss", "password": "Tall-Trees-42", "email": "boss@example.com"})
    token = manager_token(d)
    st, ua = api(d, "POST", "/api/v1/users", token,
                 {"login": "uma", "email": "uma@example.com", "first_name": "Uma",
                  "last_name": "Admin", "role": "user_administrator"})
    assert st == 201, ua
    page = contexts(d.origin).page
    sign_in(page, d, "boss", "Tall-Trees-42")
    page.get_by_role("button", name="New user").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New user")
    check_page(page, "user-new")
    page.get_by_label("Login").fill("uma")
    page.get_by_label("Email").fill("second@example.com")
    page.get_by_label("First name").fill("Second")
    page.get_by_label("Last name").fill("Uma")
    page.get_by_label("Role").select_option(label="Scanner")
    page.get_by_role("button", name="Save").click()
    login = page.get_by_label("Login")
    expect(login).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#login-error")).to_have_text("login uma is taken; choose another")
    expect(page.get_by_label("Email")).to_have_value("second@example.com")
    expect(page.get_by_label("Role")).to_have_value("scanner")
    check_page(page, "user-new-refused")
    # A Unit Manager belongs to a unit: said beside "Business unit".
    login.fill("umbra")
    page.get_by_label("Role").select_option(label="Unit Manager")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("Business unit")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#business_unit-error")).to_contain_text("always belongs to a business unit")
    st, listed = api(d, "GET", "/api/v1/users?q=umbra", token)
    assert listed["items"] == [], "a refused form creates nothing"
    # Accepted: the new user's page says what happens next.
    page.get_by_label("Role").select_option(label="Scanner")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Second Uma")
    expect(page.get_by_role("status")).to_contain_text("activation link")
    st, listed = api(d, "GET", "/api/v1/users?q=umbra", token)
    assert [u["role"] for u in listed["items"]] == ["scanner"], listed
    # Edit: a User Administrator's role never changes (R2), beside "Role".
    page.goto(d.url(f"/ui/users/{ua['id']}"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Uma Admin")
    expect(page.get_by_label("Login")).to_have_attribute("readonly", "")
    page.get_by_label("Last name").fill("Administrator")
    page.get_by_label("Role").select_option(label="Reader")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#role-error")).to_contain_text("never changes")
    expect(page.get_by_label("Last name")).to_have_value("Administrator")
    st, now = api(d, "GET", f"/api/v1/users/{ua['id']}", token)
    assert now["role"] == "user_administrator" and now["last_name"] == "Admin", now
    page.get_by_label("Role").select_option(label="User Administrator")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    st, now = api(d, "GET", f"/api/v1/users/{ua['id']}", token)
    assert now["last_name"] == "Administrator", now
    check_page(page, "user-edit")


def test_r7_4_move_keeping_groups_lists_california_1_and_r7_5_delete_lists_every_outcome(
        daemon, contexts):
    """Journey 3: the Manager moves a Scanner to another unit keeping its
    asset groups and sees the copy "California 1"; then deletes it, handing
    its configurations to another user, and sees every outcome."""
    d = daemon(init={"login": "boss", "password": "Tall-Trees-42", "email": "boss@example.com"})
    token = manager_token(d)
    st, v = api(d, "POST", "/api/v1/assets", token, {"ips": ["10.1.0.0/16", "10.2.0.0/16"]})
    assert st < 300, v
    units = {}
    for name, net in [("California", "10.1.0.0/16"), ("Nevada", "10.2.0.0/16")]:
        st, u = api(d, "POST", "/api/v1/business-units", token,
                    {"name": name, "assets": {"ips": [net]}})
        assert st == 201, u
        units[name] = u["id"]

    def person(login, role, unit, **more):
        st, u = api(d, "POST", "/api/v1/users", token,
                    {"login": login, "email": f"{login}@example.com", "first_name": login.title(),
                     "last_name": "Example", "role": role, "business_unit": units[unit], **more})
        assert st == 201, u
        return u

    person("jane", "unit_manager", "California")
    jane = activated_token(d, contexts, "jane")
    st, cal = api(d, "POST", "/api/v1/asset-groups", jane,
                  {"title": "California", "ips": ["10.1.1.0/24"]})
    assert st == 201, cal
    sam = person("sam", "scanner", "California", asset_groups=[cal["id"]])
    person("nina", "scanner", "Nevada")
    st, nightly = api(d, "POST", "/api/v1/objects", token,
                      {"kind": "scheduled_scan", "name": "nightly", "owner": sam["id"],
                       "asset_groups": [cal["id"]]})
    assert st == 201, nightly

    page = contexts(d.origin).page
    sign_in(page, d, "boss", "Tall-Trees-42")
    page.get_by_role("link", name="Sam Example").click()
    # A unit change by edit is refused and names the move (R7.4).
    page.get_by_label("Business unit").select_option(label="Nevada")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#business_unit-error")).to_contain_text("/move")
    page.get_by_role("button", name="Move").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Move user")
    check_page(page, "user-move")
    page.get_by_label("Business unit").select_option(label="Nevada")
    expect(page.get_by_label("Keep configurations")).to_be_checked()
    expect(page.get_by_label("Keep asset groups")).to_be_checked()
    page.get_by_role("button", name="Move").click()
    expect(page.get_by_role("status")).to_have_text("Sam Example is moved.")
    copied = page.get_by_role("row").filter(has_text="California")
    expect(copied).to_contain_text("copied: California 1")
    check_page(page, "user-moved")
    st, now = api(d, "GET", f"/api/v1/users/{sam['id']}", token)
    assert now["business_unit"] == units["Nevada"], now

    page.goto(d.url(f"/ui/users/{sam['id']}"))
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete user")
    check_page(page, "user-delete")
    # A login nobody has is refused beside the field; nothing is deleted.
    page.get_by_label("Transfer configurations to").fill("nobody")
    page.get_by_label("Keep results").check()
    page.get_by_role("button", name="Delete").click()
    expect(page.locator("#transfer-error")).to_contain_text("no user with the login nobody")
    expect(page.get_by_label("Keep results")).to_be_checked()
    st, _ = api(d, "GET", f"/api/v1/users/{sam['id']}", token)
    assert st == 200
    page.get_by_label("Transfer configurations to").fill("nina")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text("Sam Example is deleted.")
    expect(page.get_by_role("row").filter(has_text="nightly")).to_contain_text(
        "transferred: Nina Example")
    check_page(page, "user-deleted")
    st, _ = api(d, "GET", f"/api/v1/users/{sam['id']}", token)
    assert st == 404
    st, obj = api(d, "GET", f"/api/v1/objects/{nightly['id']}", token)
    assert obj["owner"] != sam["id"], obj


def mailed_link(d, to):
    """The activation link of the last mail the spool transport wrote to `to`."""
    import email
    import email.policy
    found = None
    for path in sorted((d.data_dir / "outbox-spool").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if to in str(msg["To"]):
            body = msg.get_body(preferencelist=("plain",)).get_content()
            m = re.search(r"https://\S+/ui/activation/\S+", body)
            if m:
                found = m.group(0)
    assert found, f"no activation mail to {to} in the spool"
    return found.replace("127.0.0.1", "localhost")


def test_r3_a_manager_builds_a_unit_and_its_unit_manager_builds_inside_it(daemon, contexts):
    """Journey 2: the Manager creates a business unit with IPs and a Unit
    Manager there; the registration mail lands in the spool; the Unit
    Manager activates, signs in, sees only its unit's users, and creates an
    asset group and a Scanner holding it."""
    d = daemon(init={"login": "boss", "password": "Tall-Trees-42", "email": "boss@example.com"})
    token = manager_token(d)
    st, v = api(d, "POST", "/api/v1/assets", token, {"ips": ["10.1.0.0/16", "10.2.0.0/16"]})
    assert st < 300, v
    st, other = api(d, "POST", "/api/v1/users", token,
                    {"login": "olga", "email": "olga@example.com", "first_name": "Olga",
                     "last_name": "Other", "role": "reader"})
    assert st == 201, other
    boss = contexts(d.origin).page
    sign_in(boss, d, "boss", "Tall-Trees-42")
    boss.get_by_role("navigation").get_by_role("link", name="Business Units").click()
    expect(boss.get_by_role("heading", level=1)).to_have_text("Business Units")
    boss.get_by_role("button", name="New business unit").click()
    check_page(boss, "business-unit-new")
    boss.get_by_label("Name").fill("California")
    # An IP outside the subscription is refused beside "IPs" (R3.1).
    boss.get_by_label("IPs").fill("192.168.0.0/24")
    boss.get_by_role("button", name="Save").click()
    expect(boss.locator("#ips-error")).to_contain_text("not in the subscription")
    expect(boss.get_by_label("Name")).to_have_value("California")
    boss.get_by_label("IPs").fill("10.1.0.0/16")
    boss.get_by_role("button", name="Save").click()
    expect(boss.get_by_role("heading", level=1)).to_have_text("California")
    expect(boss.get_by_role("status")).to_have_text("The business unit is created.")
    check_page(boss, "business-unit")
    st, units = api(d, "GET", "/api/v1/business-units", token)
    assert [(u["name"], u["assets"]["ips"]) for u in units["items"]] == [
        ("California", ["10.1.0.0/16"])], units

    boss.get_by_role("navigation").get_by_role("link", name="Users").click()
    boss.get_by_role("button", name="New user").click()
    boss.get_by_label("Login").fill("jane")
    boss.get_by_label("Email").fill("jane@example.com")
    boss.get_by_label("First name").fill("Jane")
    boss.get_by_label("Last name").fill("Unit")
    boss.get_by_label("Role").select_option(label="Unit Manager")
    boss.get_by_label("Business unit").select_option(label="California")
    boss.get_by_role("button", name="Save").click()
    expect(boss.get_by_role("heading", level=1)).to_have_text("Jane Unit")

    # Users outside a unit are hidden from it (R10.1): Users > Setup.
    boss.get_by_role("navigation").get_by_role("link", name="Security").click()
    boss.get_by_role("link", name="User Permissions").click()
    expect(boss.get_by_role("heading", level=1)).to_have_text("User Permissions")
    hide = boss.get_by_label("Hide users outside the business unit")
    hide.check()
    boss.get_by_role("button", name="Save").click()
    expect(boss.locator("#hide_users_outside_unit-error")).to_contain_text("works only with")
    expect(hide).to_be_checked()
    boss.get_by_label("Restrict view of user information for users outside of business unit").check()
    boss.get_by_role("button", name="Save").click()
    expect(boss.get_by_role("status")).to_have_text("Saved.")
    check_page(boss, "user-permissions")
    st, vis = api(d, "GET", "/api/v1/settings/user-permissions", token)
    assert vis["hide_users_outside_unit"] and vis["restrict_user_info_outside_unit"], vis

    # Jane's registration mail, from the spool, opens her account.
    jane = contexts(d.origin).page
    jane.goto(mailed_link(d, "jane@example.com"))
    jane.get_by_role("button", name="Show my password").click()
    password = jane.locator("dd code.secret").inner_text()
    sign_in(jane, d, "jane", password)
    expect(jane.get_by_role("heading", level=1)).to_have_text("Users")
    expect(jane.get_by_role("link", name="Jane Unit")).to_be_visible()
    expect(jane.get_by_role("link", name="Olga Other")).to_have_count(0)
    expect(jane.get_by_role("link", name="boss")).to_have_count(0)

    jane.get_by_role("navigation").get_by_role("link", name="Asset Groups").click()
    expect(jane.get_by_role("heading", level=1)).to_have_text("Asset Groups")
    jane.get_by_role("button", name="New asset group").click()
    check_page(jane, "asset-group-new")
    jane.get_by_label("Title").fill("West")
    # Outside the unit's IPs: the API's refusal, beside "IPs".
    jane.get_by_label("IPs").fill("10.2.0.0/24")
    jane.get_by_role("button", name="Save").click()
    expect(jane.locator("#ips-error")).to_be_visible()
    expect(jane.get_by_label("Title")).to_have_value("West")
    jane.get_by_label("IPs").fill("10.1.1.0/24")
    jane.get_by_role("button", name="Save").click()
    expect(jane.get_by_role("status")).to_have_text("The asset group is created.")
    check_page(jane, "asset-group")
    jane.get_by_role("navigation").get_by_role("link", name="Asset Groups").click()
    expect(jane.get_by_role("row").filter(has_text="West")).to_contain_text("Jane Unit")
    check_page(jane, "asset-groups")

    jane.get_by_role("navigation").get_by_role("link", name="Users").click()
    jane.get_by_role("button", name="New user").click()
    jane.get_by_label("Login").fill("sam")
    jane.get_by_label("Email").fill("sam@example.com")
    jane.get_by_label("First name").fill("Sam")
    jane.get_by_label("Last name").fill("Scanner")
    jane.get_by_label("Role").select_option(label="Scanner")
    expect(jane.get_by_label("Business unit")).to_have_value(units["items"][0]["id"])
    jane.get_by_label("West").check()
    jane.get_by_role("button", name="Save").click()
    expect(jane.get_by_role("heading", level=1)).to_have_text("Sam Scanner")
    expect(jane.get_by_label("West")).to_be_checked()
    st, found = api(d, "GET", "/api/v1/users?q=sam", token)
    (sam,) = found["items"]
    st, groups = api(d, "GET", "/api/v1/asset-groups", token)
    west = [g for g in groups["items"] if g["title"] == "West"][0]
    assert sam["asset_groups"] == [west["id"]] and sam["business_unit"] == units["items"][0]["id"], sam

    # A distribution group of Jane's unit that a Manager also put Olga in:
    # Jane does not see Olga (R10.1), and renaming the group keeps her.
    jane.get_by_role("navigation").get_by_role("link", name="Distribution Groups").click()
    jane.get_by_label("Name").fill("West team")
    jane.get_by_label("Members").fill("sam")
    jane.get_by_role("button", name="Create").click()
    expect(jane.get_by_role("heading", level=1)).to_have_text("West team")
    st, dgs = api(d, "GET", "/api/v1/distribution-groups", token)
    (dg,) = dgs["items"]
    st, v = api(d, "PATCH", f"/api/v1/distribution-groups/{dg['id']}", token,
                {"members": dg["members"] + [other["id"]]})
    assert st == 200, v
    jane.reload()
    expect(jane.get_by_label("Members")).to_have_value("sam")
    jane.get_by_label("Name").fill("West crew")
    jane.get_by_role("button", name="Save").click()
    expect(jane.get_by_role("status")).to_have_text("Saved.")
    st, dgs = api(d, "GET", "/api/v1/distribution-groups", token)
    (now,) = dgs["items"]
    assert now["name"] == "West crew" and sorted(now["members"]) == sorted([sam["id"], other["id"]]), now


def test_r8_7_profile_sets_secret_questions_and_forgot_password_resets_with_them(daemon, contexts):
    """Profile: own details, password (with user-defined passwords) and
    secret questions; then "Forgot password?" resets the password with the
    answers, and a wrong answer or an unknown login read the same."""
    d = daemon(init={"login": "boss", "password": "Tall-Trees-42", "email": "boss@example.com"})
    token = manager_token(d)
    st, sec = api(d, "GET", "/api/v1/settings/security", token)
    st, sec = api(d, "PUT", "/api/v1/settings/security", token, dict(sec, user_defined_passwords=True))
    assert st == 200, sec
    page = contexts(d.origin).page
    sign_in(page, d, "boss", "Tall-Trees-42")
    page.get_by_role("navigation").get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Profile")
    check_page(page, "profile")
    page.get_by_label("Last name").fill("Boss")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Your details are saved.")
    st, me = api(d, "GET", "/api/v1/me", token)
    assert me["last_name"] == "Boss", me
    # The password: the two new ones must agree; then it changes.
    page.get_by_label("Current password").fill("Tall-Trees-42")
    page.get_by_label("New password", exact=True).fill("Wide-Rivers-77")
    page.get_by_label("Confirm new password").fill("Wide-Rivers-78")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#pw-confirm-error")).to_contain_text("differ")
    page.get_by_label("Current password").fill("Tall-Trees-42")
    page.get_by_label("New password", exact=True).fill("Wide-Rivers-77")
    page.get_by_label("Confirm new password").fill("Wide-Rivers-77")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    # Secret questions need the password: a session alone is not enough.
    answers = ["Rex", "Lisbon", "Blue"]
    for i, (q, a) in enumerate(zip(["First pet?", "First city?", "First car colour?"], answers), 1):
        page.get_by_label(f"Question {i}").fill(q)
        page.get_by_label(f"Answer {i}").fill(a)
    page.get_by_label("Your password").fill("not-it")
    page.get_by_role("button", name="Save secret questions").click()
    expect(page.locator("#q-password-error")).to_contain_text("wrong")
    for i, a in enumerate(answers, 1):
        page.get_by_label(f"Answer {i}").fill(a)
    page.get_by_label("Your password").fill("Wide-Rivers-77")
    page.get_by_role("button", name="Save secret questions").click()
    expect(page.get_by_role("status")).to_have_text("Your secret questions are saved.")
    expect(page.get_by_label("Question 2")).to_have_value("First city?")
    page.get_by_role("button", name="Sign out", exact=True).click()

    # Forgot password: a wrong answer gets the one message.
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset password")
    check_page(page, "password-reset")
    page.get_by_label("Login").fill("boss")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("First pet?").fill("Rex")
    page.get_by_label("First city?").fill("Porto")
    page.get_by_label("First car colour?").fill("Blue")
    page.get_by_label("New password", exact=True).fill("Deep-Lakes-31")
    page.get_by_label("Confirm password").fill("Deep-Lakes-31")
    page.get_by_role("button", name="Reset password").click()
    expect(page.get_by_role("alert")).to_have_text("Password reset failed. Check your login and answers.")
    # An unknown login gets three questions too: nothing tells it apart.
    page.get_by_label("Login").fill("nobody")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("input[name^=a]")).to_have_count(3)
    page.goto(d.url("/ui/password-reset"))
    page.get_by_label("Login").fill("boss")
    page.get_by_role("button", name="Continue").click()
    check_page(page, "password-reset-questions")
    for q, a in zip(["First pet?", "First city?", "First car colour?"], answers):
        page.get_by_label(q).fill(a)
    page.get_by_label("New password", exact=True).fill("Deep-Lakes-31")
    page.get_by_label("Confirm password").fill("Deep-Lakes-31")
    page.get_by_role("button", name="Reset password").click()
    expect(page.get_by_role("status")).to_contain_text("is set")
    sign_in(page, d, "boss", "Deep-Lakes-31")
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")


def test_r12_1_assets_then_a_distribution_group_and_a_notification_that_reaches_the_spool(
        daemon, contexts):
    """Assets: add and remove, a bad value said beside its field; a
    distribution group of a user and an address; a notification to it lands
    in the spool once per address (R12.1)."""
    d = daemon(init={"login": "boss", "password": "Tall-Trees-42", "email": "boss@example.com"})
    token = manager_token(d)
    st, sam = api(d, "POST", "/api/v1/users", token,
                  {"login": "sam", "email": "sam@example.com", "first_name": "Sam",
                   "last_name": "Example", "role": "scanner"})
    assert st == 201, sam
    page = contexts(d.origin).page
    sign_in(page, d, "boss", "Tall-Trees-42")
    page.get_by_role("navigation").get_by_role("link", name="Assets").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Assets")
    page.get_by_label("IPs to add").fill("10.9.0.0/16\n300.1.1.1")
    page.get_by_role("button", name="Add").click()
    expect(page.locator("#add-ips-error")).to_contain_text("300.1.1.1")
    expect(page.get_by_label("IPs to add")).to_have_value("10.9.0.0/16\n300.1.1.1")
    page.get_by_label("IPs to add").fill("10.9.0.0/16")
    page.get_by_label("Domains to add").fill("example.org")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("status")).to_have_text("The assets are added.")
    expect(page.get_by_text("10.9.0.0/16")).to_be_visible()
    check_page(page, "assets")
    page.get_by_label("IPs to remove").fill("10.9.255.0/24")
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status")).to_contain_text("removed")
    st, now = api(d, "GET", "/api/v1/assets", token)
    assert "10.9.255.0/24" not in " ".join(now["ips"]) and now["domains"] == ["example.org"], now

    page.get_by_role("navigation").get_by_role("link", name="Distribution Groups").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Distribution Groups")
    page.get_by_label("Name").fill("Ops")
    page.get_by_label("Members").fill("sam\nghost")
    page.get_by_label("Emails").fill("noc@example.net")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#members-error")).to_contain_text("no user with the login ghost")
    expect(page.get_by_label("Emails")).to_have_value("noc@example.net")
    page.get_by_label("Members").fill("sam")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ops")
    expect(page.get_by_label("Members")).to_have_value("sam")
    check_page(page, "distribution-group")
    page.get_by_role("navigation").get_by_role("link", name="Distribution Groups").click()
    expect(page.get_by_role("row").filter(has_text="Ops")).to_contain_text("1")
    check_page(page, "distribution-groups")

    page.get_by_role("link", name="Send Notification").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Send Notification")
    page.get_by_label("Ops").check()
    page.get_by_label("Subject").fill("Maintenance tonight")
    page.get_by_label("Message").fill("The scanners stop at 22:00.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Queued: 2 emails.")
    check_page(page, "notification")
    import email
    import email.policy
    import time
    deadline = time.time() + 10
    while True:
        sent = []
        for path in (d.data_dir / "outbox-spool").glob("*.eml"):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if msg["Subject"] == "Maintenance tonight":
                sent.append(str(msg["To"]))
        if len(sent) == 2 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert sorted(a.split("<")[-1].rstrip(">") for a in sent) == [
        "noc@example.net", "sam@example.com"], sent

    # A kind sam opted out of reaches the group's address only (R12.1).
    st, v = api(d, "PUT", f"/api/v1/users/{sam['id']}/notification-options", token,
                {"scan_complete": False})
    assert st == 200, v
    page.goto(d.url("/ui/notifications/new"))
    page.get_by_label("Ops").check()
    page.get_by_label("Kind").select_option(label="Scan complete")
    page.get_by_label("Subject").fill("Scan done")
    page.get_by_label("Message").fill("Results are in.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Queued: 1 email.")
    expect(page.get_by_role("listitem").filter(has_text="opted out of scan_complete")).to_contain_text("Sam")
    check_page(page, "notification-kind")


def test_r10_2_r4_2_r3_2_the_setup_pages_and_a_units_own_email_contact(daemon, contexts):
    """Users > Setup: Email Contact (a bad address beside "Email"), Primary
    Contact handed to another Manager, Business Unit Settings; and a unit's
    own Email Contact on its page. Each is what the API then reads."""
    d = daemon(init={"login": "boss", "password": "Tall-Trees-42", "email": "boss@example.com"})
    token = manager_token(d)
    st, unit = api(d, "POST", "/api/v1/business-units", token, {"name": "California"})
    assert st == 201, unit
    st, mia = api(d, "POST", "/api/v1/users", token,
                  {"login": "mia", "email": "mia@example.com", "first_name": "Mia",
                   "last_name": "Example", "role": "manager"})
    assert st == 201, mia
    activated_token(d, contexts, "mia")
    page = contexts(d.origin).page
    sign_in(page, d, "boss", "Tall-Trees-42")
    page.get_by_role("navigation").get_by_role("link", name="Security").click()
    page.get_by_role("link", name="Email Contact").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Email Contact")
    page.get_by_label("Name").fill("Ops desk")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Allow Unit Managers to override for their business unit").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#email-error")).to_contain_text("not an email address")
    expect(page.get_by_label("Name")).to_have_value("Ops desk")
    page.get_by_label("Email").fill("ops@example.com")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    check_page(page, "email-contact")
    st, ec = api(d, "GET", "/api/v1/settings/email-contact", token)
    assert ec == {"email_contact": {"name": "Ops desk", "email": "ops@example.com"},
                  "allow_unit_manager_override": True}, ec

    page.get_by_role("link", name="Business Unit Settings").click()
    page.get_by_label("Limit new IPs per business unit").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    check_page(page, "business-unit-settings")
    st, us = api(d, "GET", "/api/v1/settings/business-units", token)
    assert us == {"new_ip_limit_enabled": True}, us

    page.get_by_role("link", name="Primary Contact").click()
    expect(page.get_by_label("Primary contact")).to_have_value(
        api(d, "GET", "/api/v1/me", token)[1]["id"])
    check_page(page, "primary-contact")
    page.get_by_label("Primary contact").select_option(label="Mia Example (mia)")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    st, poc = api(d, "GET", "/api/v1/primary-contact", token)
    assert poc["user"] == mia["id"], poc
    page.get_by_role("navigation").get_by_role("link", name="Users").click()
    expect(page.get_by_role("row").filter(has_text="Mia Example").get_by_role("cell").first).to_have_text(
        "Mia Example *")

    page.get_by_role("navigation").get_by_role("link", name="Business Units").click()
    expect(page.get_by_role("row").filter(has_text="California")).to_contain_text("none")
    check_page(page, "business-units")
    page.get_by_role("link", name="California").click()
    page.get_by_label("Contact name").fill("California desk")
    page.get_by_label("Contact email").fill("ca@example.com")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    st, now = api(d, "GET", f"/api/v1/business-units/{unit['id']}", token)
    assert now["email_contact"] == {"name": "California desk", "email": "ca@example.com"}, now
    # A unit with a user cannot be deleted (R3.1): the API's reason, on the page.
    st, v = api(d, "POST", "/api/v1/users", token,
                {"login": "cal", "email": "cal@example.com", "first_name": "Cal",
                 "last_name": "Example", "role": "scanner", "business_unit": unit["id"]})
    assert st == 201, v
    page.reload()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("alert")).to_contain_text("still has 1 user")
    st, _ = api(d, "GET", f"/api/v1/business-units/{unit['id']}", token)
    assert st == 200


def test_r10_3_account_info_lists_appliances_and_the_latest_scans(daemon, contexts):
    d = daemon(init={"login": "boss", "password": "Tall-Trees-42", "email": "boss@example.com"})
    st, s = api(d, "POST", "/api/v1/session", body={"login": "boss", "password": "Tall-Trees-42"})
    token = s["token"]
    st, v = api(d, "POST", "/api/v1/assets", token, {"ips": ["10.0.0.0/24"]})
    assert st in (200, 201), v
    st, v = api(d, "POST", "/api/v1/scanner-appliances", token, {"name": "dc1", "kind": "physical"})
    assert st == 201, v
    for kind, name in [("scan_result", "Monday scan"), ("scheduled_scan", "Nightly"),
                       ("search_list", "Not a scan")]:
        st, v = api(d, "POST", "/api/v1/objects", token,
                    {"kind": kind, "name": name, "ips": ["10.0.0.5"]})
        assert st == 201, v
    boss = contexts(d.origin).page
    sign_in(boss, d, "boss", "Tall-Trees-42")
    boss.get_by_role("navigation").get_by_role("link", name="Account Info").click()
    expect(boss.get_by_text("dc1 (physical)")).to_be_visible()
    table = boss.get_by_role("table", name="Your latest scans and maps")
    rows = table.get_by_role("row")
    expect(rows).to_have_count(3)  # the header and two: the search list is not a scan
    expect(rows.nth(1)).to_contain_text("Nightly")
    expect(rows.nth(1)).to_contain_text("Scheduled scan")
    expect(rows.nth(2)).to_contain_text("Monday scan")
    check_page(boss, "account-info-scans")

    # Notification Options (R12.1): every kind wanted until a box is cleared.
    expect(boss.get_by_label("Map complete")).to_be_checked()
    boss.get_by_label("Map complete").uncheck()
    boss.get_by_role("button", name="Save notification options").click()
    expect(boss.get_by_role("status")).to_have_text("Notification options saved.")
    expect(boss.get_by_label("Map complete")).not_to_be_checked()
    expect(boss.get_by_label("Scan complete")).to_be_checked()
    check_page(boss, "account-info-notifications")
    st, v = api(d, "GET", "/api/v1/me/notification-options", token)
    assert st == 200 and v["map_complete"] is False and v["scan_complete"] is True, v


def test_r8_6_a_manager_ticks_password_never_expires_on_an_api_only_account(daemon, contexts):
    """With the operator's feature on, a Manager's user page has "Password
    never expires"; ticked for a console account it is refused beside the
    box, for an API-only account it holds (R8.6)."""
    d = daemon(init={"login": "boss", "password": "Tall-Trees-42", "email": "boss@example.com"})
    token = manager_token(d)
    st, bot = api(d, "POST", "/api/v1/users", token,
                  {"login": "bot", "email": "bot@example.com", "first_name": "Build",
                   "last_name": "Bot", "role": "scanner"})
    assert st == 201, bot
    page = contexts(d.origin).page
    sign_in(page, d, "boss", "Tall-Trees-42")
    page.goto(d.url(f"/ui/users/{bot['id']}"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Build Bot")
    expect(page.get_by_label("Password never expires")).to_have_count(0)
    d.ctl("features", "enable", "api_password_never_expires")
    page.reload()
    box = page.get_by_label("Password never expires")
    expect(box).not_to_be_checked()
    box.check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#password_never_expires-error")).to_contain_text("API-only")
    st, v = api(d, "GET", f"/api/v1/users/{bot['id']}", token)
    assert v["password_never_expires"] is False, v
    check_page(page, "user-never-expires-refused")
    page.get_by_label("Access").select_option(label="API only")
    page.get_by_label("Password never expires").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("Password never expires")).to_be_checked()
    st, v = api(d, "GET", f"/api/v1/users/{bot['id']}", token)
    assert v["password_never_expires"] is True and v["access"] == "api_only", v
    check_page(page, "user-never-expires")
