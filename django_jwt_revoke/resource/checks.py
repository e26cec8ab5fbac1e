"""System checks of ``JWT_REVOKE_RESOURCE``: ``manage.py check`` reports a bad value.

One table of messages (id, text, hint), one small check per concern, as in
``django_jwt_revoke.checks``; the ids ``django_jwt_revoke.E1xx`` / ``W1xx``
are public and stable. Registered by the app's ``ready()`` (``apps.py``), so
that a project that does not install the resource app never sees them.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from .conf import ASYMMETRIC_ALGORITHMS, DEFAULTS, DURATIONS, SETTINGS_NAME, normalise

MIN_CREDENTIAL_LENGTH = 32
#: Hosts a plain-http ISSUER_URL may name without a warning.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class Message:
    """One problem a check reports: its id, and its text and hint (``str.format``)."""

    def __init__(self, code: str, template: str, hint: str) -> None:
        self.code, self.template, self.hint = code, template, hint

    @property
    def id(self) -> str:
        return f"django_jwt_revoke.{self.code}"

    def build(self, **fields: Any) -> CheckMessage:
        level = Warning if self.code.startswith("W") else Error
        fields = {"setting": SETTINGS_NAME, **fields}
        return level(self.template.format(**fields), hint=self.hint.format(**fields), id=self.id)


MESSAGES: dict[str, Message] = {}


def _message(code: str, template: str, hint: str) -> Message:
    MESSAGES[code] = message = Message(code, template, hint)
    return message


# -- The table --------------------------------------------------------------------------

E101 = _message("E101", "{setting} must be a dict.", "Set {setting} = {{...}}.")
E102 = _message("E102", "{setting} has unknown keys: {keys}.", "Known keys: {known}.")
E103 = _message(
    "E103",
    "{setting}['ISSUER_URL'] is required.",
    "The issuer's base URL, where django_jwt_revoke.urls is included, for example "
    '"https://auth.example.com/api/auth/".',
)
E104 = _message(
    "E104",
    "{setting}['ISSUER_URL'] must be an http(s) URL ending with '/'; got {value!r}.",
    'For example "https://auth.example.com/api/auth/": the feed is its "events/", the keys '
    'its "jwks/".',
)
E105 = _message(
    "E105",
    "{setting}['FEED_CREDENTIAL'] must be a string of at least {minimum} characters.",
    "The value of this server's entry in the issuer's JWT_REVOKE['FEED_CONSUMERS'], for "
    "example secrets.token_urlsafe(32), kept out of the source like SECRET_KEY.",
)
E106 = _message(
    "E106",
    "{setting}['ALGORITHMS'] must be a non-empty tuple of asymmetric algorithms; got {value!r}.",
    "A resource server verifies with the issuer's public keys: HMAC (HS*) would make the "
    "published key a secret anyone can sign with, and none accepts unsigned tokens. "
    "Choose from: {choices}.",
)
E107 = _message(
    "E107",
    "{setting}['{name}'] must be a positive datetime.timedelta or number of seconds; "
    "got {value!r}.",
    "The default is {default}.",
)
E108 = _message(
    "E108",
    "{setting}['LEEWAY'] must be a timedelta or a number of seconds, not negative; got {value!r}.",
    "Clock skew allowed on exp, nbf and iat; the default is 0.",
)
E109 = _message(
    "E109",
    "{setting}['MAX_STALENESS'] must be larger than POLL_INTERVAL.",
    "The copy is confirmed current once per poll: with MAX_STALENESS {staleness}s and "
    "POLL_INTERVAL {interval}s it would go stale between two polls and answer 503. Make "
    "MAX_STALENESS several poll intervals (defaults: 5 s and 1 s).",
)
E110 = _message(
    "E110",
    "{setting}['AUTH_HEADER_TYPES'] must be a non-empty tuple of words.",
    'For example ("Bearer",).',
)
E111 = _message(
    "E111",
    "{setting}['{name}'] must be None or a non-empty string; got {value!r}.",
    "Set it to the value the issuer's JWT_REVOKE['{name}'] has.",
)
E112 = _message(
    "E112",
    "{setting}['AUDIENCE'] must be None, a non-empty string or a list of them; got {value!r}.",
    "Set it to the value the issuer's JWT_REVOKE['AUDIENCE'] puts in tokens.",
)
E113 = _message(
    "E113",
    "{setting}['{name}'] must be True or False; got {value!r}.",
    "The default is False.",
)
E114 = _message(
    "E114",
    "{setting}['USER_ID_CLAIM'] must be a non-empty string; got {value!r}.",
    'The issuer\'s JWT_REVOKE["USER_ID_CLAIM"]; the default is "user_id".',
)
E115 = _message(
    "E115",
    "{setting}['MAX_TOKEN_BYTES'] must be a positive integer; got {value!r}.",
    "The default is 4096.",
)
E116 = _message(
    "E116",
    "The resource server needs the 'cryptography' package for {algorithms}.",
    "Install django-jwt-revoke[crypto].",
)
W101 = _message(
    "W101",
    "{setting}['ISSUER_URL'] is plain http to {host}.",
    "The feed credential and the revocation feed would cross the network unencrypted. Use "
    "https, except for a local issuer.",
)
W102 = _message(
    "W102",
    "{setting}['MAX_STALENESS'] is shorter than POLL_INTERVAL + HTTP_TIMEOUT.",
    "One slow answer of the issuer then makes the copy stale and requests answer 503. "
    "Give MAX_STALENESS room for a poll that takes HTTP_TIMEOUT.",
)

# -- The checks -------------------------------------------------------------------------

SettingsCheck = Callable[[dict[str, Any]], list[CheckMessage]]


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``JWT_REVOKE_RESOURCE``, concern by concern (``SETTINGS_CHECKS``)."""
    from django.conf import settings

    user = getattr(settings, SETTINGS_NAME, {})
    if not isinstance(user, dict):
        return [E101.build()]
    merged = {name: normalise(name, value) for name, value in {**DEFAULTS, **user}.items()}
    found = _check_unknown_keys(user)
    for check in SETTINGS_CHECKS:
        found.extend(check(merged))
    return found


