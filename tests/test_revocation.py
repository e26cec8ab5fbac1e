"""The revocation API: idempotence, signals, O(1) writes, rotation."""

from datetime import timedelta

import pytest
import time_machine
from django.db import DatabaseError, connection
from django.urls import reverse
from django.utils import timezone

from django_jwt_revoke import revocation, signals
from django_jwt_revoke.exceptions import InvalidToken
from django_jwt_revoke.models import (
    BlacklistedToken,
    OutstandingToken,
    Reason,
    TokenSession,
    UserRevocation,
)
from django_jwt_revoke.tokens import decode_token, issue_token_pair
from tests.legacy import legacy_token

# revocations reach the cache on commit: on_commit_hooks runs them in the test transaction
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_commit_hooks")]

LOGOUT = reverse("django_jwt_revoke:logout")


@pytest.fixture
def received():
    """Collect what each of our signals sends."""
    log = []

    def handler(name, sender, **kwargs):
        kwargs.pop("signal", None)
        log.append((name, kwargs))

    names = ("token_revoked", "user_tokens_revoked", "refresh_token_reused")
    connected = []
    for name in names:
        sig = getattr(signals, name)

        def bound(sender, _name=name, **kwargs):
            handler(_name, sender, **kwargs)

        sig.connect(bound, weak=False)
        connected.append((sig, bound))
    yield log
    for sig, bound in connected:
        sig.disconnect(bound)


def test_revoke_access_token_is_idempotent_and_signals_once(user, pair, received):
    token = decode_token(pair.access)
    assert revocation.revoke_token(pair.access, reason=Reason.LOGOUT) is True
    assert revocation.revoke_token(pair.access, reason=Reason.LOGOUT) is False
    assert revocation.revoke_token(token) is False
    row = BlacklistedToken.objects.get(jti=token.jti)
    assert (row.token_type, row.user, row.sid, row.reason) == ("access", user, pair.sid, "logout")
    assert row.expires_at == token.expires_at
    assert received == [
        (
            "token_revoked",
            {
                "jti": token.jti,
                "sid": pair.sid,
                "token_type": "access",
                "user_id": user.pk,
                "reason": "logout",
            },
        )
    ]
    # the session is untouched
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is None


def test_revoke_refresh_token_revokes_its_session(user, pair, received):
    refresh = decode_token(pair.refresh, token_type=None)
    assert revocation.revoke_token(pair.refresh, reason=Reason.REVOKED) is True
    session = TokenSession.objects.get(sid=pair.sid)
    assert session.revoked_at is not None and session.revoke_reason == "revoked"
    assert [name for name, _ in received] == ["token_revoked", "token_revoked"]
    assert received[0][1]["jti"] == refresh.jti
    assert received[1][1] == {
        "jti": None,
        "sid": pair.sid,
        "token_type": None,
        "user_id": user.pk,
        "reason": "revoked",
    }
    assert revocation.revoke_token(pair.refresh) is False


def test_revoke_session_is_idempotent(user, pair, received):
    assert revocation.revoke_session(pair.sid, reason=Reason.ADMIN) is True
    assert revocation.revoke_session(pair.sid, reason=Reason.LOGOUT) is False
    assert TokenSession.objects.get(sid=pair.sid).revoke_reason == "admin"
    assert len(received) == 1
    assert revocation.revoke_session("unknown-sid") is False


def test_revoke_expired_token_is_a_no_op(user, pair):
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert revocation.revoke_token(pair.access) is False
    assert not BlacklistedToken.objects.exists()


def test_revoke_garbage_raises(user):
    with pytest.raises(InvalidToken):
        revocation.revoke_token("not-a-token")


def test_revoke_user_tokens_bumps_generation_and_signals(user, received):
    assert revocation.revoke_user_tokens(user, reason=Reason.ADMIN) == 1
    assert revocation.revoke_user_tokens(user, reason=Reason.LOGOUT_ALL) == 2
    row = UserRevocation.objects.get(user_key=str(user.pk))
    assert (row.generation, row.reason) == (2, "logout_all")
    assert received == [
        ("user_tokens_revoked", {"user": user, "reason": "admin", "generation": 1}),
        ("user_tokens_revoked", {"user": user, "reason": "logout_all", "generation": 2}),
    ]


