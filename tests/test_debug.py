"""No token, key or password in Django's error reports (debug.py).

Each test makes a view or a function fail deep inside, while it holds the
secrets, and reads what Django would write about it, as ``DEBUG = False``
runs it: ``ExceptionReporter(request, *exc_info)``'s text and HTML, and
the mail ``AdminEmailHandler`` sends to ``ADMINS``. Every report must show
the failure and the frames it went through (so the test can fail), and no
token, nor any of its three segments, anywhere: local variables, POST
parameters, headers, cookies.
"""

import sys
from urllib.parse import urlencode

import django
import jwt
import pytest
from django.conf import settings
from django.core import mail
from django.core.checks import Warning
from django.db import DatabaseError
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.views.debug import (
    ExceptionReporter,
    SafeExceptionReporterFilter,
    get_default_exception_reporter_filter,
)
from rest_framework.request import Request

from django_jwt_revoke import authentication, backends, cookies, revocation, serializers, views
from django_jwt_revoke.authentication import JWTAuthentication
from django_jwt_revoke.backends import sign
from django_jwt_revoke.checks import check_error_report_cookies
from django_jwt_revoke.debug import ExceptionReporterFilter
from django_jwt_revoke.tokens import TokenPair, decode_token, issue_token_pair
from tests.factories import PASSWORD, UserFactory, credentials

pytestmark = pytest.mark.django_db

TOKEN = reverse("django_jwt_revoke:token_obtain")
REFRESH = reverse("django_jwt_revoke:token_refresh")
LOGOUT = reverse("django_jwt_revoke:logout")
LOGOUT_ALL = reverse("django_jwt_revoke:logout_all")
REVOKE = reverse("django_jwt_revoke:token_revoke")
INTROSPECT = reverse("django_jwt_revoke:token_introspect")


def session_url(sid):
    return reverse("django_jwt_revoke:session_detail", args=[sid])


HIDDEN = SafeExceptionReporterFilter.cleansed_substitute
DJANGO_FILTER = "django.views.debug.SafeExceptionReporterFilter"
ADMINS = ["admin@example.com"] if django.VERSION >= (6, 0) else [("Admin", "admin@example.com")]
COOKIES = {"AUTH_COOKIE": "access_token", "REFRESH_COOKIE": "refresh_token"}
# Names Django's filter does not hide by itself (no API, AUTH, TOKEN, KEY...).
OTHER_NAMES = {"AUTH_COOKIE": "jwt", "REFRESH_COOKIE": "jwt_r"}


class Injected(RuntimeError):
    pass


def boom(*args, **kwargs):
    """Stands for whatever fails deep in a call; its arguments are locals too."""
    raise Injected("injected failure")


def parts(secret):
    """A secret, and for a token each of its segments (the signature most of all)."""
    return [secret, *secret.split(".")] if secret.count(".") == 2 else [secret]


def reports(request, exc_type, exc_value, tb):
    """What Django writes about a failure: the error page and the mail, text and HTML."""
    found = {}
    for kind, is_email in (("page", False), ("mail", True)):
        reporter = ExceptionReporter(request, exc_type, exc_value, tb, is_email=is_email)
        found[f"{kind} text"] = reporter.get_traceback_text()
        found[f"{kind} html"] = reporter.get_traceback_html()
    return found


def assert_hidden(found, secrets, frames):
    """No part of any secret in any report, which shows the failure in ``frames``."""
    assert found
    for name, report in found.items():
        assert "injected failure" in report, name
        for frame in frames:
            assert frame in report, (name, frame)
        assert HIDDEN in report, name
        for secret in secrets:
            for part in parts(secret):
                assert part not in report, f"{name} shows {part[:16]}... of a secret"


def report_of_call(function, *args, **kwargs):
    """The reports of ``function(*args)`` failing; this helper's own frame left out."""
    try:
        function(*args, **kwargs)
    except Injected:
        exc_type, exc_value, tb = sys.exc_info()
    else:  # pragma: no cover
        raise AssertionError("the injected failure did not happen")
    return reports(None, exc_type, exc_value, tb.tb_next)


