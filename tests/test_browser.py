"""The demo page in a real browser: headless Chromium (Playwright) and the example project.

The example project runs in its own process (``runserver``, a fresh SQLite
file); the browser loads its demo page at ``/`` and uses the page's own form
and buttons, as a person would:

- as the README's "Try it" starts it (no cookie transport, Bearer tokens held
  in the page's memory): two devices log in, each sees both sessions with its
  own marked, one signs the other out and the other's next request is refused
  as revoked, "sign out everywhere" refuses the first one's next request too;
  no token ever appears on the page, in its console or in storage;
- with ``EXAMPLE_COOKIE_AUTH=1``: log in, call ``/api/me/``, refresh and log
  out through HttpOnly cookies and Django's CSRF token.

Skipped when Playwright or Chromium is missing, except under CI (``CI=true``)
where that is a failure: ``.ci/run`` installs both.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.urls import reverse

from tests.ports import free_port

REPO = Path(__file__).resolve().parent.parent
MANAGE = REPO / "example_project" / "manage.py"
USERNAME = "alice"
# The example project's URLs: the server is that project.
LOGOUT = reverse("django_jwt_revoke:logout", urlconf="example_project.urls")
REFRESH = reverse("django_jwt_revoke:token_refresh", urlconf="example_project.urls")
TOKEN = reverse("django_jwt_revoke:token_obtain", urlconf="example_project.urls")
LOGOUT_ALL = reverse("django_jwt_revoke:logout_all", urlconf="example_project.urls")
ME = reverse("me", urlconf="example_project.urls")
PASSWORD = "correct-horse-battery-staple"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"true", "1", "yes"}:
        pytest.fail(f"{reason} (CI=true: the browser test must run; .ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[test]')")
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        _unavailable("Chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def example_server(tmp_path_factory) -> Iterator[str]:
    """The example project in cookie mode, on a port of its own; its base URL."""
    yield from _serve_example_project(tmp_path_factory, cookie_auth=True)


@pytest.fixture(scope="module")
def bearer_server(tmp_path_factory) -> Iterator[str]:
    """The example project as the README's "Try it" starts it: no cookie transport."""
    yield from _serve_example_project(tmp_path_factory, cookie_auth=False)


def _serve_example_project(tmp_path_factory, *, cookie_auth: bool) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("browser")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "EXAMPLE_SQLITE_PATH": str(tmp / "db.sqlite3"),
        "EXAMPLE_DB": "sqlite",
        "EXAMPLE_COOKIE_AUTH": "1" if cookie_auth else "0",
        "DJANGO_DEBUG": "1",
    }
    env.pop("EXAMPLE_REDIS_URL", None)

    def manage(*args: str) -> None:
        subprocess.run(
            [sys.executable, str(MANAGE), *args], env=env, check=True, capture_output=True
        )

    manage("migrate", "--verbosity=0")
    manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({USERNAME!r}, password={PASSWORD!r})",
    )
    port = free_port()
    log = (tmp / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, str(MANAGE), "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "the example server did not start:\n" + (tmp / "server.log").read_text()
                    ) from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture
def browser(chromium):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, example_server):
    context = browser.new_context(base_url=example_server)
    context.set_default_timeout(10_000)
    return context.new_page()


def click(page, button: str) -> tuple[int, str]:
    """Clicks one of the demo page's buttons; its answer's status and body."""
    status = page.locator("#status")
    page.evaluate("document.getElementById('status').textContent = ''")
    page.click(button)
    status.filter(has_text=":").wait_for()
    code = int(status.inner_text().rsplit(": ", 1)[1])
    return code, page.locator("#output").inner_text()


def fetch(page, method: str, url: str, headers: dict | None = None) -> tuple[int, str]:
    """A request from the page's own JavaScript (cookies attached by the browser)."""
    return tuple(
        page.evaluate(
            """async ([method, url, headers]) => {
                const r = await fetch(url, {method, headers, credentials: "same-origin"});
                return [r.status, await r.text()];
            }""",
            [method, url, headers or {}],
        )
    )


