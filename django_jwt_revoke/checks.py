"""System checks: a bad ``JWT_REVOKE`` is reported by ``manage.py check``,
never discovered by a crashing request.

Every message is in the table below, one id per problem, its text and hint
together; each check builds its Error or Warning from that table. The ids
(``django_jwt_revoke.E0xx`` / ``W0xx``) are public and stable: a problem
found later gets a new id after the highest one.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from .backends import prepare_key
from .conf import DEFAULTS, SETTINGS_NAME, is_session_limit, normalise

HMAC_MIN_KEY_BYTES = 32
ALGORITHMS = {
    "HS256", "HS384", "HS512",
    "RS256", "RS384", "RS512",
    "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512",
    "EdDSA",
}  # fmt: skip
# RFC 6265 section 4.1.1: a cookie name is an RFC 2616 token.
COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
SAMESITE_VALUES = ("Lax", "Strict", "None")
# Django's own cookies, whose names ours must not take.
DJANGO_COOKIES = ("CSRF_COOKIE_NAME", "SESSION_COOKIE_NAME", "LANGUAGE_COOKIE_NAME")
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
#: A feed consumer's credential: printable ASCII without spaces (a Bearer token).
CREDENTIAL = re.compile(r"[\x21-\x7e]+")
#: The longest FEED_LONG_POLL accepted: a long poll holds a worker.
MAX_LONG_POLL = timedelta(seconds=60)
#: The range of CACHE_MAX_STALENESS accepted: the SPEC's "at most 30 seconds"
#: is the default's ceiling; an operator may choose up to this, never hours.
MIN_STALENESS = timedelta(seconds=1)
MAX_STALENESS = timedelta(minutes=5)


@dataclass(frozen=True)
class Message:
    """One problem a check reports: its id, and its text and hint.

    ``template`` and ``hint`` are ``str.format`` strings: ``{setting}`` is
    ``JWT_REVOKE``, the other fields are what ``build`` is given.
    """

    code: str
    template: str
    hint: str

    @property
    def id(self) -> str:
        return f"django_jwt_revoke.{self.code}"

    def build(self, **fields: Any) -> CheckMessage:
        """The Error (an ``E`` code) or Warning (``W``) reporting it."""
        level = Warning if self.code.startswith("W") else Error
        fields = {"setting": SETTINGS_NAME, **fields}
        return level(self.template.format(**fields), hint=self.hint.format(**fields), id=self.id)


#: Every message, by code ("E013").
MESSAGES: dict[str, Message] = {}


def _message(code: str, template: str, hint: str) -> Message:
    MESSAGES[code] = message = Message(code, template, hint)
    return message


SIGNING_KEY_HINT = (
    "{algorithm} signs with a private key in PEM format; set SIGNING_KEY to it "
    "(SECRET_KEY is not a key for it)."
)

# -- The table --------------------------------------------------------------------------

E001 = _message("E001", "{setting} must be a dict.", "Set {setting} = {{...}} or remove it.")
E002 = _message("E002", "{setting} has unknown keys: {keys}.", "Known keys: {known}.")
E003 = _message(
    "E003",
    "{setting}['ALGORITHM'] must name a signing algorithm; {algorithm!r} would accept "
    "unsigned tokens.",
    "Use HS256 (the default) or an asymmetric algorithm such as RS256 or EdDSA.",
)
E004 = _message(
    "E004",
    "The HMAC {what} is shorter than {minimum} bytes.",
    "Anyone who guesses it can mint tokens. Use a long random secret "
    "(SIGNING_KEY, or SECRET_KEY when SIGNING_KEY is unset).",
)
E005 = _message(
    "E005",
    "{setting}['{name}'] must be a positive datetime.timedelta.",
    "For example timedelta(minutes=5); got {value!r}.",
)
E006 = _message(
    "E006",
    "{setting}['REFRESH_TOKEN_LIFETIME'] is shorter than ACCESS_TOKEN_LIFETIME.",
    "A refresh token must outlive the access tokens it renews.",
)
E007 = _message(
    "E007",
    "{setting}['CACHE_ALIAS'] {alias!r} is not in CACHES.",
    "Configured aliases: {aliases}.",
)
E008 = _message(
    "E008",
    "{setting}['DATABASE_ALIAS'] {alias!r} is not in DATABASES.",
    "Configured aliases: {aliases}.",
)
E009 = _message(
    "E009",
    "{setting}['ALGORITHM'] {algorithm} needs the 'cryptography' package.",
    "Install django-jwt-revoke[crypto].",
)
E010 = _message(
    "E010",
    "{setting}['USER_ID_FIELD'] {name!r} is not a field of the user model.",
    "Use the primary key ('id') or another unique, immutable field.",
)
E011 = _message(
    "E011",
    "{setting}['LEEWAY'] must be a timedelta or a number of seconds, not negative.",
    "Got {value!r}.",
)
E012 = _message(
    "E012",
    "{setting}['AUTH_HEADER_TYPES'] must be a non-empty tuple of words.",
    'For example ("Bearer",).',
)
E013 = _message("E013", "{setting}['SIGNING_KEY'] is not a key for {algorithm}.", SIGNING_KEY_HINT)
E014 = _message(
    "E014",
    "{setting}['VERIFYING_KEYS'] must be a dict of key id to key.",
    'For example {{"2025-01": "<the retired key>"}}.',
)
E015 = _message(
    "E015",
    "{setting}['{key}'] must be a cookie name; got {name!r}.",
    'Letters, digits and !#$%&\'*+-.^_`|~ only, for example "access_token"; '
    "AUTH_COOKIE = None turns cookie transport off.",
)
E016 = _message(
    "E016",
    "{setting}['{key}'] {name!r} is also the name of {other}.",
    "Each cookie needs a name of its own, or one overwrites the other.",
)
E017 = _message(
    "E017",
    '{setting}[\'AUTH_COOKIE_SAMESITE\'] must be "Lax", "Strict" or "None"; got {value!r}.',
    '"Lax" (the default) suits a front end served from the API\'s own site.',
)
E018 = _message(
    "E018",
    "{setting}['AUTH_COOKIE_SAMESITE'] \"None\" needs AUTH_COOKIE_SECURE.",
    "Browsers refuse a SameSite=None cookie that is not Secure.",
)
E019 = _message(
    "E019",
    "{setting}['AUTH_COOKIE_SECURE'] must be True or False; got {value!r}.",
    "True (the default) sends the cookies over HTTPS only.",
)
E020 = _message(
    "E020",
    "{setting}['AUTH_COOKIE_DOMAIN'] must be None or a domain; got {value!r}.",
    "None (the default) keeps the cookies to the API's own host.",
)
E021 = _message(
    "E021",
    "{setting}['{key}'] must be a URL path starting with '/'; got {value!r}.",
    "REFRESH_COOKIE_PATH = None (the default) uses the refresh endpoint's path.",
)
E022 = _message(
    "E022",
    "{setting}['AUTH_COOKIE'] needs django.middleware.csrf.CsrfViewMiddleware in MIDDLEWARE.",
    "Cookie transport sends the CSRF cookie that the front end echoes in X-CSRFToken; "
    "the middleware is what sets it.",
)
E023 = _message(
    "E023",
    "{setting}['REFRESH_COOKIE_PATH'] is None and the URL {url_name!r} cannot be reversed.",
    "Include django_jwt_revoke.urls in the URLconf, or set REFRESH_COOKIE_PATH to the path "
    "of your refresh endpoint.",
)
E024 = _message(
    "E024",
    "{setting}['ACCEPT_SIMPLEJWT_TOKENS'] must be True or False; got {value!r}.",
    "False (the default) refuses tokens djangorestframework-simplejwt issued with the same "
    "key; True accepts them while switching over from simplejwt, until none of them can "
    "still be in use.",
)
E025 = _message(
    "E025",
    "{setting}['CACHE_MAX_STALENESS'] must be a timedelta or a number of seconds from "
    "1 second to {maximum} seconds.",
    "It bounds how long the cache may answer 'not revoked' for a revoked token under a "
    "cache fault (default 10 seconds); got {value!r}.",
)
E026 = _message(
    "E026", "{setting}['ALGORITHM'] {algorithm!r} is not supported.", "Choose one of: {choices}."
)
E027 = _message("E027", "{setting}['SIGNING_KEY'] is required for {algorithm}.", SIGNING_KEY_HINT)
E028 = _message(
    "E028",
    "{setting}['SIGNING_KEY'] is a public key; {algorithm} signs with a private key.",
    SIGNING_KEY_HINT,
)
E029 = _message(
    "E029",
    "The HMAC {what} is a PEM key: {algorithm} takes a shared secret.",
    "An RSA or EC key belongs with RS256/ES256; used as an HMAC secret, a public key would "
    "let anyone who has it mint tokens.",
)
E030 = _message(
    "E030",
    "{setting}['VERIFYING_KEYS'] has a key id that is not a string: {kid!r}.",
    "Key ids are the 'kid' header values tokens carry.",
)
E031 = _message(
    "E031",
    "{setting}['VERIFYING_KEYS'][{kid!r}] is not a key for {algorithm}.",
    "Give the PEM public (or private) key of the same type as SIGNING_KEY.",
)
E032 = _message(
    "E032",
    "Database {alias!r} lacks migrations of django_jwt_revoke: {migrations}.",
    "Run {command}. Until then its tables are missing, and every login and every request "
    "with a token answers 503.",
)
E033 = _message(
    "E033",
    "{setting}['{key}'] {value!r} cannot be imported: {error}",
    "Give the dotted path of {expected}, for example {example!r} (docs/extending.md).",
)
E034 = _message(
    "E034",
    "{setting}['{key}'] {value!r} is not {expected}.",
    "For example {example!r} (docs/extending.md).",
)
E035 = _message(
    "E035",
    "{setting}['UPDATE_LAST_LOGIN'] must be True or False; got {value!r}.",
    "False (the default) leaves last_login alone; True sets it at each login, as "
    "django.contrib.auth.login does.",
)
E036 = _message(
    "E036",
    "{setting}['FEED_CONSUMERS'] must be a dict of consumer name to credential.",
    'For example {{"billing-api": "<a random string>"}}: a name (a non-empty string) for '
    "each resource server that follows the revocation event feed.",
)
E037 = _message(
    "E037",
    "{setting}['FEED_CONSUMERS'][{name!r}] is not a credential of at least {minimum} "
    "printable ASCII characters without spaces.",
    "The consumer presents it as a Bearer token, and anyone who guesses it reads the feed. "
    'Generate one: python -c "import secrets; print(secrets.token_urlsafe(32))".',
)
E038 = _message(
    "E038",
    "{setting}['FEED_CONSUMERS'] is set while ALGORITHM {algorithm} is HMAC.",
    "The feed is signed with the signing key, and its consumers check it with the public "
    "keys jwks/ publishes: use an asymmetric ALGORITHM (RS256, ES256 or EdDSA) and its "
    "private SIGNING_KEY.",
)
E039 = _message(
    "E039",
    "{setting}['FEED_LONG_POLL'] must be a timedelta or a number of seconds from 0 to "
    "{maximum} seconds.",
    "It is the longest a poll of the event feed waits for an event, holding a worker "
    "(default 2 seconds; 0: polls never wait); got {value!r}.",
)
E040 = _message(
    "E040",
    "{setting}['MAX_SESSIONS_PER_USER'] must be None or a whole number of at least 1; "
    "got {value!r}.",
    "None (the default) sets no limit; N: a login that would give a user more than N live "
    "sessions revokes the oldest (reason session_limit). Until this is fixed, every user "
    "keeps one session: each login revokes the others.",
)
W001 = _message(
    "W001",
    "{setting}['CACHE_ALIAS'] {alias!r} is a per-process cache.",
    "Each process would keep its own copy of revocation state: a revocation made in one "
    "process is seen by the others only through the database. Use a shared cache "
    "(Django's RedisCache) or no CACHE_ALIAS.",
)
W002 = _message(
    "W002",
    "{setting}['AUTH_COOKIE_SECURE'] is False.",
    "The browser would send the token cookies over plain HTTP, where anyone on the network "
    "can read them. Turn it off for local development only.",
)
W003 = _message(
    "W003",
    "{setting}['CACHE_ALIAS'] {alias!r} names several servers of a backend that may read "
    "from a replica.",
    "A replica can lag behind the primary a revocation was written to, and answer "
    "'not revoked' for longer than CACHE_MAX_STALENESS. Use Django's RedisCache "
    "(revocation state is read from its first server, the primary), or point CACHE_ALIAS "
    "at a cache with a single server.",
)
W004 = _message(
    "W004",
    "REST_FRAMEWORK['NUM_PROXIES'] is None while rate limits are set for {scopes}.",
    "DRF then takes the client address from the X-Forwarded-For header as the client sent "
    "it: a new value on each request escapes every per-address limit. Set NUM_PROXIES to 0 "
    "when clients connect to Django directly, or to the number of proxies in front of it "
    "(each appending to X-Forwarded-For).",
)
W005 = _message(
    "W005",
    "Error reports would show the token cookie{plural} {names}: Django hides a cookie only "
    "when its name matches SafeExceptionReporterFilter.hidden_settings.",
    'Set DEFAULT_EXCEPTION_REPORTER_FILTER = "django_jwt_revoke.debug.ExceptionReporterFilter" '
    "(or add django_jwt_revoke.debug.TokenCookiesFilterMixin to your own filter), or give "
    'the cookies names Django hides, such as "access_token" and "refresh_token".',
)
W006 = _message(
    "W006",
    "Error reports would show the Authorization header, and with it the Bearer token: the "
    "reporter filter's hidden_settings does not match HTTP_AUTHORIZATION (Django before 5.0).",
    'Set DEFAULT_EXCEPTION_REPORTER_FILTER = "django_jwt_revoke.debug.ExceptionReporterFilter", '
    "or add AUTH to your filter's hidden_settings.",
)
W007 = _message(
    "W007",
    "Could not read which migrations of django_jwt_revoke database {alias!r} has applied "
    "({error}).",
    "Check again once the database answers: python manage.py check --database {alias}.",
)
W008 = _message(
    "W008",
    "{setting}['FEED_CONSUMERS'] {names} have the same credential.",
    "Give each consumer its own, so that one can be replaced without the others.",
)

# -- JWT_REVOKE: one check per concern, each given the merged settings dict -------------

SettingsCheck = Callable[[dict[str, Any]], list[CheckMessage]]


def _run(checks: Iterable[SettingsCheck], value: dict[str, Any]) -> list[CheckMessage]:
    return [message for check in checks for message in check(value)]


@register(Tags.security, Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``JWT_REVOKE``, concern by concern (``SETTINGS_CHECKS``)."""
    user = getattr(settings, SETTINGS_NAME, {})
    if not isinstance(user, dict):
        return [E001.build()]
    return [*_check_unknown_keys(user), *_run(SETTINGS_CHECKS, {**DEFAULTS, **user})]


