"""Settings for benchmarks/resource.py: a resource server beside simplejwt and our token user.

One process holding three ways to accept the same kind of RS256 access token:
simplejwt's ``JWTStatelessUserAuthentication``, our
``JWTTokenUserAuthentication`` (the issuer's app, with a local-memory cache)
and ``ResourceServerAuthentication`` (``django_jwt_revoke.resource``,
following the issuer process benchmarks/resource.py starts). The key and the
issuer come from the environment: ``BENCH_SIGNING_KEY_FILE`` (PEM private
key), ``BENCH_ISSUER_URL``, ``BENCH_FEED_CREDENTIAL``; the SQLite file of our
own rows from ``BENCH_SQLITE_PATH``.
"""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization

SECRET_KEY = "benchmark-only-secret-key-0123456789-0123456789-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "benchmarks.resource_urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "django_jwt_revoke",
    "django_jwt_revoke.resource",
]
# What an API project typically runs; the same for every row.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get(
            "BENCH_SQLITE_PATH", os.path.join(tempfile.gettempdir(), "jwt_revoke_resource.sqlite3")
        ),
        "CONN_MAX_AGE": None,
    }
}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local"},
}

_PRIVATE = Path(os.environ["BENCH_SIGNING_KEY_FILE"]).read_text()
_PUBLIC = (
    serialization.load_pem_private_key(_PRIVATE.encode(), password=None)
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
ISSUER = "django-jwt-revoke-example"  # the example project's, with a key file

JWT_REVOKE = {
    "SIGNING_KEY": _PRIVATE,
    "ALGORITHM": "RS256",
    "ISSUER": ISSUER,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "CACHE_ALIAS": "local",
}
SIMPLE_JWT = {
    "ALGORITHM": "RS256",
    "SIGNING_KEY": _PRIVATE,
    "VERIFYING_KEY": _PUBLIC,
    "ISSUER": ISSUER,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
}
JWT_REVOKE_RESOURCE = {
    "ISSUER_URL": os.environ["BENCH_ISSUER_URL"],
    "FEED_CREDENTIAL": os.environ["BENCH_FEED_CREDENTIAL"],
    "ISSUER": ISSUER,
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
