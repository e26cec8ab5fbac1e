"""The app's settings: one ``JWT_REVOKE`` dict behind one object.

``jwt_revoke_settings.ACCESS_TOKEN_LIFETIME`` reads the project's value or the
default below. Nothing is read at import time, and the object reloads in place
when Django's ``setting_changed`` fires (``override_settings`` in tests).
Bad values are reported by the system checks in ``checks.py``; this module
never validates, so a misconfiguration cannot crash a request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.signals import setting_changed
from django.db import router

from .appsettings import AppSettings

SETTINGS_NAME = "JWT_REVOKE"

DEFAULTS: dict[str, Any] = {
    # None means settings.SECRET_KEY, read when needed.
    "SIGNING_KEY": None,
    # The ``kid`` put in headers for SIGNING_KEY; None derives one from the key.
    "SIGNING_KEY_ID": None,
    "VERIFYING_KEYS": {},
    "ALGORITHM": "HS256",
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ROTATE_REFRESH_TOKENS": True,
    "REUSE_DETECTION": True,
    "ISSUER": None,
    "AUDIENCE": None,
    "LEEWAY": timedelta(seconds=0),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "CACHE_ALIAS": None,
    # The longest the cache may answer "not revoked" for a revoked token under
    # any cache fault (docs/consistency.md): every cached "not revoked" entry
    # expires this long after the database read it copies. A number of
    # seconds is accepted too.
    "CACHE_MAX_STALENESS": timedelta(seconds=10),
    "DATABASE_ALIAS": None,
    "REVOKE_ON_PASSWORD_CHANGE": True,
    "REVOKE_ON_DEACTIVATION": True,
    # Accept access and refresh tokens that djangorestframework-simplejwt
    # issued with the same key (no "sid" claim), so users stay signed in
    # through a switch. Off by default: on, any token signed with the key
    # that is shaped as simplejwt's authenticates, with no session recorded
    # here. Turned on for the switch only (docs/migrating.md).
    "ACCEPT_SIMPLEJWT_TOKENS": False,
    # Tokens longer than this are refused before any decoding.
    "MAX_TOKEN_BYTES": 4096,
    # Cookie transport for browser front ends (see cookies.py): the access
    # token's cookie name; None (the default) leaves it off, headers only.
    "AUTH_COOKIE": None,
    "REFRESH_COOKIE": "refresh_token",
    # Attributes of both cookies; both are always HttpOnly.
    "AUTH_COOKIE_SECURE": True,
    "AUTH_COOKIE_SAMESITE": "Lax",
    "AUTH_COOKIE_DOMAIN": None,
    "AUTH_COOKIE_PATH": "/",
    # None: the path of the refresh endpoint, reversed from the URLconf.
    "REFRESH_COOKIE_PATH": None,
    # Extending the login (docs/extending.md). Each is a dotted path, or the
    # object itself. The serializer of token/ (a subclass of ours).
    "TOKEN_OBTAIN_SERIALIZER": "django_jwt_revoke.serializers.TokenObtainSerializer",
    # A callable (user) -> dict of claims added to every access token minted
    # (login and refresh); None adds none.
    "EXTRA_CLAIMS": None,
    # A callable (user) -> bool: may this user log in (and refresh)?
    "USER_AUTHENTICATION_RULE": "django_jwt_revoke.serializers.default_user_authentication_rule",
    # True: a login sets the user's last_login, as django.contrib.auth.login does.
    "UPDATE_LAST_LOGIN": False,
    # The revocation event feed (feed.py, docs/feed.md) that resource servers
    # follow: consumer name -> the credential it presents as a Bearer token
    # (a random string of at least 32 characters). Empty: nobody may read it.
    "FEED_CONSUMERS": {},
    # The longest a poll with "returnImmediately": false waits for an event.
    # A number of seconds is accepted too.
    "FEED_LONG_POLL": timedelta(seconds=2),
    # The most live sessions a user may have (docs/endpoints.md): a login
    # beyond it revokes the user's oldest (reason "session_limit"). None: no limit.
    "MAX_SESSIONS_PER_USER": None,
}


def normalise(name: str, value: Any) -> Any:
    """The value the app reads for setting ``name`` given as ``value``.

    A number of seconds for ``LEEWAY``, ``CACHE_MAX_STALENESS`` or
    ``FEED_LONG_POLL`` reads as a ``timedelta``, a bare string
    ``AUTH_HEADER_TYPES`` as a 1-tuple, and ``SIGNING_KEY = None`` as
    ``settings.SECRET_KEY``; anything else as given.
    Shared by ``JWTRevokeSettings`` and the checks, which judge the value read.
    """
    if name == "SIGNING_KEY" and value is None:
        return settings.SECRET_KEY
    if name in ("LEEWAY", "CACHE_MAX_STALENESS", "FEED_LONG_POLL") and isinstance(
        value, (int, float)
    ):
        return timedelta(seconds=value)
    if name == "AUTH_HEADER_TYPES" and isinstance(value, str):
        return (value,)
    return value


def is_session_limit(value: Any) -> bool:
    """Whether ``value`` is a ``MAX_SESSIONS_PER_USER`` limit: a whole number >= 1, not a bool.

    Shared by check ``E040`` and the logins that apply the limit.
    """
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


class JWTRevokeSettings(AppSettings):
    """Attribute access to ``settings.JWT_REVOKE`` with defaults (``AppSettings``).

    Unknown keys in the project's dict are reported by the
    ``django_jwt_revoke.E002`` check.
    """

    def __init__(self) -> None:
        super().__init__(SETTINGS_NAME, DEFAULTS, normalise)

    def database_alias(self, model: type | None = None) -> str:
        """Where revocation state is read and written.

        Always the write database unless DATABASE_ALIAS says otherwise: a
        replica that lags would let a revoked token through.
        """
        alias = self.DATABASE_ALIAS
        if alias:
            return alias
        if model is None:
            # By name, not by import: models.py imports this module.
            model = apps.get_model("django_jwt_revoke", "UserRevocation")
        return router.db_for_write(model)


jwt_revoke_settings = JWTRevokeSettings()


#: ``build()``, computed once per settings and again after they change
#: (``AppSettings.per_settings``): the first call after ``setting_changed``
#: rebuilds it.
per_settings = jwt_revoke_settings.per_settings


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting in (
        SETTINGS_NAME,
        "SECRET_KEY",
        "CACHES",
        "DATABASES",
        "DATABASE_ROUTERS",
        "AUTH_USER_MODEL",
    ):
        jwt_revoke_settings.reload()


setting_changed.connect(_reload, dispatch_uid="django_jwt_revoke.conf.reload")
