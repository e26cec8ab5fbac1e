"""Every row of the SPEC's endpoint table, through Django's test client."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from django.views.debug import SafeExceptionReporterFilter

from django_jwt_revoke import revocation
from django_jwt_revoke.conf import jwt_revoke_settings
from django_jwt_revoke.models import OutstandingToken, TokenSession
from django_jwt_revoke.tokens import decode_token, issue_token_pair
from tests.concurrency import refresh_race
from tests.factories import PASSWORD, UserFactory, credentials, login_name
from tests.keys import pem_pair

pytestmark = pytest.mark.django_db

TOKEN = reverse("django_jwt_revoke:token_obtain")
REFRESH = reverse("django_jwt_revoke:token_refresh")
LOGOUT = reverse("django_jwt_revoke:logout")
LOGOUT_ALL = reverse("django_jwt_revoke:logout_all")
SESSIONS = reverse("django_jwt_revoke:session_list")
REVOKE = reverse("django_jwt_revoke:token_revoke")
INTROSPECT = reverse("django_jwt_revoke:token_introspect")
JWKS = reverse("django_jwt_revoke:jwks")
ME = "/api/me/"


def session_url(sid):
    return reverse("django_jwt_revoke:session_detail", args=[sid])


def bearer(access):
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def claims(raw):
    return jwt.decode(raw, options={"verify_signature": False})


def forge_with_our_key(payload):
    """A token with ``payload`` signed with our own key (as a confused issuer would)."""
    return jwt.encode(payload, jwt_revoke_settings.SIGNING_KEY, algorithm="HS256")


def forge(payload):
    """A token with our claims, signed with a key we do not hold."""
    return jwt.encode(payload, "an-attacker-key-that-is-long-enough-for-hs256!", algorithm="HS256")


@pytest.fixture
def works(api_client):
    """Whether an access token is accepted by a protected endpoint."""

    def check(access):
        status = api_client.get(ME, **bearer(access)).status_code
        assert status in (200, 401)
        return status == 200

    return check


def form(client, path, data, **extra):
    return client.post(
        path, urlencode(data), content_type="application/x-www-form-urlencoded", **extra
    )


# -- POST token/ ---------------------------------------------------------------


def test_obtain_returns_a_working_pair(api_client, user, works):
    response = api_client.post(TOKEN, credentials(user), format="json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert works(body["access"])
    assert claims(body["refresh"])["sid"] == claims(body["access"])["sid"]
    assert response["Cache-Control"] == "no-store"


def test_a_login_reads_the_user_and_its_generations_in_one_query(
    api_client, user, django_assert_num_queries
):
    """The user with its generations (read before the password check), the
    backend's own lookup of the user, the session, the refresh token: 4
    statements (7 when the user was read twice first, 6 while the two rows
    had a transaction of their own, BEGIN and COMMIT: no guarantee needs it)."""
    api_client.post(TOKEN, credentials(user), format="json")  # warm: nothing lazy left
    with django_assert_num_queries(4) as ctx:
        response = api_client.post(TOKEN, credentials(user), format="json")
    assert response.status_code == 200
    selects = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT")]
    assert len(selects) == 2, selects
    assert "userrevocation" in selects[0] and "globalrevocation" in selects[0]
    statements = [q["sql"].split()[0] for q in ctx.captured_queries]
    assert statements == ["SELECT", "SELECT", "INSERT", "INSERT"], statements


def test_obtain_bad_password(api_client, user):
    response = api_client.post(TOKEN, credentials(user, "nope"), format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert response["WWW-Authenticate"].startswith("Bearer ")
    assert "nope" not in response.content.decode()


def test_obtain_inactive_user_gets_the_bad_credentials_answer(api_client):
    inactive = UserFactory(is_active=False)
    nobody = {get_user_model().USERNAME_FIELD: login_name("nobody"), "password": PASSWORD}
    unknown = api_client.post(TOKEN, nobody, format="json")
    response = api_client.post(TOKEN, credentials(inactive), format="json")
    assert response.status_code == unknown.status_code == 401
    assert response.json() == unknown.json()
    assert not TokenSession.objects.filter(user=inactive).exists()


def test_obtain_takes_username_whatever_the_username_field(api_client, user, works):
    """``username`` is accepted as well, as the SPEC names it (the USERNAME_FIELD's alias)."""
    body = {"username": user.get_username(), "password": PASSWORD}
    response = api_client.post(TOKEN, body, format="json")
    assert response.status_code == 200, response.content
    assert works(response.json()["access"])


@pytest.mark.parametrize("missing", ["login", "password"])
def test_obtain_missing_field(api_client, user, missing):
    data = credentials(user)
    field = get_user_model().USERNAME_FIELD if missing == "login" else missing
    del data[field]
    response = api_client.post(TOKEN, data, format="json")
    assert response.status_code == 400
    assert field in response.json()


# -- POST token/refresh/ ---------------------------------------------------------


def test_refresh_rotates(refreshes, pair, works):
    response = refreshes(pair.refresh)
    assert response.status_code == 200
    new = response.json()
    assert set(new) == {"access", "refresh"}
    assert new["refresh"] != pair.refresh
    assert claims(new["access"])["sid"] == claims(new["refresh"])["sid"] == pair.sid
    assert works(new["access"])
    assert response["Cache-Control"] == "no-store"
    # the new refresh token is good for the next rotation
    assert refreshes(new["refresh"]).status_code == 200


def test_rotated_refresh_token_presented_again_revokes_the_session(
    refreshes, user, pair, works, reused
):
    new = refreshes(pair.refresh).json()
    bystander = issue_token_pair(user)

    response = refreshes(pair.refresh)

    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    # the thief's and the victim's copies of the session are both dead
    assert not works(new["access"])
    assert not works(pair.access)
    assert refreshes(new["refresh"]).status_code == 401
    # another login of the same user is untouched
    assert works(bystander.access)
    assert refreshes(bystander.refresh).status_code == 200
    assert len(reused) == 1
    assert reused[0]["sid"] == pair.sid
    assert reused[0]["jti"] == claims(pair.refresh)["jti"]


def test_reuse_without_reuse_detection_is_refused_but_spares_the_session(
    refreshes, pair, works, reused
):
    with override_settings(JWT_REVOKE={"REUSE_DETECTION": False}):
        new = refreshes(pair.refresh).json()
        assert refreshes(pair.refresh).status_code == 401
        assert works(new["access"])
        assert refreshes(new["refresh"]).status_code == 200
    assert reused == []


def test_refresh_without_rotation_returns_the_same_refresh_token(refreshes, pair, works):
    with override_settings(JWT_REVOKE={"ROTATE_REFRESH_TOKENS": False}):
        first = refreshes(pair.refresh)
        second = refreshes(pair.refresh)
    assert first.status_code == second.status_code == 200
    assert first.json()["refresh"] == second.json()["refresh"] == pair.refresh
    assert works(second.json()["access"])


def test_refresh_missing_field(refreshes, api_client):
    response = api_client.post(REFRESH, {}, format="json")
    assert response.status_code == 400
    assert "refresh" in response.json()


@pytest.mark.parametrize(
    "make,code",
    [
        (lambda p: "not-a-token", "token_invalid"),
        (lambda p: p.access, "token_wrong_type"),
        (lambda p: forge(claims(p.refresh)), "token_invalid"),
    ],
    ids=["garbage", "access-token", "forged"],
)
def test_refresh_refuses_bad_tokens(refreshes, pair, make, code):
    raw = make(pair)
    response = refreshes(raw)
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert raw not in response.content.decode()


def test_refresh_expired(refreshes, pair):
    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        response = refreshes(pair.refresh)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


@pytest.mark.parametrize(
    "revoke",
    [
        lambda user, pair: revocation.revoke_session(pair.sid),
        lambda user, pair: revocation.revoke_token(pair.refresh),
        lambda user, pair: revocation.revoke_user_tokens(user),
    ],
    ids=["session", "token", "user"],
)
def test_refresh_revoked(refreshes, user, pair, revoke):
    revoke(user, pair)
    response = refreshes(pair.refresh)
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_refresh_inactive_user(refreshes, user, pair):
    type(user).objects.filter(pk=user.pk).update(is_active=False)  # no signal: no revocation
    response = refreshes(pair.refresh)
    assert response.status_code == 401
    assert response.json()["code"] == "user_inactive"


def test_refresh_deleted_user(refreshes, user, pair):
    user.delete()
    assert refreshes(pair.refresh).status_code == 401


def _fail_minting(execute, sql, params, many, context):
    if sql.lstrip().upper().startswith("INSERT") and "outstandingtoken" in sql:
        raise DatabaseError("disk full")
    return execute(sql, params, many, context)


def test_database_error_mid_rotation_issues_nothing_and_keeps_the_old_token(
    refreshes, pair, works, reused
):
    before = OutstandingToken.objects.count()
    with connection.execute_wrapper(_fail_minting):
        response = refreshes(pair.refresh)
    assert response.status_code == 503
    assert response["Retry-After"]
    assert set(response.json()) == {"detail", "code"}
    assert OutstandingToken.objects.count() == before
    # the rotation was rolled back: the same token rotates now, with no reuse alarm
    retry = refreshes(pair.refresh)
    assert retry.status_code == 200
    assert works(retry.json()["access"])
    assert reused == []


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serializes writers, so concurrent refreshes cannot race; "
    "run with JWT_REVOKE_TEST_DB=postgres (CI's PostgreSQL pass does)",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_one_wins_and_the_session_is_revoked(reused):
    n = 8
    user = UserFactory()
    pair = issue_token_pair(user)
    results = refresh_race(REFRESH, pair.refresh, n)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [401] * (n - 1), results
    winner = next(body for status, body in results if status == 200)
    assert all(body["code"] == "token_revoked" for status, body in results if status == 401)
    # exactly one successor was recorded, and the losers' reuse revoked the session
    assert OutstandingToken.objects.filter(session__sid=pair.sid).count() == 2
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is not None
    client = Client()
    assert client.get(ME, **bearer(winner["access"])).status_code == 401
    assert (
        client.post(
            REFRESH, {"refresh": winner["refresh"]}, content_type="application/json"
        ).status_code
        == 401
    )
    assert len(reused) == 1


# -- POST logout/ and logout-all/ ------------------------------------------------


def test_logout_ends_this_login_only(api_client, user, other_user, refreshes, works):
    mine, other_login = issue_token_pair(user), issue_token_pair(user)
    theirs = issue_token_pair(other_user)

    response = api_client.post(LOGOUT, **bearer(mine.access))

    assert response.status_code == 204
    assert not works(mine.access)
    assert refreshes(mine.refresh).status_code == 401
    assert works(other_login.access)
    assert refreshes(other_login.refresh).status_code == 200
    assert works(theirs.access)


def test_logout_with_its_refresh_token(api_client, pair, refreshes, works):
    response = api_client.post(
        LOGOUT, {"refresh": pair.refresh}, format="json", **bearer(pair.access)
    )
    assert response.status_code == 204
    assert not works(pair.access)
    assert refreshes(pair.refresh).status_code == 401


def test_logout_never_revokes_another_users_refresh_token(
    api_client, pair, other_user, refreshes, works
):
    theirs = issue_token_pair(other_user)
    response = api_client.post(
        LOGOUT, {"refresh": theirs.refresh}, format="json", **bearer(pair.access)
    )
    assert response.status_code == 204
    assert not works(pair.access)
    assert works(theirs.access)
    assert refreshes(theirs.refresh).status_code == 200


@pytest.mark.parametrize("refresh", ["", "garbage"])
def test_logout_with_a_useless_refresh_still_logs_out(api_client, pair, works, refresh):
    response = api_client.post(LOGOUT, {"refresh": refresh}, format="json", **bearer(pair.access))
    assert response.status_code == 204
    assert not works(pair.access)


@pytest.mark.parametrize("path", [LOGOUT, LOGOUT_ALL])
def test_logout_needs_an_access_token(api_client, pair, path):
    assert api_client.post(path).status_code == 401
    response = api_client.post(path, **bearer(pair.refresh))
    assert response.status_code == 401
    assert response.json()["code"] == "token_wrong_type"


def test_logout_all(api_client, user, other_user, refreshes, works):
    first, second = issue_token_pair(user), issue_token_pair(user)
    theirs = issue_token_pair(other_user)

    response = api_client.post(LOGOUT_ALL, **bearer(first.access))

    assert response.status_code == 204
    for pair in (first, second):
        assert not works(pair.access)
        assert refreshes(pair.refresh).status_code == 401
    assert works(theirs.access)
    # logging in again works
    again = api_client.post(TOKEN, credentials(user), format="json")
    assert works(again.json()["access"])


# -- sessions/ -------------------------------------------------------------------


def login(user, agent, ip):
    client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)
    response = client.post(
        TOKEN,
        credentials(user),
        content_type="application/json",
    )
    assert response.status_code == 200
    return response.json()


