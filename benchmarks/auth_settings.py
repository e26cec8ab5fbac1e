"""Settings for benchmarks/auth.py: simplejwt, knox and django-jwt-revoke in one project.

``BENCH_DB=sqlite`` (default; ``BENCH_SQLITE_PATH``, default a file in the
system temporary directory) or ``BENCH_DB=postgres`` (libpq ``PG*``
variables, database ``PGDATABASE`` or ``jwt_revoke_bench``). Redis for the
cached rows: ``BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/14).
"""

import os
import tempfile
from datetime import timedelta

SECRET_KEY = "benchmark-only-secret-key-0123456789-0123456789-0123456789"
DEBUG = False  # no query log: it costs time and memory no server pays
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "benchmarks.auth_urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "knox",
    "django_jwt_revoke",
]
# What an API project typically runs; the same for every row.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
# Obtain is timed for its queries, not for a deliberately slow password hash.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

BENCH_DB = os.environ.get("BENCH_DB", "sqlite")
if BENCH_DB == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            "NAME": os.environ.get("PGDATABASE", "jwt_revoke_bench"),
            "CONN_MAX_AGE": None,  # one persistent connection, as a server keeps
            # BENCH_PG_PREPARE=1: psycopg 3 server-side binding and a prepare
            # threshold (Django passes none by default, so nothing is prepared):
            # a statement run 5 times on a connection becomes a prepared one,
            # parsed and planned no more.
            "OPTIONS": (
                {"server_side_binding": True, "prepare_threshold": 5}
                if os.environ.get("BENCH_PG_PREPARE")
                else {}
            ),
        }
    }
elif BENCH_DB == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get(
                "BENCH_SQLITE_PATH", os.path.join(tempfile.gettempdir(), "jwt_revoke_auth.sqlite3")
            ),
            "CONN_MAX_AGE": None,
        }
    }
else:
    raise RuntimeError(f"BENCH_DB must be postgres or sqlite, not {BENCH_DB!r}")

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local"},
    # benchmarks/hit_rate.py: the cache the simulation runs on (no entry limit to cull by).
    "hitrate": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "hitrate",
        "OPTIONS": {"MAX_ENTRIES": 10_000_000},
    },
    "redis": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "KEY_PREFIX": f"jwtr-bench-{os.getpid()}",
    },
}

# The rows switch CACHE_ALIAS with override_settings; this is the no-cache row.
# benchmarks/load.py starts one server with BENCH_CACHE_ALIAS=redis.
JWT_REVOKE = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "CACHE_ALIAS": os.environ.get("BENCH_CACHE_ALIAS") or None,
}
SIMPLE_JWT = {
    "SIGNING_KEY": SECRET_KEY,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
