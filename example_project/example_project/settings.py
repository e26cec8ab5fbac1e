"""Settings of the django-jwt-revoke example project.

Every value a deployment may need to change comes from an environment
variable (all optional):

=============================  ==================================================
``DJANGO_SECRET_KEY``          ``SECRET_KEY``, and so the default JWT signing key.
                               Required when ``DJANGO_DEBUG=0``.
``DJANGO_DEBUG``               ``1`` (default) or ``0``.
``DJANGO_ALLOWED_HOSTS``       comma-separated, default
                               ``localhost,127.0.0.1,[::1],testserver``.
``EXAMPLE_SQLITE_PATH``        the SQLite file, default ``db.sqlite3`` beside
                               ``manage.py`` (``resource.sqlite3`` for
                               ``EXAMPLE_ROLE=resource``).
``EXAMPLE_DB``                 ``sqlite`` (default) or ``postgres``; PostgreSQL is
                               reached through ``PGHOST``, ``PGPORT``, ``PGUSER``,
                               ``PGPASSWORD`` and ``PGDATABASE``, with
                               persistent, health-checked connections.
``EXAMPLE_REDIS_URL``          set: a Redis cache, alias ``revocation``, answers
                               revocation checks (``JWT_REVOKE["CACHE_ALIAS"]``).
``EXAMPLE_COOKIE_AUTH``        ``1``: cookie transport on (tokens in HttpOnly
                               cookies ``access_token`` / ``refresh_token``, CSRF
                               for unsafe methods); the demo page at ``/``
                               then works through the cookies. Without it, the
                               page holds Bearer tokens in JavaScript memory.
                               The cookies are ``Secure`` only when
                               ``DJANGO_DEBUG=0``: runserver speaks plain HTTP.
                               Default ``0``: headers only.
``EXAMPLE_ROLE``               ``issuer`` (default): the project above, which
                               logs users in and signs their tokens.
                               ``resource``: a resource server, another service
                               of the same site: ``/api/me/`` only, protected by
                               ``ResourceServerAuthentication``, which verifies
                               tokens with the issuer's ``jwks/`` keys and
                               enforces its revocations from its event feed. It
                               has no access to the issuer's database or cache:
                               ``django_jwt_revoke`` is not installed, only
                               ``django_jwt_revoke.resource``; its own database
                               (``EXAMPLE_SQLITE_PATH``, ``EXAMPLE_DB``) holds
                               Django's own tables. ``EXAMPLE_REDIS_URL``,
                               ``EXAMPLE_COOKIE_AUTH`` and
                               ``EXAMPLE_SIGNING_KEY_FILE`` do not apply to it.
``EXAMPLE_ISSUER_URL``         the issuer's ``/api/auth/`` base URL, with its
                               trailing ``/`` (say
                               ``http://127.0.0.1:8000/api/auth/``); required
                               with ``EXAMPLE_ROLE=resource``.
``EXAMPLE_FEED_CREDENTIAL``    the credential (32 characters or more) a resource
                               server presents to the issuer's event feed: the
                               same value on both roles. On the issuer it is the
                               one consumer of ``JWT_REVOKE["FEED_CONSUMERS"]``
                               (``example-resource``); required with
                               ``EXAMPLE_ROLE=resource``.
``EXAMPLE_SIGNING_KEY_FILE``   a PEM private key file (RSA, EC P-256 or
                               Ed25519): the issuer signs tokens and its feed
                               with it, ``ALGORITHM`` RS256, ES256 or EdDSA from
                               the key, instead of ``SECRET_KEY`` (HS256), and
                               publishes its public key at ``jwks/``. Needed for
                               a resource server. Set, tokens carry
                               ``iss: "django-jwt-revoke-example"``, which the
                               resource role always requires (the only issuer
                               it can follow has the key).
=============================  ==================================================
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


def _env(name: str) -> str:
    """The variable's value, "" when unset or blank."""
    return os.environ.get(name, "").strip()


# --- Role -------------------------------------------------------------------

#: ``issuer`` logs users in and signs their tokens (the django_jwt_revoke app);
#: ``resource`` is another service that accepts them (django_jwt_revoke.resource).
EXAMPLE_ROLE = (_env("EXAMPLE_ROLE") or "issuer").lower()
if EXAMPLE_ROLE not in ("issuer", "resource"):
    raise ImproperlyConfigured(
        f"EXAMPLE_ROLE must be 'issuer' or 'resource', not {EXAMPLE_ROLE!r}."
    )
