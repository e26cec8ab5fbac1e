"""Revocation state stores: one contract, run against every store."""

import copy

import pytest
from django.conf import settings as settings_module
from django.db import DatabaseError, connection
from django.test import override_settings

from django_jwt_revoke import revocation
from django_jwt_revoke.exceptions import RevocationStateUnavailable
from django_jwt_revoke.models import BlacklistedToken, TokenSession
from django_jwt_revoke.state import (
    CachedStore,
    DatabaseStore,
    PreparedQuery,
    TokenState,
    get_store,
)
from django_jwt_revoke.tokens import decode_token, issue_token_pair
from tests.legacy import legacy_token

pytestmark = pytest.mark.django_db(transaction=True)

UNREACHABLE = {"BACKEND": "tests.testapp.broken_cache.UnreachableCache"}
REDIS_NOWHERE = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
}


def _broken_database(execute, sql, params, many, context):
    raise DatabaseError("connection lost")


@pytest.fixture(params=["database", "cache"])
def store_settings(request, settings):
    """Run each contract test with the database store and with a cache in front."""
    config = dict(settings.JWT_REVOKE)
    if request.param == "database":
        config.pop("CACHE_ALIAS", None)
    else:
        # the shared cache CI configures (Redis), else a local one
        config["CACHE_ALIAS"] = config.get("CACHE_ALIAS") or "default"
    settings.JWT_REVOKE = config
    return request.param


@pytest.fixture
def store(store_settings):
    return get_store()


def state_of(store, raw):
    token = decode_token(raw, token_type=None)
    return store.token_state(token), token


# -- the contract -----------------------------------------------------------------


def test_store_type_follows_settings(store, store_settings):
    assert type(store) is (DatabaseStore if store_settings == "database" else CachedStore)


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


def test_unknown_session_is_not_live(store, pair):
    TokenSession.objects.filter(sid=pair.sid).update(sid="gone")
    state, token = state_of(store, pair.access)
    assert not state.session_live and state.revokes(token)


def test_database_down_with_nothing_cached_refuses(store, pair):
    token = decode_token(pair.access)
    with connection.execute_wrapper(_broken_database), pytest.raises(RevocationStateUnavailable):
        store.token_state(token)


# -- the cache in front --------------------------------------------------------


@pytest.fixture
def cached(settings):
    settings.JWT_REVOKE = {
        **settings.JWT_REVOKE,
        "CACHE_ALIAS": settings.JWT_REVOKE.get("CACHE_ALIAS") or "default",
    }
    store = get_store()
    assert isinstance(store, CachedStore)
    return store


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
    for key in cached.keys(token):
        cached.cache.delete(key)
    assert cached.token_state(token).revokes(token)


def test_stale_reader_cannot_overwrite_a_revocation(cached, pair):
    """A reader that read "not revoked" just before a revocation committed
    fills the cache with add(): the revocation's value stands."""
    token = decode_token(pair.access)
    stale = DatabaseStore.token_state(cached, token)  # the reader's database read
    assert not stale.revokes(token)
    revocation.revoke_session(pair.sid)  # committed, cache written through
    _gen_key, sid_key, _jti_key, _epoch_key = cached.keys(token)
    assert cached.cache.add(sid_key, 1) is False  # what the late reader would do
    assert cached.token_state(token).revokes(token)


def test_revocation_written_before_commit(cached, pair, django_db_blocker):
    """Between the cache write and the commit, readers already see "revoked"."""
    from django.db import transaction

    token = decode_token(pair.access)
    cached.token_state(token)
    with transaction.atomic():
        revocation.revoke_token(pair.access)
        assert cached.cache.get(cached.keys(token)[2]) == 1


@pytest.mark.parametrize("unreachable", ["broken-backend", "redis-nowhere"])
def test_unreachable_cache_falls_back_to_the_database(settings, user, pair, unreachable):
    """A cache that raises (a stand-in backend, or Redis with no server) is
    skipped: the database answers, and with it down too, 503."""
    config = UNREACHABLE if unreachable == "broken-backend" else REDIS_NOWHERE
    settings.CACHES = {**settings.CACHES, "broken": config}
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "CACHE_ALIAS": "broken"}
    store = get_store()
    token = decode_token(pair.access)
    assert not store.token_state(token).revokes(token)
    with connection.execute_wrapper(_broken_database), pytest.raises(RevocationStateUnavailable):
        store.token_state(token)


