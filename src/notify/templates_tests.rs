//! The emails as documents: each test spells out the whole text, so a change
//! of wording or of the contact rule shows up here.

use std::collections::BTreeSet;

use super::*;
use crate::domain::{
    Access, ActivationLink, BusinessUnit, EmailContact, Module, ServiceType, Subscription,
    Timestamp,
};

const URL: &str = "https://bw.example:8443";
const EXPIRES: Timestamp = Timestamp::from_unix_micros(1_800_000_000_000_000);

fn user(id: &str, first: &str, last: &str, role: Role, unit: Option<&str>) -> User {
    User {
        id: id.into(),
        login: id.into(),
        email: format!("{id}@example.org"),
        first_name: first.into(),
        last_name: last.into(),
        role,
        business_unit: unit.map(Into::into),
        status: UserStatus::Active,
        asset_groups: Vec::new(),
        permissions: BTreeSet::new(),
        access: Access::UiAndApi,
        external_id: None,
        created_at: Timestamp::from_unix_micros(0),
        last_login_at: None,
        notification_opt_outs: Default::default(),
    }
}

/// Manager `boss` is the subscription's primary contact; unit `east` has
/// Unit Manager `ella` as its primary contact; `sam` is a Scanner in
/// `east`, `una` an Unassigned Reader; unit `west` has no contact yet.
fn world() -> State {
    let mut s = State {
        subscription: Some(Subscription {
            name: "Acme".into(),
            service_type: ServiceType::Enterprise,
            modules: BTreeSet::from([Module::Vm]),
            features: BTreeSet::new(),
            primary_contact: Some("boss".into()),
            created_at: Timestamp::from_unix_micros(0),
        }),
        ..State::default()
    };
    for (id, first, last, role, unit) in [
        ("boss", "Bea", "Oss", Role::Manager, None),
        ("ella", "Ella", "East", Role::UnitManager, Some("east")),
        ("sam", "Sam", "Scan", Role::Scanner, Some("east")),
        ("una", "", "", Role::Reader, None),
        ("wes", "Wes", "West", Role::Reader, Some("west")),
        ("cora", "Cora", "Contact", Role::Contact, Some("east")),
    ] {
        let u = user(id, first, last, role, unit);
        s.logins.insert(u.login.clone(), u.id.clone());
        s.users.insert(u.id.clone(), u);
    }
    for (id, poc) in [("east", Some("ella")), ("west", None)] {
        s.units.insert(
            id.into(),
            BusinessUnit {
                id: id.into(),
                name: format!("{}ern", id),
                primary_contact: poc.map(Into::into),
                new_ip_limit: None,
                email_contact: None,
                created_at: Timestamp::from_unix_micros(0),
            },
        );
    }
    s
}

fn with_link(s: &mut State, user: &str, token: &str) {
    let hash = crate::ids::token_hash(token);
    s.activation_links.insert(
        hash.clone(),
        ActivationLink {
            token_hash: hash,
            user: user.into(),
            expires_at: EXPIRES,
            used: false,
        },
    );
}

fn notice(kind: NoticeKind, user: &str, token: Option<&str>) -> Notice {
    Notice::to_user(kind, user.into(), token.map(Into::into))
}

fn to_address(address: &str, subject: &str, body: &str) -> Notice {
    Notice {
        kind: NoticeKind::Notification {
            subject: subject.into(),
            body: body.into(),
        },
        to: MailTo::Address(address.into()),
        link_token: None,
    }
}

fn sent(s: &State, n: &Notice) -> Rendered {
    match render(s, n, URL).unwrap() {
        Render::Send(r) => r,
        Render::Discard(why) => panic!("discarded: {why}"),
    }
}