def test_sessions_lists_the_callers_live_sessions(api_client, user, other_user):
    phone = login(user, "Phone/1.0", "10.0.0.1")
    laptop = login(user, "Laptop/2.0", "2001:db8::1")
    gone = login(user, "Gone/1.0", "10.0.0.3")
    revocation.revoke_session(claims(gone["access"])["sid"])
    login(other_user, "Theirs/1.0", "10.0.0.4")

    response = api_client.get(SESSIONS, **bearer(laptop["access"]))

    assert response.status_code == 200
    sessions = response.json()
    assert isinstance(sessions, list)
    assert [s["user_agent"] for s in sessions] == ["Laptop/2.0", "Phone/1.0"]
    laptop_row, phone_row = sessions
    assert set(laptop_row) == {"id", "created_at", "expires_at", "user_agent", "ip", "current"}
    assert laptop_row["id"] == claims(laptop["access"])["sid"]
    assert laptop_row["ip"] == "2001:db8::1" and laptop_row["current"] is True
    assert phone_row["id"] == claims(phone["access"])["sid"]
    assert phone_row["ip"] == "10.0.0.1" and phone_row["current"] is False
    assert phone_row["expires_at"] > phone_row["created_at"]


def test_sessions_hides_expired_and_logged_out_everywhere(api_client, user):
    issue_token_pair(user)  # its refresh token expires after a day
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        current = issue_token_pair(user)
        sessions = api_client.get(SESSIONS, **bearer(current.access)).json()
    assert [s["id"] for s in sessions] == [current.sid]

    revocation.revoke_user_tokens(user)
    fresh = issue_token_pair(user)
    sessions = api_client.get(SESSIONS, **bearer(fresh.access)).json()
    assert [s["id"] for s in sessions] == [fresh.sid]

    revocation.revoke_all_tokens()
    after_incident = issue_token_pair(user)
    sessions = api_client.get(SESSIONS, **bearer(after_incident.access)).json()
    assert [s["id"] for s in sessions] == [after_incident.sid]


