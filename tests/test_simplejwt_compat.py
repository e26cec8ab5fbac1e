"""Switching over from djangorestframework-simplejwt: its tokens, its blacklist.

Runs only under ``tests.settings_simplejwt`` (simplejwt and its blacklist app
installed, the same signing key): ``pytest --ds=tests.settings_simplejwt
tests/test_simplejwt_compat.py``. Tokens are minted by simplejwt itself.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import jwt
import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken as SJBlacklistedToken,
)
from rest_framework_simplejwt.token_blacklist.models import (
    OutstandingToken as SJOutstandingToken,
)
from rest_framework_simplejwt.tokens import RefreshToken

from django_jwt_revoke import revocation
from django_jwt_revoke.conf import jwt_revoke_settings
from django_jwt_revoke.models import BlacklistedToken, OutstandingToken, TokenSession
from django_jwt_revoke.signals import token_revoked
from django_jwt_revoke.tokens import REFRESH, decode_token, issue_token_pair, legacy_sid
from tests.concurrency import refresh_race
from tests.factories import UserFactory
from tests.legacy import legacy_token

# revocations reach the cache on commit: on_commit_hooks runs them in the test transaction
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_commit_hooks")]

LOGOUT = reverse("django_jwt_revoke:logout")
LOGOUT_ALL = reverse("django_jwt_revoke:logout_all")
SESSIONS = reverse("django_jwt_revoke:session_list")
REVOKE = reverse("django_jwt_revoke:token_revoke")
INTROSPECT = reverse("django_jwt_revoke:token_introspect")
REFRESH_URL = reverse("django_jwt_revoke:token_refresh")
ME = "/api/me/"
TOKEN_USER_ME = "/api/token-user-me/"


class Login:
    """What simplejwt's ``TokenObtainPairView`` hands out, minted by simplejwt."""

    def __init__(self, user):
        self.token = RefreshToken.for_user(user)  # records simplejwt's OutstandingToken
        self.refresh = str(self.token)
        self.access = str(self.token.access_token)
        self.jti = self.token["jti"]
        self.sid = legacy_sid(self.jti)


def bearer(access):
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


@pytest.fixture
def status(api_client):
    """The status code of GET ``path`` with an access token."""

    def get(access, path=ME):
        return api_client.get(path, **bearer(access)).status_code

    return get


@pytest.fixture
def revoked_signals():
    calls = []

    def receiver(**kwargs):
        calls.append({k: v for k, v in kwargs.items() if k != "signal"})

    token_revoked.connect(receiver, dispatch_uid="test_simplejwt_compat.revoked")
    yield calls
    token_revoked.disconnect(dispatch_uid="test_simplejwt_compat.revoked")


# -- simplejwt's tokens, accepted -----------------------------------------------------


def test_simplejwt_tokens_are_legacy_tokens(user):
    login = Login(user)
    for raw, kind in ((login.access, "access"), (login.refresh, "refresh")):
        assert jwt.get_unverified_header(raw) == {"alg": "HS256", "typ": "JWT"}
        token = decode_token(raw, token_type=kind)
        assert token.legacy and token.sid is None
        # simplejwt 5.5 writes every id as a string, earlier versions an int as an int
        assert token["user_id"] in (str(user.pk), user.pk)
        assert token.user_id == user.pk and token.user_key == str(user.pk)
        assert (token.generation, token.epoch) == (0, 0)


def test_access_token_authenticates_in_one_query(api_client, user, django_assert_num_queries):
    login = Login(user)
    api_client.get(ME, **bearer(login.access))  # warm up anything lazily loaded
    with django_assert_num_queries(1):
        response = api_client.get(ME, **bearer(login.access))
    assert response.status_code == 200
    assert response.json()["id"] == user.pk
    assert response.json()["jti"] == decode_token(login.access).jti


def test_access_token_in_token_user_mode(status, user, django_assert_num_queries):
    login = Login(user)
    with django_assert_num_queries(1):
        assert status(login.access, TOKEN_USER_ME) == 200
    with django_assert_num_queries(0 if jwt_revoke_settings.CACHE_ALIAS else 1):
        assert status(login.access, TOKEN_USER_ME) == 200