def test_revocation_fails_whole_when_the_cache_cannot_be_written(settings, user, pair):
    settings.CACHES = {**settings.CACHES, "broken": UNREACHABLE}
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "CACHE_ALIAS": "broken"}
    with pytest.raises(ConnectionError):
        revocation.revoke_token(pair.access)
    assert not BlacklistedToken.objects.exists()  # rolled back: the caller can retry
    with pytest.raises(ConnectionError):
        revocation.revoke_session(pair.sid)
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is None


def test_token_user_requests_with_unreachable_cache_and_database_answer_503(
    settings, api_client, pair
):
    settings.CACHES = {**settings.CACHES, "broken": UNREACHABLE}
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "CACHE_ALIAS": "broken"}
    with connection.execute_wrapper(_broken_database):
        response = api_client.get("/api/token-user-me/", HTTP_AUTHORIZATION=f"Bearer {pair.access}")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"


@override_settings()
def test_user_mode_never_consults_the_cache(settings, get_me, pair, django_assert_num_queries):
    """User mode reads everything in its one query; a cache adds no round trip."""
    settings.CACHES = {**settings.CACHES, "broken": UNREACHABLE}
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "CACHE_ALIAS": "broken"}
    with django_assert_num_queries(1):
        assert get_me(pair.access).status_code == 200


# -- the compiled queries (state.PreparedQuery) ---------------------------------------


def _orm_only(store):
    """The same store answering through the ORM on every call (nothing compiled ahead)."""
    store._compiled = {"user": None, "state": None, "user_legacy": None, "state_legacy": None}
    return store


def _answers(store, raw):
    token = decode_token(raw, token_type=None)
    user, user_state = store.user_and_state(token)
    return (user and user.pk, user_state, DatabaseStore.token_state(store, token))


def test_compiled_queries_answer_as_the_orm_does(store, user, other_user):
    """At every revocation level, for a missing user and a foreign session."""
    orm = _orm_only(copy.copy(store))
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
    assert set(store._compiled) == {"user", "state"}
    assert all(isinstance(q, PreparedQuery) for q in store._compiled.values())


def test_user_loaded_from_the_compiled_query_is_a_full_instance(store, user, pair):
    token = decode_token(pair.access)
    loaded, state = store.user_and_state(token)
    assert loaded == user and loaded._state.db == store.alias and not loaded._state.adding
    for field in type(user)._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(user, field.attname), field.name
    assert state.session_live is True and state.jti_revoked is False


def test_compiled_once_per_settings(store, pair, settings, django_assert_num_queries):
    token = decode_token(pair.access)
    store.user_and_state(token)
    compiled = store._compiled["user"]
    with django_assert_num_queries(1):
        store.user_and_state(token)
    assert store._compiled["user"] is compiled
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "LEEWAY": 1}
    assert get_store() is not store  # new settings, new store, compiled anew


def test_query_that_cannot_be_compiled_ahead_runs_through_the_orm(store, pair, monkeypatch):
    from django_jwt_revoke import state as state_module

    def refuse(*args, **kwargs):
        raise state_module.CannotPrepare("test")

    monkeypatch.setattr(state_module, "PreparedQuery", refuse)
    token = decode_token(pair.access)
    assert store.user_and_state(token)[0].pk == token.user_id
    assert not store.token_state(token).revokes(token)
    assert store._compiled == {"user": None, "state": None}
    revocation.revoke_session(pair.sid)
    assert store.user_and_state(token)[1].revokes(token)


def test_compiled_query_with_database_down_refuses(store, pair):
    token = decode_token(pair.access)
    store.user_and_state(token)  # compiled
    with connection.execute_wrapper(_broken_database), pytest.raises(RevocationStateUnavailable):
        store.user_and_state(token)
    with connection.execute_wrapper(_broken_database), pytest.raises(RevocationStateUnavailable):
        DatabaseStore.token_state(store, token)


# -- Django's Redis backend, read through one kept client ---------------------------------


def test_redis_reader_only_for_a_single_redis_server(settings):
    from django.core.cache import caches

    from django_jwt_revoke.state import _redis_get_many

    settings.CACHES = {
        **settings.CACHES,
        "one": REDIS_NOWHERE,
        "replicas": {**REDIS_NOWHERE, "LOCATION": [REDIS_NOWHERE["LOCATION"]] * 2},
    }
    assert _redis_get_many(caches["one"]) is not None
    assert _redis_get_many(caches["replicas"]) is None
    assert _redis_get_many(caches["default"]) is None  # not Redis: the backend's own get_many