def test_sessions_follow_rotation(api_client, pair, refreshes):
    new = refreshes(pair.refresh).json()
    sessions = api_client.get(SESSIONS, **bearer(new["access"])).json()
    assert [(s["id"], s["current"]) for s in sessions] == [(pair.sid, True)]


def test_delete_one_of_my_sessions(api_client, user, refreshes, works):
    mine, stolen = issue_token_pair(user), issue_token_pair(user)

    response = api_client.delete(session_url(stolen.sid), **bearer(mine.access))

    assert response.status_code == 204
    assert not works(stolen.access)
    assert refreshes(stolen.refresh).status_code == 401
    assert works(mine.access)
    listed = api_client.get(SESSIONS, **bearer(mine.access)).json()
    assert [s["id"] for s in listed] == [mine.sid]
    # deleting it again is harmless
    assert api_client.delete(session_url(stolen.sid), **bearer(mine.access)).status_code == 204


def test_delete_another_users_session_is_404(api_client, pair, other_user, works):
    theirs = issue_token_pair(other_user)
    response = api_client.delete(session_url(theirs.sid), **bearer(pair.access))
    assert response.status_code == 404
    assert response.json()["code"] == "session_not_found"
    assert works(theirs.access)
    unknown = api_client.delete(session_url('0' * 32), **bearer(pair.access))
    assert unknown.status_code == 404
    assert unknown.json() == response.json()


