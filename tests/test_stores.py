"""Revocation state stores: one contract, run against every store.

``store`` runs each contract test against the database store, a cache store
on a local-memory cache, and the Redis store on a redis-server of the test's
own (tests/redis_server.py), so the Redis rows run in every CI pass.
"""

import copy
import logging

import pytest
from django.db import DatabaseError, connection
from django.test import override_settings

from django_jwt_revoke import revocation
from django_jwt_revoke.exceptions import RevocationStateUnavailable
from django_jwt_revoke.models import TokenSession
from django_jwt_revoke.signals import revocation_cache_write_failed
from django_jwt_revoke.stores import TokenState, get_store
from django_jwt_revoke.stores.cache import CacheStore, token_keys
from django_jwt_revoke.stores.database import DatabaseStore
from django_jwt_revoke.stores.internals import PreparedQuery
from django_jwt_revoke.stores.redis import RedisStore
from django_jwt_revoke.tokens import ValidatedToken, decode_token, issue_token_pair
from tests.factories import unused_id
from tests.legacy import legacy_token
from tests.redis_server import cache_config

# revocations reach the cache on commit: on_commit_hooks runs them in the test transaction
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_commit_hooks")]

UNREACHABLE = {"BACKEND": "tests.testapp.broken_cache.UnreachableCache"}
REDIS_NOWHERE = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
}


def _broken_database(execute, sql, params, many, context):
    raise DatabaseError("connection lost")


LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "stores"}
STORE_TYPES = {"database": DatabaseStore, "locmem": CacheStore, "redis": RedisStore}


def use_cache(settings, alias, config=None, **jwt_revoke):
    """Our settings with CACHE_ALIAS = alias (added to CACHES with config); the store."""
    if config is not None:
        settings.CACHES = {**settings.CACHES, alias: config}
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "CACHE_ALIAS": alias, **jwt_revoke}
    store = get_store()
    if config is LOCMEM:  # one per process: what an earlier test left is not ours
        store.cache.clear()
    return store


@pytest.fixture(params=list(STORE_TYPES))
def store_settings(request, settings):
    """Run each contract test against every store."""
    if request.param == "database":
        use_cache(settings, None)
    elif request.param == "locmem":
        use_cache(settings, "stores", LOCMEM)
    else:
        server = request.getfixturevalue("redis_server")
        use_cache(settings, "own-redis", cache_config(server))
    return request.param


@pytest.fixture
def store(store_settings):
    return get_store()


@pytest.fixture(params=["locmem", "redis"])
def cached(request, settings):
    """Each cache store in turn (the contract for stores that keep a copy)."""
    if request.param == "locmem":
        store = use_cache(settings, "stores", LOCMEM)
    else:
        server = request.getfixturevalue("redis_server")
        store = use_cache(settings, "own-redis", cache_config(server))
        store.server = server
    assert isinstance(store, CacheStore)
    return store


def state_of(store, raw):
    token = decode_token(raw, token_type=None)
    return store.token_state(token), token


# -- the contract -----------------------------------------------------------------


def test_store_type_follows_settings(store, store_settings):
    assert type(store) is STORE_TYPES[store_settings]


def test_live_token(store, pair):
    state, token = state_of(store, pair.access)
    assert state.session_live and not state.jti_revoked and state.generation == 0
    assert not state.revokes(token)


def test_each_revocation_is_seen_on_the_next_read(store, user, pair):
    other = issue_token_pair(user)
    for raw in (pair.access, other.access):  # warm whatever the store keeps
        state_of(store, raw)
    revocation.revoke_token(pair.access)
    state, token = state_of(store, pair.access)
    assert state.jti_revoked and state.revokes(token)
    revocation.revoke_session(other.sid)
    state, token = state_of(store, other.access)
    assert not state.session_live and state.revokes(token)
    third = issue_token_pair(user)
    state_of(store, third.access)
    revocation.revoke_user_tokens(user)
    state, token = state_of(store, third.access)
    assert state.generation == 1 and state.revokes(token)
    fourth = issue_token_pair(user)
    state_of(store, fourth.access)
    revocation.revoke_all_tokens()
    state, token = state_of(store, fourth.access)
    assert state.epoch == 1 and state.revokes(token)
    fresh = issue_token_pair(user)
    state, token = state_of(store, fresh.access)
    assert not state.revokes(token)