@pytest.mark.skipif(
    "RedisCache" not in str(settings_module.CACHES.get("revocation", {}).get("BACKEND")),
    reason="needs Redis (run with JWT_REVOKE_TEST_CACHE=redis)",
)
def test_redis_reader_reads_what_the_backend_writes(
    settings, user, pair, django_assert_num_queries
):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "CACHE_ALIAS": "revocation"}
    store = get_store()
    token = decode_token(pair.access)
    keys = store.keys(token)
    store.cache.set_many({keys[0]: 3, keys[1]: 1, keys[2]: 0, keys[3]: 2})
    assert store._get_many(keys) == store.cache.get_many(keys) == dict(zip(keys, [3, 1, 0, 2]))
    with django_assert_num_queries(0):
        state = store.token_state(token)
    assert state == TokenState(session_live=True, jti_revoked=False, generation=3, epoch=2)
    store.cache.delete(keys[1])
    assert keys[1] not in store._get_many(keys)


def test_user_id_beyond_its_column_is_no_user(store, pair):
    """A signed id no column can hold finds no user (never a database error, 503)."""
    from django_jwt_revoke.tokens import ValidatedToken, _is_int_field, _user_id_field

    if not _is_int_field(_user_id_field()):
        pytest.skip("the active user model's id is not an integer")

    token = decode_token(pair.access)
    for user_id in (2**31 + 5, -(2**31) - 5, 2**63 - 1):
        huge = ValidatedToken(token.header, {**token.payload, "user_id": user_id}, user_id)
        assert store.user_and_state(huge) == (None, None)
        assert store.token_state(huge).revokes(huge)


def test_local_memory_reader_reads_as_the_backend_does(settings):
    import time

    import time_machine
    from django.core.cache import caches

    from django_jwt_revoke.state import _locmem_get_many

    settings.CACHES = {
        **settings.CACHES,
        "mem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"},
    }
    cache = caches["mem"]
    get_many = _locmem_get_many(cache)
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
    assert _locmem_get_many(caches["default"]) is not None
    assert _locmem_get_many(object()) is None


def test_local_memory_store_answers_from_the_cache(settings, pair, django_assert_num_queries):
    settings.CACHES = {
        **settings.CACHES,
        "mem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t2"},
    }
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "CACHE_ALIAS": "mem"}
    store = get_store()
    token = decode_token(pair.access)
    assert not store.token_state(token).revokes(token)
    with django_assert_num_queries(0):
        assert not store.token_state(token).revokes(token)
    revocation.revoke_session(pair.sid)
    with django_assert_num_queries(0):
        assert store.token_state(token).revokes(token)


# -- legacy (simplejwt) tokens: no session ------------------------------------------


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


def test_legacy_token_of_a_missing_user_is_refused_and_never_cached(store, user, settings):
    raw = legacy_token(user, user_id=str(user.pk + 1000))
    for _ in range(2):  # the second read must not be answered by what the first cached
        state, token = state_of(store, raw)
        assert not state.session_live and state.revokes(token)
        assert store.user_and_state(token) == (None, None)


def test_compiled_legacy_queries_answer_as_the_orm_does(store, user, other_user):
    orm = _orm_only(copy.copy(store))
    tokens = [legacy_token(user), legacy_token(user, "refresh"), legacy_token(other_user)]
    ghost = legacy_token(user, user_id=str(user.pk + 1000))

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
    assert set(store._compiled) == {"user_legacy", "state_legacy"}
    assert all(isinstance(q, PreparedQuery) for q in store._compiled.values())


def test_legacy_cache_keys_have_no_session(cached, user, pair, django_assert_num_queries):
    token = decode_token(legacy_token(user))
    keys = cached.keys(token)
    assert len(keys) == 3 and not any(":s:" in key for key in keys)
    assert len(cached.keys(decode_token(pair.access))) == 4
    with django_assert_num_queries(1):
        assert not cached.token_state(token).revokes(token)
    with django_assert_num_queries(0):
        assert not cached.token_state(token).revokes(token)
    revocation.revoke_token(token)
    with django_assert_num_queries(0):
        assert cached.token_state(token).revokes(token)