def test_sessions_need_an_access_token(api_client, pair):
    assert api_client.get(SESSIONS).status_code == 401
    assert api_client.delete(session_url(pair.sid)).status_code == 401
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is None


# -- POST revoke/ (RFC 7009) -------------------------------------------------------


def test_revoke_refresh_token_form_encoded_ends_its_session(api_client, pair, refreshes, works):
    response = form(api_client, REVOKE, {"token": pair.refresh, "token_type_hint": "refresh_token"})
    assert response.status_code == 200
    assert refreshes(pair.refresh).status_code == 401
    assert not works(pair.access)


def test_revoke_access_token_json_ends_that_token_only(api_client, pair, refreshes, works):
    response = api_client.post(REVOKE, {"token": pair.access}, format="json")
    assert response.status_code == 200
    assert not works(pair.access)
    new = refreshes(pair.refresh)
    assert new.status_code == 200
    assert works(new.json()["access"])


def test_revoke_ignores_a_wrong_hint(api_client, pair, refreshes):
    response = form(api_client, REVOKE, {"token": pair.refresh, "token_type_hint": "access_token"})
    assert response.status_code == 200
    assert refreshes(pair.refresh).status_code == 401


@pytest.mark.parametrize("kind", ["unknown", "garbage", "expired", "revoked", "forged"])
def test_revoke_answers_200_for_any_token(api_client, user, pair, kind):
    raw = {
        "unknown": lambda: forge({"token_type": "access", "jti": "x", "sid": "y"}),
        "garbage": lambda: "garbage",
        "expired": lambda: pair.access,
        "revoked": lambda: pair.refresh,
        "forged": lambda: forge(claims(pair.refresh)),
    }[kind]()
    if kind == "revoked":
        revocation.revoke_token(pair.refresh)
    if kind == "expired":
        with time_machine.travel(timezone.now() + timedelta(minutes=6)):
            response = form(api_client, REVOKE, {"token": raw})
    else:
        response = form(api_client, REVOKE, {"token": raw})
    assert response.status_code == 200
    assert raw not in response.content.decode()