def _check_unknown_keys(user: dict[Any, Any]) -> list[CheckMessage]:
    unknown = sorted(set(user) - set(DEFAULTS))
    if not unknown:
        return []
    return [E002.build(keys=", ".join(map(str, unknown)), known=", ".join(sorted(DEFAULTS)))]


def _check_algorithm(value: dict[str, Any]) -> list[CheckMessage]:
    """ALGORITHM, then the keys it signs and verifies with."""
    algorithm = value["ALGORITHM"]
    if not isinstance(algorithm, str) or algorithm.lower() == "none":
        return [E003.build(algorithm=algorithm)]
    if algorithm not in ALGORITHMS:
        return [E026.build(algorithm=algorithm, choices=", ".join(sorted(ALGORITHMS)))]
    if algorithm.startswith("HS"):
        key = normalise("SIGNING_KEY", value["SIGNING_KEY"])
        signing = _check_hmac_key(algorithm, key, "signing key")
    elif not _has_cryptography():
        return [E009.build(algorithm=algorithm)]
    else:
        signing = _check_asymmetric_signing_key(algorithm, value["SIGNING_KEY"])
    return [*signing, *_check_verifying_keys(algorithm, value["VERIFYING_KEYS"])]


def _has_cryptography() -> bool:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return False
    return True