def test_unknown_session_is_not_live(store, pair):
    TokenSession.objects.filter(sid=pair.sid).update(sid="gone")
    state, token = state_of(store, pair.access)
    assert not state.session_live and state.revokes(token)


def test_session_of_another_user_is_not_live(store, user, other_user):
    """A token naming a live session that is not its user's is refused, cached or not."""
    theirs = issue_token_pair(other_user)
    mine = decode_token(issue_token_pair(user).access)
    state_of(store, theirs.access)  # their session is live, and cached as such
    forged = ValidatedToken(mine.header, {**mine.payload, "sid": theirs.sid}, mine.user_id)
    for _ in range(2):  # the second read must not be answered by what the first cached
        state = store.token_state(forged)
        assert not state.session_live and state.revokes(forged)
    assert not state_of(store, theirs.access)[0].revokes(decode_token(theirs.access))


def test_revocation_reaches_the_store_on_commit_and_not_on_rollback(store, pair):
    from django.db import transaction

    token = decode_token(pair.access)
    state_of(store, pair.access)  # warm whatever the store keeps
    with pytest.raises(RuntimeError), transaction.atomic():
        revocation.revoke_token(pair.access)
        raise RuntimeError("rolled back")
    assert not store.token_state(token).revokes(token), "a rolled-back revocation left a trace"
    with transaction.atomic():
        revocation.revoke_token(pair.access)
    assert store.token_state(token).revokes(token)


def test_database_down_with_nothing_cached_refuses(store, pair):
    token = decode_token(pair.access)
    with connection.execute_wrapper(_broken_database), pytest.raises(RevocationStateUnavailable):
        store.token_state(token)


# -- the stores that keep a copy: the cache in front ------------------------------


def ttl_of(store, key):
    """Seconds the entry ``key`` has left in the store's cache (None: no entry)."""
    if isinstance(store, RedisStore):
        left = store.client.pttl(store.make_key(key))
        return None if left < 0 else left / 1000
    import time

    expires = store.cache._expire_info.get(store.cache.make_key(key))
    return None if expires is None else expires - time.time()


def test_warm_cache_answers_without_the_database(cached, pair, django_assert_num_queries):
    token = decode_token(pair.access)
    with django_assert_num_queries(1):
        cached.token_state(token)
    with django_assert_num_queries(0):
        assert not cached.token_state(token).revokes(token)
    # even with the database down, a warm cache answers
    with connection.execute_wrapper(_broken_database):
        assert not cached.token_state(token).revokes(token)


def test_flushed_cache_never_forgets_a_revocation(cached, user, pair):
    token = decode_token(pair.access)
    revocation.revoke_token(pair.access)
    cached.cache.clear()
    assert cached.token_state(token).revokes(token)
    revocation.revoke_user_tokens(user)
    cached.cache.clear()
    fresh = decode_token(issue_token_pair(user).access)
    cached.cache.clear()
    state = cached.token_state(fresh)
    assert state.generation == 1 and not state.revokes(fresh)


def test_evicted_key_is_read_from_the_database(cached, pair):
    token = decode_token(pair.access)
    cached.token_state(token)
    revocation.revoke_session(pair.sid)
    for key in token_keys(token):
        cached.cache.delete(key)
    assert cached.token_state(token).revokes(token)


def test_not_revoked_lives_at_most_the_bound_revoked_as_long_as_the_token(cached, settings, user):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "CACHE_MAX_STALENESS": 7}
    store = get_store()
    pair = issue_token_pair(user)
    token = decode_token(pair.access)
    store.token_state(token)
    keys = token_keys(token)
    for key in keys:
        assert 0 < ttl_of(store, key) <= 7, key
    revocation.revoke_session(pair.sid)
    session_key = keys[0]
    assert ttl_of(store, session_key) > 20 * 3600  # the session's whole life: a fact
    assert store.token_state(token).revokes(token)