def test_access_token_in_token_user_mode_answered_by_a_warm_cache(
    settings, status, user, django_assert_num_queries
):
    settings.JWT_REVOKE = {
        **settings.JWT_REVOKE,
        "CACHE_ALIAS": settings.JWT_REVOKE.get("CACHE_ALIAS") or "default",
    }
    login = Login(user)
    assert status(login.access, TOKEN_USER_ME) == 200
    with django_assert_num_queries(0):
        assert status(login.access, TOKEN_USER_ME) == 200
    revocation.revoke_token(login.access)
    with django_assert_num_queries(0):
        assert status(login.access, TOKEN_USER_ME) == 401


def test_integer_user_id_of_older_simplejwt_versions(status, user):
    assert status(legacy_token(user, user_id=user.pk)) == 200
    assert status(legacy_token(user, user_id=str(user.pk))) == 200


def test_turned_off_every_legacy_token_is_refused(api_client, settings, user, refreshes):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "ACCEPT_SIMPLEJWT_TOKENS": False}
    login = Login(user)
    for path in (ME, TOKEN_USER_ME):
        response = api_client.get(path, **bearer(login.access))
        assert response.status_code == 401
        assert response.json()["code"] == "token_claims_invalid"
    response = refreshes(login.refresh)
    assert response.status_code == 401 and response.json()["code"] == "token_claims_invalid"
    assert (OutstandingToken.objects.count(), TokenSession.objects.count()) == (0, 0)
    ours = issue_token_pair(user)
    assert api_client.get(ME, **bearer(ours.access)).status_code == 200


def test_lifetime_cap_applies(settings, status, refreshes, user):
    """Our lifetimes must be at least simplejwt's during the switch."""
    login = Login(user)
    settings.JWT_REVOKE = {
        **settings.JWT_REVOKE,
        "ACCESS_TOKEN_LIFETIME": timedelta(minutes=1),
        "REFRESH_TOKEN_LIFETIME": timedelta(hours=1),
    }
    assert status(login.access) == 401
    assert refreshes(login.refresh).json()["code"] == "token_claims_invalid"


# -- refresh: simplejwt's refresh token in, our pair out ------------------------------


def test_refresh_returns_our_pair(refreshes, status, user):
    login = Login(user)
    response = refreshes(login.refresh)
    assert response.status_code == 200
    body = response.json()
    access = decode_token(body["access"])
    refresh = decode_token(body["refresh"], token_type=REFRESH)
    assert not access.legacy and access.sid == refresh.sid == login.sid
    assert status(body["access"]) == 200
    # the legacy refresh token was retired by the compare-and-swap, like ours
    assert OutstandingToken.objects.get(jti=login.jti).rotated_at is not None
    rotated = BlacklistedToken.objects.get(jti=login.jti)
    assert (rotated.reason, rotated.sid, rotated.user) == ("rotated", login.sid, user)
    session = TokenSession.objects.get(sid=login.sid)
    assert session.user == user and session.revoked_at is None
    # and what it was exchanged for rotates as ours do
    assert refreshes(body["refresh"]).status_code == 200


def test_legacy_refresh_presented_again_is_a_reuse(refreshes, status, user, reused):
    login = Login(user)
    first = refreshes(login.refresh).json()
    again = refreshes(login.refresh)
    assert again.status_code == 401 and again.json()["code"] == "token_revoked"
    session = TokenSession.objects.get(sid=login.sid)
    assert session.revoked_at is not None and session.revoke_reason == "reuse_detected"
    assert status(first["access"]) == 401
    assert refreshes(first["refresh"]).status_code == 401
    # simplejwt's access token has no sid: revoking the user's tokens is what reaches it
    assert status(login.access) == status(login.access, TOKEN_USER_ME) == 401
    assert [(c["jti"], c["sid"], c["user_id"]) for c in reused] == [(login.jti, login.sid, user.pk)]


def test_legacy_refresh_without_rotation_keeps_working(settings, refreshes, status, user):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "ROTATE_REFRESH_TOKENS": False}
    login = Login(user)
    first, second = refreshes(login.refresh).json(), refreshes(login.refresh).json()
    assert first["refresh"] == second["refresh"] == login.refresh
    assert decode_token(first["access"]).sid == decode_token(second["access"]).sid == login.sid
    assert status(first["access"]) == status(second["access"]) == 200
    assert TokenSession.objects.filter(user=user).count() == 1
    revocation.revoke_token(login.refresh)
    assert refreshes(login.refresh).status_code == 401
    assert status(second["access"]) == 401


