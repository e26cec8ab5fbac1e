"""The SPEC's "Consistency" promise, end to end over HTTP, under real cache faults.

Every test runs against a redis-server of its own (``redis_server``: a real
process on a spare port, killed by its pid, restarted on the same port from
its ``dump.rdb`` when one was saved), configured as ``CACHE_ALIAS`` with a
``CACHE_MAX_STALENESS`` of one second, so that waiting the bound out costs
one second of real time (Redis expiry is real time). What is asserted is
what a user sees: status codes, JSON bodies, and the database rows.

* A revocation, and the password change, deactivation or deletion that calls
  for one, commits to the database whatever the cache's state; a cache
  failure never fails it and never makes an endpoint answer 500.
* A revoked token is refused on the next request with a healthy cache, and
  within the bound under any cache fault: an outage, a restore from a
  snapshot, a process without the cache, eviction, a flush, a full cache, a
  failover to a replica that missed the revocation.
* With neither cache nor database: 503, ``Retry-After``, a JSON body.
"""

from __future__ import annotations

import hashlib
import logging
import time
from urllib.parse import urlencode

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection
from django.urls import reverse

from django_jwt_revoke import revocation
from django_jwt_revoke.models import (
    BlacklistedToken,
    OutstandingToken,
    Reason,
    TokenSession,
    UserRevocation,
)
from django_jwt_revoke.stores import get_store
from django_jwt_revoke.stores.cache import token_keys
from django_jwt_revoke.stores.database import DatabaseStore
from django_jwt_revoke.tokens import decode_token, user_key
from tests.factories import PASSWORD, UserFactory, credentials
from tests.redis_server import cache_config

# revocations reach the cache on commit: on_commit_hooks runs them in the test transaction
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_commit_hooks")]

TOKEN = reverse("django_jwt_revoke:token_obtain")
REFRESH = reverse("django_jwt_revoke:token_refresh")
LOGOUT = reverse("django_jwt_revoke:logout")
LOGOUT_ALL = reverse("django_jwt_revoke:logout_all")
SESSIONS = reverse("django_jwt_revoke:session_list")
REVOKE = reverse("django_jwt_revoke:token_revoke")
INTROSPECT = reverse("django_jwt_revoke:token_introspect")
ME = "/api/me/"  # user mode: always the database
TOKEN_USER_ME = "/api/token-user-me/"  # token-user mode: the cache, the database behind it
MODES = (ME, TOKEN_USER_ME)


def session_url(sid):
    return reverse("django_jwt_revoke:session_detail", args=[sid])


BOUND = 1.0  # CACHE_MAX_STALENESS, seconds
SLACK = 0.2  # scheduling and round trips on top of the bound
UNAVAILABLE = {
    "detail": "Token revocation state is unavailable; try again shortly.",
    "code": "revocation_state_unavailable",
}


def bearer(access):
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def claims(raw):
    return jwt.decode(raw, options={"verify_signature": False})


def _broken_database(execute, sql, params, many, context):
    raise DatabaseError("connection lost")


@pytest.fixture
def cache_server(settings, redis_server):
    """Our own redis-server as CACHE_ALIAS, with a one-second bound."""
    settings.CACHES = {**settings.CACHES, "own": cache_config(redis_server)}
    settings.JWT_REVOKE = {
        **settings.JWT_REVOKE,
        "CACHE_ALIAS": "own",
        "CACHE_MAX_STALENESS": BOUND,
    }
    return redis_server


def answered(response, status):
    """``response`` has ``status`` and, if it has a body, a JSON one (never HTML, never 500)."""
    content_type = response.get("Content-Type", "")
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert "html" not in content_type
    if response.content:
        assert content_type.startswith("application/json"), content_type
    return response


def form(client, path, data, **extra):
    """POST ``data`` form-encoded, as RFC 7009 and RFC 7662 clients do."""
    return client.post(
        path, urlencode(data), content_type="application/x-www-form-urlencoded", **extra
    )


def login(client, user, password=PASSWORD):
    """POST token/: a new session's pair, as a dict with its sid too."""
    response = answered(
        client.post(TOKEN, credentials(user, password), format="json"),
        200,
    )
    pair = response.json()
    pair["sid"] = claims(pair["access"])["sid"]
    return pair


