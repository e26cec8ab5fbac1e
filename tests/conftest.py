import logging

import pytest
from django.core.cache import caches
from django.urls import reverse
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


def _run_committed(connection, start):
    """Run the on_commit callbacks ``connection`` holds from index ``start`` on, as a
    commit does, and drop them (so that no enclosing capture runs them again)."""
    while len(connection.run_on_commit) > start:
        pending = connection.run_on_commit[start:]
        del connection.run_on_commit[start:]
        for _sids, func, robust in pending:
            if not robust:
                func()
                continue
            try:
                func()
            except Exception as exc:  # robust: logged, as Django does
                name = getattr(func, "__qualname__", repr(func))
                logging.getLogger("django.db.backends.base").error(
                    "Error calling %s in on_commit() (%s).", name, exc, exc_info=True
                )


@pytest.fixture
def on_commit_hooks(monkeypatch):
    """``transaction.on_commit`` callbacks run in a test's transaction as after real commits.

    A ``django_db`` test runs inside a transaction rolled back at its end, so
    nothing commits and on_commit callbacks (revocations reaching the cache)
    never run. With this fixture they run when the code's own outermost atomic
    block exits without an error, where it would have committed, and at once
    when registered outside any (autocommit); a rolled-back block's are
    discarded, as Django discards them. Much cheaper than ``transaction=True``
    (no table flush per test), for tests where no other connection (thread,
    process) needs to see the test's writes. A no-op in a ``transaction=True``
    test: its commits are real, and run the callbacks.
    """
    from django.db import connections, transaction
    from django.db.backends.base.base import BaseDatabaseWrapper

    # The depth of the test's own atomic blocks, per connection of this thread.
    outside = {}
    for alias in connections:
        connection = connections[alias]
        if connection.in_atomic_block:
            outside[connection] = len(connection.savepoint_ids)
    if not outside:
        return
    starts = {}  # connection -> its callbacks' count when the code's block began
    real_enter = transaction.Atomic.__enter__
    real_exit = transaction.Atomic.__exit__
    real_on_commit = BaseDatabaseWrapper.on_commit

    def enter(self):
        connection = transaction.get_connection(self.using)
        if outside.get(connection) == len(connection.savepoint_ids):
            starts[connection] = len(connection.run_on_commit)
        return real_enter(self)

    def exit_(self, exc_type, exc_value, traceback):
        connection = transaction.get_connection(self.using)
        committed = False
        try:
            real_exit(self, exc_type, exc_value, traceback)
            committed = exc_type is None and not connection.needs_rollback
        finally:
            if connection in starts and outside[connection] == len(connection.savepoint_ids):
                start = starts.pop(connection)
                if committed:
                    _run_committed(connection, start)
                else:  # rolled back: its callbacks go with it
                    del connection.run_on_commit[start:]

    def on_commit(self, func, robust=False):
        start = len(self.run_on_commit)
        real_on_commit(self, func, robust)
        if outside.get(self) == len(self.savepoint_ids):
            _run_committed(self, start)  # no transaction of the code's own: autocommit

    monkeypatch.setattr(transaction.Atomic, "__enter__", enter)
    monkeypatch.setattr(transaction.Atomic, "__exit__", exit_)
    monkeypatch.setattr(BaseDatabaseWrapper, "on_commit", on_commit)


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
        url = reverse("django_jwt_revoke:token_refresh")
        return api_client.post(url, {"refresh": refresh}, format="json")

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