@pytest.fixture
def server_error(api_client, caplog, settings):
    """Make a request that fails with a 500; the reports Django makes of it.

    From the ``django.request`` log record, as ``AdminEmailHandler`` reads it,
    plus the mail it actually sends.
    """
    settings.ADMINS = ADMINS
    api_client.raise_request_exception = False

    def request(method, path, **kwargs):
        caplog.clear()
        mail.outbox.clear()
        response = getattr(api_client, method)(path, **kwargs)
        assert response.status_code == 500, response.content[:300]
        [record] = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
        found = reports(record.request, *record.exc_info)
        [message] = mail.outbox
        found["admin mail"] = message.subject + message.body
        return found

    return request


@pytest.fixture
def reporter_filter():
    """Lets a test set DEFAULT_EXCEPTION_REPORTER_FILTER (Django caches the instance)."""
    get_default_exception_reporter_filter.cache_clear()
    yield
    get_default_exception_reporter_filter.cache_clear()


def bearer(access):
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


# -- reprs ---------------------------------------------------------------------------


def test_reprs_leave_the_tokens_and_keys_out(pair):
    assert repr(pair) == f"TokenPair(access='********', refresh='********', sid={pair.sid!r})"
    assert pair == TokenPair(pair.access, pair.refresh, pair.sid)  # still a plain value
    keys = repr(backends.get_keys())
    assert "signing_key" not in keys and "verifying" not in keys
    assert settings.SECRET_KEY not in keys
    serializer = serializers.TokenRefreshSerializer(data={"refresh": pair.refresh})
    assert serializer.is_valid()
    assert repr(serializer) == "TokenRefreshSerializer(data='********')"
    login = serializers.TokenObtainSerializer(data={"username": "a", "password": PASSWORD})
    assert PASSWORD not in repr(login)


# -- the endpoints -------------------------------------------------------------------


@pytest.fixture
def minted(monkeypatch):
    """The pairs that logins and refreshes mint, so that a test knows what to look for."""
    pairs = []
    real = revocation.mint_pair

    def mint_pair(*args, **kwargs):
        pairs.append(real(*args, **kwargs))
        return pairs[-1]

    monkeypatch.setattr(revocation, "mint_pair", mint_pair)
    return pairs


def test_login(server_error, user, minted, monkeypatch):
    """The pair exists, and the failure comes on its way into the answer."""
    monkeypatch.setattr(views, "Response", boom)
    body = credentials(user)
    for fmt in ("json", "multipart"):
        found = server_error("post", TOKEN, data=body, format=fmt)
        pair = minted[-1]
        assert_hidden(found, [PASSWORD, pair.access, pair.refresh], ["_pair_response", "boom"])


def test_login_while_the_password_is_checked(server_error, user, monkeypatch):
    monkeypatch.setattr(serializers, "authenticate", boom)
    body = credentials(user)
    for fmt in ("json", "multipart"):
        found = server_error("post", TOKEN, data=body, format=fmt)
        assert_hidden(found, [PASSWORD], ["validate", "boom"])


def test_login_with_cookie_transport(server_error, user, monkeypatch, settings):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, **COOKIES}
    minted = []
    real_set_cookie = HttpResponse.set_cookie

    def set_cookie(response, key, value="", *args, **kwargs):
        if key in COOKIES.values():
            minted.append(value)
            if len(minted) == 2:
                raise Injected("injected failure")
        return real_set_cookie(response, key, value, *args, **kwargs)

    monkeypatch.setattr(HttpResponse, "set_cookie", set_cookie)
    body = credentials(user)
    found = server_error("post", TOKEN, data=body, format="json")
    assert_hidden(found, [PASSWORD, *minted], ["set_token_cookies", "set_cookie"])


def test_refresh(server_error, pair, monkeypatch):
    monkeypatch.setattr(revocation, "mint_pair", boom)
    for fmt in ("json", "multipart"):
        found = server_error(
            "post", REFRESH, data={"refresh": pair.refresh}, format=fmt
        )
        assert_hidden(found, [pair.refresh], ["rotate_refresh_token", "boom"])