def status_of(client, access, path):
    response = client.get(path, **bearer(access))
    assert response.status_code in (200, 401), (response.status_code, response.content[:300])
    answered(response, response.status_code)
    return response.status_code


def accepted(client, access, path=TOKEN_USER_ME):
    return status_of(client, access, path) == 200


def refused(client, access, path, codes=("token_revoked",)):
    response = answered(client.get(path, **bearer(access)), 401)
    assert response.json()["code"] in codes, response.json()
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def refresh_refused(client, refresh):
    response = answered(client.post(REFRESH, {"refresh": refresh}, format="json"), 401)
    assert response.json()["code"] in ("token_revoked", "user_inactive"), response.json()


def refused_within(client, accesses, since, path=TOKEN_USER_ME):
    """Every token is refused from ``BOUND`` (plus slack) after ``since`` (at or
    before the revocation committed) on, and never answered 500 before that.

    Polls until then (a token may pass, or pass again, until the bound), then
    checks that each is refused. Returns when each token was last accepted,
    in seconds after ``since`` (None: never).
    """
    accesses = list(accesses)
    last_accepted: dict[int, float | None] = dict.fromkeys(range(len(accesses)))
    history = []
    while time.monotonic() < since + BOUND + SLACK:
        for i, access in enumerate(accesses):
            now = time.monotonic() - since  # before the request: a slow answer is no failure
            status = status_of(client, access, path)
            history.append((round(now, 3), i, status))
            if status == 200:
                last_accepted[i] = now
                assert now <= BOUND + SLACK, f"still accepted {now:.2f} s after: {history[-12:]}"
        time.sleep(0.05)
    for _ in range(3):  # and they stay refused
        for i, access in enumerate(accesses):
            now = time.monotonic() - since
            history.append((round(now, 3), i, status_of(client, access, path)))
            assert history[-1][2] == 401, f"still accepted {now:.2f} s after: {history[-12:]}"
            refused(client, access, path)
    return last_accepted


def warm(client, *accesses):
    """Token-user checks that fill the cache with "not revoked" for each token."""
    for access in accesses:
        assert accepted(client, access)


# -- 1. every endpoint with the cache killed ----------------------------------------