def test_a_forged_token_cannot_revoke_another_users_session(api_client, user, other_user, works):
    theirs = issue_token_pair(other_user)
    payload = claims(theirs.refresh)
    response = form(api_client, REVOKE, {"token": forge(payload)})
    assert response.status_code == 200
    assert works(theirs.access)
    assert TokenSession.objects.get(sid=theirs.sid).revoked_at is None


def test_revoking_my_token_leaves_other_users_alone(api_client, pair, other_user, works):
    theirs = issue_token_pair(other_user)
    assert form(api_client, REVOKE, {"token": pair.refresh}).status_code == 200
    assert works(theirs.access)


@pytest.mark.parametrize(
    "body,content_type",
    [
        ("", "application/x-www-form-urlencoded"),
        ("token_type_hint=access_token", "application/x-www-form-urlencoded"),
        ("token=", "application/x-www-form-urlencoded"),
        ("token=a&token=b", "application/x-www-form-urlencoded"),
        ("{}", "application/json"),
        ('{"token": 5}', "application/json"),
        ('{"token": ', "application/json"),
        ("[]", "application/json"),
        ("token=a", "text/plain"),
    ],
)
def test_revoke_malformed_request(api_client, body, content_type):
    response = api_client.post(REVOKE, body, content_type=content_type)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request"}


def test_revoke_ignores_client_credentials(api_client, pair, works):
    response = form(
        api_client,
        REVOKE,
        {"token": pair.access, "client_id": "nobody", "client_secret": "wrong"},
        HTTP_AUTHORIZATION="Basic bm9ib2R5Ondyb25n",
    )
    assert response.status_code == 200
    assert not works(pair.access)
    # nor does a bad Bearer header make it a 401
    response = form(api_client, REVOKE, {"token": pair.refresh}, **bearer("garbage"))
    assert response.status_code == 200


def test_revoke_hides_the_token_from_error_reports(pair):
    response = Client().post(
        REVOKE, urlencode({"token": pair.refresh}), content_type="application/x-www-form-urlencoded"
    )
    request = response.wsgi_request
    params = SafeExceptionReporterFilter().get_post_parameters(request)
    assert params["token"] != pair.refresh
    assert set(params["token"]) == {"*"}


# -- POST introspect/ (RFC 7662) ----------------------------------------------------