def test_stale_read_racing_a_revocation_is_bounded(cached, settings, pair, monkeypatch):
    """The reader reads "live", the logout commits and its key is evicted, then the
    reader fills: its stale "not revoked" expires within the bound of its read."""
    import time

    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "CACHE_MAX_STALENESS": 1}
    store = get_store()
    token = decode_token(pair.access)
    session_key = token_keys(token)[0]
    read = store.database.token_state

    def read_then_pause(token):
        state = read(token)  # the database says "live"
        revocation.revoke_session(pair.sid)  # commits; the cache is told
        store.cache.delete(session_key)  # and evicted before the reader fills
        return state

    monkeypatch.setattr(store.database, "token_state", read_then_pause)
    assert not store.token_state(token).revokes(token)  # the racing request itself
    monkeypatch.undo()
    left = ttl_of(store, session_key)
    assert left is not None and left <= 1
    time.sleep(1.05)
    assert store.token_state(token).revokes(token)


def test_a_miss_ends_stale_copies_the_database_contradicts(cached, pair):
    """After a restore: the jti key is gone, the session key still says "live".
    The miss reads the database, and the fact goes over the stale copy."""
    token = decode_token(pair.access)
    cached.token_state(token)
    revocation.revoke_session(pair.sid)
    session_key, jti_key = token_keys(token)[:2]
    cached.cache.set(session_key, 0, 60)  # the stale copy a snapshot brought back
    cached.cache.delete(jti_key)
    assert cached.token_state(token).revokes(token)  # the miss: from the database
    assert cached.cache.get(session_key) == 1
    assert cached.token_state(token).revokes(token)  # and now from the cache alone


def test_read_slower_than_the_bound_fills_nothing(cached, settings, pair, monkeypatch):
    import time

    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "CACHE_MAX_STALENESS": 1}
    store = get_store()
    token = decode_token(pair.access)
    read = store.database.token_state

    def slow(token):
        state = read(token)
        time.sleep(1.05)
        return state

    monkeypatch.setattr(store.database, "token_state", slow)
    store.token_state(token)
    assert all(ttl_of(store, key) is None for key in token_keys(token))


def test_writes_landing_out_of_order_never_bring_a_token_back(cached, user, monkeypatch):
    """Two logout-alls whose after-commit writes arrive newest first."""
    held = []
    monkeypatch.setattr(cached, "revoked", held.append)
    first = decode_token(issue_token_pair(user).access)
    cached.token_state(first)
    revocation.revoke_user_tokens(user)
    second = decode_token(issue_token_pair(user).access)
    cached.token_state(second)
    revocation.revoke_user_tokens(user)
    monkeypatch.undo()
    assert len(held) == 2
    for facts in reversed(held):
        cached.revoked(facts)
    for token in (first, second):
        assert cached.token_state(token).revokes(token)
    third = decode_token(issue_token_pair(user).access)
    assert not cached.token_state(third).revokes(third)


def test_keys_never_collide():
    """No id is ever used as it is: an id that looks like a digest is hashed too."""
    import hashlib

    from django_jwt_revoke.stores.cache import fact_key

    plain = "alice"
    digest = hashlib.sha256(plain.encode()).hexdigest()  # what the old format passed through
    keys = {
        fact_key("user", (plain, 0)),
        fact_key("user", (digest, 0)),
        fact_key("jti", (plain,)),
        fact_key("jti", (digest,)),
        fact_key("session", (plain, "1")),
        fact_key("session", (digest, "1")),
        fact_key("session", ("ab", "c")),
        fact_key("session", ("a", "bc")),
    }
    assert len(keys) == 8