def test_log_in_call_me_log_out_in_chromium(page, example_server):
    page.goto("/")
    assert page.locator("#warning").count() == 0  # cookie transport is on

    # log in through the form
    page.fill("#username", USERNAME)
    page.fill("#password", PASSWORD)
    code, body = click(page, "#login-button")
    assert code == 200, body
    assert set(json.loads(body)) == {"access_expires_at", "refresh_expires_at"}

    cookies = {c["name"]: c for c in page.context.cookies()}
    access, refresh = cookies["access_token"], cookies["refresh_token"]
    assert access["httpOnly"] and refresh["httpOnly"]
    assert (access["sameSite"], access["path"]) == ("Lax", "/")
    assert refresh["path"] == REFRESH
    assert access["value"] not in body and refresh["value"] not in body
    # HttpOnly: the page's JavaScript sees the CSRF cookie and nothing else
    visible = page.evaluate("document.cookie")
    assert "csrftoken=" in visible
    assert "access_token" not in visible and "refresh_token" not in visible
    assert access["value"] not in page.content()

    code, body = click(page, "#me")
    assert code == 200, body
    assert json.loads(body)["username"] == USERNAME

    # a POST without the CSRF header (what a forged request would be) is refused
    code, body = fetch(page, "POST", LOGOUT)
    assert (code, json.loads(body)["code"]) == (403, "csrf_failed")
    # ... and a form posted from another site does not get the cookie at all (SameSite)
    other_site = example_server.replace("127.0.0.1", "localhost")
    page.goto(f"{other_site}/")
    with page.expect_response(f"{example_server}{LOGOUT}") as forged:
        page.set_content(
            f'<form method="post" action="{example_server}{LOGOUT}"></form>'
            "<script>document.forms[0].submit()</script>"
        )
    assert forged.value.status == 401  # no credential came with it
    page.goto("/")
    code, body = click(page, "#me")
    assert code == 200, body  # still signed in

    # the page's refresh button rotates the cookies (refresh cookie + CSRF header)
    code, body = click(page, "#refresh")
    assert code == 200, body
    rotated = {c["name"]: c["value"] for c in page.context.cookies()}
    assert rotated["refresh_token"] != refresh["value"]
    old_access = rotated["access_token"]

    code, body = click(page, "#logout")
    assert code == 204, body
    names = {c["name"] for c in page.context.cookies()}
    assert "access_token" not in names and "refresh_token" not in names

    code, body = click(page, "#me")
    assert code == 401, body

    # the cookie no longer gets in even when put back: the token is revoked
    page.context.add_cookies([{"name": "access_token", "value": old_access, "url": example_server}])
    code, body = click(page, "#me")
    assert (code, json.loads(body)["code"]) == (401, "token_revoked")


# --- Default mode: Bearer tokens in the page's memory, sessions, revocation ---

# Three base64url segments, the first a JSON object ("{" encodes as "eyJ").
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
LAPTOP = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