#[test]
fn r4_5_registration_names_the_unit_primary_contact() {
    let mut s = world();
    with_link(&mut s, "sam", "tok-sam");
    let r = sent(
        &s,
        &notice(NoticeKind::Registration, "sam", Some("tok-sam")),
    );
    assert_eq!(r.to_email, "sam@example.org");
    assert_eq!(r.to_name, "Sam Scan");
    assert_eq!(r.subject, "Your new account in Acme");
    assert_eq!(
        r.text,
        "Hello Sam Scan,\n\
         \n\
         An account was created for you in the subscription \"Acme\".\n\
         \n\
         Login:         sam\n\
         Role:          Scanner\n\
         Business unit: eastern\n\
         \n\
         Open this one-time link to see your password. It works once, until 2027-01-15T08:00:00Z:\n\
         \n\
         https://bw.example:8443/ui/activation/tok-sam\n\
         \n\
         Your primary contact: Ella East <ella@example.org>\n\
         \n\
         This message was sent automatically by bailiwick. No password is ever sent by email: only one-time links.\n"
    );
}

#[test]
fn r4_5_unassigned_users_and_units_without_a_contact_name_the_subscription_poc() {
    let mut s = world();
    with_link(&mut s, "una", "tok-una");
    with_link(&mut s, "wes", "tok-wes");
    for who in ["una", "wes"] {
        let token = format!("tok-{who}");
        let r = sent(&s, &notice(NoticeKind::Registration, who, Some(&token)));
        assert!(
            r.text
                .contains("Your primary contact: Bea Oss <boss@example.org>\n"),
            "{who}: {}",
            r.text
        );
    }
    // No name: the greeting uses the login.
    let r = sent(
        &s,
        &notice(NoticeKind::Registration, "una", Some("tok-una")),
    );
    assert!(r.text.starts_with("Hello una,\n"), "{}", r.text);
    assert!(r.text.contains("Business unit: Unassigned\n"));
}

#[test]
fn r4_5_lock_email_names_the_primary_contact_and_no_email_has_a_password() {
    let s = world();
    let r = sent(&s, &notice(NoticeKind::AccountLocked, "sam", None));
    assert_eq!(r.subject, "Your account in Acme is locked");
    assert_eq!(
        r.text,
        "Hello Sam Scan,\n\
         \n\
         Your account sam in the subscription \"Acme\" was locked after\n\
         too many failed login attempts.\n\
         \n\
         To unlock it, ask your primary contact: Ella East <ella@example.org>\n\
         A Manager can reactivate the account, or reset its password.\n\
         If these attempts were not yours, say so: someone may be guessing your password.\n\
         \n\
         This message was sent automatically by bailiwick. No password is ever sent by email: only one-time links.\n"
    );
    let r = sent(&s, &notice(NoticeKind::AccountLocked, "una", None));
    assert!(
        r.text
            .contains("ask your primary contact: Bea Oss <boss@example.org>\n")
    );
}

#[test]
fn r7_2_new_credentials_carry_only_the_one_time_link() {
    let mut s = world();
    with_link(&mut s, "sam", "tok-new");
    s.settings.security.user_defined_passwords = true;
    let r = sent(
        &s,
        &notice(NoticeKind::NewCredentials, "sam", Some("tok-new")),
    );
    assert_eq!(r.subject, "New credentials for your account in Acme");
    assert_eq!(
        r.text,
        "Hello Sam Scan,\n\
         \n\
         New credentials were issued for your account sam in the subscription\n\
         \"Acme\". Your previous password no longer works and your sessions\n\
         were signed out.\n\
         \n\
         Open this one-time link to choose a new password. It works once, until 2027-01-15T08:00:00Z:\n\
         \n\
         https://bw.example:8443/ui/activation/tok-new\n\
         \n\
         If you did not expect this, tell your primary contact: Ella East <ella@example.org>\n\
         \n\
         This message was sent automatically by bailiwick. No password is ever sent by email: only one-time links.\n"
    );
}