@pytest.mark.parametrize("unreachable", ["broken-backend", "redis-nowhere", "redis-killed"])
def test_unreachable_cache_falls_back_to_the_database(request, settings, pair, unreachable):
    """A cache that raises is skipped: the database answers; with it down too, 503."""
    if unreachable == "redis-killed":
        server = request.getfixturevalue("redis_server")
        config = cache_config(server)
        server.kill()
    else:
        config = UNREACHABLE if unreachable == "broken-backend" else REDIS_NOWHERE
    store = use_cache(settings, "broken", config)
    token = decode_token(pair.access)
    assert not store.token_state(token).revokes(token)
    revocation.revoke_session(pair.sid)  # never raises: committed, the cache is not told
    assert store.token_state(token).revokes(token)
    with connection.execute_wrapper(_broken_database), pytest.raises(RevocationStateUnavailable):
        store.token_state(token)


def test_outage_is_logged_once_per_interval(redis_server, settings, pair, caplog):
    store = use_cache(settings, "own-redis", cache_config(redis_server))
    token = decode_token(pair.access)
    store.token_state(token)
    redis_server.kill()
    caplog.set_level(logging.WARNING, logger="django_jwt_revoke.cache")
    for _ in range(30):
        assert not store.token_state(token).revokes(token)
    unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(unreachable) == 1
    assert pair.access not in caplog.text
    store.outage._last -= store.outage.interval  # an interval later
    store.token_state(token)
    unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(unreachable) == 2 and "; 29 more failures" in unreachable[1].getMessage()
    redis_server.start()
    store.token_state(token)
    assert caplog.records[-1].getMessage() == "Revocation cache 'own-redis' works again."
    for _ in range(5):  # flapping: down and up again within the interval logs nothing more
        redis_server.kill()
        store.token_state(token)
        redis_server.start()
        store.token_state(token)
    assert caplog.records[-1].getMessage() == "Revocation cache 'own-redis' works again."
    assert len(caplog.records) == 3


def test_failed_write_after_commit_is_logged_and_signalled(redis_server, settings, pair, caplog):
    store = use_cache(settings, "own-redis", cache_config(redis_server))
    calls = []

    def receiver(**kwargs):
        calls.append(kwargs)

    revocation_cache_write_failed.connect(receiver, dispatch_uid="test-write-failed")
    try:
        redis_server.kill()
        caplog.set_level(logging.ERROR, logger="django_jwt_revoke.cache")
        assert revocation.revoke_session(pair.sid) is True
    finally:
        revocation_cache_write_failed.disconnect(dispatch_uid="test-write-failed")
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is not None
    assert len(calls) == 1
    assert calls[0]["alias"] == "own-redis" and calls[0]["kinds"] == ("session",)
    assert calls[0]["sender"] is type(store)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "not written after a revocation committed" in errors[0].getMessage()
    assert pair.sid not in caplog.text and pair.access not in caplog.text


def test_redis_reads_the_primary_never_a_lagging_replica(
    redis_server, second_redis_server, settings, pair
):
    """LOCATION names a primary and a replica that has not caught up: Django's
    backend would read the replica; the store reads the primary."""
    store = use_cache(settings, "replicated", cache_config(redis_server, second_redis_server))
    token = decode_token(pair.access)
    store.token_state(token)  # fills the primary
    replica = second_redis_server.client()
    for key in token_keys(token):
        replica.set(store.make_key(key), 0, ex=3600)  # the replica's stale copy
    revocation.revoke_session(pair.sid)
    keys = token_keys(token)
    assert store.cache.get_many(keys)[keys[0]] == 0, "Django's backend reads the replica"
    assert store.token_state(token).revokes(token)


def test_clear_drops_our_entries_and_nothing_else(redis_server, settings, user):
    from io import StringIO

    from django.core.management import call_command

    store = use_cache(settings, "own-redis", cache_config(redis_server))
    for _ in range(3):
        token = decode_token(issue_token_pair(user).access)
        store.token_state(token)
    store.cache.set("someone-elses", "kept")
    out = StringIO()
    call_command("clear_revocation_cache", stdout=out)
    assert out.getvalue() == "Dropped 8 cached revocation entries from 'own-redis'.\n"
    assert store.cache.get("someone-elses") == "kept"
    assert all(ttl_of(store, key) is None for key in token_keys(token))
    assert not store.token_state(token).revokes(token)  # read again from the database