class Device:
    """A browser context of its own (memory, cookies, user agent) on the demo page."""

    def __init__(self, browser, base_url: str, user_agent: str, issued: set[str]) -> None:
        self.context = browser.new_context(base_url=base_url, user_agent=user_agent)
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.errors: list[str] = []
        self.page.on("console", lambda message: self.console.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.issued = issued  # every token the server answered, to any device
        self.rows = self.page.locator("#sessions tbody tr")
        self.page.goto("/")

    def log(self, method: str, url: str, status: int, code: str = ""):
        """The entries of the page's request log for that answer."""
        return self.page.locator(
            f'#log li[data-method="{method}"][data-url="{url}"]'
            f'[data-status="{status}"][data-code="{code}"]'
        )

    def tokens_from(self, url: str, button: str) -> None:
        """Clicks ``button``; records the tokens of the answer to its POST to ``url``."""
        with self.page.expect_response(
            lambda r: r.url.endswith(url) and r.request.method == "POST"
        ) as answer:
            self.page.click(button)
        assert answer.value.status == 200, answer.value.text()
        tokens = answer.value.json()
        assert JWT_SHAPE.fullmatch(tokens["access"]) and JWT_SHAPE.fullmatch(tokens["refresh"])
        self.issued |= {tokens["access"], tokens["refresh"]}

    def log_in(self) -> None:
        self.page.fill("#username", USERNAME)
        self.page.fill("#password", PASSWORD)
        self.tokens_from(TOKEN, "#login-button")
        expect(self.page.locator("#whoami")).to_contain_text(f"Signed in as {USERNAME}")
        # "Last answer" shows the login's answer, without its tokens
        expect(self.page.locator("#status")).to_have_text(f"POST {TOKEN}: 200")
        self.assert_no_token_shown()

    def current_sid(self) -> str:
        current = self.rows.filter(has=self.page.locator("td.this-device"))
        expect(current).to_have_count(1)
        expect(current).to_have_class(re.compile(r"\bcurrent\b"))
        return current.get_attribute("data-sid")

    def assert_no_token_shown(self) -> None:
        page = self.page
        assert page.evaluate("localStorage.length + sessionStorage.length") == 0
        seen = [page.inner_text("body"), page.content(), page.evaluate("document.cookie")]
        for where, text in zip(("text", "HTML", "document.cookie"), seen, strict=False):
            assert not JWT_SHAPE.search(text), f"a JWT-shaped string in the page's {where}"
            assert not [token for token in self.issued if token in text], where
        for message in self.console:
            assert not JWT_SHAPE.search(message), "a JWT-shaped string in the console"
            assert not [token for token in self.issued if token in message], "in the console"
        assert not self.errors


def expect(locator):
    from playwright.sync_api import expect

    return expect(locator)


def test_sessions_and_revocation_with_bearer_tokens_in_chromium(browser, bearer_server):
    issued: set[str] = set()
    laptop = Device(browser, bearer_server, LAPTOP, issued)
    phone = Device(browser, bearer_server, PHONE, issued)
    # no cookie transport: the page says where tokens belong in a real front end
    expect(laptop.page.locator("#warning")).to_contain_text("EXAMPLE_COOKIE_AUTH=1")

    # two logins, one per device: each lists both sessions and marks its own
    laptop.log_in()
    expect(laptop.rows).to_have_count(1)
    phone.log_in()
    expect(phone.rows).to_have_count(2)
    laptop.page.click("#reload-sessions")
    expect(laptop.rows).to_have_count(2)
    laptop_sid, phone_sid = laptop.current_sid(), phone.current_sid()
    assert laptop_sid != phone_sid
    for device, sid, shown_as in (
        (laptop, laptop_sid, "Chrome 126 on Linux"),
        (phone, phone_sid, "Safari 17 on iPhone"),
    ):
        for other in (laptop, phone):
            row = other.page.locator(f'#sessions tbody tr[data-sid="{sid}"]')
            expect(row.locator("td").nth(0)).to_have_text(shown_as)
            expect(row.locator("td").nth(1)).to_have_text("127.0.0.1")
    expect(phone.log("GET", ME, 200)).to_have_count(1)  # the phone's login works

    # the laptop signs the phone out ...
    laptop.page.click(f'#sessions tbody tr[data-sid="{phone_sid}"] button.sign-out')
    session_url = reverse(
        "django_jwt_revoke:session_detail",
        kwargs={"sid": phone_sid},
        urlconf="example_project.urls",
    )
    expect(laptop.log("DELETE", session_url, 204)).to_have_count(1)
    expect(laptop.rows).to_have_count(1)
    expect(laptop.rows).to_have_attribute("data-sid", laptop_sid)

    # ... and the phone's next request is refused, its access token unexpired
    refused = phone.log("GET", ME, 401, "token_revoked")
    expect(refused).to_have_count(0)
    phone.page.click("#me")
    expect(refused).to_have_count(1)
    expect(phone.page.locator("#whoami")).to_contain_text("401 token_revoked")

    # the laptop is still signed in, and rotates its tokens in memory: the
    # second refresh presents the first one's new refresh token (a stale one
    # would be refused as reused, and its session revoked)
    laptop.page.click("#me")
    expect(laptop.log("GET", ME, 200)).to_have_count(2)
    laptop.tokens_from(REFRESH, "#refresh")
    laptop.tokens_from(REFRESH, "#refresh")
    expect(laptop.page.locator("#output")).to_contain_text("not shown")
    laptop.assert_no_token_shown()
    expect(laptop.log("POST", REFRESH, 200)).to_have_count(2)
    laptop.page.click("#me")
    expect(laptop.log("GET", ME, 200)).to_have_count(3)

    # "sign out everywhere": the laptop's own next request is refused too
    laptop.page.click("#logout-all")
    expect(laptop.log("POST", LOGOUT_ALL, 204)).to_have_count(1)
    expect(laptop.rows).to_have_count(0)
    refused = laptop.log("GET", ME, 401, "token_revoked")
    expect(refused).to_have_count(0)
    laptop.page.click("#me")
    expect(refused).to_have_count(1)
    expect(laptop.page.locator("#whoami")).to_contain_text("401 token_revoked")

    assert len(issued) == 8  # 2 logins + 2 refreshes, 2 tokens each: all seen
    laptop.assert_no_token_shown()
    phone.assert_no_token_shown()