def test_new_tokens_carry_the_new_generation(user):
    revocation.revoke_user_tokens(user)
    assert decode_token(issue_token_pair(user).access).generation == 1


@pytest.mark.parametrize("count", [10, 1000])
def test_revoke_all_is_constant_in_queries(user, count, django_assert_max_num_queries):
    session = TokenSession.objects.create(
        sid="s", user=user, expires_at=timezone.now() + timedelta(days=1)
    )
    OutstandingToken.objects.bulk_create(
        OutstandingToken(
            jti=f"j{i}", user=user, session=session, expires_at=timezone.now() + timedelta(days=1)
        )
        for i in range(count)
    )
    revocation.revoke_user_tokens(user)  # the first call creates the row
    with django_assert_max_num_queries(7) as ctx:
        revocation.revoke_user_tokens(user)
    statements = [q["sql"].lstrip().split()[0].upper() for q in ctx.captured_queries]
    statements = [s for s in statements if s not in {"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"}]
    # The bump, then its event in the feed (feed.record): the same 5 for 1000 tokens.
    assert statements == ["UPDATE", "SELECT", "UPDATE", "SELECT", "INSERT"]


def test_rotation_retires_the_old_refresh_token(user, pair):
    new = revocation.rotate_refresh_token(pair.refresh)
    assert new.sid == pair.sid
    old = decode_token(pair.refresh, token_type=None)
    assert OutstandingToken.objects.get(jti=old.jti).rotated_at is not None
    assert BlacklistedToken.objects.get(jti=old.jti).reason == "rotated"
    assert OutstandingToken.objects.filter(session__sid=pair.sid).count() == 2


def test_reuse_of_a_rotated_refresh_token_revokes_the_session(user, pair, received):
    new = revocation.rotate_refresh_token(pair.refresh)
    with pytest.raises(InvalidToken) as exc:
        revocation.rotate_refresh_token(pair.refresh)
    assert exc.value.code == "token_revoked"
    session = TokenSession.objects.get(sid=pair.sid)
    assert session.revoke_reason == "reuse_detected"
    reused = [kw for name, kw in received if name == "refresh_token_reused"]
    assert reused == [
        {
            "jti": decode_token(pair.refresh, token_type=None).jti,
            "sid": pair.sid,
            "user_id": user.pk,
            "request": None,
        }
    ]
    with pytest.raises(InvalidToken):
        revocation.rotate_refresh_token(new.refresh)


# -- reuse in a session opened by a legacy (simplejwt) refresh token --------------------


def _me(api_client, access):
    """What GET /api/me/ answers a Bearer token: (status, code or username)."""
    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access}")
    body = response.json()
    return response.status_code, body.get("code", body.get("username"))


@pytest.fixture
def legacy_login(accept_legacy, user):
    """What simplejwt handed out at one login: an access and a refresh token, no sid."""
    return legacy_token(user), legacy_token(user, "refresh")


@pytest.mark.parametrize("reused_generation", ["legacy refresh", "its successor"])
def test_reuse_in_a_legacy_session_revokes_the_legacy_access_tokens(
    api_client, refreshes, user, legacy_login, received, reused_generation
):
    """A legacy access token has no sid: only revoking its user's tokens reaches it."""
    access, refresh = legacy_login
    elsewhere = issue_token_pair(user)  # another login, of ours
    first = refreshes(refresh).json()
    reused = refresh
    if reused_generation == "its successor":
        assert refreshes(first["refresh"]).status_code == 200
        reused = first["refresh"]
    assert _me(api_client, access) == (200, user.get_username())

    response = refreshes(reused)  # the thief, or the owner after the thief

    assert (response.status_code, response.json()["code"]) == (401, "token_revoked")
    assert _me(api_client, access) == (401, "token_revoked")
    assert _me(api_client, first["access"]) == (401, "token_revoked")
    # the price: every other session of the user ends too
    assert _me(api_client, elsewhere.access) == (401, "token_revoked")
    assert refreshes(elsewhere.refresh).status_code == 401
    assert UserRevocation.objects.get(user_key=str(user.pk)).reason == "reuse_detected"
    assert [name for name, _ in received if name != "token_revoked"] == [
        "user_tokens_revoked",
        "refresh_token_reused",
    ]
    # and a new login works
    assert _me(api_client, issue_token_pair(user).access) == (200, user.get_username())