def test_clear_command_on_a_backend_without_prefix_delete(settings, user):
    from io import StringIO

    from django.core.management import CommandError, call_command

    store = use_cache(settings, "stores", LOCMEM)
    token = decode_token(issue_token_pair(user).access)
    store.token_state(token)
    with pytest.raises(CommandError, match="--all"):
        call_command("clear_revocation_cache")
    assert ttl_of(store, token_keys(token)[0]) is not None
    out = StringIO()
    call_command("clear_revocation_cache", "--all", stdout=out)
    assert out.getvalue() == "Cleared the whole cache 'stores'.\n"
    assert ttl_of(store, token_keys(token)[0]) is None
    use_cache(settings, None)
    with pytest.raises(CommandError, match="No CACHE_ALIAS"):
        call_command("clear_revocation_cache")


@pytest.mark.usefixtures("accept_legacy")
def test_legacy_cache_keys_have_no_session(cached, user, pair, django_assert_num_queries):
    token = decode_token(legacy_token(user))
    keys = token_keys(token)
    assert len(keys) == 3 and not any(":s:" in key for key in keys)
    assert len(token_keys(decode_token(pair.access))) == 4
    with django_assert_num_queries(1):
        assert not cached.token_state(token).revokes(token)
    with django_assert_num_queries(0):
        assert not cached.token_state(token).revokes(token)
    revocation.revoke_token(token)
    with django_assert_num_queries(0):
        assert cached.token_state(token).revokes(token)


def test_token_user_requests_with_unreachable_cache_and_database_answer_503(
    settings, api_client, pair
):
    use_cache(settings, "broken", UNREACHABLE)
    with connection.execute_wrapper(_broken_database):
        response = api_client.get("/api/token-user-me/", HTTP_AUTHORIZATION=f"Bearer {pair.access}")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json() == {
        "detail": "Token revocation state is unavailable; try again shortly.",
        "code": "revocation_state_unavailable",
    }


@override_settings()
def test_user_mode_never_consults_the_cache(settings, get_me, pair, django_assert_num_queries):
    """User mode reads everything in its one query; a cache adds no round trip."""
    use_cache(settings, "broken", UNREACHABLE)
    with django_assert_num_queries(1):
        assert get_me(pair.access).status_code == 200


def test_local_memory_reader_reads_as_the_backend_does(settings):
    import time

    import time_machine
    from django.core.cache import caches

    from django_jwt_revoke.stores.internals import locmem_get_many

    settings.CACHES = {**settings.CACHES, "mem": {**LOCMEM, "LOCATION": "t"}}
    cache = caches["mem"]
    get_many = locmem_get_many(cache)
    assert get_many is not None
    cache.set("jwt_revoke:a", 1, 10)
    cache.set("jwt_revoke:b", 0, 100)
    cache.set("jwt_revoke:c", {"x": 2}, None)
    keys = ["jwt_revoke:a", "jwt_revoke:b", "jwt_revoke:c", "jwt_revoke:missing"]
    expected = {"jwt_revoke:a": 1, "jwt_revoke:b": 0, "jwt_revoke:c": {"x": 2}}
    assert get_many(keys) == cache.get_many(keys) == expected
    with time_machine.travel(time.time() + 50):
        later = {"jwt_revoke:b": 0, "jwt_revoke:c": {"x": 2}}
        assert get_many(keys) == cache.get_many(keys) == later
    assert locmem_get_many(caches["default"]) is not None
    assert locmem_get_many(object()) is None


# -- the compiled queries (stores.internals.PreparedQuery) ---------------------------------------


def assert_compiled(store, names):
    """Exactly the queries ``names`` were compiled ahead, none left to the ORM."""
    compiled = store.database._compiled
    assert set(compiled) == names
    assert all(isinstance(q, PreparedQuery) for q in compiled.values())


