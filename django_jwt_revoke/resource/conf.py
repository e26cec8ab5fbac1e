"""The resource server's settings: one ``JWT_REVOKE_RESOURCE`` dict behind one object.

``resource_settings.MAX_STALENESS`` reads the project's value or the default
below; nothing is read at import time, and the object reloads in place when
Django's ``setting_changed`` fires. ``config()`` is the same settings,
normalised into plain numbers once per settings, for the request path and the
follower. Bad values are reported by ``checks.py``; this module never
validates, so a misconfiguration cannot crash a request (the request is
refused instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.signals import setting_changed

from ..appsettings import AppSettings

SETTINGS_NAME = "JWT_REVOKE_RESOURCE"

#: The durations, each a ``timedelta`` or a number of seconds.
DURATIONS = (
    "LEEWAY",
    "MAX_STALENESS",
    "POLL_INTERVAL",
    "HTTP_TIMEOUT",
    "JWKS_MIN_REFRESH",
    "STARTUP_WAIT",
)

DEFAULTS: dict[str, Any] = {
    # The issuer's base URL, where django_jwt_revoke.urls is included (the
    # example project's "/api/auth/"), with its trailing slash: the feed is
    # ISSUER_URL + "events/", the keys ISSUER_URL + "jwks/". Required.
    "ISSUER_URL": None,
    # The credential this server presents to the feed (the value of its entry
    # in the issuer's FEED_CONSUMERS). Required; never logged.
    "FEED_CREDENTIAL": None,
    # None: the "iss" claim is not checked. Set: every token, and every JWT
    # of the feed, must carry it.
    "ISSUER": None,
    # None: a token that carries any "aud" is refused. Set: required.
    "AUDIENCE": None,
    # Accepted signature algorithms: asymmetric only (the keys are public).
    "ALGORITHMS": ("RS256", "ES256", "EdDSA"),
    "LEEWAY": timedelta(seconds=0),
    "USER_ID_CLAIM": "user_id",
    "AUTH_HEADER_TYPES": ("Bearer",),
    # The longest the copy may answer "not revoked" after it was last known
    # to hold every revocation the issuer had committed. Past it requests are
    # refused (503), or introspected (INTROSPECT_WHEN_STALE).
    "MAX_STALENESS": timedelta(seconds=5),
    "POLL_INTERVAL": timedelta(seconds=1),
    # True: the feed is polled with returnImmediately false (the issuer holds
    # the request until an event or its FEED_LONG_POLL).
    "LONG_POLL": False,
    # True: when the copy is stale, ask the issuer's introspect/ about each
    # token instead of answering 503.
    "INTROSPECT_WHEN_STALE": False,
    "HTTP_TIMEOUT": timedelta(seconds=3),
    # An unknown "kid" refetches the keys at most once per this.
    "JWKS_MIN_REFRESH": timedelta(seconds=10),
    # How long the first requests of a process wait for the first snapshot.
    "STARTUP_WAIT": timedelta(seconds=2),
    # Tokens longer than this are refused before any decoding.
    "MAX_TOKEN_BYTES": 4096,
}


def normalise(name: str, value: Any) -> Any:
    """The value read for setting ``name`` given as ``value``.

    A number of seconds for a duration reads as a ``timedelta``, a bare
    string ``ALGORITHMS`` or ``AUTH_HEADER_TYPES`` as a 1-tuple, a list as a
    tuple; anything else as given. Shared with the checks.
    """
    if name in DURATIONS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if name in ("ALGORITHMS", "AUTH_HEADER_TYPES"):
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list):
            return tuple(value)
    return value


class ResourceSettings(AppSettings):
    """Attribute access to ``settings.JWT_REVOKE_RESOURCE`` with defaults (``AppSettings``).

    Unknown keys in the project's dict are reported by the
    ``django_jwt_revoke.E102`` check. ``generation`` is bumped on every
    reload: ``per_settings`` values and the follower
    (``follower.get_follower``) are rebuilt when it changes.
    """

    def __init__(self) -> None:
        super().__init__(SETTINGS_NAME, DEFAULTS, normalise)


resource_settings = ResourceSettings()


#: ``build()``, computed once per settings and again after they change.
per_settings = resource_settings.per_settings


def _seconds(value: Any, fallback: float) -> float:
    """A duration setting in seconds; ``fallback`` for a value the checks report."""
    if isinstance(value, timedelta) and value >= timedelta(0):
        return value.total_seconds()
    return fallback


@dataclass(frozen=True)
class Config:
    """The settings as the request path and the follower read them: plain values.

    A value the checks would report is replaced by one that fails closed: an
    ``ALGORITHMS`` holding anything but asymmetric algorithms accepts none,
    a missing ``ISSUER_URL`` follows nothing (every request is then stale).
    """

    issuer_url: str | None
    credential: str | None
    issuer: str | None
    audience: Any
    algorithms: frozenset[str]
    leeway: float
    user_id_claim: str
    header_types: frozenset[bytes]
    challenge_scheme: str
    max_staleness: float
    poll_interval: float
    long_poll: bool
    introspect_when_stale: bool
    http_timeout: float
    jwks_min_refresh: float
    startup_wait: float
    max_token_bytes: int
    generation: int = 0

    @property
    def retry_after(self) -> int:
        """The ``Retry-After`` of a 503: a poll's worth of seconds, at least 1."""
        return max(1, int(-(-self.poll_interval // 1)))


#: What ALGORITHMS may hold (never HS*, never "none").
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


def build_config() -> Config:
    """``Config`` of the current settings (not cached: see ``config``)."""
    s = resource_settings
    algorithms = s.ALGORITHMS
    if not isinstance(algorithms, tuple) or not ASYMMETRIC_ALGORITHMS.issuperset(algorithms):
        algorithms = ()
    headers = s.AUTH_HEADER_TYPES
    if not (isinstance(headers, tuple) and headers and all(isinstance(h, str) for h in headers)):
        headers = ("Bearer",)
    url, credential = s.ISSUER_URL, s.FEED_CREDENTIAL
    max_bytes = s.MAX_TOKEN_BYTES
    return Config(
        issuer_url=url if isinstance(url, str) and url.endswith("/") else None,
        credential=credential if isinstance(credential, str) and credential else None,
        issuer=s.ISSUER,
        audience=s.AUDIENCE,
        algorithms=frozenset(algorithms),
        leeway=_seconds(s.LEEWAY, 0.0),
        user_id_claim=s.USER_ID_CLAIM if isinstance(s.USER_ID_CLAIM, str) else "user_id",
        header_types=frozenset(h.encode().lower() for h in headers),
        challenge_scheme=headers[0],
        max_staleness=_seconds(s.MAX_STALENESS, 0.0),
        poll_interval=max(_seconds(s.POLL_INTERVAL, 1.0), 0.001),
        long_poll=s.LONG_POLL is True,
        introspect_when_stale=s.INTROSPECT_WHEN_STALE is True,
        http_timeout=max(_seconds(s.HTTP_TIMEOUT, 3.0), 0.001),
        jwks_min_refresh=_seconds(s.JWKS_MIN_REFRESH, 10.0),
        startup_wait=_seconds(s.STARTUP_WAIT, 0.0),
        max_token_bytes=max_bytes if type(max_bytes) is int and max_bytes > 0 else 4096,
        generation=s.generation,
    )


config = per_settings(build_config)


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTINGS_NAME:
        resource_settings.reload()


setting_changed.connect(_reload, dispatch_uid="django_jwt_revoke.resource.conf.reload")
