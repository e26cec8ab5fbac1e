"""Settings of the django-jwt-revoke example project.

Every value a deployment may need to change comes from an environment
variable (all optional):

==========================  ==================================================
``DJANGO_SECRET_KEY``       ``SECRET_KEY``, and so the default JWT signing key.
                            Required when ``DJANGO_DEBUG=0``.
``DJANGO_DEBUG``            ``1`` (default) or ``0``.
``DJANGO_ALLOWED_HOSTS``    comma-separated, default
                            ``localhost,127.0.0.1,[::1],testserver``.
``EXAMPLE_SQLITE_PATH``     the SQLite file, default ``db.sqlite3`` beside
                            ``manage.py``.
``EXAMPLE_DB``              ``sqlite`` (default) or ``postgres``; PostgreSQL is
                            reached through ``PGHOST``, ``PGPORT``, ``PGUSER``,
                            ``PGPASSWORD`` and ``PGDATABASE``, with
                            persistent, health-checked connections.
``EXAMPLE_REDIS_URL``       set: a Redis cache, alias ``revocation``, answers
                            revocation checks (``JWT_REVOKE["CACHE_ALIAS"]``).
``EXAMPLE_COOKIE_AUTH``     ``1``: cookie transport on (tokens in HttpOnly
                            cookies ``access_token`` / ``refresh_token``, CSRF
                            for unsafe methods); the demo page at ``/``
                            then works through the cookies. Without it, the
                            page holds Bearer tokens in JavaScript memory.
                            The cookies are ``Secure`` only when
                            ``DJANGO_DEBUG=0``: runserver speaks plain HTTP.
                            Default ``0``: headers only.
==========================  ==================================================
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# example_project/ (the directory holding manage.py).
BASE_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = BASE_DIR.parent

# Let the example run from a checkout even when django_jwt_revoke is not
# installed: the package sits at the repository root. Appended, so an
# installed copy (``pip install -e .``) keeps precedence.
if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))


def _env_bool(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 1 or 0, not {value!r}.")


# --- Core -------------------------------------------------------------------

DEBUG = _env_bool("DJANGO_DEBUG", "1")

# Public, hence worthless as a secret: it also signs the JWTs, so anyone could
# forge tokens with it. Refused outside DEBUG.
_INSECURE_DEV_SECRET_KEY = (
    "django-insecure-example-project-development-only-key-DO-NOT-USE-IN-PRODUCTION-9c1f0b7e"
)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0: the development "
            "key is public and would let anyone sign valid tokens."
        )
    SECRET_KEY = _INSECURE_DEV_SECRET_KEY

ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get(
        "DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver"
    ).split(",")
    if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_jwt_revoke",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
ASGI_APPLICATION = "example_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "example_project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------

_EXAMPLE_DB = os.environ.get("EXAMPLE_DB", "sqlite").strip().lower()
if _EXAMPLE_DB == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("EXAMPLE_SQLITE_PATH") or BASE_DIR / "db.sqlite3",
        }
    }
elif _EXAMPLE_DB == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            "NAME": os.environ.get("PGDATABASE", "test"),
            # Keep each worker's connection for a minute rather than opening
            # one per request: connecting (TCP, authentication, a backend
            # process) costs more than the one primary-key query a user mode
            # request makes. The health check, made before a kept connection
            # serves a new request, replaces one the server or a proxy has
            # dropped instead of failing that request.
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    }
else:
    raise ImproperlyConfigured(f"EXAMPLE_DB must be 'sqlite' or 'postgres', not {_EXAMPLE_DB!r}.")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}

# --- django-jwt-revoke ------------------------------------------------------

# SIGNING_KEY is left out on purpose: it defaults to SECRET_KEY.
JWT_REVOKE = {
    "ALGORITHM": "HS256",
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ROTATE_REFRESH_TOKENS": True,
    "REUSE_DETECTION": True,
}

_REDIS_URL = os.environ.get("EXAMPLE_REDIS_URL", "").strip()
if _REDIS_URL:
    # Shared by every process, so a revocation seen by one is seen by all.
    # A per-process cache (locmem) must never be the CACHE_ALIAS.
    CACHES["revocation"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _REDIS_URL,
        # A dead or stopped Redis fails fast (the database answers), never
        # hangs a request.
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
    JWT_REVOKE["CACHE_ALIAS"] = "revocation"

if _env_bool("EXAMPLE_COOKIE_AUTH", "0"):
    # A browser front end (the page at /) never sees the tokens: they travel
    # in HttpOnly cookies, and unsafe requests carry Django's CSRF token.
    JWT_REVOKE.update(
        AUTH_COOKIE="access_token",
        REFRESH_COOKIE="refresh_token",
        # Secure cookies are never sent over plain http://127.0.0.1 (runserver).
        AUTH_COOKIE_SECURE=not DEBUG,
        AUTH_COOKIE_SAMESITE="Lax",
    )

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "django_jwt_revoke.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
    ],
}

# --- Passwords --------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

# --- Internationalisation, static files -------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Security (production-ish when DEBUG is off) ----------------------------

SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    # HTTPS only outside development; runserver speaks plain HTTP.
    # Behind a TLS-terminating proxy, also set SECURE_PROXY_SSL_HEADER (only
    # if the proxy always sets or strips that header).
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Preloading is a commitment for the whole domain: opt in deliberately
    # (check --deploy reports security.W021 until you do).
    SECURE_HSTS_PRELOAD = False

# --- Logging ----------------------------------------------------------------

# Console only. Messages and tracebacks, never request bodies, headers or
# tokens: no mail_admins handler (its e-mails carry the request's POST data)
# and no request-logging middleware. The runserver access line
# (django.server) shows method, path and status only.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"},
        "server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "server": {"class": "logging.StreamHandler", "formatter": "server"},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {
            "handlers": ["server"],
            "level": "INFO",
            "propagate": False,
        },
        "django_jwt_revoke": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
        },
    },
}
