"""Test settings. Choose the backends with environment variables:

* ``JWT_REVOKE_TEST_DB``: ``sqlite`` (default) or ``postgres`` (libpq PG* variables);
* ``JWT_REVOKE_TEST_CACHE``: ``none`` (default), ``locmem`` or ``redis``
  (``JWT_REVOKE_TEST_REDIS_URL``, default redis://127.0.0.1:6379/15; under
  pytest-xdist worker ``gwK`` uses DB 15 - K, see ``_redis_url_of_this_worker``).
"""

import os
import tempfile
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tests.ports import xdist_worker

SECRET_KEY = "tests-only-secret-key-that-is-long-enough-for-hs256-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "django_jwt_revoke",
    "tests.testapp",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",  # fast tests only
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",  # what real servers know
]

DATABASES: dict[str, dict[str, Any]]
TEST_DB = os.environ.get("JWT_REVOKE_TEST_DB", "sqlite")
if TEST_DB == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            "NAME": os.environ.get("PGDATABASE", "test"),
        }
    }
    # A second database standing for a read replica (see test_routing.py).
    # Named after the main database, so that runs with different PGDATABASE
    # values can run at once.
    DATABASES["replica"] = {
        **DATABASES["default"],
        "TEST": {"NAME": f"test_{DATABASES['default']['NAME']}_replica"},
    }
elif TEST_DB == "sqlite":
    DATABASES = {
        # The test database in a file, not in memory: Django's in-memory test
        # database is one SQLite shared cache, whose table locks refuse a
        # reader at once (SQLITE_LOCKED, "database table is locked") while
        # another thread writes, where a file database, as in production,
        # waits for the writer. Tests with threads (a long poll beside a
        # revocation) must meet the latter. pytest-django suffixes the name
        # per xdist worker; the process id keeps two runs at once apart.
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": ":memory:",
            "TEST": {
                "NAME": os.path.join(
                    tempfile.gettempdir(), f"jwt_revoke_tests_{os.getpid()}.sqlite3"
                )
            },
        },
        # A second database standing for a read replica (see test_routing.py).
        "replica": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    }
else:
    raise RuntimeError(f"JWT_REVOKE_TEST_DB must be sqlite or postgres, not {TEST_DB!r}")


def _redis_url_of_this_worker(url: str) -> str:
    """``url`` for this process: under pytest-xdist, worker ``gwK`` takes DB ``N - K``.

    ``RedisCache.clear()`` (after every test) is a FLUSHDB: two processes on one
    Redis DB would empty each other's cache mid-test. So ``pytest -n 2`` with
    ``.../15`` uses DBs 15 and 14. PostgreSQL needs nothing of this kind:
    pytest-django suffixes each worker's test databases (``test_test_gw0``).
    """
    index, _count = xdist_worker()
    if index == 0:
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    db = base - index
    if db < 0:
        raise RuntimeError(
            f"JWT_REVOKE_TEST_REDIS_URL={url!r}: xdist worker gw{index} would need Redis DB "
            f"{db}; name a higher DB (worker gwK uses DB N-K) or run fewer workers"
        )
    return urlunsplit(parts._replace(path=f"/{db}"))


# The Redis DB of this process (tests/test_processes.py, tests/test_two_roles.py use it too).
TEST_REDIS_URL = _redis_url_of_this_worker(
    os.environ.get("JWT_REVOKE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
)
TEST_CACHE = os.environ.get("JWT_REVOKE_TEST_CACHE", "none")
CACHES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
if TEST_CACHE == "redis":
    CACHES["revocation"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": TEST_REDIS_URL,
        "KEY_PREFIX": f"jwtr-tests-{os.getpid()}",
    }
elif TEST_CACHE == "locmem":
    CACHES["revocation"] = {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "revocation",
    }
elif TEST_CACHE != "none":
    raise RuntimeError(f"JWT_REVOKE_TEST_CACHE must be none, locmem or redis, not {TEST_CACHE!r}")

JWT_REVOKE: dict[str, Any] = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
}
if TEST_CACHE != "none":
    JWT_REVOKE["CACHE_ALIAS"] = "revocation"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["django_jwt_revoke.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

STATIC_URL = "/static/"

import django  # noqa: E402

if django.VERSION < (5, 0):
    # Django 4.2's reporter filter shows the Authorization header in error
    # reports (its pattern has no AUTH): what the README tells 4.2 projects to set.
    DEFAULT_EXCEPTION_REPORTER_FILTER = "django_jwt_revoke.debug.ExceptionReporterFilter"