#[test]
fn r10_2_notifications_name_the_email_contact_and_the_unit_override_when_allowed() {
    let mut s = world();
    let n = notice(
        NoticeKind::Notification {
            subject: "Scan finished".into(),
            body: "Scan 42 found 3 new hosts.\n\n".into(),
        },
        "sam",
        None,
    );
    // No Email Contact set: the subscription's primary contact.
    let r = sent(&s, &n);
    assert_eq!(r.subject, "Scan finished");
    assert_eq!(
        r.text,
        "Scan 42 found 3 new hosts.\n\
         \n\
         -- \n\
         Subscription \"Acme\". Email Contact: Bea Oss (boss) <boss@example.org>\n"
    );
    s.settings.email_contact = Some(EmailContact {
        name: "Patrick Slimmer".into(),
        email: "patrick@example.org".into(),
    });
    if let Some(u) = s.units.get_mut("east") {
        u.email_contact = Some(EmailContact {
            name: "East Desk".into(),
            email: "east@example.org".into(),
        });
    }
    let r = sent(&s, &n);
    assert!(
        r.text
            .ends_with("Email Contact: Patrick Slimmer <patrick@example.org>\n"),
        "the unit's own contact applies only when Managers allow it: {}",
        r.text
    );
    s.settings.allow_unit_manager_email_override = true;
    let r = sent(&s, &n);
    assert!(
        r.text
            .ends_with("Email Contact: East Desk <east@example.org>\n"),
        "{}",
        r.text
    );
    // A user of another unit keeps the subscription's.
    let mut other = n.clone();
    other.to = MailTo::User("una".into());
    assert!(
        sent(&s, &other)
            .text
            .ends_with("Email Contact: Patrick Slimmer <patrick@example.org>\n")
    );
}

#[test]
fn r7_3_deactivated_users_and_contacts_get_nothing_but_contacts_get_notifications() {
    let mut s = world();
    let n = notice(
        NoticeKind::Notification {
            subject: "s".into(),
            body: "b".into(),
        },
        "cora",
        None,
    );
    assert!(matches!(render(&s, &n, URL).unwrap(), Render::Send(_)));
    let lock = notice(NoticeKind::AccountLocked, "cora", None);
    assert!(matches!(
        render(&s, &lock, URL).unwrap(),
        Render::Discard(_)
    ));
    if let Some(u) = s.users.get_mut("cora") {
        u.status = UserStatus::Deactivated;
    }
    assert_eq!(
        render(&s, &n, URL).unwrap(),
        Render::Discard("the recipient is deactivated".into())
    );
    let gone = notice(NoticeKind::AccountLocked, "ghost", None);
    assert!(matches!(
        render(&s, &gone, URL).unwrap(),
        Render::Discard(_)
    ));
}

#[test]
fn r7_1_a_used_or_replaced_link_is_not_sent_and_a_missing_token_fails() {
    let mut s = world();
    let n = notice(NoticeKind::Registration, "sam", Some("old"));
    assert_eq!(
        render(&s, &n, URL).unwrap(),
        Render::Discard("its one-time link was replaced by a newer one".into())
    );
    with_link(&mut s, "sam", "old");
    let hash = crate::ids::token_hash("old");
    if let Some(l) = s.activation_links.get_mut(&hash) {
        l.used = true;
    }
    assert_eq!(
        render(&s, &n, URL).unwrap(),
        Render::Discard("its one-time link was already used".into())
    );
    let bare = notice(NoticeKind::NewCredentials, "sam", None);
    assert_eq!(
        render(&s, &bare, URL).unwrap_err(),
        RenderError::MissingLink("new credentials")
    );
}