def _orm_only(store):
    """The same store answering through the ORM on every call (nothing compiled ahead)."""
    store = copy.copy(store.database)
    store.database = store
    store._compiled = {"user": None, "state": None, "user_legacy": None, "state_legacy": None}
    return store


def _answers(store, raw):
    token = decode_token(raw, token_type=None)
    user, user_state = store.user_and_state(token)
    return (user and user.pk, user_state, store.database.token_state(token))


def test_compiled_queries_answer_as_the_orm_does(store, user, other_user):
    """At every revocation level, for a missing user and a foreign session."""
    orm = _orm_only(store)
    pairs = [issue_token_pair(user) for _ in range(4)]
    foreign = issue_token_pair(other_user)

    def same_answers():
        for raw in [p.access for p in pairs] + [pairs[0].refresh, foreign.access]:
            assert _answers(store, raw) == _answers(orm, raw)

    same_answers()
    revocation.revoke_token(pairs[0].access)
    revocation.revoke_session(pairs[1].sid)
    TokenSession.objects.filter(sid=foreign.sid).update(user=user)  # a session not its user's
    same_answers()
    revocation.revoke_user_tokens(user)
    revocation.revoke_all_tokens()
    same_answers()
    other_user.delete()
    same_answers()
    assert_compiled(store, {"user", "state"})


def test_user_loaded_from_the_compiled_query_is_a_full_instance(store, user, pair):
    token = decode_token(pair.access)
    loaded, state = store.user_and_state(token)
    assert loaded == user and loaded._state.db == store.database.alias
    assert not loaded._state.adding
    for field in type(user)._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(user, field.attname), field.name
    assert state.session_live is True and state.jti_revoked is False


def test_compiled_once_per_settings(store, pair, settings, django_assert_num_queries):
    token = decode_token(pair.access)
    store.user_and_state(token)
    compiled = store.database._compiled["user"]
    with django_assert_num_queries(1):
        store.user_and_state(token)
    assert store.database._compiled["user"] is compiled
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "LEEWAY": 1}
    assert get_store() is not store  # new settings, new store, compiled anew


def test_query_that_cannot_be_compiled_ahead_runs_through_the_orm(store, pair, monkeypatch):
    from django_jwt_revoke.stores import internals as compiled

    def refuse(*args, **kwargs):
        raise compiled.CannotPrepare("test")

    monkeypatch.setattr(compiled, "PreparedQuery", refuse)
    token = decode_token(pair.access)
    assert store.user_and_state(token)[0].pk == token.user_id
    assert not store.token_state(token).revokes(token)
    assert store.database._compiled == {"user": None, "state": None}
    revocation.revoke_session(pair.sid)
    assert store.user_and_state(token)[1].revokes(token)


def test_compiled_query_failing_unexpectedly_gives_way_to_the_orm(store, pair, monkeypatch, caplog):
    """A Django whose compiler internals changed: the answers stay right, only slower."""
    from django_jwt_revoke.stores import internals

    token = decode_token(pair.access)
    store.user_and_state(token)
    store.database.token_state(token)  # both compiled
    assert_compiled(store, {"user", "state"})

    def changed_internals(self, row, connection):
        raise IndexError("a row shaped otherwise")

    monkeypatch.setattr(internals.PreparedQuery, "_converted", changed_internals)
    with caplog.at_level(logging.WARNING, logger="django_jwt_revoke.stores"):
        user, state = store.user_and_state(token)
        assert user.pk == pair_user_pk(pair) and not state.revokes(token)
        revocation.revoke_session(pair.sid)
        assert store.user_and_state(token)[1].revokes(token)
        assert store.database.token_state(token).revokes(token)
    assert store.database._compiled == {"user": None, "state": None}  # retired for good
    assert "failed; the ORM runs it" in caplog.text