@pytest.mark.parametrize("restart", ["empty", "warm-snapshot"])
def test_every_revoking_endpoint_works_with_the_cache_killed(api_client, cache_server, restart):
    """Each endpoint answers as usual with the cache dead, the revocation is in
    the database, and the tokens are refused in both modes; once Redis is back
    (empty, or from a snapshot taken while the tokens were cached as live),
    within the bound in token-user mode, and their refresh tokens never refresh."""
    client = api_client
    names = ("logout", "logout_all", "rotate", "reuse", "revoke_access", "revoke_refresh")
    users = {name: UserFactory() for name in (*names, "session", "bystander")}
    pairs = {name: login(client, user) for name, user in users.items()}
    spare = login(client, users["session"])  # deletes the "session" session
    warm(client, *(p["access"] for p in pairs.values()), spare["access"])
    if restart == "warm-snapshot":
        cache_server.save()
    since = time.monotonic()
    cache_server.kill()

    p = pairs["logout"]
    answered(
        client.post(LOGOUT, {"refresh": p["refresh"]}, format="json", **bearer(p["access"])), 204
    )
    answered(client.post(LOGOUT_ALL, **bearer(pairs["logout_all"]["access"])), 204)
    rotated = answered(
        client.post(REFRESH, {"refresh": pairs["rotate"]["refresh"]}, format="json"), 200
    ).json()
    reuse_next = answered(
        client.post(REFRESH, {"refresh": pairs["reuse"]["refresh"]}, format="json"), 200
    ).json()
    reuse = answered(
        client.post(REFRESH, {"refresh": pairs["reuse"]["refresh"]}, format="json"), 401
    )
    assert reuse.json()["code"] == "token_revoked"
    answered(form(client, REVOKE, {"token": pairs["revoke_access"]["access"]}), 200)
    answered(form(client, REVOKE, {"token": pairs["revoke_refresh"]["refresh"]}), 200)
    answered(client.delete(session_url(pairs['session']['sid']), **bearer(spare["access"])), 204)

    # Every revocation is in the database.
    def session_of(name):
        return TokenSession.objects.get(sid=pairs[name]["sid"])

    for name in ("logout", "reuse", "revoke_refresh", "session"):
        assert session_of(name).revoked_at is not None, name
    assert session_of("reuse").revoke_reason == Reason.REUSE_DETECTED
    assert UserRevocation.objects.get(user_key=user_key(users["logout_all"])).generation == 1
    old_refresh = claims(pairs["rotate"]["refresh"])["jti"]
    assert BlacklistedToken.objects.get(jti=old_refresh).reason == Reason.ROTATED
    assert OutstandingToken.objects.get(jti=old_refresh).rotated_at is not None
    assert BlacklistedToken.objects.filter(jti=claims(pairs["revoke_access"]["access"])["jti"])
    assert session_of("rotate").revoked_at is None
    assert session_of("revoke_access").revoked_at is None
    assert TokenSession.objects.get(sid=spare["sid"]).revoked_at is None

    revoked_access = [
        *(pairs[name]["access"] for name in ("logout", "logout_all", "reuse", "session")),
        *(pairs[name]["access"] for name in ("revoke_access", "revoke_refresh")),
        reuse_next["access"],
    ]
    live_access = [
        pairs["bystander"]["access"],
        pairs["rotate"]["access"],  # rotation retires the refresh token only
        rotated["access"],
        spare["access"],
    ]
    revoked_refresh = [
        *(pairs[name]["refresh"] for name in ("logout", "logout_all", "reuse", "session")),
        pairs["revoke_refresh"]["refresh"],
        reuse_next["refresh"],
        pairs["rotate"]["refresh"],  # last: presenting it again ends its session
    ]
    # During the outage the database answers both modes.
    for path in MODES:
        for access in revoked_access:
            refused(client, access, path)
        for access in live_access:
            assert accepted(client, access, path)

    cache_server.start()
    for access in revoked_access:
        refused(client, access, ME)
    if restart == "empty":
        for access in revoked_access:
            refused(client, access, TOKEN_USER_ME)
    else:
        refused_within(client, revoked_access, since)
    for path in MODES:
        for access in live_access:
            assert accepted(client, access, path)
    for refresh in revoked_refresh:
        refresh_refused(client, refresh)


# -- 2. password change, deactivation, deletion with the cache killed ----------------


@pytest.mark.parametrize("change", ["password", "deactivation", "deletion"])
def test_user_change_with_the_cache_killed_revokes_every_token(
    api_client, cache_server, caplog, change
):
    client = api_client
    user = UserFactory()
    pairs = [login(client, user) for _ in range(2)]
    other = login(client, UserFactory())
    warm(client, *(p["access"] for p in pairs), other["access"])
    cache_server.save()  # the snapshot holds the tokens as live
    since = time.monotonic()
    cache_server.kill()
    caplog.set_level(logging.ERROR, logger="django_jwt_revoke.cache")

    User = get_user_model()
    loaded = User.objects.get(pk=user.pk)
    if change == "password":
        loaded.set_password("a brand new password")
        loaded.save()
    elif change == "deactivation":
        loaded.is_active = False
        loaded.save()
    else:
        loaded.delete()

    stored = User.objects.filter(pk=user.pk).first()
    if change == "password":
        assert stored.check_password("a brand new password")
        assert not stored.check_password(PASSWORD)
    elif change == "deactivation":
        assert stored.is_active is False
    else:
        assert stored is None
        assert not TokenSession.objects.filter(sid__in=[p["sid"] for p in pairs]).exists()
    # In autocommit the receivers revoke before and after the row commits.
    assert UserRevocation.objects.get(user_key=user_key(user)).generation >= 1
    assert any("not written" in r.getMessage() for r in caplog.records), "the cache was not down"

    codes = ("user_not_found",) if change == "deletion" else ("token_revoked",)
    for p in pairs:
        refused(client, p["access"], ME, codes)  # at once: user mode reads the database
    cache_server.start()  # from the snapshot
    refused_within(client, [p["access"] for p in pairs], since)
    for p in pairs:
        refused(client, p["access"], ME, codes)
        refresh_refused(client, p["refresh"])
    for path in MODES:
        assert accepted(client, other["access"], path)
    if change == "password":
        fresh = login(client, user, "a brand new password")
        for path in MODES:
            assert accepted(client, fresh["access"], path)