def test_refresh_of_an_inactive_or_unknown_user(refreshes, user, other_user):
    inactive = Login(user)
    user.is_active = False
    user.save()  # revokes every token of the user too
    assert refreshes(inactive.refresh).status_code == 401
    ghost = legacy_token(other_user, "refresh", user_id=str(other_user.pk + 1000))
    assert refreshes(ghost).json()["code"] == "token_revoked"
    assert not TokenSession.objects.exists()  # nothing written for a refused token


def test_inactive_user_without_revocation(settings, refreshes, user):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "REVOKE_ON_DEACTIVATION": False}
    login = Login(user)
    user.is_active = False
    user.save()
    response = refreshes(login.refresh)
    assert response.status_code == 401 and response.json()["code"] == "user_inactive"


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serializes writers, so concurrent refreshes cannot race; "
    "run with JWT_REVOKE_TEST_DB=postgres (CI's PostgreSQL pass does)",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_legacy_refreshes_one_wins(reused):
    n = 8
    login = Login(UserFactory())
    results = refresh_race(REFRESH_URL, login.refresh, n)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [401] * (n - 1), results
    winner = next(body for status, body in results if status == 200)
    assert decode_token(winner["access"]).sid == login.sid
    # one session, the legacy token and exactly one successor; the losers' reuse revoked it
    assert TokenSession.objects.filter(sid=login.sid).count() == 1
    assert OutstandingToken.objects.filter(session__sid=login.sid).count() == 2
    assert TokenSession.objects.get(sid=login.sid).revoked_at is not None
    assert Client().get(ME, **bearer(winner["access"])).status_code == 401
    assert len(reused) == 1


# -- revocation reaches legacy tokens ---------------------------------------------------


@pytest.mark.parametrize(
    "how", ["logout_all", "password_change", "deactivation", "deletion", "revoke_all_tokens"]
)
def test_user_wide_revocation_kills_legacy_tokens(api_client, refreshes, user, how):
    login = Login(user)
    if how == "logout_all":
        assert api_client.post(LOGOUT_ALL, **bearer(login.access)).status_code == 204
    elif how == "password_change":
        user.set_password("a new password")
        user.save()
    elif how == "deactivation":
        user.is_active = False
        user.save()
    elif how == "deletion":
        user.delete()
    else:
        revocation.revoke_all_tokens()
    for path in (ME, TOKEN_USER_ME):
        assert api_client.get(path, **bearer(login.access)).status_code == 401, path
    assert refreshes(login.refresh).status_code == 401


def test_rfc7009_revokes_a_legacy_access_token_alone(
    api_client, status, refreshes, user, revoked_signals, django_capture_on_commit_callbacks
):
    login = Login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(REVOKE, {"token": login.access}, format="json")
    assert response.status_code == 200
    assert status(login.access) == status(login.access, TOKEN_USER_ME) == 401
    row = BlacklistedToken.objects.get(jti=decode_token(login.access).jti)
    assert (row.reason, row.sid, row.user) == ("revoked", "", user)
    assert revoked_signals == [
        {
            "sender": BlacklistedToken,
            "jti": row.jti,
            "sid": None,
            "token_type": "access",
            "user_id": user.pk,
            "reason": "revoked",
        }
    ]
    assert refreshes(login.refresh).status_code == 200  # an access token goes alone


def test_rfc7009_revokes_a_legacy_refresh_token_before_its_exchange(api_client, refreshes, user):
    login = Login(user)
    assert api_client.post(REVOKE, {"token": login.refresh}, format="json").status_code == 200
    response = refreshes(login.refresh)
    assert response.status_code == 401 and response.json()["code"] == "token_revoked"
    # its session was recorded already revoked, so no refresh can open it
    assert TokenSession.objects.get(sid=login.sid).revoked_at is not None


def test_rfc7009_revokes_a_legacy_refresh_token_after_its_exchange(
    api_client, refreshes, status, user
):
    login = Login(user)
    pair = refreshes(login.refresh).json()
    assert api_client.post(REVOKE, {"token": login.refresh}, format="json").status_code == 200
    assert status(pair["access"]) == 401
    assert refreshes(pair["refresh"]).status_code == 401