RESOURCE_SERVER = EXAMPLE_ROLE == "resource"

#: The ``iss`` of the example issuer's tokens once it signs with a key pair.
TOKEN_ISSUER = "django-jwt-revoke-example"

_FEED_CREDENTIAL = _env("EXAMPLE_FEED_CREDENTIAL")
_ISSUER_URL = _env("EXAMPLE_ISSUER_URL")
if RESOURCE_SERVER and not _ISSUER_URL:
    raise ImproperlyConfigured(
        "EXAMPLE_ROLE=resource needs EXAMPLE_ISSUER_URL: the issuer's /api/auth/ base URL, "
        "say http://127.0.0.1:8000/api/auth/."
    )
if RESOURCE_SERVER and not _FEED_CREDENTIAL:
    raise ImproperlyConfigured(
        "EXAMPLE_ROLE=resource needs EXAMPLE_FEED_CREDENTIAL: the credential the issuer "
        "accepts on its event feed (the same value on both roles)."
    )


def _signing_key(path: str) -> tuple[str, str]:
    """(PEM text, JWT algorithm) of the private key in the file ``path``."""
    name = f"EXAMPLE_SIGNING_KEY_FILE={path!r}"
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"{name} cannot be read: {exc.strerror or exc}. It must name a PEM private "
            "key file (RSA, EC P-256 or Ed25519), say one made by `openssl genpkey "
            "-algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out signing-key.pem`."
        ) from None
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError:
        raise ImproperlyConfigured(
            f"{name} needs the cryptography package: pip install -e '.[crypto]'."
        ) from None
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # The error's own text is left out: nothing of the file is repeated.
        raise ImproperlyConfigured(
            f"{name} does not hold an unencrypted PEM private key."
        ) from None
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = "RS256"
    elif isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        algorithm = "ES256"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm = "EdDSA"
    else:
        raise ImproperlyConfigured(f"{name}: the key must be RSA, EC P-256 or Ed25519.")
    return pem.decode("ascii"), algorithm


# The resource role never signs: it verifies with the issuer's jwks/ keys.
_KEY_FILE = "" if RESOURCE_SERVER else _env("EXAMPLE_SIGNING_KEY_FILE")
_SIGNING = _signing_key(_KEY_FILE) if _KEY_FILE else None


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

if RESOURCE_SERVER:
    # No issuer app, so no issuer database: the tokens' revocations come from
    # the issuer's event feed. No admin or sessions either: the users live at
    # the issuer. contrib.auth stays for DRF's AnonymousUser.
    INSTALLED_APPS = [
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.staticfiles",
        "rest_framework",
        "django_jwt_revoke.resource",
    ]
    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
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
            "NAME": os.environ.get("EXAMPLE_SQLITE_PATH")
            or BASE_DIR / ("resource.sqlite3" if RESOURCE_SERVER else "db.sqlite3"),
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

if _SIGNING is not None:
    # A key pair: other services verify the tokens with the public key
    # (jwks/) and can never sign one. The username goes in the access token
    # for them: they have no user table.
    JWT_REVOKE.update(
        SIGNING_KEY=_SIGNING[0],
        ALGORITHM=_SIGNING[1],
        ISSUER=TOKEN_ISSUER,
        EXTRA_CLAIMS="example_project.views.token_claims",
    )

if _FEED_CREDENTIAL:
    # The event feed (events/, events/snapshot/) a resource server follows.
    JWT_REVOKE["FEED_CONSUMERS"] = {"example-resource": _FEED_CREDENTIAL}

_REDIS_URL = os.environ.get("EXAMPLE_REDIS_URL", "").strip()
if _REDIS_URL and not RESOURCE_SERVER:
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

if _env_bool("EXAMPLE_COOKIE_AUTH", "0") and not RESOURCE_SERVER:
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

if RESOURCE_SERVER:
    del JWT_REVOKE  # the issuer's settings: nothing here reads them
    # Tokens are verified with the issuer's jwks/ keys, revocations come from
    # its event feed: the defaults of every other key (docs/resource-server.md).
    JWT_REVOKE_RESOURCE = {
        "ISSUER_URL": _ISSUER_URL,
        "FEED_CREDENTIAL": _FEED_CREDENTIAL,
        "ISSUER": TOKEN_ISSUER,
    }
    REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
        "django_jwt_revoke.resource.authentication.ResourceServerAuthentication",
    ]

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
