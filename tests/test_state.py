"""Revocation state stores: one contract, run against every store."""

import pytest
from django.db import DatabaseError, connection
from django.test import override_settings

from django_jwt_revoke import revocation
from django_jwt_revoke.exceptions import RevocationStateUnavailable
from django_jwt_revoke.models import BlacklistedToken, TokenSession
from django_jwt_revoke.state import CachedStore, DatabaseStore, get_store
from django_jwt_revoke.tokens import decode_token, issue_token_pair

pytestmark = pytest.mark.django_db(transaction=True)

UNREACHABLE = {"BACKEND": "tests.testapp.broken_cache.UnreachableCache"}


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


def test_unreachable_cache_falls_back_to_the_database(settings, user, pair):
    settings.CACHES = {**settings.CACHES, "broken": UNREACHABLE}
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