def test_logout_with_a_legacy_access_token(api_client, status, refreshes, user):
    login, other = Login(user), Login(user)
    response = api_client.post(
        LOGOUT, {"refresh": login.refresh}, format="json", **bearer(login.access)
    )
    assert response.status_code == 204
    assert status(login.access) == 401
    assert BlacklistedToken.objects.get(jti=decode_token(login.access).jti).reason == "logout"
    assert refreshes(login.refresh).status_code == 401
    # another login of the same user is untouched
    assert status(other.access) == 200
    assert api_client.post(LOGOUT, **bearer(other.access)).status_code == 204
    assert status(other.access) == 401
    assert refreshes(other.refresh).status_code == 200  # not sent: not revoked


def test_sessions_and_introspection_with_legacy_tokens(api_client, refreshes, user):
    login = Login(user)
    assert api_client.get(SESSIONS, **bearer(login.access)).json() == []
    refreshes(Login(user).refresh)
    listed = api_client.get(SESSIONS, **bearer(login.access)).json()
    assert len(listed) == 1 and listed[0]["current"] is False  # a legacy token has no session
    staff = Login(UserFactory(is_staff=True))
    answer = api_client.post(
        INTROSPECT, {"token": login.access}, format="json", **bearer(staff.access)
    ).json()
    assert answer["active"] is True and answer["sub"] == str(user.pk) and "sid" not in answer
    revocation.revoke_token(login.access)
    answer = api_client.post(
        INTROSPECT, {"token": login.access}, format="json", **bearer(staff.access)
    ).json()
    assert answer == {"active": False}


# -- import_simplejwt_blacklist ---------------------------------------------------------

OUTSTANDING_TOKEN_COLUMN = re.compile(r'"token_blacklist_outstandingtoken"\."token"(?!_)')


def _ours():
    return (
        OutstandingToken.objects.count(),
        TokenSession.objects.count(),
        BlacklistedToken.objects.count(),
    )


@pytest.fixture
def simplejwt_rows(user, other_user):
    """simplejwt's tables on the day of the switch."""
    live, other, blacklisted = Login(user), Login(other_user), Login(user)
    blacklisted.token.blacklist()
    with time_machine.travel(timezone.now() - timedelta(days=2)):
        expired = Login(user)
        expired_blacklisted = Login(user)
    expired_blacklisted.token.blacklist()
    gone_user = UserFactory()
    orphan, orphan_blacklisted = Login(gone_user), Login(gone_user)
    orphan_blacklisted.token.blacklist()
    gone_user.delete()  # simplejwt keeps its rows, with no user
    return {
        "live": live,
        "other": other,
        "blacklisted": blacklisted,
        "expired": expired,
        "expired_blacklisted": expired_blacklisted,
        "orphan": orphan,
        "orphan_blacklisted": orphan_blacklisted,
    }


def test_import_dry_run(simplejwt_rows):
    assert run("import_simplejwt_blacklist", "--dry-run") == (
        "Would import 3 outstanding tokens.\n"
        "Would import 2 blacklisted tokens.\n"
        "Would revoke 1 token session.\n"
        "Dry run: nothing was imported.\n"
    )
    assert _ours() == (0, 0, 0)


def test_import(simplejwt_rows, user):
    assert run("import_simplejwt_blacklist") == (
        "Imported 3 outstanding tokens.\nImported 2 blacklisted tokens.\nRevoked 1 token session.\n"
    )
    assert _ours() == (3, 3, 2)
    live = simplejwt_rows["live"]
    source = SJOutstandingToken.objects.get(jti=live.jti)
    imported = OutstandingToken.objects.select_related("session").get(jti=live.jti)
    assert (imported.user, imported.created_at, imported.expires_at) == (
        user,
        source.created_at,
        source.expires_at,
    )
    assert imported.session.sid == live.sid and imported.session.user == user
    assert imported.session.revoked_at is None and imported.rotated_at is None
    blacklisted = simplejwt_rows["blacklisted"]
    row = BlacklistedToken.objects.get(jti=blacklisted.jti)
    source = SJBlacklistedToken.objects.get(token__jti=blacklisted.jti)
    assert (row.token_type, row.reason, row.user, row.sid) == (
        "refresh",
        "revoked",
        user,
        blacklisted.sid,
    )
    assert (row.blacklisted_at, row.expires_at) == (source.blacklisted_at, source.token.expires_at)
    session = TokenSession.objects.get(sid=blacklisted.sid)
    assert session.revoked_at is not None and session.revoke_reason == "revoked"
    orphan = BlacklistedToken.objects.get(jti=simplejwt_rows["orphan_blacklisted"].jti)
    assert (orphan.user, orphan.sid) == (None, "")
    for name in ("expired", "expired_blacklisted", "orphan"):
        assert not OutstandingToken.objects.filter(jti=simplejwt_rows[name].jti).exists()
    # a second run adds nothing
    assert run("import_simplejwt_blacklist") == (
        "Imported 0 outstanding tokens.\n"
        "Imported 0 blacklisted tokens.\n"
        "Revoked 0 token sessions.\n"
    )
    assert _ours() == (3, 3, 2)


