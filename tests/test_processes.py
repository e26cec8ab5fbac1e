"""Several server processes on one PostgreSQL database and one Redis.

Two real ``runserver`` processes of the example project share the test
database and a Redis cache. A revocation made through one is refused by the
other on the very next request, in user mode (database) and token-user mode
(cache). SQLite in memory cannot be shared between processes: these tests
run in the PostgreSQL pass of CI. Under a custom ``AUTH_USER_MODEL``
(``tests.settings_uuid_user``...) the servers run the example project with
that user model too (``server_settings``).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory, credentials
from tests.ports import free_port
from tests.settings import TEST_REDIS_URL

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = TEST_REDIS_URL  # this process's Redis DB: one per xdist worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def example_url(name):
    """The path of URL ``name`` on the servers: the example project's URLs."""
    return reverse(name, urlconf="example_project.urls")


PATHS = (example_url("me"), example_url("me-token-user"))


@pytest.fixture
def shared_redis(settings):
    """This process uses the servers' cache too, for revocations made here."""
    settings.CACHES = {
        **settings.CACHES,
        "revocation": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        },
    }
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "CACHE_ALIAS": "revocation"}
    from django.core.cache import caches

    caches["revocation"].clear()
    yield
    caches["revocation"].clear()


def server_settings(settings, directory):
    """The servers' settings module: the example project's, with this run's user model.

    None for Django's own ``User``, the example project's. Otherwise a module
    in ``directory`` that installs the model's app before ``django_jwt_revoke``
    (as ``tests/settings_uuid_user.py`` does), so that both sides read and
    write the same user table.
    """
    if settings.AUTH_USER_MODEL == "auth.User":
        return None
    app = apps.get_model(settings.AUTH_USER_MODEL)._meta.app_config.name
    (directory / "server_settings.py").write_text(
        "from example_project.settings import *  # noqa: F403\n"
        "from example_project.settings import INSTALLED_APPS\n\n"
        "INSTALLED_APPS = [\n"
        '    *(app for app in INSTALLED_APPS if app != "django_jwt_revoke"),\n'
        f"    {app!r},\n"
        '    "django_jwt_revoke",\n'
        "]\n"
        f"AUTH_USER_MODEL = {settings.AUTH_USER_MODEL!r}\n"
    )
    return "server_settings"


@pytest.fixture
def servers(shared_redis, settings, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs a database shared between processes: run with JWT_REVOKE_TEST_DB=postgres"
        )
    db = connection.settings_dict
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "EXAMPLE_DB": "postgres",
        "PGHOST": db["HOST"] or "127.0.0.1",
        "PGPORT": str(db["PORT"] or 5432),
        "PGUSER": db["USER"],
        "PGPASSWORD": db["PASSWORD"] or "",
        "PGDATABASE": db["NAME"],  # the test database pytest-django created
        "EXAMPLE_REDIS_URL": REDIS_URL,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_DEBUG": "1",
        "PYTHONUNBUFFERED": "1",
    }
    custom = server_settings(settings, tmp_path)
    if custom:
        env["DJANGO_SETTINGS_MODULE"] = custom
        env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        procs.append(
            subprocess.Popen(
                [sys.executable, "example_project/manage.py", "runserver", "--noreload",
                 f"127.0.0.1:{port}"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        )  # fmt: skip
        urls.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        for proc, base in zip(procs, urls):
            while True:
                try:
                    httpx.get(base + PATHS[0], timeout=1)
                    break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(proc.stderr.read().decode()[-2000:]) from None
                    time.sleep(0.2)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def make_user():
    """A user whose password hash the servers (Django's default hashers) can check."""
    user = UserFactory()
    type(user).objects.filter(pk=user.pk).update(
        password=make_password(PASSWORD, hasher="pbkdf2_sha256")
    )
    user.refresh_from_db()
    return user


def login(base, user):
    token = example_url("django_jwt_revoke:token_obtain")
    response = httpx.post(base + token, json=credentials(user))
    assert response.status_code == 200, response.text
    return response.json()


def me(base, access, path):
    return httpx.get(base + path, headers={"Authorization": f"Bearer {access}"})


def assert_works_everywhere(urls, access):
    for url in urls:
        for path in PATHS:
            assert me(url, access, path).status_code == 200, (url, path)


def assert_refused_everywhere(urls, access):
    for url in urls:
        for path in PATHS:
            response = me(url, access, path)
            assert response.status_code == 401, (url, path, response.text)
            assert response.json()["code"] == "token_revoked"


def test_logout_through_one_process_is_refused_by_the_other(servers):
    a, b = servers
    user = make_user()
    mine, other_login = login(a, user), login(b, user)
    assert_works_everywhere(servers, mine["access"])  # both caches now warm
    response = httpx.post(
        a + example_url("django_jwt_revoke:logout"),
        headers={"Authorization": f"Bearer {mine['access']}"},
    )
    assert response.status_code == 204
    assert_refused_everywhere(servers, mine["access"])
    assert_works_everywhere(servers, other_login["access"])  # another login lives on


def test_logout_all_through_one_process_is_refused_by_the_other(servers):
    a, b = servers
    user = make_user()
    first, second = login(a, user), login(b, user)
    assert_works_everywhere(servers, first["access"])
    assert_works_everywhere(servers, second["access"])
    response = httpx.post(
        b + example_url("django_jwt_revoke:logout_all"),
        headers={"Authorization": f"Bearer {second['access']}"},
    )
    assert response.status_code == 204
    assert_refused_everywhere(servers, first["access"])
    assert_refused_everywhere(servers, second["access"])
    assert_works_everywhere(servers, login(a, user)["access"])


def test_password_change_in_a_third_process_is_refused_by_both(servers):
    a, _b = servers
    user = make_user()
    tokens = login(a, user)
    assert_works_everywhere(servers, tokens["access"])
    user.set_password("a brand new password")
    user.save()
    assert_refused_everywhere(servers, tokens["access"])
