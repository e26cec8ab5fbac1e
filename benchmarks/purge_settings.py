"""Settings for benchmarks/purge.py: both apps' token tables in one database.

``BENCH_DB=postgres`` (default; libpq ``PG*`` variables, database
``PGDATABASE`` or ``jwt_revoke_bench``) or ``BENCH_DB=sqlite``
(``BENCH_SQLITE_PATH``, default a file in the system temporary directory).
"""

import os
import tempfile

SECRET_KEY = "benchmark-only-secret-key-0123456789-0123456789-0123456789"
DEBUG = False  # no query log: it would be memory the purge did not use
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_jwt_revoke",
]

BENCH_DB = os.environ.get("BENCH_DB", "postgres")
if BENCH_DB == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            "NAME": os.environ.get("PGDATABASE", "jwt_revoke_bench"),
        }
    }
elif BENCH_DB == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get(
                "BENCH_SQLITE_PATH", os.path.join(tempfile.gettempdir(), "jwt_revoke_bench.sqlite3")
            ),
        }
    }
else:
    raise RuntimeError(f"BENCH_DB must be postgres or sqlite, not {BENCH_DB!r}")
