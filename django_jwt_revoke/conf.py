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

from django.conf import settings
from django.core.signals import setting_changed
from django.db import router

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
    # here. Turned on for the switch only (README, "Migrating from simplejwt").
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
}


class JWTRevokeSettings:
    """Attribute access to ``settings.JWT_REVOKE`` with defaults.

    Unknown attribute names raise ``AttributeError`` (a typo in our own code
    must not silently read ``None``); unknown keys in the project's dict are
    reported by the ``django_jwt_revoke.E002`` check.
    """

    def __init__(self) -> None:
        self._cached: dict[str, Any] = {}
        # Bumped on every reload so that values derived from the settings
        # elsewhere (prepared keys in tokens.py) know when to recompute.
        self.generation = 0

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, SETTINGS_NAME, None)
        return value if isinstance(value, dict) else {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(f"Invalid {SETTINGS_NAME} setting: {name!r}")
        try:
            return self._cached[name]
        except KeyError:
            pass
        value = self.user_settings.get(name, DEFAULTS[name])
        if name == "SIGNING_KEY" and value is None:
            value = settings.SECRET_KEY
        elif name in ("LEEWAY", "CACHE_MAX_STALENESS") and isinstance(value, (int, float)):
            value = timedelta(seconds=value)
        elif name == "AUTH_HEADER_TYPES" and isinstance(value, str):
            value = (value,)
        self._cached[name] = value
        return value

    def reload(self) -> None:
        self._cached.clear()
        self.generation += 1

    def database_alias(self, model: type | None = None) -> str:
        """Where revocation state is read and written.

        Always the write database unless DATABASE_ALIAS says otherwise: a
        replica that lags would let a revoked token through.
        """
        alias = self.DATABASE_ALIAS
        if alias:
            return alias
        if model is None:
            from .models import UserRevocation

            model = UserRevocation
        return router.db_for_write(model)


jwt_revoke_settings = JWTRevokeSettings()


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