def test_imported_tokens_after_the_switch(simplejwt_rows, refreshes, status):
    run("import_simplejwt_blacklist")
    sessions = TokenSession.objects.count()
    blacklisted = refreshes(simplejwt_rows["blacklisted"].refresh)
    assert blacklisted.status_code == 401 and blacklisted.json()["code"] == "token_revoked"
    live = refreshes(simplejwt_rows["live"].refresh)
    assert live.status_code == 200
    assert decode_token(live.json()["access"]).sid == simplejwt_rows["live"].sid
    assert TokenSession.objects.count() == sessions  # the imported session, not a new one
    assert status(live.json()["access"]) == 200


def test_simplejwt_blacklist_is_unknown_until_imported(refreshes, status, user):
    """Why the import must run before the switch."""
    before, after = Login(user), Login(user)
    before.token.blacklist()
    after.token.blacklist()
    exchanged = refreshes(before.refresh)
    assert exchanged.status_code == 200  # nothing here knows that simplejwt revoked it
    run("import_simplejwt_blacklist")
    assert refreshes(after.refresh).status_code == 401
    assert status(exchanged.json()["access"]) == 401  # the import caught up with it


def test_import_after_a_refresh_agrees_with_it(settings, refreshes, status, user):
    """An import run late revokes what simplejwt revoked, even once exchanged."""
    settings.JWT_REVOKE = {
        **settings.JWT_REVOKE,
        "CACHE_ALIAS": settings.JWT_REVOKE.get("CACHE_ALIAS") or "default",
    }
    login = Login(user)
    pair = refreshes(login.refresh).json()
    assert status(pair["access"], TOKEN_USER_ME) == 200  # cached as live
    login.token.blacklist()
    assert run("import_simplejwt_blacklist") == (
        "Imported 0 outstanding tokens.\nImported 0 blacklisted tokens.\nRevoked 1 token session.\n"
    )
    assert status(pair["access"], TOKEN_USER_ME) == 401
    assert status(pair["access"]) == 401


def test_import_in_batches_never_reads_the_token_column(simplejwt_rows):
    with CaptureQueriesContext(connection) as ctx:
        out = run("import_simplejwt_blacklist", "--batch-size", "1")
    assert out == (
        "Imported 3 outstanding tokens.\nImported 2 blacklisted tokens.\nRevoked 1 token session.\n"
    )
    selects = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().startswith("SELECT")]
    assert not [sql for sql in selects if OUTSTANDING_TOKEN_COLUMN.search(sql)]
    outstanding = [sql for sql in selects if 'FROM "token_blacklist_outstandingtoken"' in sql]
    blacklisted = [sql for sql in selects if 'FROM "token_blacklist_blacklistedtoken"' in sql]
    # one SELECT per batch of one row, and one that finds the end
    assert (len(outstanding), len(blacklisted)) == (3 + 1, 2 + 1)
    assert all("LIMIT 1" in sql for sql in outstanding + blacklisted)


def test_import_dry_run_never_reads_the_token_column(simplejwt_rows):
    with CaptureQueriesContext(connection) as ctx:
        run("import_simplejwt_blacklist", "--dry-run", "--batch-size", "2")
    assert not [q for q in ctx.captured_queries if OUTSTANDING_TOKEN_COLUMN.search(q["sql"])]
    assert _ours() == (0, 0, 0)


def test_import_with_nothing_to_import():
    assert run("import_simplejwt_blacklist") == (
        "Imported 0 outstanding tokens.\n"
        "Imported 0 blacklisted tokens.\n"
        "Revoked 0 token sessions.\n"
    )
