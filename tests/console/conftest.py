"""Fixtures of the console's browser journeys: the real daemon on a fresh
data directory, and Debian's Chromium driven by Playwright.

Every page a journey opens is also checked for what every page owes its
people: no request to any other origin, no serious or critical axe-core
violation, and a screenshot at 1280x800 under target/ui-screenshots/.
"""

import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import threading

import pytest
from playwright.sync_api import sync_playwright

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("BAILIWICK_BIN", str(ROOT / "target" / "release" / "bailiwick"))
SHOTS = ROOT / "target" / "ui-screenshots"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"

# Cheap hashing: the journeys sign in often, and argon2's cost is not under test.
FAST = {
    "BAILIWICK_AUTH_ARGON2_MEMORY_KIB": "64",
    "BAILIWICK_AUTH_ARGON2_ITERATIONS": "1",
}


class Daemon:
    """`bailiwick serve` on a free loopback port, stopped at the end."""

    def __init__(self, data_dir, env=None, init=None):
        self.data_dir = pathlib.Path(data_dir)
        if init:
            pw = self.data_dir.with_suffix(".pw")
            pw.write_text(init["password"] + "\n")
            subprocess.run(
                [BIN, "init", "--data-dir", str(self.data_dir), "--subscription", "Acme",
                 "--manager-login", init["login"], "--manager-email", init["email"],
                 "--password-file", str(pw)],
                check=True, capture_output=True,
            )
        full_env = dict(os.environ, **FAST, **(env or {}))
        full_env.pop("NOTIFY_SOCKET", None)
        full_env.pop("STATE_DIRECTORY", None)
        self.stderr = open(self.data_dir.with_suffix(".stderr"), "w")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--data-dir", str(self.data_dir), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=self.stderr, env=full_env, text=True,
        )
        self.banner = []
        timer = threading.Timer(60, self.proc.kill)
        timer.start()
        try:
            for line in self.proc.stdout:
                m = re.match(r"listening on https://127\.0\.0\.1:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    break
                self.banner.append(line.rstrip("\n"))
            else:
                raise RuntimeError("the daemon did not start: " + self.log())
        finally:
            timer.cancel()
        # The rest of stdout is drained so the daemon never blocks on it.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        self.origin = f"https://localhost:{self.port}"

    def url(self, path):
        return self.origin + path

    def activation_link(self):
        for line in self.banner:
            if "/ui/activation/" in line:
                return line.strip().replace("127.0.0.1", "localhost")
        raise AssertionError("no activation link in the banner: %r" % self.banner)

    def ctl(self, *args):
        return subprocess.run([BIN, "ctl", "--data-dir", str(self.data_dir), *args],
                              check=True, capture_output=True, text=True).stdout

    def log(self):
        self.stderr.flush()
        return self.data_dir.with_suffix(".stderr").read_text()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="bailiwick-console-") as d:
        yield pathlib.Path(d)


@pytest.fixture
def daemon(workdir):
    started = []

    def start(**kw):
        d = Daemon(workdir / f"data{len(started)}", **kw)
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()


@pytest.fixture(scope="session")
def browser():
    assert os.path.exists(CHROMIUM), (
        "the console's browser tests need Chromium: apt-get install chromium "
        "(or set CHROMIUM to its path); scripts/test installs it when run as root"
    )
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


class Watched:
    """A browser context that records every request to another origin."""

    def __init__(self, browser, origin, viewport=None, java_script=True):
        self.origin = origin
        self.foreign = []
        self.context = browser.new_context(
            ignore_https_errors=True,
            viewport=viewport or {"width": 1280, "height": 800},
            java_script_enabled=java_script,
        )
        self.context.on("request", self._seen)
        self.page = self.context.new_page()

    def _seen(self, request):
        url = request.url
        if not (url.startswith(self.origin + "/") or url == self.origin
                or url.startswith("data:") or url.startswith("about:")):
            self.foreign.append(url)

    def close(self):
        self.context.close()
        assert self.foreign == [], "requests to another origin: %r" % self.foreign


@pytest.fixture
def contexts(browser):
    opened = []

    def open_context(origin, **kw):
        w = Watched(browser, origin, **kw)
        opened.append(w)
        return w

    yield open_context
    for w in opened:
        w.close()


_AXE = None


def check_page(page, name):
    """What every page owes its people: one h1, no serious or critical axe
    violation, a screenshot. Call it on each page a journey reaches."""
    global _AXE
    assert page.locator("h1").count() == 1, "a page has exactly one h1: " + page.url
    # The axe script is injected by Playwright through the DevTools protocol,
    # not loaded by the page, so the page's own CSP stays as strict as served.
    if _AXE is None:
        from axe_playwright_python.sync_playwright import Axe
        _AXE = Axe()
    results = _AXE.run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], "%s: %s" % (
        name, [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in bad])
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