@pytest.mark.usefixtures("reporter_filter")
@pytest.mark.parametrize(
    "names,reporter",
    [
        (COOKIES, "django.views.debug.SafeExceptionReporterFilter"),
        (OTHER_NAMES, "django_jwt_revoke.debug.ExceptionReporterFilter"),
    ],
    ids=["django-hides-these-names", "our-filter-hides-any-name"],
)
def test_refresh_from_the_cookie(
    server_error, api_client, pair, monkeypatch, settings, names, reporter
):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, **names}
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = reporter
    monkeypatch.setattr(revocation, "mint_pair", boom)
    api_client.cookies[names["AUTH_COOKIE"]] = pair.access
    api_client.cookies[names["REFRESH_COOKIE"]] = pair.refresh
    found = server_error("post", REFRESH)
    assert_hidden(found, [pair.access, pair.refresh], ["rotate_refresh_token"])
    assert f"{names['REFRESH_COOKIE']} = '{HIDDEN}'" in found["page text"]


@pytest.mark.usefixtures("reporter_filter")
def test_cookies_django_does_not_hide_need_our_filter(
    server_error, api_client, pair, monkeypatch, settings
):
    """What check W005 warns of: Django's own filter shows a cookie named otherwise."""
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = DJANGO_FILTER
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, **OTHER_NAMES}
    monkeypatch.setattr(revocation, "mint_pair", boom)
    api_client.cookies["jwt_r"] = pair.refresh
    found = server_error("post", REFRESH)
    assert pair.refresh in found["page text"]
    assert [w.id for w in check_error_report_cookies()] == ["django_jwt_revoke.W005"]


def test_logout(server_error, pair, monkeypatch):
    monkeypatch.setattr(revocation, "_blacklist", boom)
    found = server_error(
        "post",
        LOGOUT,
        data={"refresh": pair.refresh},
        format="json",
        **bearer(pair.access),
    )
    assert_hidden(found, [pair.access, pair.refresh], ["logout", "revoke_token", "boom"])


def test_logout_all_and_sessions(server_error, pair, monkeypatch):
    monkeypatch.setattr(revocation, "_bump_generation", boom)
    found = server_error("post", LOGOUT_ALL, **bearer(pair.access))
    assert_hidden(found, [pair.access], ["revoke_user_tokens", "boom"])
    monkeypatch.setattr(revocation, "revoke_session", boom)
    found = server_error("delete", session_url(pair.sid), **bearer(pair.access))
    assert_hidden(found, [pair.access], ["revoke_user_session", "boom"])


def test_revoke(server_error, pair, monkeypatch):
    monkeypatch.setattr(revocation, "_blacklist", boom)
    found = server_error("post", REVOKE, data={"token": pair.access}, format="json")
    assert_hidden(found, [pair.access], ["revoke_token", "boom"])
    # a client sending its credentials (ignored) in the form and in HTTP Basic
    body = urlencode({"token": pair.refresh, "client_id": "app", "client_secret": "s3cr3t-value"})
    found = server_error(
        "post",
        REVOKE,
        data=body,
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION="Basic YXBwOnMzY3IzdC12YWx1ZQ==",
    )
    assert_hidden(found, [pair.refresh, "s3cr3t-value", "YXBwOnMzY3IzdC12YWx1ZQ=="], ["boom"])
    assert "client_id" in found["page text"]  # the harmless parameters still show


def test_introspect(server_error, pair, monkeypatch):
    staff = issue_token_pair(UserFactory(is_staff=True))
    monkeypatch.setattr(revocation, "is_token_revoked", boom)
    for token in (pair.access, pair.refresh):
        found = server_error(
            "post",
            INTROSPECT,
            data={"token": token},
            format="json",
            **bearer(staff.access),
        )
        assert_hidden(found, [token, staff.access], ["active_token", "boom"])


class FailingStore:
    user_and_state = token_state = staticmethod(boom)


