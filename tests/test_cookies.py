"""Cookie transport (cookies.py), through Django's test client with CSRF checks on."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import include, path, reverse
from rest_framework.test import APIClient

from django_jwt_revoke import cookies
from tests.factories import UserFactory, credentials
from tests.testapp.views import MeView

pytestmark = pytest.mark.django_db

TOKEN = reverse("django_jwt_revoke:token_obtain")
REFRESH = reverse("django_jwt_revoke:token_refresh")
LOGOUT = reverse("django_jwt_revoke:logout")
LOGOUT_ALL = reverse("django_jwt_revoke:logout_all")
ME = "/api/me/"

COOKIE_MODE = {"AUTH_COOKIE": "access_token", "REFRESH_COOKIE": "refresh_token"}


def jwt_revoke(**extra):
    return override_settings(JWT_REVOKE={**settings.JWT_REVOKE, **COOKIE_MODE, **extra})


@pytest.fixture
def cookie_mode():
    with jwt_revoke():
        yield


@pytest.fixture
def browser():
    """A client that enforces CSRF as a real request would (the test client skips it)."""
    return APIClient(enforce_csrf_checks=True)


def login(client, user):
    response = client.post(TOKEN, credentials(user), format="json")
    assert response.status_code == 200, response.content
    return response


def csrf(client):
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def test_off_by_default_headers_only(browser):
    user = UserFactory()
    response = login(browser, user)
    assert set(response.json()) == {"access", "refresh"}
    assert "access_token" not in response.cookies
    assert "refresh_token" not in response.cookies
    assert "csrftoken" not in response.cookies
    # a cookie of that name is nobody's credential while the mode is off
    browser.cookies["access_token"] = response.json()["access"]
    assert browser.get(ME).status_code == 401


def test_login_sets_httponly_cookies_and_answers_no_token(cookie_mode, browser):
    user = UserFactory()
    response = login(browser, user)

    body = response.json()
    assert set(body) == {"access_expires_at", "refresh_expires_at"}
    assert body["access_expires_at"].endswith("Z")
    assert response["Cache-Control"] == "no-store"
    access = response.cookies["access_token"]
    refresh = response.cookies["refresh_token"]
    assert access.value.count(".") == 2
    assert access.value not in response.content.decode()
    assert refresh.value not in response.content.decode()
    for cookie, cookie_path, max_age in ((access, "/", 300), (refresh, REFRESH, 86400)):
        assert cookie["httponly"] is True
        assert cookie["secure"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == cookie_path
        assert cookie["domain"] == ""
        assert max_age - 2 <= cookie["max-age"] <= max_age
    # Django's CSRF cookie, for the front end to echo in X-CSRFToken
    assert response.cookies["csrftoken"].value


def test_login_rotates_the_csrf_token(cookie_mode, browser):
    browser.cookies["csrftoken"] = "a" * 32  # planted before the login
    response = login(browser, UserFactory())
    assert response.cookies["csrftoken"].value != "a" * 32


def test_cookie_attributes_follow_the_settings(browser):
    with jwt_revoke(
        AUTH_COOKIE_SECURE=False,
        AUTH_COOKIE_SAMESITE="Strict",
        AUTH_COOKIE_DOMAIN="example.com",
        AUTH_COOKIE_PATH="/api/",
        REFRESH_COOKIE_PATH="/api/auth/",
    ):
        response = login(browser, UserFactory())
        cookie_domain = response.cookies["access_token"]["domain"]
        logout = browser.post(LOGOUT, **csrf(browser))
    access, refresh = response.cookies["access_token"], response.cookies["refresh_token"]
    assert (access["path"], refresh["path"]) == ("/api/", "/api/auth/")
    assert (access["secure"], access["samesite"], cookie_domain) == ("", "Strict", "example.com")
    assert logout.status_code == 204
    assert (logout.cookies["access_token"]["path"], logout.cookies["refresh_token"]["path"]) == (
        "/api/",
        "/api/auth/",
    )
    assert logout.cookies["access_token"]["domain"] == "example.com"


def test_safe_requests_by_cookie_need_no_csrf_token(cookie_mode, browser):
    user = UserFactory()
    login(browser, user)
    response = browser.get(ME)
    assert response.status_code == 200
    assert response.json()["username"] == user.get_username()
    assert browser.get("/api/token-user-me/").status_code == 200


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", LOGOUT),
        ("post", LOGOUT_ALL),
        ("delete", reverse("django_jwt_revoke:session_detail", args=["x"])),
    ],
)
def test_unsafe_requests_by_cookie_need_the_csrf_token(cookie_mode, browser, method, url):
    login(browser, UserFactory())
    response = getattr(browser, method)(url)
    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF Failed: CSRF token missing.", "code": "csrf_failed"}
    assert browser.get(ME).status_code == 200  # nothing was revoked


def test_a_wrong_csrf_token_or_a_foreign_origin_is_refused(cookie_mode, browser):
    login(browser, UserFactory())
    wrong = browser.post(LOGOUT, HTTP_X_CSRFTOKEN="b" * 32)
    foreign = browser.post(LOGOUT, HTTP_ORIGIN="https://evil.example", **csrf(browser))
    assert (wrong.status_code, wrong.json()["code"]) == (403, "csrf_failed")
    assert (foreign.status_code, foreign.json()["code"]) == (403, "csrf_failed")
    assert "Origin checking failed" in foreign.json()["detail"]
    assert browser.get(ME).status_code == 200


def test_logout_by_cookie_revokes_and_clears_both_cookies(cookie_mode, browser):
    login(browser, UserFactory())
    access = browser.cookies["access_token"].value
    refresh = browser.cookies["refresh_token"].value

    response = browser.post(LOGOUT, **csrf(browser))

    assert response.status_code == 204
    for name, cookie_path in (("access_token", "/"), ("refresh_token", REFRESH)):
        gone = response.cookies[name]
        assert (gone.value, gone["max-age"], gone["path"]) == ("", 0, cookie_path)
        assert gone["expires"] == "Thu, 01 Jan 1970 00:00:00 GMT"
        assert gone["samesite"] == "Lax"
    # the cookie no longer gets in: the token itself is revoked, not just forgotten
    replay = APIClient()
    replay.cookies["access_token"] = access
    answer = replay.get(ME)
    assert (answer.status_code, answer.json()["code"]) == (401, "token_revoked")
    replay.cookies["refresh_token"] = refresh
    assert replay.post(REFRESH, {}, format="json").status_code == 401


def test_logout_all_clears_both_cookies(cookie_mode, browser):
    user = UserFactory()
    other = APIClient()
    login(other, user)
    login(browser, user)
    response = browser.post(LOGOUT_ALL, **csrf(browser))
    assert response.status_code == 204
    assert response.cookies["access_token"]["max-age"] == 0
    assert response.cookies["refresh_token"]["max-age"] == 0
    assert other.get(ME).status_code == 401


def test_the_header_wins_and_needs_no_csrf_token(cookie_mode, browser):
    alice, bob = UserFactory(), UserFactory()
    bob_access = APIClient().post(TOKEN, credentials(bob), format="json")
    login(browser, alice)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {bob_access.cookies['access_token'].value}"}
    assert browser.get(ME, **bearer).json()["username"] == bob.get_username()
    # a bad header is refused, not replaced by the good cookie
    refused = browser.get(ME, HTTP_AUTHORIZATION="Bearer nonsense")
    assert (refused.status_code, refused.json()["code"]) == (401, "token_invalid")
    # no ambient credential, no CSRF check
    assert browser.post(LOGOUT, **bearer).status_code == 204


def test_a_refused_cookie_is_a_401_with_the_challenge(cookie_mode, browser):
    browser.cookies["access_token"] = "not-a-token"
    response = browser.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')


def test_refresh_by_cookie_needs_the_csrf_token_and_rotates_the_cookies(cookie_mode, browser):
    login(browser, UserFactory())
    old = browser.cookies["refresh_token"].value

    refused = browser.post(REFRESH, {}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "csrf_failed")
    assert browser.cookies["refresh_token"].value == old

    response = browser.post(REFRESH, {}, format="json", **csrf(browser))
    assert response.status_code == 200
    assert set(response.json()) == {"access_expires_at", "refresh_expires_at"}
    new = response.cookies["refresh_token"]
    assert new.value != old
    assert new["path"] == REFRESH
    assert new["httponly"] is True
    assert browser.get(ME).status_code == 200


def test_refresh_replay_by_cookie_clears_the_cookies(cookie_mode, browser):
    login(browser, UserFactory())
    old = browser.cookies["refresh_token"].value
    assert browser.post(REFRESH, {}, format="json", **csrf(browser)).status_code == 200

    browser.cookies["refresh_token"] = old
    replay = browser.post(REFRESH, {}, format="json", **csrf(browser))

    assert (replay.status_code, replay.json()["code"]) == (401, "token_revoked")
    assert replay.cookies["access_token"]["max-age"] == 0
    assert replay.cookies["refresh_token"]["max-age"] == 0
    assert old not in replay.content.decode()


def test_refresh_token_in_the_body_wins_and_needs_the_csrf_token(cookie_mode, browser):
    """The page itself may hand over a refresh token it holds: the answer sets its cookies."""
    alice, bob = UserFactory(), UserFactory()
    login(browser, alice)
    other = APIClient()
    login(other, bob)
    bob_refresh = other.cookies["refresh_token"].value

    refused = browser.post(REFRESH, {"refresh": bob_refresh}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "csrf_failed")
    assert "access_token" not in refused.cookies and "refresh_token" not in refused.cookies
    assert browser.get(ME).json()["username"] == alice.get_username()

    response = browser.post(REFRESH, {"refresh": bob_refresh}, format="json", **csrf(browser))

    assert response.status_code == 200
    assert set(response.json()) == {"access_expires_at", "refresh_expires_at"}
    assert browser.get(ME).json()["username"] == bob.get_username()


def cross_site_form_post(client, path, data, *, send_cookies):
    """POST ``data`` as an HTML form on another site makes the browser send it.

    Form-encoded, ``Origin`` the other site's, no CSRF token. ``SameSite=Lax``
    cookies (ours and Django's CSRF cookie by default) are not sent on a
    cross-site POST: ``send_cookies=False``; a browser or settings that send
    them (``SameSite=None``): True. Either way the browser keeps what the
    answer's ``Set-Cookie`` says, as it does for a top-level navigation.
    """
    jar = client.cookies
    if not send_cookies:
        client.cookies = SimpleCookie()
    response = client.post(
        path,
        urlencode(data),
        content_type="application/x-www-form-urlencoded",
        HTTP_ORIGIN="https://attacker.example",
        HTTP_REFERER="https://attacker.example/",
    )
    if not send_cookies:
        for name, morsel in client.cookies.items():
            jar[name] = morsel
        client.cookies = jar
    return response


@pytest.mark.parametrize("send_cookies", [False, True], ids=["samesite-lax", "cookies-sent"])
@pytest.mark.parametrize("victim_signed_in", [True, False], ids=["signed-in", "signed-out"])
def test_a_cross_site_form_cannot_sign_the_browser_in_as_the_attacker(
    cookie_mode, send_cookies, victim_signed_in
):
    """Login CSRF through refresh: a page elsewhere posts the attacker's refresh token."""
    attacker, victim = UserFactory(), UserFactory()
    attacker_browser = APIClient()
    login(attacker_browser, attacker)
    attacker_refresh = attacker_browser.cookies["refresh_token"].value
    browser = Client(enforce_csrf_checks=True)  # the victim's
    if victim_signed_in:
        login(browser, victim)

    response = cross_site_form_post(
        browser, REFRESH, {"refresh": attacker_refresh}, send_cookies=send_cookies
    )

    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert "access_token" not in response.cookies and "refresh_token" not in response.cookies
    me = browser.get(ME)
    if victim_signed_in:
        assert (me.status_code, me.json()["username"]) == (200, victim.get_username())
    else:
        assert me.status_code == 401 and "username" not in me.json()  # no credentials
    # the attacker's token was not even used
    assert attacker_browser.post(REFRESH, {}, format="json").status_code == 200


def test_refresh_without_any_token_is_400(cookie_mode, browser):
    response = browser.post(REFRESH, {}, format="json")
    assert response.status_code == 400
    assert response.json() == {"refresh": ["This field is required."]}


def test_the_refresh_cookie_path_follows_the_urlconf(browser):
    class Urls:
        urlpatterns = [
            path("v2/auth/", include("django_jwt_revoke.urls")),
            path("api/me/", MeView.as_view()),
        ]

    with jwt_revoke(), override_settings(ROOT_URLCONF=Urls):
        user = UserFactory()
        response = browser.post("/v2/auth/token/", credentials(user), format="json")
        assert cookies.refresh_cookie_path() == "/v2/auth/token/refresh/"
    assert response.cookies["refresh_token"]["path"] == "/v2/auth/token/refresh/"


def test_the_refresh_cookie_path_can_be_set(cookie_mode):
    with jwt_revoke(REFRESH_COOKIE_PATH="/refresh/"):
        assert cookies.refresh_cookie_path() == "/refresh/"


def test_views_can_opt_out_for_native_apps(browser):
    from django_jwt_revoke.views import TokenObtainView, TokenRefreshView

    class Urls:
        urlpatterns = [
            path("api/auth/", include("django_jwt_revoke.urls")),
            path("app/token/", TokenObtainView.as_view(cookie_transport=False)),
            path("app/refresh/", TokenRefreshView.as_view(cookie_transport=False)),
        ]

    with jwt_revoke(), override_settings(ROOT_URLCONF=Urls):
        user = UserFactory()
        login(browser, user)  # the browser's cookies are there...
        app = browser.post("/app/token/", credentials(user), format="json")
        # ...and the refresh view in header mode does not take them
        ignored = browser.post("/app/refresh/", {}, format="json")
        rotated = browser.post("/app/refresh/", {"refresh": app.json()["refresh"]}, format="json")
    assert set(app.json()) == {"access", "refresh"}
    assert "access_token" not in app.cookies
    assert ignored.status_code == 400
    assert set(rotated.json()) == {"access", "refresh"}
