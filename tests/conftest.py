import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from django_jwt_revoke.tokens import issue_token_pair
from tests.factories import UserFactory


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def pair(user):
    return issue_token_pair(user)


@pytest.fixture
def get_me(api_client):
    """GET /api/me/ with a Bearer token; returns the response."""

    def get(access, path="/api/me/"):
        return api_client.get(path, HTTP_AUTHORIZATION=f"Bearer {access}")

    return get


@pytest.fixture
def accept_legacy(settings):
    """``ACCEPT_SIMPLEJWT_TOKENS`` on, for tests of legacy (simplejwt) tokens.

    Off by default, and so in ``tests/settings.py``: the main suite sees the default.
    """
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "ACCEPT_SIMPLEJWT_TOKENS": True}


@pytest.fixture(autouse=True)
def _clear_caches():
    yield
    for cache in caches.all(initialized_only=True):
        cache.clear()


def pytest_ignore_collect(collection_path, config):
    """``test_simplejwt_compat.py`` runs only under ``tests.settings_simplejwt``.

    It needs simplejwt's blacklist app installed, which the other settings do
    not (CI runs it separately: ``pytest --ds=tests.settings_simplejwt ...``).
    """
    if collection_path.name == "test_simplejwt_compat.py":
        from django.conf import settings

        if "rest_framework_simplejwt.token_blacklist" not in settings.INSTALLED_APPS:
            return True
    return None


@pytest.fixture
def refreshes(api_client):
    """POST token/refresh/ with a refresh token; returns the response."""

    def post(refresh):
        return api_client.post("/api/auth/token/refresh/", {"refresh": refresh}, format="json")

    return post


@pytest.fixture
def reused():
    """What ``refresh_token_reused`` sends, one dict of arguments per signal."""
    from django_jwt_revoke.signals import refresh_token_reused

    calls = []

    def receiver(**kwargs):
        calls.append(kwargs)

    refresh_token_reused.connect(receiver, dispatch_uid="tests.conftest.reused")
    yield calls
    refresh_token_reused.disconnect(dispatch_uid="tests.conftest.reused")


def _own_redis(directory):
    from tests.redis_server import RedisServer, needs_redis_server

    needs_redis_server()
    directory.mkdir()
    return RedisServer(directory).start()


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of this test's own (tests/redis_server.py), killed at the end."""
    server = _own_redis(tmp_path / "redis")
    yield server
    server.kill()


@pytest.fixture
def second_redis_server(tmp_path):
    """Another one, e.g. a replica that never catches up."""
    server = _own_redis(tmp_path / "redis-2")
    yield server
    server.kill()