@pytest.mark.parametrize("path", ["/api/me/", "/api/token-user-me/"])
def test_authentication_of_any_view(server_error, api_client, pair, monkeypatch, settings, path):
    monkeypatch.setattr(authentication, "get_store", FailingStore)
    found = server_error("get", path, **bearer(pair.access))
    assert_hidden(found, [pair.access], ["authenticate", "boom"])
    assert f"HTTP_AUTHORIZATION = '{HIDDEN}'" in found["page text"]  # Django hides the header
    # and by the access cookie
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, **COOKIES}
    api_client.cookies["access_token"] = pair.access
    found = server_error("get", path)
    assert_hidden(found, [pair.access], ["authenticate", "boom"])


def test_the_503_log_line_of_a_database_error(api_client, pair, monkeypatch, caplog):
    """The ERROR line a database outage logs carries the traceback: no token in it either."""

    def database_down(*args, **kwargs):
        raise DatabaseError("injected failure")

    monkeypatch.setattr(revocation, "mint_pair", database_down)
    response = api_client.post(REFRESH, {"refresh": pair.refresh}, format="json")
    assert response.status_code == 503
    [record] = [r for r in caplog.records if r.name == "django_jwt_revoke" and r.exc_info]
    found = reports(getattr(record, "request", None), *record.exc_info)
    for report in found.values():
        assert "injected failure" in report and "rotate_refresh_token" in report
        for part in parts(pair.refresh):
            assert part not in report


# -- the Python API ------------------------------------------------------------------


def test_verifying(pair, monkeypatch):
    """Inside PyJWT: its frames hold the token and the key (the secret, under HMAC)."""
    monkeypatch.setattr(jwt.algorithms.HMACAlgorithm, "verify", boom)
    found = report_of_call(decode_token, pair.access)
    assert_hidden(found, [pair.access, settings.SECRET_KEY], ["decode_token", "boom"])
    for function, raw in (
        (revocation.revoke_token, pair.access),
        (revocation.rotate_refresh_token, pair.refresh),
        (revocation.active_token, pair.refresh),
    ):
        found = report_of_call(function, raw)
        assert_hidden(found, [raw, settings.SECRET_KEY], [function.__name__, "decode_token"])


def test_signing(user, monkeypatch):
    monkeypatch.setattr(jwt.algorithms.HMACAlgorithm, "sign", boom)
    found = report_of_call(issue_token_pair, user)
    assert_hidden(found, [settings.SECRET_KEY], ["sign", "boom"])
    found = report_of_call(sign, {"jti": "x"})
    assert_hidden(found, [settings.SECRET_KEY], ["sign", "boom"])


def test_preparing_the_keys(monkeypatch):
    monkeypatch.setattr(backends, "_derived_kid", boom)
    with override_settings(JWT_REVOKE={"SIGNING_KEY": "x" * 20 + "-a-signing-key-of-our-own"}):
        found = report_of_call(backends.get_keys)
    assert_hidden(found, ["-a-signing-key-of-our-own"], ["get_keys", "boom"])


def test_revoking_and_logging_out(pair, monkeypatch):
    monkeypatch.setattr(revocation, "mint_pair", boom)
    found = report_of_call(revocation.rotate_refresh_token, pair.refresh)
    assert_hidden(found, [pair.refresh], ["rotate_refresh_token", "boom"])
    monkeypatch.setattr(revocation, "_blacklist", boom)
    found = report_of_call(revocation.revoke_token, pair.refresh)
    assert_hidden(found, [pair.refresh], ["revoke_token", "boom"])
    found = report_of_call(revocation.logout, decode_token(pair.access), pair.refresh)
    assert_hidden(found, [pair.refresh], ["logout", "boom"])


def test_cookies(pair, monkeypatch, settings):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, **COOKIES}
    request = RequestFactory().post(TOKEN)
    monkeypatch.setattr(HttpResponse, "set_cookie", boom)
    found = report_of_call(cookies.set_token_cookies, HttpResponse(), pair, request)
    assert_hidden(found, [pair.access, pair.refresh], ["set_token_cookies", "boom"])
    monkeypatch.setattr(cookies.jwt, "decode", boom)
    found = report_of_call(cookies._expiry, pair.access)
    assert_hidden(found, [pair.access], ["_expiry", "boom"])