# -- 3. a snapshot restored after a logout with a healthy cache ----------------------


def test_snapshot_restored_after_a_logout_lets_the_token_pass_at_most_the_bound(
    api_client, cache_server
):
    client = api_client
    staff = login(client, UserFactory(is_staff=True))
    pair = login(client, UserFactory())
    warm(client, pair["access"])
    cache_server.save()  # says "live"
    since = time.monotonic()
    answered(client.post(LOGOUT, **bearer(pair["access"])), 204)
    refused(client, pair["access"], TOKEN_USER_ME)  # the healthy cache was told
    cache_server.kill()
    cache_server.start()  # from the snapshot taken before the logout
    if time.monotonic() - since < BOUND / 2:  # the fault is real: the restored cache says "live"
        store = get_store()
        session_key = store.make_key(token_keys(decode_token(pair["access"]))[0])
        assert cache_server.client().get(session_key) == b"0"

    def introspected():
        response = form(client, INTROSPECT, {"token": pair["access"]}, **bearer(staff["access"]))
        return answered(response, 200).json()

    assert introspected() == {"active": False}  # the database, at once
    refused(client, pair["access"], ME)
    refused_within(client, [pair["access"]], since)
    assert introspected() == {"active": False}
    refresh_refused(client, pair["refresh"])


# -- 4. a process without the cache configured --------------------------------------


def test_revocations_by_a_process_without_the_cache_are_refused_within_the_bound(
    api_client, cache_server, settings
):
    """A management shell (or another web process) whose settings have no
    CACHE_ALIAS revokes: the cache is never told, its "live" copies expire."""
    client = api_client
    users = [UserFactory() for _ in range(4)]
    by_logout, by_logout_all, by_revoke, bystander = (login(client, u) for u in users)
    warm(client, by_logout["access"], by_logout_all["access"], by_revoke["access"])
    warm(client, bystander["access"])

    with_cache = settings.JWT_REVOKE
    settings.JWT_REVOKE = {k: v for k, v in with_cache.items() if k != "CACHE_ALIAS"}
    assert isinstance(get_store(), DatabaseStore)
    since = time.monotonic()
    answered(client.post(LOGOUT, **bearer(by_logout["access"])), 204)
    revocation.revoke_user_tokens(users[1])
    assert revocation.revoke_token(by_revoke["refresh"]) is True
    settings.JWT_REVOKE = with_cache

    revoked = [by_logout["access"], by_logout_all["access"], by_revoke["access"]]
    for access in revoked:
        refused(client, access, ME)
    refused_within(client, revoked, since)
    for path in MODES:
        assert accepted(client, bystander["access"], path)
    for p in (by_logout, by_logout_all, by_revoke):
        refresh_refused(client, p["refresh"])


# -- 5. user ids that look like each other's keys -----------------------------------


def test_user_ids_that_look_like_digests_never_share_revocations(
    api_client, cache_server, settings
):
    """USER_ID_FIELD = the USERNAME_FIELD: "alice", and a user named sha256("alice")
    (alice@example.com and its digest for an email login). Their logout-alls, in
    alternation, revoke their own tokens only, and no old token ever comes back."""
    field = get_user_model().USERNAME_FIELD
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "USER_ID_FIELD": field}
    client = api_client
    alice = UserFactory(name="alice")
    digest = UserFactory(**{field: hashlib.sha256(alice.get_username().encode()).hexdigest()})
    live = {alice.pk: [], digest.pk: []}
    dead = []
    for _ in range(3):
        for actor, bystander in ((alice, digest), (digest, alice)):
            for u in (actor, bystander):
                pair = login(client, u)
                assert claims(pair["access"])["user_id"] == u.get_username()
                live[u.pk].append(pair["access"])
            warm(client, *live[actor.pk], *live[bystander.pk])
            answered(client.post(LOGOUT_ALL, **bearer(live[actor.pk][-1])), 204)
            dead += live[actor.pk]
            live[actor.pk] = []
            for access in live[bystander.pk]:
                for path in MODES:
                    assert accepted(client, access, path)
            for access in dead:
                for path in MODES:
                    refused(client, access, path)
    assert UserRevocation.objects.get(user_key=alice.get_username()).generation == 3
    assert UserRevocation.objects.get(user_key=digest.get_username()).generation == 3


