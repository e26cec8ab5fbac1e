"""Client text that no database column can hold: a NUL (PostgreSQL refuses it
in text), a lone surrogate (no driver can encode it).

Wherever the client's text reaches a query (signed claims, the session id in
a path, the username, the user agent), it is refused or stored safely, as
the same request without it would be: never a failed query, which the views
answer 503 "revocation state unavailable" (retry, and an ERROR log line that
wakes operators) or 500. These tests run in both passes; the PostgreSQL one
(``JWT_REVOKE_TEST_DB=postgres``) is where a NUL reaches the database.
"""

import json
import logging
from urllib.parse import urlencode

import jwt
import pytest
from django.test import override_settings
from django.urls import reverse

from django_jwt_revoke.conf import jwt_revoke_settings
from django_jwt_revoke.exceptions import InvalidToken
from django_jwt_revoke.models import BlacklistedToken, TokenSession
from django_jwt_revoke.revocation import revoke_session
from django_jwt_revoke.tokens import decode_token, issue_token_pair
from tests.factories import UserFactory, credentials
from tests.legacy import legacy_token

pytestmark = pytest.mark.django_db

TOKEN = reverse("django_jwt_revoke:token_obtain")
REFRESH = reverse("django_jwt_revoke:token_refresh")
LOGOUT = reverse("django_jwt_revoke:logout")
SESSIONS = reverse("django_jwt_revoke:session_list")
REVOKE = reverse("django_jwt_revoke:token_revoke")
INTROSPECT = reverse("django_jwt_revoke:token_introspect")


def session_url(sid):
    return reverse("django_jwt_revoke:session_detail", args=[sid])


NUL = "\x00"
SURROGATE = "\ud800"
UNSTORABLE = pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])


def bearer(access):
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def post(client, path, body, fmt="json", **extra):
    """POST ``body`` as JSON (``\\ud800`` escapes carry lone surrogates) or as a form."""
    if fmt == "form":
        data, content_type = urlencode(body), "application/x-www-form-urlencoded"
    else:
        data, content_type = json.dumps(body), "application/json"
    return client.post(path, data, content_type=content_type, **extra)


def claims(raw):
    return jwt.decode(raw, options={"verify_signature": False})


def sign(payload):
    return jwt.encode(payload, jwt_revoke_settings.SIGNING_KEY, algorithm="HS256")


@pytest.fixture
def staff(db):
    return issue_token_pair(UserFactory(is_staff=True))


@pytest.fixture
def no_error_logged(caplog):
    """Nothing logged at ERROR: a hostile request is the client's fault, not an outage."""
    caplog.set_level(logging.ERROR)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


def refused(response, code="token_claims_invalid"):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == code
    assert "Retry-After" not in response
    return True


# -- signed tokens whose ids hold what no column can -----------------------------


@UNSTORABLE
@pytest.mark.parametrize("claim", ["jti", "sid"])
@pytest.mark.usefixtures("no_error_logged")
def test_access_token_with_an_unstorable_id_is_refused_everywhere(
    api_client, pair, staff, claim, bad
):
    payload = claims(pair.access)
    payload[claim] = f"{payload[claim]}{bad}"
    raw = sign(payload)
    with pytest.raises(InvalidToken) as refusal:
        decode_token(raw)
    assert refusal.value.code == "token_claims_invalid"
    for path in ("/api/me/", "/api/token-user-me/"):
        assert refused(api_client.get(path, **bearer(raw)))
    assert refused(api_client.post(LOGOUT, **bearer(raw)))
    assert refused(api_client.delete(session_url(pair.sid), **bearer(raw)))
    response = post(api_client, REVOKE, {"token": raw})
    assert response.status_code == 200
    response = post(api_client, INTROSPECT, {"token": raw}, **bearer(staff.access))
    assert response.status_code == 200 and response.json() == {"active": False}
    # and nothing was revoked by the forgery: the real pair still works
    assert api_client.get("/api/me/", **bearer(pair.access)).status_code == 200


@UNSTORABLE
@pytest.mark.parametrize("claim", ["jti", "sid"])
@pytest.mark.usefixtures("no_error_logged")
def test_refresh_token_with_an_unstorable_id_is_refused_everywhere(
    api_client, pair, staff, claim, bad
):
    payload = claims(pair.refresh)
    payload[claim] = f"{payload[claim]}{bad}"
    raw = sign(payload)
    assert refused(post(api_client, REFRESH, {"refresh": raw}))
    response = post(api_client, REVOKE, {"token": raw})
    assert response.status_code == 200
    response = post(api_client, INTROSPECT, {"token": raw}, **bearer(staff.access))
    assert response.json() == {"active": False}
    # logout ignores a refresh token it cannot use, and still ends the session
    response = post(api_client, LOGOUT, {"refresh": raw}, **bearer(pair.access))
    assert response.status_code == 204
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is not None
    assert not BlacklistedToken.objects.exists()