def test_authentication_class(pair, monkeypatch):
    request = Request(RequestFactory().get("/", **bearer(pair.access)))
    monkeypatch.setattr(authentication, "get_store", FailingStore)
    found = report_of_call(JWTAuthentication().authenticate, request)
    assert_hidden(found, [pair.access], ["authenticate", "boom"])
    monkeypatch.setattr(authentication, "_header_types", boom)
    found = report_of_call(JWTAuthentication().get_raw_token, request)
    assert_hidden(found, [pair.access], ["get_raw_token", "boom"])


def test_login_serializer(user, monkeypatch):
    monkeypatch.setattr(serializers, "authenticate", boom)
    serializer = serializers.TokenObtainSerializer(data=credentials(user))
    found = report_of_call(serializer.is_valid)
    assert_hidden(found, [PASSWORD], ["validate", "boom"])


# -- cookies named otherwise: the filter, and check W005 ------------------------------


def test_filter_hides_the_token_cookies_whatever_their_names(settings):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, **OTHER_NAMES}
    request = RequestFactory().get("/")
    request.COOKIES = {"jwt": "a.b.c", "jwt_r": "d.e.f", "theme": "dark", "sessionid": "s"}
    assert SafeExceptionReporterFilter().get_safe_cookies(request)["jwt"] == "a.b.c"
    assert ExceptionReporterFilter().get_safe_cookies(request) == {
        "jwt": HIDDEN,
        "jwt_r": HIDDEN,
        "theme": "dark",
        "sessionid": HIDDEN,
    }


@pytest.mark.usefixtures("reporter_filter")
def test_check_w005(settings):
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = DJANGO_FILTER
    assert check_error_report_cookies() == []  # cookie transport off
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, **COOKIES}
    assert check_error_report_cookies() == []  # names Django hides
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "AUTH_COOKIE": "jwt"}
    assert check_error_report_cookies() == [
        Warning(
            "Error reports would show the token cookie 'jwt': Django hides a cookie only "
            "when its name matches SafeExceptionReporterFilter.hidden_settings.",
            hint=(
                'Set DEFAULT_EXCEPTION_REPORTER_FILTER = "django_jwt_revoke.debug.'
                'ExceptionReporterFilter" (or add django_jwt_revoke.debug.'
                "TokenCookiesFilterMixin to your own filter), or give the cookies names "
                'Django hides, such as "access_token" and "refresh_token".'
            ),
            id="django_jwt_revoke.W005",
        )
    ]
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, **OTHER_NAMES}
    assert "cookies 'jwt', 'jwt_r'" in check_error_report_cookies()[0].msg
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "django_jwt_revoke.debug.ExceptionReporterFilter"
    assert check_error_report_cookies() == []


@pytest.mark.usefixtures("reporter_filter")
def test_authorization_header_hidden_by_our_filter_on_every_django(settings):
    """Django 4.2's own filter shows the header (W006 warns); ours hides it everywhere."""
    from types import SimpleNamespace

    import django
    from django.core.checks import Warning

    from django_jwt_revoke.checks import check_error_report_header

    request = SimpleNamespace(META={"HTTP_AUTHORIZATION": "Bearer a.b.c"})
    assert ExceptionReporterFilter().get_safe_request_meta(request) == {
        "HTTP_AUTHORIZATION": HIDDEN
    }
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = DJANGO_FILTER
    django_shows = django.VERSION < (5, 0)
    assert (SafeExceptionReporterFilter().get_safe_request_meta(request) == {
        "HTTP_AUTHORIZATION": HIDDEN
    }) is not django_shows
    expected = [
        Warning(
            "Error reports would show the Authorization header, and with it the Bearer "
            "token: the reporter filter's hidden_settings does not match HTTP_AUTHORIZATION "
            "(Django before 5.0).",
            hint=(
                'Set DEFAULT_EXCEPTION_REPORTER_FILTER = "django_jwt_revoke.debug.'
                "ExceptionReporterFilter\", or add AUTH to your filter's hidden_settings."
            ),
            id="django_jwt_revoke.W006",
        )
    ]
    assert check_error_report_header() == (expected if django_shows else [])
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "django_jwt_revoke.debug.ExceptionReporterFilter"
    assert check_error_report_header() == []