def test_compiling_failing_unexpectedly_gives_way_to_the_orm(store, pair, monkeypatch, caplog):
    from django_jwt_revoke.stores import internals

    def changed_compiler(*args, **kwargs):
        raise AttributeError("'SQLCompiler' object has no attribute 'col_count'")

    monkeypatch.setattr(internals, "PreparedQuery", changed_compiler)
    token = decode_token(pair.access)
    with caplog.at_level(logging.WARNING, logger="django_jwt_revoke.stores"):
        assert not store.user_and_state(token)[1].revokes(token)
    assert store.database._compiled == {"user": None}
    assert "compiling it ahead failed" in caplog.text
    revocation.revoke_session(pair.sid)
    assert store.user_and_state(token)[1].revokes(token)


def pair_user_pk(pair):
    return TokenSession.objects.get(sid=pair.sid).user_id


def test_compiled_query_with_database_down_refuses(store, pair):
    token = decode_token(pair.access)
    store.user_and_state(token)  # compiled
    with connection.execute_wrapper(_broken_database), pytest.raises(RevocationStateUnavailable):
        store.user_and_state(token)
    with connection.execute_wrapper(_broken_database), pytest.raises(RevocationStateUnavailable):
        store.database.token_state(token)


def test_user_id_beyond_its_column_is_no_user(store, pair):
    """A signed id no column can hold finds no user (never a database error, 503)."""
    from django_jwt_revoke.claims import is_int_field, user_id_field
    from django_jwt_revoke.tokens import ValidatedToken

    if not is_int_field(user_id_field()):
        pytest.skip("the active user model's id is not an integer")

    token = decode_token(pair.access)
    for user_id in (2**31 + 5, -(2**31) - 5, 2**63 - 1):
        huge = ValidatedToken(token.header, {**token.payload, "user_id": user_id}, user_id)
        assert store.user_and_state(huge) == (None, None)
        assert store.token_state(huge).revokes(huge)


# -- legacy (simplejwt) tokens: no session ------------------------------------------


@pytest.mark.usefixtures("accept_legacy")
def test_legacy_token_state_at_every_level(store, user, other_user):
    """No session to ask: its jti, its user's generation and the epoch, as for ours."""
    tokens = [legacy_token(user) for _ in range(2)]
    for raw in tokens:
        state, token = state_of(store, raw)
        assert token.legacy and token.sid is None
        assert state == TokenState(session_live=True, jti_revoked=False, generation=0, epoch=0)
    revocation.revoke_token(tokens[0])
    state, token = state_of(store, tokens[0])
    assert state.jti_revoked and state.revokes(token)
    assert not state_of(store, tokens[1])[0].revokes(decode_token(tokens[1]))
    revocation.revoke_user_tokens(user)
    state, token = state_of(store, tokens[1])
    assert state.generation == 1 and state.revokes(token)
    fresh = legacy_token(other_user)
    state_of(store, fresh)
    revocation.revoke_all_tokens()
    state, token = state_of(store, fresh)
    assert state.epoch == 1 and state.revokes(token)


@pytest.mark.usefixtures("accept_legacy")
def test_legacy_token_of_a_missing_user_is_refused_and_never_cached(store, user, settings):
    raw = legacy_token(user, user_id=str(unused_id()))
    for _ in range(2):  # the second read must not be answered by what the first cached
        state, token = state_of(store, raw)
        assert not state.session_live and state.revokes(token)
        assert store.user_and_state(token) == (None, None)


@pytest.mark.usefixtures("accept_legacy")
def test_compiled_legacy_queries_answer_as_the_orm_does(store, user, other_user):
    orm = _orm_only(store)
    tokens = [legacy_token(user), legacy_token(user, "refresh"), legacy_token(other_user)]
    ghost = legacy_token(user, user_id=str(unused_id()))

    def same_answers():
        for raw in [*tokens, ghost]:
            assert _answers(store, raw) == _answers(orm, raw)

    same_answers()
    revocation.revoke_token(tokens[0])
    same_answers()
    revocation.revoke_user_tokens(user)
    revocation.revoke_all_tokens()
    same_answers()
    other_user.delete()
    same_answers()
    assert_compiled(store, {"user_legacy", "state_legacy"})