@UNSTORABLE
@pytest.mark.usefixtures("accept_legacy", "no_error_logged")
def test_legacy_token_with_an_unstorable_jti_is_refused(api_client, user, bad):
    access = legacy_token(user, jti=f"abc{bad}")
    refresh = legacy_token(user, "refresh", jti=f"abc{bad}")
    assert refused(api_client.get("/api/me/", **bearer(access)))
    assert refused(post(api_client, REFRESH, {"refresh": refresh}))
    assert not TokenSession.objects.exists()


@UNSTORABLE
@pytest.mark.usefixtures("no_error_logged")
def test_string_user_id_claim_with_what_no_column_holds_is_refused(api_client, user, bad):
    with override_settings(JWT_REVOKE={"USER_ID_FIELD": type(user).USERNAME_FIELD}):
        payload = claims(issue_token_pair(user).access)
        payload["user_id"] = f"{user.get_username()}{bad}"
        assert refused(api_client.get("/api/me/", **bearer(sign(payload))))
        assert refused(api_client.get("/api/token-user-me/", **bearer(sign(payload))))


# -- logins: the username, the password and the user agent -----------------------


@UNSTORABLE
@pytest.mark.parametrize("field", ["login", "password"])
@pytest.mark.usefixtures("no_error_logged")
def test_login_with_an_unstorable_credential_is_invalid_credentials(api_client, user, field, bad):
    """No account has such a login name (USERNAME_FIELD) or password: a 401, as for any
    wrong one."""
    body = credentials(user)
    key = type(user).USERNAME_FIELD if field == "login" else field
    body[key] = f"{body[key]}{bad}"
    response = post(api_client, TOKEN, body)
    assert refused(response, "invalid_credentials")
    assert not TokenSession.objects.exists()


@pytest.mark.usefixtures("no_error_logged")
def test_login_with_a_nul_in_the_user_agent_stores_it_safely(api_client, user):
    response = post(
        api_client,
        TOKEN,
        credentials(user),
        HTTP_USER_AGENT="curl/8.5\x00<script>",
    )
    assert response.status_code == 200, response.content
    session = TokenSession.objects.get()
    assert session.user_agent == "curl/8.5\ufffd<script>"
    assert session.refresh_tokens.get().user_agent == "curl/8.5\ufffd<script>"
    sessions = api_client.get(SESSIONS, **bearer(response.json()["access"]))
    assert [s["user_agent"] for s in sessions.json()] == ["curl/8.5\ufffd<script>"]
    # and so does the refresh that rotates it
    response = post(
        api_client,
        REFRESH,
        {"refresh": response.json()["refresh"]},
        HTTP_USER_AGENT="\x00" * 300,
    )
    assert response.status_code == 200, response.content
    assert session.refresh_tokens.latest("created_at").user_agent == "\ufffd" * 256


# -- the session id in a path, token values in bodies ------------------------------


@pytest.mark.usefixtures("no_error_logged")
def test_deleting_a_session_whose_id_has_a_nul_is_not_found(api_client, pair):
    for sid in ("%00", f"{pair.sid}%00", "%00" * 100):
        # already quoted: reverse() would quote the "%" again
        response = api_client.delete(f"{SESSIONS}{sid}/", **bearer(pair.access))
        assert response.status_code == 404, response.content
        assert response.json()["code"] == "session_not_found"
        assert "Retry-After" not in response
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is None
    assert revoke_session(pair.sid + NUL) is False


# A form body is bytes: it cannot carry a lone surrogate, JSON can ("\ud800").
@pytest.mark.parametrize(
    "fmt,bad",
    [("json", NUL), ("json", SURROGATE), ("form", NUL)],
    ids=["json-nul", "json-surrogate", "form-nul"],
)
@pytest.mark.usefixtures("no_error_logged")
def test_oauth_token_values_with_what_no_column_holds(api_client, staff, fmt, bad):
    """RFC 7009 and 7662: a token value that is no token is simply not one."""
    for value in (bad, f"a{bad}.b.c", f"eyJhbGciOiJIUzI1NiJ9.e30.{bad}"):
        response = post(api_client, REVOKE, {"token": value}, fmt)
        assert response.status_code == 200, response.content
        response = post(
            api_client, INTROSPECT, {"token": value}, fmt, **bearer(staff.access)
        )
        assert response.json() == {"active": False}


@pytest.mark.usefixtures("no_error_logged")
def test_refresh_and_logout_fields_with_a_nul_are_malformed(api_client, pair):
    """Not a token, not a query: the body is malformed (400), and nothing else happens."""
    response = post(api_client, REFRESH, {"refresh": "a\x00b"})
    assert response.status_code == 400, response.content
    response = post(api_client, LOGOUT, {"refresh": "a\x00b"}, **bearer(pair.access))
    assert response.status_code == 400, response.content
    assert pair.refresh not in response.content.decode()