def _check_unknown_keys(user: dict[Any, Any]) -> list[CheckMessage]:
    unknown = sorted(map(str, set(user) - set(DEFAULTS)))
    if not unknown:
        return []
    return [E102.build(keys=", ".join(unknown), known=", ".join(sorted(DEFAULTS)))]


def _check_issuer_url(value: dict[str, Any]) -> list[CheckMessage]:
    url = value["ISSUER_URL"]
    if url is None or url == "":
        return [E103.build()]
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if (
        parts is None
        or not url.endswith("/")
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
    ):
        return [E104.build(value=url)]
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        return [W101.build(host=parts.hostname)]
    return []


def _check_credential(value: dict[str, Any]) -> list[CheckMessage]:
    credential = value["FEED_CREDENTIAL"]
    if not isinstance(credential, str) or len(credential) < MIN_CREDENTIAL_LENGTH:
        return [E105.build(minimum=MIN_CREDENTIAL_LENGTH)]  # never echo the credential
    return []


def _check_algorithms(value: dict[str, Any]) -> list[CheckMessage]:
    algorithms = value["ALGORITHMS"]
    if (
        not isinstance(algorithms, tuple)
        or not algorithms
        or not all(isinstance(a, str) and a in ASYMMETRIC_ALGORITHMS for a in algorithms)
    ):
        return [E106.build(value=algorithms, choices=", ".join(sorted(ASYMMETRIC_ALGORITHMS)))]
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return [E116.build(algorithms=", ".join(algorithms))]
    return []


def _check_durations(value: dict[str, Any]) -> list[CheckMessage]:
    found = []
    for name in DURATIONS:
        given = value[name]
        if name == "LEEWAY":
            if not isinstance(given, timedelta) or given < timedelta(0):
                found.append(E108.build(value=given))
            continue
        # STARTUP_WAIT may be 0 (do not wait); the others must be positive.
        lowest_bad = timedelta(0) if name != "STARTUP_WAIT" else -timedelta.resolution
        if not isinstance(given, timedelta) or given <= lowest_bad:
            found.append(E107.build(name=name, value=given, default=DEFAULTS[name]))
    return found


def _check_staleness(value: dict[str, Any]) -> list[CheckMessage]:
    staleness, interval, timeout = (
        value["MAX_STALENESS"], value["POLL_INTERVAL"], value["HTTP_TIMEOUT"]
    )  # fmt: skip
    if not all(isinstance(d, timedelta) and d > timedelta(0) for d in (staleness, interval)):
        return []  # E107
    if staleness <= interval:
        return [E109.build(staleness=staleness.total_seconds(), interval=interval.total_seconds())]
    if isinstance(timeout, timedelta) and staleness < interval + timeout:
        return [W102.build()]
    return []


def _check_header_types(value: dict[str, Any]) -> list[CheckMessage]:
    types = value["AUTH_HEADER_TYPES"]
    if (
        not isinstance(types, tuple)
        or not types
        or not all(isinstance(t, str) and t and t.isascii() and t.isalnum() for t in types)
    ):
        return [E110.build()]
    return []


def _check_claims(value: dict[str, Any]) -> list[CheckMessage]:
    found = []
    issuer = value["ISSUER"]
    if issuer is not None and not (isinstance(issuer, str) and issuer):
        found.append(E111.build(name="ISSUER", value=issuer))
    audience = value["AUDIENCE"]
    if audience is not None:
        names = audience if isinstance(audience, (list, tuple)) else [audience]
        if not names or not all(isinstance(n, str) and n for n in names):
            found.append(E112.build(value=audience))
    claim = value["USER_ID_CLAIM"]
    if not isinstance(claim, str) or not claim:
        found.append(E114.build(value=claim))
    max_bytes = value["MAX_TOKEN_BYTES"]
    if type(max_bytes) is not int or max_bytes <= 0:
        found.append(E115.build(value=max_bytes))
    return found


def _check_switches(value: dict[str, Any]) -> list[CheckMessage]:
    return [
        E113.build(name=name, value=value[name])
        for name in ("LONG_POLL", "INTROSPECT_WHEN_STALE")
        if not isinstance(value[name], bool)
    ]


SETTINGS_CHECKS: tuple[SettingsCheck, ...] = (
    _check_issuer_url,
    _check_credential,
    _check_algorithms,
    _check_durations,
    _check_staleness,
    _check_header_types,
    _check_claims,
    _check_switches,
)