def _hmac_min_bytes(algorithm: str) -> int:
    """RFC 7518 3.2: a key at least as long as the hash output."""
    return max(HMAC_MIN_KEY_BYTES, int(algorithm[2:]) // 8)


def _check_hmac_key(algorithm: str, key: Any, what: str) -> list[CheckMessage]:
    raw = key.encode() if isinstance(key, str) else key
    if isinstance(raw, bytes) and raw.lstrip().startswith(b"-----BEGIN"):
        # PyJWT refuses it too, at request time: say so now.
        return [E029.build(what=what, algorithm=algorithm)]
    minimum = _hmac_min_bytes(algorithm)
    if not isinstance(raw, bytes) or len(raw) < minimum:
        return [E004.build(what=what, minimum=minimum)]
    return []


def _check_asymmetric_signing_key(algorithm: str, key: Any) -> list[CheckMessage]:
    if key is None:  # SECRET_KEY is no key for it
        return [E027.build(algorithm=algorithm)]
    try:
        prepared = prepare_key(algorithm, key)
    except Exception:  # any parse failure: never echo the key itself
        return [E013.build(algorithm=algorithm)]
    if not hasattr(prepared, "public_key"):
        return [E028.build(algorithm=algorithm)]
    return []


def _check_verifying_keys(algorithm: str, keys: Any) -> list[CheckMessage]:
    if not isinstance(keys, dict):
        return [E014.build()]
    return [
        message
        for kid, key in keys.items()
        for message in _check_verifying_key(algorithm, kid, key)
    ]


def _check_verifying_key(algorithm: str, kid: Any, key: Any) -> list[CheckMessage]:
    if not isinstance(kid, str) or not kid:
        return [E030.build(kid=kid)]
    if algorithm.startswith("HS"):
        return _check_hmac_key(algorithm, key, f"verifying key {kid!r}")
    try:
        prepare_key(algorithm, key)
    except Exception:  # never echo the key itself
        return [E031.build(kid=kid, algorithm=algorithm)]
    return []


def _positive_timedelta(value: Any) -> bool:
    return isinstance(value, timedelta) and value > timedelta(0)


def _check_lifetimes(value: dict[str, Any]) -> list[CheckMessage]:
    errors = [
        E005.build(name=name, value=value[name])
        for name in ("ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME")
        if not _positive_timedelta(value[name])
    ]
    if not errors and value["REFRESH_TOKEN_LIFETIME"] < value["ACCESS_TOKEN_LIFETIME"]:
        errors.append(E006.build())
    return errors


def _check_cache_alias(value: dict[str, Any]) -> list[CheckMessage]:
    alias = value["CACHE_ALIAS"]
    if alias is None:
        return []
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return [E007.build(alias=alias, aliases=", ".join(caches) or "none")]
    if caches[alias].get("BACKEND") in PER_PROCESS_CACHES and not settings.DEBUG:
        return [W001.build(alias=alias)]
    return _check_cache_servers(alias, caches[alias])


def _check_cache_servers(alias: str, config: dict[str, Any]) -> list[CheckMessage]:
    """A cache that may read revocation state from a replica lagging behind its primary."""
    backend = str(config.get("BACKEND", ""))
    if backend == REDIS_CACHE or "memcached" in backend.lower():
        # RedisCache: read through our own client on its first server, the
        # primary. Memcached shards keys over its servers: no replicas.
        return []
    location = config.get("LOCATION")
    several = isinstance(location, (list, tuple)) and len(location) > 1
    several = several or (isinstance(location, str) and bool(re.search("[;,]", location)))
    return [W003.build(alias=alias)] if several else []


def _duration(name: str, value: Any) -> timedelta | None:
    """The timedelta the app reads for ``value`` (``conf.normalise``), else None.

    A bool is no number of seconds here, though it would read as 0 or 1 second.
    """
    if isinstance(value, bool):
        return None
    try:
        read = normalise(name, value)
    except (OverflowError, ValueError):  # inf, nan, beyond timedelta's range
        return None
    return read if isinstance(read, timedelta) else None


def _check_staleness(value: dict[str, Any]) -> list[CheckMessage]:
    given = value["CACHE_MAX_STALENESS"]
    staleness = _duration("CACHE_MAX_STALENESS", given)
    if staleness is not None and MIN_STALENESS <= staleness <= MAX_STALENESS:
        return []
    return [E025.build(maximum=int(MAX_STALENESS.total_seconds()), value=given)]


def _check_database_alias(value: dict[str, Any]) -> list[CheckMessage]:
    alias = value["DATABASE_ALIAS"]
    if alias is None or alias in settings.DATABASES:
        return []
    return [E008.build(alias=alias, aliases=", ".join(settings.DATABASES))]


def _check_user_id_field(value: dict[str, Any]) -> list[CheckMessage]:
    from django.apps import apps
    from django.core.exceptions import FieldDoesNotExist

    name = value["USER_ID_FIELD"]
    try:
        model = apps.get_model(settings.AUTH_USER_MODEL)
        model._meta.get_field(name)
    except (FieldDoesNotExist, TypeError, LookupError, ValueError):
        return [E010.build(name=name)]
    return []


def _check_leeway(value: dict[str, Any]) -> list[CheckMessage]:
    given = value["LEEWAY"]
    leeway = _duration("LEEWAY", given)
    if leeway is not None and leeway >= timedelta(0):
        return []
    return [E011.build(value=given)]


def _is_word(header: Any) -> bool:
    return isinstance(header, str) and bool(header) and " " not in header


def _check_header_types(value: dict[str, Any]) -> list[CheckMessage]:
    headers = normalise("AUTH_HEADER_TYPES", value["AUTH_HEADER_TYPES"])
    if isinstance(headers, (list, tuple)) and headers and all(map(_is_word, headers)):
        return []
    return [E012.build()]


def _check_accept_simplejwt_tokens(value: dict[str, Any]) -> list[CheckMessage]:
    accept = value["ACCEPT_SIMPLEJWT_TOKENS"]
    return [] if isinstance(accept, bool) else [E024.build(value=accept)]


@dataclass(frozen=True)
class Hook:
    """A setting naming an object (a dotted path, or the object): what it must be."""

    key: str
    expected: str
    accepts: Callable[[Any], bool]
    example: str
    optional: bool = False  # None is accepted: no hook


def _is_obtain_serializer(found: Any) -> bool:
    from .serializers import TokenObtainSerializer

    return isinstance(found, type) and issubclass(found, TokenObtainSerializer)


#: The settings that name an object, in the order of their messages.
HOOKS = (
    Hook(
        "TOKEN_OBTAIN_SERIALIZER",
        "a subclass of django_jwt_revoke.serializers.TokenObtainSerializer",
        _is_obtain_serializer,
        "myproject.auth.LoginSerializer",
    ),
    Hook(
        "EXTRA_CLAIMS",
        "a callable taking the user and returning a dict of claims",
        callable,
        "myproject.auth.extra_claims",
        optional=True,
    ),
    Hook(
        "USER_AUTHENTICATION_RULE",
        "a callable taking the user and returning whether it may log in",
        callable,
        "myproject.auth.may_log_in",
    ),
)


def _check_hooks(value: dict[str, Any]) -> list[CheckMessage]:
    return [message for hook in HOOKS for message in _check_hook(hook, value[hook.key])]


def _check_hook(hook: Hook, given: Any) -> list[CheckMessage]:
    if given is None and hook.optional:
        return []
    fields = {"key": hook.key, "value": given, "expected": hook.expected, "example": hook.example}
    try:
        found = import_string(given) if isinstance(given, str) else given
    except Exception as exc:  # ImportError, or whatever importing the module raised
        return [E033.build(error=f"{type(exc).__name__}: {exc}", **fields)]
    return [] if hook.accepts(found) else [E034.build(**fields)]


def _check_update_last_login(value: dict[str, Any]) -> list[CheckMessage]:
    update = value["UPDATE_LAST_LOGIN"]
    return [] if isinstance(update, bool) else [E035.build(value=update)]


def _check_feed_consumers(value: dict[str, Any]) -> list[CheckMessage]:
    from .feed import MIN_CREDENTIAL_LENGTH

    consumers = value["FEED_CONSUMERS"]
    if not isinstance(consumers, dict) or not all(
        isinstance(name, str) and name for name in consumers
    ):
        return [E036.build()]
    messages = [
        E037.build(name=name, minimum=MIN_CREDENTIAL_LENGTH)
        for name, credential in consumers.items()
        if not isinstance(credential, str)
        or len(credential) < MIN_CREDENTIAL_LENGTH
        or not CREDENTIAL.fullmatch(credential)
    ]
    names_by_credential: dict[str, list[str]] = {}
    for name, credential in consumers.items():
        if isinstance(credential, str):
            names_by_credential.setdefault(credential, []).append(name)
    messages += [
        W008.build(names=", ".join(map(repr, names)))
        for names in names_by_credential.values()
        if len(names) > 1
    ]
    algorithm = value["ALGORITHM"]
    if consumers and isinstance(algorithm, str) and algorithm.upper().startswith("HS"):
        messages.append(E038.build(algorithm=algorithm))
    return messages


def _check_feed_long_poll(value: dict[str, Any]) -> list[CheckMessage]:
    given = value["FEED_LONG_POLL"]
    waited = _duration("FEED_LONG_POLL", given)
    if waited is not None and timedelta(0) <= waited <= MAX_LONG_POLL:
        return []
    return [E039.build(maximum=int(MAX_LONG_POLL.total_seconds()), value=given)]


def _check_max_sessions(value: dict[str, Any]) -> list[CheckMessage]:
    limit = value["MAX_SESSIONS_PER_USER"]
    if limit is None or is_session_limit(limit):
        return []
    return [E040.build(value=limit)]


def _check_cookies(value: dict[str, Any]) -> list[CheckMessage]:
    """Cookie transport (``COOKIE_CHECKS``), checked only once ``AUTH_COOKIE`` turns it on."""
    return [] if value["AUTH_COOKIE"] is None else _run(COOKIE_CHECKS, value)


# -- Cookie transport -------------------------------------------------------------------


def _check_cookie_names(value: dict[str, Any]) -> list[CheckMessage]:
    return [
        E015.build(key=key, name=value[key])
        for key in ("AUTH_COOKIE", "REFRESH_COOKIE")
        if not isinstance(value[key], str) or not COOKIE_NAME.fullmatch(value[key])
    ]


def _check_cookie_clashes(value: dict[str, Any]) -> list[CheckMessage]:
    taken = [("REFRESH_COOKIE", "AUTH_COOKIE", value["AUTH_COOKIE"])]
    taken += [
        (key, other, getattr(settings, other))
        for key in ("AUTH_COOKIE", "REFRESH_COOKIE")
        for other in DJANGO_COOKIES
    ]
    return [
        E016.build(key=key, name=name, other=other)
        for key, other, name in taken
        if value[key] == name
    ]


def _check_samesite(value: dict[str, Any]) -> list[CheckMessage]:
    samesite = value["AUTH_COOKIE_SAMESITE"]
    return [] if samesite in SAMESITE_VALUES else [E017.build(value=samesite)]


def _check_secure(value: dict[str, Any]) -> list[CheckMessage]:
    secure = value["AUTH_COOKIE_SECURE"]
    if not isinstance(secure, bool):
        return [E019.build(value=secure)]
    if secure:
        return []
    if value["AUTH_COOKIE_SAMESITE"] == "None":
        return [E018.build()]
    return [] if settings.DEBUG else [W002.build()]


def _check_cookie_domain(value: dict[str, Any]) -> list[CheckMessage]:
    domain = value["AUTH_COOKIE_DOMAIN"]
    if domain is None or (isinstance(domain, str) and domain):
        return []
    return [E020.build(value=domain)]


def _check_cookie_paths(value: dict[str, Any]) -> list[CheckMessage]:
    paths = {"AUTH_COOKIE_PATH": value["AUTH_COOKIE_PATH"]}
    if value["REFRESH_COOKIE_PATH"] is not None:  # None: the refresh endpoint's (E023)
        paths["REFRESH_COOKIE_PATH"] = value["REFRESH_COOKIE_PATH"]
    return [
        E021.build(key=key, value=path)
        for key, path in paths.items()
        if not isinstance(path, str) or not path.startswith("/")
    ]


def _check_csrf_middleware(value: dict[str, Any]) -> list[CheckMessage]:
    return [] if _has_csrf_middleware() else [E022.build()]


def _has_csrf_middleware() -> bool:
    for path in getattr(settings, "MIDDLEWARE", None) or ():
        try:
            middleware = import_string(path)
        except ImportError:
            continue  # Django's own checks report it
        if isinstance(middleware, type) and issubclass(middleware, CsrfViewMiddleware):
            return True
    return False


#: What ``check_settings`` runs, in the order of its messages.
SETTINGS_CHECKS: tuple[SettingsCheck, ...] = (
    _check_algorithm,
    _check_lifetimes,
    _check_cache_alias,
    _check_staleness,
    _check_database_alias,
    _check_user_id_field,
    _check_leeway,
    _check_header_types,
    _check_accept_simplejwt_tokens,
    _check_cookies,
    _check_hooks,
    _check_update_last_login,
    _check_feed_consumers,
    _check_feed_long_poll,
    _check_max_sessions,
)
COOKIE_CHECKS: tuple[SettingsCheck, ...] = (
    _check_cookie_names,
    _check_cookie_clashes,
    _check_samesite,
    _check_secure,
    _check_cookie_domain,
    _check_cookie_paths,
    _check_csrf_middleware,
)

# -- The other checks -------------------------------------------------------------------


@register(Tags.security, deploy=True)
def check_throttle_client_address(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Our rate limits are on while DRF takes the client address from X-Forwarded-For as sent."""
    from rest_framework.settings import api_settings

    scopes = _per_address_scopes(api_settings.DEFAULT_THROTTLE_RATES)
    if not scopes or api_settings.NUM_PROXIES is not None:
        return []
    return [W004.build(scopes=", ".join(scopes))]


def _per_address_scopes(rates: Any) -> list[str]:
    """Our throttle scopes given a rate, but for the per-username ones (they count usernames)."""
    from .throttling import USERNAME_SCOPE_SUFFIX

    return sorted(
        scope
        for scope, rate in (rates.items() if isinstance(rates, dict) else ())
        if isinstance(scope, str)
        and scope.startswith("jwt_revoke_")
        and not scope.endswith(USERNAME_SCOPE_SUFFIX)
        and rate
    )


@register(Tags.urls)
def check_refresh_cookie_path(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """With cookie transport and no REFRESH_COOKIE_PATH, the refresh URL must reverse."""
    user = getattr(settings, SETTINGS_NAME, {})
    if not isinstance(user, dict) or not user.get("AUTH_COOKIE") or user.get("REFRESH_COOKIE_PATH"):
        return []
    from .cookies import REFRESH_URL_NAME

    try:
        reverse(REFRESH_URL_NAME)
    except NoReverseMatch:
        return [E023.build(url_name=REFRESH_URL_NAME)]
    return []


@register(Tags.security)
def check_error_report_cookies(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Error reports would show a token cookie: its name is not one Django hides."""
    from .debug import token_cookies_shown

    shown = token_cookies_shown()
    if not shown:
        return []
    return [W005.build(plural="s" if len(shown) > 1 else "", names=", ".join(map(repr, shown)))]


@register(Tags.security)
def check_error_report_header(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Error reports would show the Authorization header (Django 4.2's filter)."""
    from .debug import authorization_header_shown

    return [W006.build()] if authorization_header_shown() else []


APP_LABEL = "django_jwt_revoke"


@register(Tags.database)
def check_migrations_applied(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """Migrations of this app not applied to a database the check is given.

    A database check: ``manage.py check --database default`` runs it (plain
    ``check`` and ``runserver`` do not; the log line of the 503 says it
    there). Not while ``migrate`` runs it, just before applying them.
    """
    if not databases or _migrate_runs():
        return []
    from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, router
    from django.db.migrations.executor import MigrationExecutor

    from .models import TokenSession

    messages = []
    for alias in databases:
        if not router.allow_migrate_model(alias, TokenSession):
            continue  # routed elsewhere: no tables of ours here
        try:
            executor = MigrationExecutor(connections[alias])
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes(APP_LABEL))
        except DatabaseError as exc:  # unreachable: say so, never a crash
            messages.append(W007.build(alias=alias, error=type(exc).__name__))
            continue
        missing = [migration.name for migration, _ in plan if migration.app_label == APP_LABEL]
        if missing:
            command = "python manage.py migrate"
            if alias != DEFAULT_DB_ALIAS:
                command += f" --database {alias}"
            messages.append(E032.build(alias=alias, migrations=", ".join(missing), command=command))
    return messages


def _migrate_runs() -> bool:
    """Whether the ``migrate`` command (or a subclass) is what runs the checks."""
    from django.core.management.commands.migrate import Command as Migrate

    frame = inspect.currentframe()
    while frame is not None:
        if isinstance(frame.f_locals.get("self"), Migrate):
            return True
        frame = frame.f_back
    return False