#[test]
fn r10_2_a_plain_address_gets_the_notification_with_the_subscription_email_contact() {
    let mut s = world();
    let n = to_address("ops@example.net", "Scan finished", "3 new hosts.");
    let r = sent(&s, &n);
    assert_eq!(
        (r.to_email.as_str(), r.to_name.as_str()),
        ("ops@example.net", "")
    );
    assert_eq!(r.subject, "Scan finished");
    assert_eq!(
        r.text,
        "3 new hosts.\n\
         \n\
         -- \n\
         Subscription \"Acme\". Email Contact: Bea Oss (boss) <boss@example.org>\n"
    );
    // The same contact an Unassigned user gets, with or without an Email
    // Contact set and whatever units override (R10.2).
    let una = notice(n.kind.clone(), "una", None);
    assert_eq!(
        address_contact(&s),
        notification_contact_for(&s, &s.users["una"])
    );
    s.settings.email_contact = Some(EmailContact {
        name: "Patrick Slimmer".into(),
        email: "patrick@example.org".into(),
    });
    s.settings.allow_unit_manager_email_override = true;
    if let Some(u) = s.units.get_mut("east") {
        u.email_contact = Some(EmailContact {
            name: "East Desk".into(),
            email: "east@example.org".into(),
        });
    }
    assert_eq!(
        address_contact(&s),
        notification_contact_for(&s, &s.users["una"])
    );
    let r = sent(&s, &n);
    assert!(
        r.text
            .ends_with("Email Contact: Patrick Slimmer <patrick@example.org>\n"),
        "{}",
        r.text
    );
    assert_eq!(r.text, sent(&s, &una).text);
}

#[test]
fn r7_3_an_address_of_a_deactivated_contact_gets_nothing_and_links_never_go_to_addresses() {
    let mut s = world();
    let n = to_address("Cora@Example.org", "s", "b");
    assert!(matches!(render(&s, &n, URL).unwrap(), Render::Send(_)));
    if let Some(u) = s.users.get_mut("cora") {
        u.status = UserStatus::Deactivated;
    }
    assert_eq!(
        render(&s, &n, URL).unwrap(),
        Render::Discard("the address belongs to a deactivated user".into())
    );
    // Someone else still active at that address still gets it.
    let mut twin = user("twin", "T", "W", Role::Reader, None);
    twin.email = "cora@example.org".into();
    s.users.insert("twin".into(), twin);
    assert!(matches!(render(&s, &n, URL).unwrap(), Render::Send(_)));
    let mut lock = n.clone();
    lock.kind = NoticeKind::AccountLocked;
    assert_eq!(
        render(&s, &lock, URL).unwrap_err(),
        RenderError::NotForAddress("account locked")
    );
}

#[test]
fn r13_names_subjects_and_bodies_are_escaped_in_the_html_part() {
    let mut s = world();
    if let Some(u) = s.users.get_mut("sam") {
        u.first_name = "<script>alert('name')</script>".into();
    }
    with_link(&mut s, "sam", "tok-sam");
    let r = sent(
        &s,
        &notice(NoticeKind::Registration, "sam", Some("tok-sam")),
    );
    assert!(
        r.text
            .contains("Hello <script>alert('name')</script> Scan,")
    );
    assert!(!r.html.contains("<script"), "{}", r.html);
    assert!(
        r.html
            .contains("Hello &lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt; Scan,"),
        "{}",
        r.html
    );
    // The one-time link is the one anchor.
    assert!(r.html.contains(
        "<a href=\"https://bw.example:8443/ui/activation/tok-sam\">\
         https://bw.example:8443/ui/activation/tok-sam</a>"
    ));
    assert_eq!(r.html.matches("<a ").count(), 1);

    let n = notice(
        NoticeKind::Notification {
            subject: "<img src=x onerror=alert(1)>".into(),
            body: "<script>steal()</script>\n<a href=\"javascript:x\">click</a>".into(),
        },
        "sam",
        None,
    );
    let r = sent(&s, &n);
    assert!(!r.html.contains("<script"), "{}", r.html);
    assert!(!r.html.contains("<img"), "{}", r.html);
    assert!(!r.html.contains("<a "), "{}", r.html);
    assert!(
        r.html
            .contains("<title>&lt;img src=x onerror=alert(1)&gt;</title>")
    );
    assert!(
        r.html
            .contains("<p>&lt;script&gt;steal()&lt;/script&gt;<br>\n")
    );
    let r = sent(&s, &to_address("x@example.net", "s", "<script>x</script>"));
    assert!(!r.html.contains("<script"), "{}", r.html);
}