# -- 6. neither cache nor database ---------------------------------------------------


def test_cache_and_database_both_down_answer_503_in_json(api_client, cache_server):
    client = api_client
    staff = login(client, UserFactory(is_staff=True))
    pair = login(client, UserFactory())
    warm(client, pair["access"])
    cache_server.kill()
    auth = bearer(pair["access"])
    requests = {
        "token-user": lambda: client.get(TOKEN_USER_ME, **auth),
        "user": lambda: client.get(ME, **auth),
        "obtain": lambda: client.post(TOKEN, credentials(UserFactory.build()), format="json"),
        "refresh": lambda: client.post(REFRESH, {"refresh": pair["refresh"]}, format="json"),
        "logout": lambda: client.post(LOGOUT, **auth),
        "logout-all": lambda: client.post(LOGOUT_ALL, **auth),
        "sessions": lambda: client.get(SESSIONS, **auth),
        "session": lambda: client.delete(session_url(pair['sid']), **auth),
        "revoke": lambda: form(client, REVOKE, {"token": pair["access"]}),
        "introspect": lambda: form(
            client, INTROSPECT, {"token": pair["access"]}, **bearer(staff["access"])
        ),
    }
    failures = {}
    with connection.execute_wrapper(_broken_database):
        for name, request in requests.items():
            response = request()
            content_type = response.get("Content-Type", "")
            if not (
                response.status_code == 503
                and response.get("Retry-After") == "1"
                and content_type.startswith("application/json")
                and response.json() == UNAVAILABLE
            ):
                failures[name] = (response.status_code, content_type, response.content[:200])
    assert failures == {}
    # Nothing was revoked, nothing was lost: everything works again.
    for path in MODES:
        assert accepted(client, pair["access"], path)


# -- 7. an outage under load is logged once ------------------------------------------