@pytest.fixture
def staff(db):
    return issue_token_pair(UserFactory(is_staff=True))


def introspect(api_client, staff, token, **extra):
    return form(api_client, INTROSPECT, {"token": token}, **bearer(staff.access), **extra)


def test_introspect_needs_staff(api_client, pair):
    anonymous = form(api_client, INTROSPECT, {"token": pair.access})
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="api"'
    basic = form(api_client, INTROSPECT, {"token": pair.access}, HTTP_AUTHORIZATION="Basic eDp5")
    assert basic.status_code == 401
    assert basic["WWW-Authenticate"] == 'Bearer realm="api"'


def test_introspect_by_a_non_staff_user_is_401_insufficient_scope(api_client, pair):
    """RFC 7662 2.3: a Bearer token without the privileges for the endpoint is a 401."""
    response = form(api_client, INTROSPECT, {"token": pair.access}, **bearer(pair.access))
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Token introspection needs the access token of a staff user.",
        "code": "insufficient_scope",
    }
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="Token introspection needs the access token of a staff user."'
    )


def test_introspect_with_a_malformed_authorization_header_is_400(api_client, pair):
    response = form(api_client, INTROSPECT, {"token": pair.access}, HTTP_AUTHORIZATION="Bearer")
    assert response.status_code == 400
    assert response.json()["code"] == "authorization_header_invalid"
    assert 'error="invalid_request"' in response["WWW-Authenticate"]


def test_introspect_active_access_token(api_client, staff, user, pair):
    response = introspect(api_client, staff, pair.access)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    payload = claims(pair.access)
    assert body == {
        **payload,
        "active": True,
        "username": user.get_username(),
        "sub": str(user.pk),
        "token_type": "Bearer",
        "jwt_token_type": "access",
    }
    assert pair.access not in response.content.decode()


def test_introspect_active_refresh_token_json(api_client, staff, user, pair):
    response = api_client.post(
        INTROSPECT, {"token": pair.refresh}, format="json", **bearer(staff.access)
    )
    body = response.json()
    assert body["active"] is True
    assert (body["token_type"], body["jwt_token_type"]) == ("Bearer", "refresh")
    assert body["jti"] == claims(pair.refresh)["jti"]


@override_settings(JWT_REVOKE={"ISSUER": "https://auth.example", "AUDIENCE": "api"})
def test_introspect_carries_iss_and_aud(api_client, user):
    staff_pair = issue_token_pair(UserFactory(is_staff=True))
    body = introspect(api_client, staff_pair, issue_token_pair(user).access).json()
    assert body["iss"] == "https://auth.example"
    assert body["aud"] == "api"