def test_reuse_in_a_legacy_session_once_legacy_tokens_are_refused(
    api_client, refreshes, user, legacy_login, settings
):
    """With ACCEPT_SIMPLEJWT_TOKENS off no legacy access token works: the session alone ends."""
    _access, refresh = legacy_login
    elsewhere = issue_token_pair(user)
    first = refreshes(refresh).json()
    assert refreshes(first["refresh"]).status_code == 200
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "ACCEPT_SIMPLEJWT_TOKENS": False}

    assert refreshes(first["refresh"]).status_code == 401

    assert _me(api_client, first["access"]) == (401, "token_revoked")
    assert _me(api_client, elsewhere.access) == (200, user.get_username())
    assert not UserRevocation.objects.exists()


def test_reuse_in_a_session_of_ours_leaves_the_other_sessions(api_client, refreshes, user):
    elsewhere = issue_token_pair(user)
    pair = issue_token_pair(user)
    assert refreshes(pair.refresh).status_code == 200
    assert refreshes(pair.refresh).status_code == 401
    assert _me(api_client, elsewhere.access) == (200, user.get_username())


def test_ending_a_legacy_session_leaves_its_legacy_access_tokens(
    api_client, refreshes, user, legacy_login
):
    """Documented (docs/migrating.md): nothing links them to the session.

    A logout of the session, or revoking its refresh token, leaves them working
    until they expire; revoking the user's tokens, or the token itself, does not.
    """
    access, refresh = legacy_login
    first = refreshes(refresh).json()
    ours = decode_token(first["access"])
    logout = api_client.post(LOGOUT, HTTP_AUTHORIZATION=f"Bearer {first['access']}")
    assert logout.status_code == 204
    assert TokenSession.objects.get(sid=ours.sid).revoked_at is not None
    assert _me(api_client, first["access"]) == (401, "token_revoked")
    assert _me(api_client, access) == (200, user.get_username())  # what cannot be revoked so
    revocation.revoke_user_tokens(user)
    assert _me(api_client, access) == (401, "token_revoked")


def test_reuse_detection_off_refuses_without_revoking(user, pair, settings):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "REUSE_DETECTION": False}
    new = revocation.rotate_refresh_token(pair.refresh)
    with pytest.raises(InvalidToken):
        revocation.rotate_refresh_token(pair.refresh)
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is None
    assert revocation.rotate_refresh_token(new.refresh).sid == pair.sid


def test_rotation_off_returns_the_same_refresh_token(user, pair, settings):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "ROTATE_REFRESH_TOKENS": False}
    again = revocation.rotate_refresh_token(pair.refresh)
    assert again.refresh == pair.refresh and again.access != pair.access
    assert revocation.rotate_refresh_token(pair.refresh).refresh == pair.refresh
    revocation.revoke_token(pair.refresh)
    with pytest.raises(InvalidToken):
        revocation.rotate_refresh_token(pair.refresh)


def test_refresh_after_revoke_all_is_refused(user, pair):
    revocation.revoke_user_tokens(user)
    with pytest.raises(InvalidToken) as exc:
        revocation.rotate_refresh_token(pair.refresh)
    assert exc.value.code == "token_revoked"


def test_refresh_of_inactive_user_is_refused(user, pair):
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(InvalidToken) as exc:
        revocation.rotate_refresh_token(pair.refresh)
    assert exc.value.code == "user_inactive"


def test_database_error_mid_rotation_issues_nothing(user, pair):
    def fail_on_insert(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT"):
            raise DatabaseError("disk full")
        return execute(sql, params, many, context)

    before = OutstandingToken.objects.count()
    with connection.execute_wrapper(fail_on_insert), pytest.raises(DatabaseError):
        revocation.rotate_refresh_token(pair.refresh)
    assert OutstandingToken.objects.count() == before
    assert (
        OutstandingToken.objects.get(jti=decode_token(pair.refresh, token_type=None).jti).rotated_at
        is None
    )
    # the old token still works
    assert revocation.rotate_refresh_token(pair.refresh).sid == pair.sid
