"""The resource server (django_jwt_revoke.resource) against a fake issuer that tries to break it.

The fake issuer (``tests/resource_issuer.py``) serves the feed, the keys and
introspection over HTTP on a local port, and can go down, hang, drop
connections, forge or replay answers, restore or purge its history and
rotate its key. Requests go through a DRF view protected by
``ResourceServerAuthentication`` (no URLconf, no database). Forgery tests
drive the follower one ``step()`` at a time, so that the copy's state can be
compared right after the bad answer; the rest run the real thread.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import jwt
import pytest
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from django_jwt_revoke import secevents
from django_jwt_revoke.resource import follower as follower_module
from django_jwt_revoke.resource import transport
from django_jwt_revoke.resource.authentication import ResourceServerAuthentication, TokenUser
from django_jwt_revoke.resource.conf import config
from django_jwt_revoke.resource.follower import Follower, get_follower
from django_jwt_revoke.secevents import Receipt
from tests.resource_issuer import (
    CREDENTIAL,
    FakeIssuer,
    Key,
    hs256_with,
    rsa_pem,
    unsigned,
)

ROOT = Path(__file__).resolve().parent.parent
MAX_STALENESS = 1.0


class Protected(APIView):
    authentication_classes = [ResourceServerAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response(
            {
                "id": request.user.pk,
                "username": request.user.username,
                "jti": request.auth.jti,
                "user_class": type(request.user).__name__,
            }
        )


_view = Protected.as_view()
_factory = APIRequestFactory()


def call(token=None, *, header=None):
    """GET the protected view with ``Authorization: Bearer <token>`` (or ``header``)."""
    extra = {}
    if header is not None:
        extra["HTTP_AUTHORIZATION"] = header
    elif token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    response = _view(_factory.get("/resource/", **extra))
    response.render()
    return response


def body(response):
    return json.loads(response.content)


def wait_for(condition, timeout=10.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def synced():
    """Wait until the copy is confirmed by a poll sent after now: every event so far applied."""
    start = time.monotonic()
    follower = get_follower()

    def confirmed():
        at = follower.copy.confirmed_at
        return at is not None and at >= start

    wait_for(confirmed, what="the copy to catch up")
    return follower


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def settings_for(issuer, **overrides):
    return {
        "ISSUER_URL": issuer.url,
        "FEED_CREDENTIAL": CREDENTIAL,
        "POLL_INTERVAL": 0.05,
        "MAX_STALENESS": MAX_STALENESS,
        "HTTP_TIMEOUT": 0.4,
        "JWKS_MIN_REFRESH": 60,
        "STARTUP_WAIT": 5,
        **overrides,
    }


@pytest.fixture
def issuer():
    fake = FakeIssuer().start()
    yield fake
    fake.close()


@pytest.fixture
def configure(settings, issuer):
    """Point the resource server at the fake issuer; ``configure(**overrides)`` to change it."""

    def configure(**overrides):
        follower_module.stop()
        settings.JWT_REVOKE_RESOURCE = settings_for(issuer, **overrides)

    configure()
    yield configure
    follower_module.stop()


# -- Tokens: accepted, revoked -----------------------------------------------------------


def test_a_good_token_is_accepted_with_a_user_from_its_claims(configure, issuer):
    token = issuer.token(42, username="ada")
    response = call(token)
    assert response.status_code == 200, response.content
    assert body(response) == {
        "id": 42,
        "username": "ada",
        "jti": claims_of(token)["jti"],
        "user_class": "TokenUser",
    }


def test_the_token_user_and_request_auth():
    from django_jwt_revoke.resource.authentication import ResourceToken

    token = ResourceToken({"alg": "RS256"}, {"jti": "j", "sid": "s", "user_id": "u-1"}, "u-1")
    user = TokenUser(token)
    assert (user.id, user.pk, user.username, user.get_username()) == ("u-1", "u-1", "", "")
    assert user.is_authenticated and user.is_active and not user.is_staff
    assert not user.is_anonymous and not user.has_perm("x") and not user.has_module_perms("x")
    assert user.token is token and user == TokenUser(token) and hash(user) == hash("u-1")
    assert (token.jti, token.sid, token.generation, token.epoch, token.user_key) == (
        "j",
        "s",
        0,
        0,
        "u-1",
    )
    assert token.get("user_id") == "u-1" and dict(token) == token.payload


@pytest.mark.parametrize("kind", ["token", "session", "user", "all"])
def test_a_revocation_refuses_the_token_on_the_next_request_after_it_is_applied(
    configure, issuer, kind
):
    token = issuer.token(7)
    claims = claims_of(token)
    same_user_other_session = issuer.token(7)
    other_user = issuer.token(8)
    assert call(token).status_code == 200
    synced()
    if kind == "token":
        issuer.revoke_token(claims["jti"])
    elif kind == "session":
        issuer.revoke_session(claims["sid"], "7")
    elif kind == "user":
        issuer.revoke_user("7")
    else:
        issuer.revoke_all()
    synced()
    response = call(token)
    assert response.status_code == 401
    assert body(response) == {"detail": "Token has been revoked.", "code": "token_revoked"}
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Token has been revoked."'
    )
    expected = {
        "token": (200, 200),
        "session": (200, 200),
        "user": (401, 200),
        "all": (401, 401),
    }[kind]
    assert (call(same_user_other_session).status_code, call(other_user).status_code) == expected
    # Tokens issued after the revocation (the issuer's new generation / epoch) work.
    assert call(issuer.token(7)).status_code == 200


def test_a_user_id_that_is_a_string_is_the_users_key(configure, issuer):
    token = issuer.token("3f2a-uuid")
    assert call(token).status_code == 200
    issuer.revoke_user("3f2a-uuid")
    synced()
    assert call(token).status_code == 401
    assert call(issuer.token(3)).status_code == 200  # "3f2a-uuid" is not user 3


def test_a_refresh_token_is_refused(configure, issuer):
    response = call(issuer.token(1, token_type="refresh"))
    assert response.status_code == 401
    assert body(response)["code"] == "token_wrong_type"


# -- Tokens that must not verify --------------------------------------------------------


def _other_key():
    private, public = rsa_pem(5)
    return Key("key-1", private, public)


REFUSED = {
    "expired": (lambda i: i.token(1, exp=int(time.time()) - 10), "token_expired"),
    "not yet valid": (lambda i: i.token(1, nbf=int(time.time()) + 60), "token_not_yet_valid"),
    "issued in the future": (
        lambda i: i.token(1, iat=int(time.time()) + 60),
        "token_not_yet_valid",
    ),
    "an audience, none configured": (lambda i: i.token(1, aud="other"), "token_claims_invalid"),
    "an empty audience": (lambda i: i.token(1, aud=""), "token_claims_invalid"),
    "signed by another key with the kid": (
        lambda i: i.token(1, key=_other_key()),
        "token_invalid",
    ),
    "an unknown kid": (lambda i: i.token(1, header={"kid": "nope"}), "token_invalid"),
    "no kid": (
        lambda i: jwt.encode(claims_of(i.token(1)), i.signing.private, algorithm="RS256"),
        "token_invalid",
    ),
    "a jku header": (
        lambda i: i.token(1, header={"jku": "https://evil.example/jwks"}),
        "token_invalid",
    ),
    "alg none": (
        lambda i: unsigned({"alg": "none", "typ": "JWT", "kid": "key-1"}, claims_of(i.token(1))),
        "token_invalid",
    ),
    "HS256 with the public key as the secret": (
        lambda i: hs256_with(
            i.signing.public.encode(),
            {"alg": "HS256", "typ": "JWT", "kid": "key-1"},
            claims_of(i.token(1)),
        ),
        "token_invalid",
    ),
    "RS512 where the key is RS256": (
        lambda i: jwt.encode(
            claims_of(i.token(1)), i.signing.private, algorithm="RS512", headers={"kid": "key-1"}
        ),
        "token_invalid",
    ),
    "a tampered payload": (
        lambda i: ".".join(
            [
                i.token(1).split(".")[0],
                unsigned({}, {**claims_of(i.token(1)), "user_id": 2}).split(".")[1],
                i.token(1).split(".")[2],
            ]
        ),
        "token_invalid",
    ),
    "no jti": (lambda i: i.token(1, jti=None), "token_claims_invalid"),
    "no sid": (lambda i: i.token(1, sid=None), "token_claims_invalid"),
    "no user id": (lambda i: i.token(None), "token_claims_invalid"),
    "a user id that is a float": (lambda i: i.token(1.5), "token_claims_invalid"),
    "a user id that is a boolean": (lambda i: i.token(True), "token_claims_invalid"),
    "a negative generation": (lambda i: i.token(1, gen=-1), "token_claims_invalid"),
    "no token_type": (lambda i: i.token(1, token_type=None), "token_claims_invalid"),
    "a feed receipt": (
        lambda i: i.signed_receipt(Receipt("n", i.stream, 0, 0, 0, False)),
        "token_invalid",
    ),
    "a SET with access-token claims": (
        lambda i: i.sign(claims_of(i.token(1)), secevents.SET_TYPE),
        "token_invalid",
    ),
    "too large": (lambda i: i.token(1, padding="x" * 5000), "token_too_large"),
    "not a JWT": (lambda i: "abc", "token_invalid"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_token_that_does_not_verify_is_refused(configure, issuer, case):
    make, code = REFUSED[case]
    response = call(make(issuer))
    assert response.status_code == 401, response.content
    assert body(response)["code"] == code
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')


@pytest.mark.parametrize(
    "overrides,claims,accepted",
    [
        ({"ISSUER": "auth-a"}, {"iss": "auth-a"}, True),
        ({"ISSUER": "auth-a"}, {"iss": "auth-b"}, False),
        ({"ISSUER": "auth-a"}, {}, False),
        ({"AUDIENCE": "svc"}, {"aud": "svc"}, True),
        ({"AUDIENCE": "svc"}, {"aud": ["svc", "other"]}, True),
        ({"AUDIENCE": "svc"}, {"aud": "other"}, False),
        ({"AUDIENCE": "svc"}, {}, False),
    ],
)
def test_issuer_and_audience(configure, issuer, overrides, claims, accepted):
    issuer.issuer = overrides.get("ISSUER")
    configure(**overrides)
    token = issuer.token(1, iss=claims.get("iss"), aud=claims.get("aud"))
    if "iss" in overrides and "iss" not in claims:
        token = issuer.token(1, iss=None)
        assert "iss" not in claims_of(token)
    response = call(token)
    assert response.status_code == (200 if accepted else 401), response.content


def test_leeway_accepts_a_just_expired_token(configure, issuer):
    token = issuer.token(1, exp=int(time.time()) - 5)
    assert call(token).status_code == 401
    configure(LEEWAY=30)
    assert call(token).status_code == 200


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer a b", "bearer  x  y", b"Bearer \xff\xfe".decode("latin-1")]
)
def test_a_malformed_authorization_header_is_a_bad_request(configure, issuer, header):
    response = call(header=header)
    if header.startswith("Bearer \xff"):
        assert response.status_code == 401  # one value, but not a token: invalid_token
        assert body(response)["code"] == "token_invalid"
        return
    assert response.status_code == 400
    assert body(response)["code"] == "authorization_header_invalid"
    assert 'error="invalid_request"' in response["WWW-Authenticate"]


def test_another_scheme_or_no_header_is_not_ours(configure, issuer):
    for response in (call(header="Basic dXNlcjpwYXNz"), call()):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'
        assert body(response)["detail"]


def test_auth_header_types(configure, issuer):
    configure(AUTH_HEADER_TYPES=("JWT",))
    token = issuer.token(1)
    assert call(header=f"JWT {token}").status_code == 200
    response = call(token)  # Bearer is not ours any more
    assert response.status_code == 401 and response["WWW-Authenticate"] == 'JWT realm="api"'


# -- Tokens verified before ---------------------------------------------------------------


def test_a_token_verified_before_still_expires(configure, issuer):
    token = issuer.token(1, exp=int(time.time()) + 1)
    assert call(token).status_code == 200
    assert call(token).status_code == 200  # from the tokens verified before
    wait_for(lambda: call(token).status_code == 401, timeout=5, what="expiry")
    assert body(call(token))["code"] == "token_expired"


def test_a_token_verified_before_is_judged_again_under_new_settings(configure, issuer):
    token = issuer.token(1)
    assert call(token).status_code == 200
    configure(ISSUER="auth-a")
    assert body(call(token))["code"] == "token_claims_invalid"
    configure()
    assert call(token).status_code == 200
    configure(AUDIENCE="svc")
    assert call(token).status_code == 401


def test_a_token_verified_before_is_still_checked_for_revocation(configure, issuer):
    token = issuer.token(1)
    assert call(token).status_code == 200
    issuer.revoke_token(claims_of(token)["jti"])
    synced()
    assert call(token).status_code == 401


def test_the_tokens_verified_before_are_bounded(configure, issuer, monkeypatch):
    from django_jwt_revoke.resource import authentication

    monkeypatch.setattr(authentication, "VERIFIED_KEPT", 5)
    for _ in range(12):
        assert call(issuer.token(1)).status_code == 200
    assert 0 < len(authentication._verified()) <= 5


# -- Keys: unknown kids, rotation -------------------------------------------------------


def test_random_kids_do_not_make_a_fetch_each(configure, issuer):
    assert call(issuer.token(1)).status_code == 200
    before = issuer.jwks_fetches
    for _ in range(100):
        response = call(issuer.token(1, header={"kid": secrets.token_hex(8)}))
        assert response.status_code == 401
    assert issuer.jwks_fetches - before <= 1
    assert call(issuer.token(1)).status_code == 200


def test_a_rotated_key_is_fetched_and_a_removed_one_refused(configure, issuer):
    old_token = issuer.token(1)
    assert call(old_token).status_code == 200
    old_kid = issuer.signing.kid
    new = issuer.rotate(keep_old=True)
    new_token = issuer.token(1)
    assert jwt.get_unverified_header(new_token)["kid"] == new.kid != old_kid
    # The follower sees the new kid on the feed's next receipt and fetches the keys.
    wait_for(lambda: call(new_token).status_code == 200, what="the new key")
    assert call(old_token).status_code == 200  # still published
    issuer.rotate(keep_old=False)
    newest_token = issuer.token(1)
    wait_for(lambda: call(newest_token).status_code == 200, what="the newest key")
    response = call(old_token)
    assert response.status_code == 401 and body(response)["code"] == "token_invalid"
    # The copy stayed current through both rotations: the feed is signed with the new keys.
    issuer.revoke_token(claims_of(newest_token)["jti"])
    synced()
    assert call(newest_token).status_code == 401


def test_keys_that_cannot_be_fetched_are_a_503_not_a_401(configure, issuer):
    issuer.down("jwks")
    response = call(issuer.token(1))
    assert response.status_code == 503
    assert body(response)["code"] == "issuer_keys_unavailable"
    assert response["Retry-After"] == "1"


# -- The hot path ------------------------------------------------------------------------


def test_the_request_path_makes_no_network_call_once_current(configure, issuer, monkeypatch):
    token = issuer.token(1)
    assert call(token).status_code == 200
    synced()
    main = threading.get_ident()
    real = transport.request
    from_requests = []

    def spy(url, **kwargs):
        if threading.get_ident() == main:
            from_requests.append(url)
        return real(url, **kwargs)

    monkeypatch.setattr(transport, "request", spy)
    for _ in range(50):
        assert call(token).status_code == 200
    assert from_requests == []


def test_one_follower_per_process_and_settings(configure, issuer):
    first = get_follower()
    threads = [threading.Thread(target=get_follower) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert get_follower() is first and first.alive
    assert [t.name for t in threading.enumerate()].count("django-jwt-revoke-feed") == 1
    other = FakeIssuer().start()
    try:
        configure(ISSUER_URL=other.url)
        second = get_follower()
        assert second is not first and second.config.issuer_url == other.url
        assert first.stopped
        wait_for(lambda: not first.alive, what="the old follower to end")
    finally:
        follower_module.stop()
        other.close()


# -- Staleness ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["503", "drop", "hang"])
def test_an_outage_serves_until_max_staleness_then_503_and_catches_up(
    configure, issuer, how, caplog
):
    caplog.set_level(logging.INFO, logger="django_jwt_revoke.resource")
    token, revoked = issuer.token(1), issuer.token(2)
    follower = synced()
    assert call(token).status_code == 200 and call(revoked).status_code == 200
    issuer.down(how=how)
    down_at = time.monotonic()
    # A revocation the copy cannot hear of: never "not revoked" past the bound.
    issuer.revoke_token(claims_of(revoked)["jti"])
    extra_event = issuer.revoke_user("99")
    answers = []
    while True:
        started = time.monotonic()
        response = call(revoked)
        answers.append((started, response.status_code))
        if response.status_code == 503:
            break
        assert response.status_code == 200
        assert started - down_at < MAX_STALENESS + 5, "never went stale"
        time.sleep(0.01)
    # No poll sent after the outage began confirmed the copy, and every "not
    # revoked" was answered within MAX_STALENESS of the last confirmation.
    confirmed = follower.copy.confirmed_at
    assert confirmed <= down_at
    assert all(at - confirmed <= MAX_STALENESS for at, status in answers if status == 200)
    assert answers[-1][0] - confirmed < MAX_STALENESS + 1
    assert body(response) == {
        "detail": "Token revocation state is unavailable; try again shortly.",
        "code": "revocation_state_stale",
    }
    assert response["Retry-After"] == "1"
    assert "WWW-Authenticate" not in response
    for _ in range(5):  # stays refused, for every token, while down
        assert call(token).status_code == 503
        assert call(revoked).status_code == 503
    # A bad token is still a 401, whatever the state.
    assert call(issuer.token(1, exp=int(time.time()) - 10)).status_code == 401
    issuer.up()
    wait_for(lambda: call(token).status_code == 200, what="recovery")
    assert call(revoked).status_code == 401
    assert follower.copy.seq == extra_event.seq == issuer.last_seq
    outage_logs = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outage_logs) == 1 and outage_logs[0].levelno == logging.WARNING
    # Logged once the exchange that brought the copy back is over.
    wait_for(lambda: any("answers again" in r.getMessage() for r in caplog.records))
    assert sum("answers again" in r.getMessage() for r in caplog.records) == 1
    for record in caplog.records:
        text = record.getMessage()
        assert CREDENTIAL not in text and token not in text and revoked not in text


def test_a_refused_credential_is_logged_once_and_requests_go_stale(configure, issuer, caplog):
    caplog.set_level(logging.INFO, logger="django_jwt_revoke.resource")
    configure(FEED_CREDENTIAL="a-wrong-credential-that-is-long-enough-xx", STARTUP_WAIT=0.2)
    response = call(issuer.token(1))
    assert response.status_code == 503 and body(response)["code"] == "revocation_state_stale"
    follower = get_follower()
    wait_for(lambda: follower.last_error == "refused: HTTP 401", what="the refusal")
    time.sleep(0.2)
    refused = [r for r in caplog.records if "refused this server" in r.getMessage()]
    assert len(refused) == 1 and refused[0].levelno == logging.ERROR
    for record in caplog.records:
        assert "a-wrong-credential" not in record.getMessage()


def test_not_configured_fails_closed(configure, issuer, caplog):
    configure(ISSUER_URL=None, STARTUP_WAIT=0)
    response = call(issuer.token(1))
    assert response.status_code == 503


def test_introspection_answers_when_stale(configure, issuer):
    configure(INTROSPECT_WHEN_STALE=True, MAX_STALENESS=0.3)
    token, revoked = issuer.token(1), issuer.token(2)
    synced()
    issuer.down("events", "snapshot")
    issuer.revoke_token(claims_of(revoked)["jti"])
    follower = get_follower()
    wait_for(lambda: not follower.copy.is_current(0.3), what="the copy to go stale")
    before = issuer.introspections
    assert call(token).status_code == 200
    response = call(revoked)
    assert response.status_code == 401 and body(response)["code"] == "token_revoked"
    assert issuer.introspections == before + 2
    name, form = issuer.requests[-1]
    assert name == "introspect" and form["token"] == revoked
    # An answer about another token, or no answer: 503, never a guess.
    issuer.introspect_answer = {"active": True, "jti": "another"}
    assert call(token).status_code == 503
    issuer.introspect_answer = {"active": "yes"}
    assert call(token).status_code == 503
    issuer.introspect_answer = None
    issuer.down("events", "snapshot", "introspect")
    response = call(token)
    assert response.status_code == 503 and body(response)["code"] == "revocation_state_stale"
    issuer.up()
    wait_for(lambda: follower.copy.is_current(0.3), what="recovery")
    before = issuer.introspections
    assert call(token).status_code == 200 and call(revoked).status_code == 401
    assert issuer.introspections == before  # current again: no introspection


def test_the_first_requests_wait_for_the_first_snapshot(configure, issuer):
    issuer.down("snapshot", how="hang")
    threading.Timer(0.3, issuer.up).start()
    started = time.monotonic()
    assert call(issuer.token(1)).status_code == 200
    assert 0.25 < time.monotonic() - started < 5


def test_the_startup_wait_is_bounded_and_spent_once(configure, issuer):
    configure(STARTUP_WAIT=0.3)
    issuer.down("snapshot")
    started = time.monotonic()
    assert call(issuer.token(1)).status_code == 503
    assert 0.25 < time.monotonic() - started < 3
    started = time.monotonic()
    assert call(issuer.token(1)).status_code == 503
    assert time.monotonic() - started < 0.2  # the process is no longer starting
    issuer.up()
    wait_for(lambda: call(issuer.token(1)).status_code == 200, what="the snapshot")


# -- The feed: resyncs ------------------------------------------------------------------


def test_409_resync_required_loads_a_snapshot_and_goes_on(configure, issuer):
    token = issuer.token(1)
    follower = synced()
    snapshots = follower.snapshots
    issuer.down("events")
    issuer.revoke_token(claims_of(token)["jti"])
    for n in range(3):
        issuer.revoke_user(f"u{n}")
    issuer.purge(through=issuer.last_seq)  # the events after the copy's seq are gone
    issuer.up()
    synced()
    assert follower.snapshots == snapshots + 1
    assert call(token).status_code == 401
    assert follower.copy.seq == issuer.last_seq
    after = issuer.token(5)
    issuer.revoke_token(claims_of(after)["jti"])
    synced()
    assert call(after).status_code == 401  # polling again, from the snapshot's head


def test_resyncs_that_never_end_back_off(configure, issuer):
    follower = Follower(config())
    assert follower.step() == 0.0  # the snapshot
    issuer.always_409 = True
    delays = [follower.step() for _ in range(6)]  # 409, snapshot, 409, snapshot, ...
    assert delays[:2] == [0.0, 0.0]
    assert delays[2] == follower_module.FIRST_BACKOFF and delays[4] == 0.05
    issuer.always_409 = False
    follower.step()  # the snapshot
    assert follower.step() == 0.05  # a poll went through
    assert follower._resyncs == 0


def test_a_restored_issuer_is_a_new_stream_followed_from_a_snapshot(configure, issuer):
    lost, kept = issuer.token(1), issuer.token(2)
    issuer.revoke_token(claims_of(kept)["jti"])
    follower = synced()
    issuer.revoke_token(claims_of(lost)["jti"])
    synced()
    assert call(lost).status_code == 401
    old_stream = follower.copy.stream
    issuer.restore(keep=1)
    synced()
    assert follower.copy.stream == issuer.stream != old_stream
    assert follower.copy.seq == 1
    assert call(kept).status_code == 401
    # The restored issuer does not know of the lost revocation; the copy follows it.
    assert call(lost).status_code == 200
    issuer.revoke_token(claims_of(lost)["jti"])
    synced()
    assert call(lost).status_code == 401


def test_more_available_polls_again_at_once(configure, issuer, monkeypatch):
    monkeypatch.setattr(follower_module, "MAX_EVENTS", 4)
    follower = Follower(config())
    follower.step()  # snapshot
    tokens = [issuer.token(1) for _ in range(10)]
    for token in tokens:
        issuer.revoke_token(claims_of(token)["jti"])
    delays = [follower.step() for _ in range(3)]
    assert delays == [0.0, 0.0, 0.05]
    assert follower.copy.seq == 10 and follower.copy.is_current(1)
    assert [body["maxEvents"] for name, body in issuer.requests if name == "events"] == [4, 4, 4]


def test_long_polls_bring_events_at_once_and_are_not_a_busy_loop(configure, issuer):
    configure(LONG_POLL=True, POLL_INTERVAL=1, MAX_STALENESS=3)
    issuer.long_poll = 0.5
    token = issuer.token(1)
    follower = synced()
    polls = follower.polls
    time.sleep(1.05)  # idle: each poll held 0.5 s
    assert 1 <= follower.polls - polls <= 3
    polled = [body for name, body in issuer.requests if name == "events"]
    assert polled and all(body["returnImmediately"] is False for body in polled)
    revoked_at = time.monotonic()
    issuer.revoke_token(claims_of(token)["jti"])
    wait_for(lambda: call(token).status_code == 401, what="the revocation")
    assert time.monotonic() - revoked_at < 0.45  # the held poll answered with it
    issuer.long_poll = 0  # an issuer that does not hold polls: one per POLL_INTERVAL
    time.sleep(0.6)
    polls = follower.polls
    time.sleep(1.2)
    assert follower.polls - polls <= 2


# -- Forged answers are never applied ---------------------------------------------------


def state_of(copy):
    state = copy._state
    return (
        copy.stream,
        copy.seq,
        copy.confirmed_at,
        dict(state.tokens),
        dict(state.sessions),
        dict(state.users),
        state.everyone,
    )


@pytest.fixture
def stepper(configure, issuer):
    """A follower driven by hand, loaded and current, one honest event applied."""
    configure(ISSUER="auth-a")
    issuer.issuer = "auth-a"
    follower = Follower(config())
    issuer.revoke_token("first")
    assert follower.step() == 0.0  # the snapshot
    assert follower.step() == 0.05  # a poll: nothing new
    assert follower.copy.seq == 1 and follower.copy.is_current(5)
    return follower


def _forged_poll(issuer, request, revs, *, after=None, last=None, head=None, **kw):
    after = request["after"] if after is None else after
    last = (revs[-1].seq if revs else after) if last is None else last
    head = last if head is None else head
    receipt = Receipt(
        kw.pop("nonce", request["nonce"]),
        kw.pop("stream", issuer.stream),
        after,
        last,
        head,
        last < head,
    )
    set_kw = kw.pop("set_kw", {})
    return {
        "sets": {f"{issuer.stream}.{rev.seq}": issuer.signed_set(rev, **set_kw) for rev in revs},
        "moreAvailable": last < head,
        "receipt": issuer.signed_receipt(receipt, **kw.pop("receipt_kw", {})),
    }


def _rev(seq, jti="forged"):
    return secevents.Revocation(seq, secevents.TOKEN, jti, int(time.time()) + 600, 0)


def _other():
    private, public = rsa_pem(5)
    return Key("key-1", private, public)


def forge_other_issuer(issuer, request):
    real = issuer.issuer
    issuer.issuer = "auth-b"
    try:
        return _forged_poll(issuer, request, [_rev(request["after"] + 1)])
    finally:
        issuer.issuer = real


FORGERIES = {
    "a SET signed by another key": (
        lambda i, r: _forged_poll(i, r, [_rev(r["after"] + 1)], set_kw={"key": _other()}),
        "event_invalid",
    ),
    "a receipt signed by another key": (
        lambda i, r: _forged_poll(i, r, [_rev(r["after"] + 1)], receipt_kw={"key": _other()}),
        "receipt_invalid",
    ),
    "another issuer": (forge_other_issuer, "wrong_issuer"),
    "a SET whose typ is JWT": (
        lambda i, r: {
            **_forged_poll(i, r, []),
            "sets": {
                f"{i.stream}.{r['after'] + 1}": i.sign(
                    secevents.set_claims(
                        _rev(r["after"] + 1), issuer=i.issuer, now=0, stream=i.stream
                    ),
                    "JWT",
                )
            },
            "receipt": i.signed_receipt(
                Receipt(r["nonce"], i.stream, r["after"], r["after"] + 1, r["after"] + 1, False)
            ),
        },
        "event_invalid",
    ),
    "a receipt with the typ of a SET": (
        lambda i, r: {
            "sets": {},
            "moreAvailable": False,
            "receipt": i.sign(
                secevents.receipt_claims(
                    Receipt(r["nonce"], i.stream, r["after"], r["after"], r["after"], False),
                    issuer=i.issuer,
                    now=0,
                ),
                secevents.SET_TYPE,
            ),
        },
        "receipt_invalid",
    ),
    "the answer to another request (replayed)": (
        lambda i, r: _forged_poll(i, r, [_rev(r["after"] + 1)], nonce="an-earlier-nonce"),
        "receipt_replayed",
    ),
    "a receipt for other events (after)": (
        lambda i, r: _forged_poll(i, r, [_rev(r["after"])], after=r["after"] - 1),
        "receipt_mismatch",
    ),
    "a missing event": (
        lambda i, r: _forged_poll(
            i, r, [_rev(r["after"] + 2), _rev(r["after"] + 3)], last=r["after"] + 3
        ),
        "event_gap",
    ),
    "events out of order (a later one for the next)": (
        lambda i, r: _forged_poll(i, r, [_rev(r["after"] + 2)], last=r["after"] + 1),
        "event_gap",
    ),
    "an event already applied": (
        lambda i, r: _forged_poll(i, r, [_rev(r["after"])], last=r["after"] + 1),
        "event_gap",
    ),
    "a duplicated event": (
        lambda i, r: {
            **_forged_poll(i, r, [_rev(r["after"] + 1)], last=r["after"] + 2),
            "sets": {
                f"{i.stream}.{r['after'] + 1}": i.signed_set(_rev(r["after"] + 1)),
                "dup": i.signed_set(_rev(r["after"] + 1)),
            },
        },
        "event_invalid",
    ),
    "fewer events than the receipt names": (
        lambda i, r: _forged_poll(i, r, [_rev(r["after"] + 1)], last=r["after"] + 2),
        "event_gap",
    ),
    "a SET filed under another name": (
        lambda i, r: {
            **_forged_poll(i, r, [_rev(r["after"] + 1)]),
            "sets": {"elsewhere": i.signed_set(_rev(r["after"] + 1))},
        },
        "event_invalid",
    ),
    "a SET of another stream": (
        lambda i, r: {
            **_forged_poll(i, r, [_rev(r["after"] + 1)]),
            "sets": {
                f"{i.stream}.{r['after'] + 1}": i.signed_set(
                    _rev(r["after"] + 1), stream="otherstream"
                )
            },
        },
        "event_invalid",
    ),
    "no receipt": (lambda i, r: {"sets": {}, "moreAvailable": False}, "answer_invalid"),
    "a receipt that is not a JWT": (
        lambda i, r: {"sets": {}, "moreAvailable": False, "receipt": "x.y.z"},
        "receipt_invalid",
    ),
    "not an object": (lambda i, r: ["sets"], "answer_invalid"),
}


@pytest.mark.parametrize("case", list(FORGERIES))
def test_a_forged_poll_answer_is_never_applied_and_the_copy_recovers(stepper, issuer, case):
    forge, code = FORGERIES[case]
    real = issuer.revoke_token("real")  # the issuer's true next event
    issuer.tamper["events"] = lambda answer, request: forge(issuer, request)
    before = state_of(stepper.copy)
    assert stepper.step() > 0  # rejected: a backoff before the resync
    assert state_of(stepper.copy) == before
    assert stepper.rejected == {code: 1}
    assert stepper.needs_snapshot
    # Resync from a snapshot, then polls: the true event is there, the forged one never.
    wait_for(lambda: stepper.step() == 0.05, what="recovery")
    assert stepper.copy.seq == real.seq == issuer.last_seq
    assert stepper.copy.is_revoked("real", None, "1", 0, 0)
    assert not stepper.copy.is_revoked("forged", None, "1", 0, 0)
    assert stepper.copy.confirmed_at > before[2]


def test_a_poll_answer_with_another_stream_resyncs_without_a_rejection(stepper, issuer):
    real = issuer.revoke_token("real")
    issuer.tamper["events"] = lambda answer, request: _forged_poll(
        issuer, request, [_rev(request["after"] + 1)], stream="otherstream"
    )
    before = state_of(stepper.copy)
    assert stepper.step() == 0.0
    assert state_of(stepper.copy) == before and stepper.needs_snapshot
    assert stepper.rejected == {} and stepper.last_error == "stream_changed"
    stepper.step()
    stepper.step()
    assert stepper.copy.seq == real.seq and stepper.copy.is_revoked("real", None, "1", 0, 0)


def test_caught_up_only_when_the_receipt_says_last_is_head(stepper, issuer):
    """An honest answer that leaves events out (``last < head``) does not confirm the copy."""
    confirmed = stepper.copy.confirmed_at
    issuer.revoke_token("a")
    issuer.revoke_token("b")
    issuer.tamper["events"] = lambda answer, request: _forged_poll(
        issuer, request, [issuer.events[1]], head=3
    )
    assert stepper.step() == 0.0  # more is available
    assert stepper.copy.seq == 2 and stepper.copy.confirmed_at == confirmed
    stepper.step()
    assert stepper.copy.seq == 3 and stepper.copy.confirmed_at > confirmed


SNAPSHOT_FORGERIES = {
    "signed by another key": (
        lambda i, r: {"snapshot": i.snapshot(r["nonce"], key=_other())},
        "snapshot_invalid",
    ),
    "replayed (another nonce)": (
        lambda i, r: {"snapshot": i.snapshot("an-earlier-nonce")},
        "receipt_replayed",
    ),
    "the typ of a receipt": (
        lambda i, r: {
            "snapshot": i.sign(
                secevents.snapshot_claims(
                    i.state()._replace(nonce=r["nonce"]), issuer=i.issuer, now=0
                ),
                secevents.RECEIPT_TYPE,
            )
        },
        "snapshot_invalid",
    ),
    "no snapshot": (lambda i, r: {}, "answer_invalid"),
}


@pytest.mark.parametrize("case", list(SNAPSHOT_FORGERIES))
def test_a_forged_snapshot_is_never_loaded_and_the_copy_recovers(stepper, issuer, case):
    forge, code = SNAPSHOT_FORGERIES[case]
    stepper.needs_snapshot = True
    issuer.revoke_token("real")
    issuer.tamper["snapshot"] = lambda answer, request: forge(issuer, request)
    before = state_of(stepper.copy)
    assert stepper.step() > 0
    assert state_of(stepper.copy) == before
    assert stepper.rejected == {code: 1}
    wait_for(lambda: stepper.step() == 0.05, what="recovery")
    assert stepper.copy.is_revoked("real", None, "1", 0, 0)
    assert stepper.copy.seq == issuer.last_seq


def test_forgeries_through_the_thread_never_reach_a_request(configure, issuer):
    token = issuer.token(1)
    follower = synced()
    for _ in range(3):
        issuer.tamper["events"] = lambda answer, request: _forged_poll(
            issuer,
            request,
            [_rev(request["after"] + 1, claims_of(token)["jti"])],
            set_kw={"key": _other()},
        )
        wait_for(lambda: "events" not in issuer.tamper, what="the forged answer")
        assert call(token).status_code == 200
    synced()
    assert call(token).status_code == 200
    assert follower.rejected == {"event_invalid": 3}


# -- Processes ---------------------------------------------------------------------------


def _run_python(code, **env):
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_installed_without_the_issuer_app_and_never_imports_its_models():
    done = _run_python(
        "import sys, django\n"
        "django.setup()\n"
        "from io import StringIO\n"
        "from django.core.management import call_command\n"
        "from django_jwt_revoke.resource.authentication import ResourceServerAuthentication\n"
        "out = StringIO()\n"
        "call_command('check', stdout=out)\n"
        "print(out.getvalue().strip())\n"
        "from tests.resource_processes import run\n"
        "run()\n"
        "bad = sorted(m for m in sys.modules if m in (\n"
        "    'django_jwt_revoke.models', 'django_jwt_revoke.stores', 'django_jwt_revoke.claims',\n"
        "    'django_jwt_revoke.tokens', 'django_jwt_revoke.conf', 'django_jwt_revoke.feed'))\n"
        "print('imported:', bad)\n",
        DJANGO_SETTINGS_MODULE="tests.settings_resource",
    )
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout
    assert "end to end: 200 401 401" in done.stdout
    assert "imported: []" in done.stdout


def test_the_checks_run_in_a_resource_project():
    done = _run_python(
        "import django\n"
        "django.setup()\n"
        "from django.core.management import call_command\n"
        "from django.core.management.base import SystemCheckError\n"
        "try:\n"
        "    call_command('check')\n"
        "except SystemCheckError as exc:\n"
        "    print(exc)\n",
        DJANGO_SETTINGS_MODULE="tests.settings_resource",
        RESOURCE_TEST_BAD="1",
    )
    assert done.returncode == 0, done.stderr
    assert "django_jwt_revoke.E105" in done.stdout
    assert "django_jwt_revoke.E106" in done.stdout


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_after_a_fork_the_child_follows_on_its_own():
    done = _run_python(
        "import django\ndjango.setup()\nfrom tests.resource_processes import fork\nfork()\n",
        DJANGO_SETTINGS_MODULE="tests.settings_resource",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "child: own follower, new thread, revocation applied" in done.stdout