@pytest.mark.parametrize(
    "kind", ["garbage", "forged", "expired", "revoked", "session", "rotated", "inactive", "deleted"]
)
def test_introspect_inactive(api_client, staff, user, pair, refreshes, kind):
    raw = pair.access
    if kind == "garbage":
        raw = "garbage"
    elif kind == "forged":
        raw = forge(claims(pair.access))
    elif kind == "revoked":
        revocation.revoke_token(pair.access)
    elif kind == "session":
        revocation.revoke_session(pair.sid)
    elif kind == "rotated":
        raw = pair.refresh
        assert refreshes(pair.refresh).status_code == 200
    elif kind == "inactive":
        type(user).objects.filter(pk=user.pk).update(is_active=False)
    elif kind == "deleted":
        user.delete()
    if kind == "expired":
        with time_machine.travel(timezone.now() + timedelta(minutes=6)):
            staff_now = issue_token_pair(UserFactory(is_staff=True))
            response = introspect(api_client, staff_now, raw)
    else:
        response = introspect(api_client, staff, raw)
    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_a_token_for_another_audience_is_refused_everywhere(api_client, staff, pair, works):
    """RFC 7519 4.1.3, with no AUDIENCE configured: refused, and RFC 7009/7662 answers."""
    access = forge_with_our_key(dict(claims(pair.access), aud="some-other-service"))
    refresh = forge_with_our_key(dict(claims(pair.refresh), aud="some-other-service"))
    refused = api_client.post(REFRESH, {"refresh": refresh}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (401, "token_claims_invalid")
    assert 'error="invalid_token"' in refused["WWW-Authenticate"]
    for token in (access, refresh):
        assert introspect(api_client, staff, token).json() == {"active": False}
        # RFC 7009 2.2: an invalid token is a 200 all the same, and revokes nothing
        assert form(api_client, REVOKE, {"token": token}).status_code == 200
    assert works(pair.access)
    assert introspect(api_client, staff, pair.refresh).json()["active"] is True
    assert api_client.post(REFRESH, {"refresh": pair.refresh}, format="json").status_code == 200


def test_introspect_without_token(api_client, staff):
    response = form(api_client, INTROSPECT, {}, **bearer(staff.access))
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request"}


# -- GET jwks/ -----------------------------------------------------------------------


def pem(private_key):
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_jwks_is_404_under_hmac(api_client):
    response = api_client.get(JWKS)
    assert response.status_code == 404
    assert response.json()["code"] == "jwks_unavailable"
    assert jwt_revoke_settings.SIGNING_KEY not in response.content.decode()


@pytest.mark.parametrize(
    "algorithm,make_key",
    [
        ("RS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", lambda: ec.generate_private_key(ec.SECP256R1())),
        ("EdDSA", ed25519.Ed25519PrivateKey.generate),
    ],
)
def test_jwks_publishes_public_keys_that_verify_our_tokens(api_client, user, algorithm, make_key):
    current, previous = make_key(), make_key()
    settings = {
        "ALGORITHM": algorithm,
        "SIGNING_KEY": pem(current),
        "SIGNING_KEY_ID": "k2",
        "VERIFYING_KEYS": {"k1": pem(previous)},
    }
    with override_settings(JWT_REVOKE=settings):
        pair = issue_token_pair(user)
        response = api_client.get(JWKS)
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert [k["kid"] for k in keys] == ["k2", "k1"]
    for jwk in keys:
        assert jwk["alg"] == algorithm and jwk["use"] == "sig"
        assert "d" not in jwk and "k" not in jwk
        assert "key_ops" not in jwk  # RFC 7517 4.3: not both "use" and "key_ops"
    assert jwt.get_unverified_header(pair.access)["kid"] == "k2"
    public = jwt.PyJWK(keys[0]).key
    assert (
        jwt.decode(pair.access, public, algorithms=[algorithm])["jti"] == claims(pair.access)["jti"]
    )
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(pair.access, jwt.PyJWK(keys[1]).key, algorithms=[algorithm])


@pytest.mark.parametrize(
    "kind,algorithm", [("rsa", "RS256"), ("ec", "ES256"), ("ed25519", "EdDSA")]
)
def test_tokens_of_a_single_asymmetric_key_carry_the_kid_jwks_publishes(
    api_client, user, kind, algorithm
):
    with override_settings(JWT_REVOKE={"ALGORITHM": algorithm, "SIGNING_KEY": pem_pair(kind)[0]}):
        pair = issue_token_pair(user)
        (published,) = api_client.get(JWKS).json()["keys"]
    for token in (pair.access, pair.refresh):
        assert jwt.get_unverified_header(token)["kid"] == published["kid"]


def test_tokens_of_a_single_hmac_key_carry_no_kid(pair):
    """Nothing is published to look a kid up in, and simplejwt's tokens have none."""
    assert "kid" not in jwt.get_unverified_header(pair.access)


# -- throttling ----------------------------------------------------------------------


GLOBAL_SCOPED = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["django_jwt_revoke.authentication.JWTAuthentication"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.ScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"something_else": "100/min"},
}


def test_endpoints_work_under_a_global_scoped_throttle_without_our_rates(
    api_client, user, pair, staff
):
    with override_settings(REST_FRAMEWORK=GLOBAL_SCOPED):
        assert (
            api_client.post(TOKEN, credentials(user), format="json").status_code
            == 200
        )
        assert api_client.post(REFRESH, {"refresh": pair.refresh}, format="json").status_code == 200
        assert api_client.get(SESSIONS, **bearer(staff.access)).status_code == 200
        assert form(api_client, REVOKE, {"token": "x"}).status_code == 200
        assert introspect(api_client, staff, "x").status_code == 200
        assert api_client.get(JWKS).status_code == 404