def test_outage_under_load_logs_once_and_never_a_token(api_client, cache_server, caplog):
    client = api_client
    user = UserFactory()
    live, revoked = login(client, user), login(client, user)
    warm(client, live["access"], revoked["access"])
    cache_server.kill()
    caplog.set_level(logging.DEBUG)
    answered(
        client.post(
            LOGOUT, {"refresh": revoked["refresh"]}, format="json", **bearer(revoked["access"])
        ),
        204,
    )
    for i in range(200):
        if i % 2:
            refused(client, revoked["access"], TOKEN_USER_ME)
        else:
            assert accepted(client, live["access"])
    warnings = [
        r
        for r in caplog.records
        if r.name == "django_jwt_revoke.cache" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "unreachable" in warnings[0].getMessage()
    secrets = [raw for p in (live, revoked) for raw in (p["access"], p["refresh"])]
    secrets += [raw.rsplit(".", 1)[1] for raw in secrets]  # the signatures alone
    for record in caplog.records:
        message = record.getMessage()
        assert not any(secret in message for secret in secrets), record.name
        assert "jwt_revoke:" not in message, message  # nor a cache key
    assert not any(secret in caplog.text for secret in secrets)


# -- 8. eviction, a flush, a full cache, a failover ----------------------------------


@pytest.mark.parametrize("fault", ["lru-eviction", "flushall"])
def test_evicted_revocations_are_read_from_the_database(api_client, cache_server, fault):
    client = api_client
    user = UserFactory()
    pair, live = login(client, user), login(client, user)
    warm(client, pair["access"], live["access"])
    answered(client.post(LOGOUT, **bearer(pair["access"])), 204)
    refused(client, pair["access"], TOKEN_USER_ME)  # from the cache
    redis = cache_server.client()
    assert redis.dbsize() > 0
    if fault == "lru-eviction":
        redis.config_set("maxmemory-policy", "allkeys-lru")
        redis.config_set("maxmemory", 1)  # everything must go
        try:
            redis.set("filler", "x" * 1024)
        except Exception:  # OOM once nothing is left to evict
            pass
        redis.config_set("maxmemory", 0)
    else:
        redis.flushall()
    assert redis.dbsize() == 0
    for _ in range(2):  # read from the database, then from what that read filled
        refused(client, pair["access"], TOKEN_USER_ME)
        assert accepted(client, live["access"])
    assert redis.dbsize() > 0
    refresh_refused(client, pair["refresh"])


def full(redis):
    """The cache is reachable but full and evicts nothing: every write is refused."""
    redis.config_set("maxmemory-policy", "noeviction")
    redis.config_set("maxmemory", 1)


def test_full_cache_refusing_writes_is_bounded(api_client, cache_server, caplog):
    """The logout's write is refused (OOM); its "live" copies expire within the
    bound; the database answers from then on."""
    client = api_client
    user = UserFactory()
    pair, live = login(client, user), login(client, user)
    warm(client, pair["access"], live["access"])
    redis = cache_server.client()
    full(redis)
    caplog.set_level(logging.ERROR, logger="django_jwt_revoke.cache")
    since = time.monotonic()
    answered(client.post(LOGOUT, **bearer(pair["access"])), 204)
    assert TokenSession.objects.get(sid=pair["sid"]).revoked_at is not None
    assert any("not written" in r.getMessage() for r in caplog.records), "the write went through"
    refused(client, pair["access"], ME)
    refused_within(client, [pair["access"]], since)
    for _ in range(5):
        refused(client, pair["access"], TOKEN_USER_ME)
        assert accepted(client, live["access"])
    redis.config_set("maxmemory", 0)
    for _ in range(2):  # the database, then what it filled
        refused(client, pair["access"], TOKEN_USER_ME)
        assert accepted(client, live["access"])
    refresh_refused(client, pair["refresh"])


def test_full_cache_is_logged_once_and_never_with_a_key(api_client, cache_server, caplog):
    """A cache refusing every write under load: logged once (P6), and no log
    line carries a token or a cache key (P7)."""
    client = api_client
    user = UserFactory()
    pair, live = login(client, user), login(client, user)
    full(cache_server.client())
    caplog.set_level(logging.WARNING, logger="django_jwt_revoke.cache")
    answered(client.post(LOGOUT, **bearer(pair["access"])), 204)
    for _ in range(25):
        refused(client, pair["access"], TOKEN_USER_ME)
        assert accepted(client, live["access"])
    ours = [r for r in caplog.records if r.name == "django_jwt_revoke.cache"]
    warnings = [r.getMessage() for r in ours if r.levelno == logging.WARNING]
    leaked = [
        r.getMessage()
        for r in ours
        if "jwt_revoke:" in r.getMessage() or pair["access"] in r.getMessage()
    ]
    problems = []
    if len(warnings) > 1:
        problems.append(f"{len(warnings)} warnings for 50 requests, e.g. {warnings[:2]}")
    if leaked:
        problems.append(f"{len(leaked)} lines carry a cache key or a token, e.g. {leaked[0]}")
    assert problems == []


def test_failover_to_a_replica_that_missed_the_logout(
    api_client, cache_server, second_redis_server, settings
):
    """A real replica copies the "live" entries, loses its primary before the
    logout's write reaches it, and is promoted: the token passes at most the
    bound, then is refused."""
    client = api_client
    primary, replica = cache_server.client(), second_redis_server.client()
    primary.config_set("repl-diskless-sync-delay", 0)
    replica.replicaof("127.0.0.1", cache_server.port)
    deadline = time.monotonic() + 5
    while replica.info("replication").get("master_link_status") != "up":
        assert time.monotonic() < deadline, "the replica did not sync"
        time.sleep(0.02)
    pair = login(client, UserFactory())
    warm(client, pair["access"])
    keys = primary.dbsize()
    while replica.dbsize() < keys:
        assert time.monotonic() < deadline, "the replica did not copy the entries"
        time.sleep(0.01)
    replica.replicaof("no", "one")  # the link is lost: the logout below never reaches it
    since = time.monotonic()
    answered(client.post(LOGOUT, **bearer(pair["access"])), 204)
    refused(client, pair["access"], TOKEN_USER_ME)  # the primary was told
    cache_server.kill()
    settings.CACHES = {**settings.CACHES, "own": cache_config(second_redis_server)}  # failover
    refused(client, pair["access"], ME)
    refused_within(client, [pair["access"]], since)
    refresh_refused(client, pair["refresh"])
