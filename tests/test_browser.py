"""Cookie transport in a real browser: headless Chromium (Playwright) and the example project.

The example project runs in its own process (``runserver`` with
``EXAMPLE_COOKIE_AUTH=1``, a fresh SQLite file); the browser loads its demo
page at ``/``, logs in, calls ``/api/me/`` and logs out with the page's own
buttons, as a person would.

Skipped when Playwright or Chromium is missing, except under CI (``CI=true``)
where that is a failure: ``.ci/run`` installs both.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MANAGE = REPO / "example_project" / "manage.py"
USERNAME = "alice"
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def example_server(tmp_path_factory) -> str:
    """The example project in cookie mode, on a port of its own; its base URL."""
    tmp = tmp_path_factory.mktemp("browser")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "EXAMPLE_SQLITE_PATH": str(tmp / "db.sqlite3"),
        "EXAMPLE_DB": "sqlite",
        "EXAMPLE_COOKIE_AUTH": "1",
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
    port = _free_port()
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
def page(chromium, example_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=example_server)
            context.set_default_timeout(10_000)
            yield context.new_page()
        finally:
            browser.close()


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
    assert refresh["path"] == "/api/auth/token/refresh/"
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
    code, body = fetch(page, "POST", "/api/auth/logout/")
    assert (code, json.loads(body)["code"]) == (403, "csrf_failed")
    # ... and a form posted from another site does not get the cookie at all (SameSite)
    other_site = example_server.replace("127.0.0.1", "localhost")
    page.goto(f"{other_site}/")
    with page.expect_response(f"{example_server}/api/auth/logout/") as forged:
        page.set_content(
            f'<form method="post" action="{example_server}/api/auth/logout/"></form>'
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