@pytest.mark.parametrize("classes", [[], ["rest_framework.throttling.ScopedRateThrottle"]])
def test_obtain_is_rate_limited_by_settings_alone(api_client, user, classes):
    config = {
        "DEFAULT_THROTTLE_CLASSES": classes,
        "DEFAULT_THROTTLE_RATES": {"jwt_revoke_obtain": "2/min"},
    }
    body = credentials(user)
    with override_settings(REST_FRAMEWORK=config):
        assert api_client.post(TOKEN, body, format="json").status_code == 200
        assert api_client.post(TOKEN, dict(body, password="x"), format="json").status_code == 401
        limited = api_client.post(TOKEN, body, format="json")
        assert limited.status_code == 429
        assert int(limited["Retry-After"]) > 0
        # another scope is not affected
        pair = issue_token_pair(user)
        assert api_client.post(REFRESH, {"refresh": pair.refresh}, format="json").status_code == 200


def test_refresh_is_rate_limited_by_settings_alone(api_client, user):
    with override_settings(
        REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"jwt_revoke_refresh": "1/min"}}
    ):
        first, second = issue_token_pair(user), issue_token_pair(user)
        assert (
            api_client.post(REFRESH, {"refresh": first.refresh}, format="json").status_code == 200
        )
        response = api_client.post(REFRESH, {"refresh": second.refresh}, format="json")
        assert response.status_code == 429
    # the throttled request did not touch the token
    assert decode_token(second.refresh, token_type="refresh").sid == second.sid
    assert api_client.post(REFRESH, {"refresh": second.refresh}, format="json").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_reuse_detection_survives_atomic_requests(monkeypatch, refreshes, works):
    """The 401 of a reuse must not roll back the session's revocation."""
    from django.db import connections

    pair = issue_token_pair(UserFactory())
    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", True)
    new = refreshes(pair.refresh).json()
    assert refreshes(pair.refresh).status_code == 401
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is not None
    assert not works(new["access"])


def test_the_logins_compiled_query_answers_as_the_orm_does(user, other_user):
    """The login's generations query runs compiled once (stores.internals): its
    answers are the ORM's for a user never revoked, after user-wide and global
    revocations, for another user, and for names nobody has."""
    from django_jwt_revoke import models

    def both(name):
        compiled = models.generations_of_username(name, "default")
        assert models._generations_queries()["default"] is not None, "not compiled"
        orm = list(models._generations_of(name, "default"))
        expected = None if len(orm) != 1 else (orm[0][0], orm[0][1] or 0, orm[0][2] or 0)
        assert compiled == expected, name
        return compiled

    names = [user.get_username(), other_user.get_username(), "nobody-by-this-name", ""]
    before = [both(name) for name in names]
    assert before[0][1:] == (0, 0) and before[2] is None and before[3] is None
    revocation.revoke_user_tokens(user)
    assert both(names[0])[1] == before[0][1] + 1
    assert both(names[1]) == before[1]
    revocation.revoke_all_tokens()
    assert both(names[0])[2] == before[0][2] + 1 == both(names[1])[2]


def test_the_logins_compiled_query_gives_way_to_the_orm(
    api_client, user, works, monkeypatch, caplog
):
    """A Django whose compiler internals changed: logins still work, and still carry
    the generations read before the check, only slower; the compiled query is retired."""
    import logging

    from django_jwt_revoke import models
    from django_jwt_revoke.stores import internals

    assert api_client.post(TOKEN, credentials(user), format="json").status_code == 200
    assert models._generations_queries()["default"] is not None

    def changed_internals(self, row, connection):
        raise IndexError("a row shaped otherwise")

    monkeypatch.setattr(internals.PreparedQuery, "_converted", changed_internals)
    revocation.revoke_user_tokens(user)
    with caplog.at_level(logging.WARNING, logger="django_jwt_revoke.stores"):
        response = api_client.post(TOKEN, credentials(user), format="json")
    assert response.status_code == 200
    assert claims(response.json()["access"])["gen"] == 1
    assert works(response.json()["access"])
    assert models._generations_queries()["default"] is None
    assert "compiled generations query failed; the ORM runs it" in caplog.text
