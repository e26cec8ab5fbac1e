"""System checks: a bad ``JWT_REVOKE`` is reported by ``manage.py check``,
never discovered by a crashing request.

Each message has a stable id; the texts and hints live here together.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from .conf import DEFAULTS, SETTINGS_NAME

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
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def _error(n: int, msg: str, hint: str | None = None) -> Error:
    return Error(msg, hint=hint, id=f"django_jwt_revoke.E{n:03d}")


def _positive_timedelta(value: Any) -> bool:
    return isinstance(value, timedelta) and value > timedelta(0)


@register(Tags.security, Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    user = getattr(settings, SETTINGS_NAME, {})
    if not isinstance(user, dict):
        return [
            _error(
                1,
                f"{SETTINGS_NAME} must be a dict.",
                f"Set {SETTINGS_NAME} = {{...}} or remove it.",
            )
        ]
    errors: list[Error | Warning] = []
    unknown = sorted(set(user) - set(DEFAULTS))
    if unknown:
        errors.append(
            _error(
                2,
                f"{SETTINGS_NAME} has unknown keys: {', '.join(map(str, unknown))}.",
                f"Known keys: {', '.join(sorted(DEFAULTS))}.",
            )
        )
    value = {**DEFAULTS, **user}
    algorithm = value["ALGORITHM"]
    if not isinstance(algorithm, str) or algorithm.lower() == "none":
        errors.append(
            _error(
                3,
                f"{SETTINGS_NAME}['ALGORITHM'] must name a signing algorithm; "
                f"{algorithm!r} would accept unsigned tokens.",
                "Use HS256 (the default) or an asymmetric algorithm such as RS256 or EdDSA.",
            )
        )
    elif algorithm not in ALGORITHMS:
        errors.append(
            _error(
                3,
                f"{SETTINGS_NAME}['ALGORITHM'] {algorithm!r} is not supported.",
                f"Choose one of: {', '.join(sorted(ALGORITHMS))}.",
            )
        )
    elif algorithm.startswith("HS"):
        key = value["SIGNING_KEY"] if value["SIGNING_KEY"] is not None else settings.SECRET_KEY
        errors.extend(_check_hmac_key(algorithm, key, "signing key"))
        errors.extend(_check_verifying_keys(algorithm, value["VERIFYING_KEYS"]))
    else:
        try:
            import cryptography  # noqa: F401
        except ImportError:
            errors.append(
                _error(
                    9,
                    f"{SETTINGS_NAME}['ALGORITHM'] {algorithm} needs the 'cryptography' package.",
                    "Install django-jwt-revoke[crypto].",
                )
            )
        else:
            errors.extend(_check_asymmetric_signing_key(algorithm, value["SIGNING_KEY"]))
            errors.extend(_check_verifying_keys(algorithm, value["VERIFYING_KEYS"]))
    for name in ("ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME"):
        if not _positive_timedelta(value[name]):
            errors.append(
                _error(
                    5,
                    f"{SETTINGS_NAME}['{name}'] must be a positive datetime.timedelta.",
                    f"For example timedelta(minutes=5); got {value[name]!r}.",
                )
            )
    if (
        _positive_timedelta(value["ACCESS_TOKEN_LIFETIME"])
        and _positive_timedelta(value["REFRESH_TOKEN_LIFETIME"])
        and value["REFRESH_TOKEN_LIFETIME"] < value["ACCESS_TOKEN_LIFETIME"]
    ):
        errors.append(
            _error(
                6,
                f"{SETTINGS_NAME}['REFRESH_TOKEN_LIFETIME'] is shorter than ACCESS_TOKEN_LIFETIME.",
                "A refresh token must outlive the access tokens it renews.",
            )
        )
    cache_alias = value["CACHE_ALIAS"]
    if cache_alias is not None:
        caches = getattr(settings, "CACHES", {})
        if cache_alias not in caches:
            errors.append(
                _error(
                    7,
                    f"{SETTINGS_NAME}['CACHE_ALIAS'] {cache_alias!r} is not in CACHES.",
                    f"Configured aliases: {', '.join(caches) or 'none'}.",
                )
            )
        elif caches[cache_alias].get("BACKEND") in PER_PROCESS_CACHES and not settings.DEBUG:
            errors.append(
                Warning(
                    f"{SETTINGS_NAME}['CACHE_ALIAS'] {cache_alias!r} is a per-process cache.",
                    hint=(
                        "Each process would keep its own copy of revocation state: a revocation "
                        "made in one process is seen by the others only through the database. "
                        "Use a shared cache (Django's RedisCache) or no CACHE_ALIAS."
                    ),
                    id="django_jwt_revoke.W001",
                )
            )
        else:
            errors.extend(_check_cache_servers(cache_alias, caches[cache_alias]))
    errors.extend(_check_staleness(value["CACHE_MAX_STALENESS"]))
    db_alias = value["DATABASE_ALIAS"]
    if db_alias is not None and db_alias not in settings.DATABASES:
        errors.append(
            _error(
                8,
                f"{SETTINGS_NAME}['DATABASE_ALIAS'] {db_alias!r} is not in DATABASES.",
                f"Configured aliases: {', '.join(settings.DATABASES)}.",
            )
        )
    errors.extend(_check_user_id_field(value["USER_ID_FIELD"]))
    leeway = value["LEEWAY"]
    if isinstance(leeway, bool) or not (
        (isinstance(leeway, timedelta) and leeway >= timedelta(0))
        or (isinstance(leeway, (int, float)) and leeway >= 0)
    ):
        errors.append(
            _error(
                11,
                f"{SETTINGS_NAME}['LEEWAY'] must be a timedelta or a number of seconds, "
                "not negative.",
                f"Got {leeway!r}.",
            )
        )
    headers = value["AUTH_HEADER_TYPES"]
    if isinstance(headers, str):
        headers = (headers,)
    if (
        not isinstance(headers, (list, tuple))
        or not headers
        or not all(isinstance(h, str) and h and " " not in h for h in headers)
    ):
        errors.append(
            _error(
                12,
                f"{SETTINGS_NAME}['AUTH_HEADER_TYPES'] must be a non-empty tuple of words.",
                'For example ("Bearer",).',
            )
        )
    accept = value["ACCEPT_SIMPLEJWT_TOKENS"]
    if not isinstance(accept, bool):
        errors.append(
            _error(
                24,
                f"{SETTINGS_NAME}['ACCEPT_SIMPLEJWT_TOKENS'] must be True or False; "
                f"got {accept!r}.",
                "False (the default) refuses tokens djangorestframework-simplejwt issued with "
                "the same key; True accepts them while switching over from simplejwt, until "
                "none of them can still be in use.",
            )
        )
    if value["AUTH_COOKIE"] is not None:
        errors.extend(_check_cookies(value))
    return errors


#: The longest CACHE_MAX_STALENESS accepted: the SPEC's "at most 30 seconds" is
#: the default's ceiling; an operator may choose up to this, never hours.
MAX_STALENESS = timedelta(minutes=5)
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


def _check_staleness(value: Any) -> list[Error]:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not 1 <= seconds <= MAX_STALENESS.total_seconds()
    ):
        return [
            _error(
                25,
                f"{SETTINGS_NAME}['CACHE_MAX_STALENESS'] must be a timedelta or a number of "
                f"seconds from 1 second to {int(MAX_STALENESS.total_seconds())} seconds.",
                "It bounds how long the cache may answer 'not revoked' for a revoked token "
                f"under a cache fault (default 10 seconds); got {value!r}.",
            )
        ]
    return []


def _check_cache_servers(alias: str, config: dict[str, Any]) -> list[Warning]:
    """A cache that may read revocation state from a replica lagging behind its primary."""
    backend = str(config.get("BACKEND", ""))
    if backend == REDIS_CACHE or "memcached" in backend.lower():
        # RedisCache: read through our own client on its first server, the
        # primary. Memcached shards keys over its servers: no replicas.
        return []
    location = config.get("LOCATION")
    several = isinstance(location, (list, tuple)) and len(location) > 1
    several = several or (isinstance(location, str) and bool(re.search("[;,]", location)))
    if not several:
        return []
    return [
        Warning(
            f"{SETTINGS_NAME}['CACHE_ALIAS'] {alias!r} names several servers of a backend "
            "that may read from a replica.",
            hint=(
                "A replica can lag behind the primary a revocation was written to, and "
                "answer 'not revoked' for longer than CACHE_MAX_STALENESS. Use Django's "
                "RedisCache (revocation state is read from its first server, the primary), "
                "or point CACHE_ALIAS at a cache with a single server."
            ),
            id="django_jwt_revoke.W003",
        )
    ]


def _hmac_min_bytes(algorithm: str) -> int:
    """RFC 7518 3.2: a key at least as long as the hash output."""
    return max(HMAC_MIN_KEY_BYTES, int(algorithm[2:]) // 8)


def _check_hmac_key(algorithm: str, key: Any, what: str) -> list[Error]:
    raw = key.encode() if isinstance(key, str) else key
    if isinstance(raw, bytes) and raw.lstrip().startswith(b"-----BEGIN"):
        # PyJWT refuses it too, at request time: say so now.
        return [
            _error(
                13,
                f"The HMAC {what} is a PEM key: {algorithm} takes a shared secret.",
                "An RSA or EC key belongs with RS256/ES256; used as an HMAC secret, a public "
                "key would let anyone who has it mint tokens.",
            )
        ]
    minimum = _hmac_min_bytes(algorithm)
    if not isinstance(raw, bytes) or len(raw) < minimum:
        return [
            _error(
                4,
                f"The HMAC {what} is shorter than {minimum} bytes.",
                "Anyone who guesses it can mint tokens. Use a long random secret "
                "(SIGNING_KEY, or SECRET_KEY when SIGNING_KEY is unset).",
            )
        ]
    return []


def _prepare(algorithm: str, key: Any) -> Any:
    import jwt

    return jwt.get_algorithm_by_name(algorithm).prepare_key(key)


def _check_asymmetric_signing_key(algorithm: str, key: Any) -> list[Error]:
    hint = (
        f"{algorithm} signs with a private key in PEM format; set SIGNING_KEY to it "
        "(SECRET_KEY is not a key for it)."
    )
    if key is None:
        return [_error(13, f"{SETTINGS_NAME}['SIGNING_KEY'] is required for {algorithm}.", hint)]
    try:
        prepared = _prepare(algorithm, key)
    except Exception:  # any parse failure: never echo the key itself
        return [_error(13, f"{SETTINGS_NAME}['SIGNING_KEY'] is not a key for {algorithm}.", hint)]
    if not hasattr(prepared, "public_key"):
        return [
            _error(
                13,
                f"{SETTINGS_NAME}['SIGNING_KEY'] is a public key; {algorithm} signs with a "
                "private key.",
                hint,
            )
        ]
    return []


def _check_verifying_keys(algorithm: str, keys: Any) -> list[Error]:
    if not isinstance(keys, dict):
        return [
            _error(
                14,
                f"{SETTINGS_NAME}['VERIFYING_KEYS'] must be a dict of key id to key.",
                'For example {"2025-01": "<the retired key>"}.',
            )
        ]
    errors: list[Error] = []
    for kid, key in keys.items():
        if not isinstance(kid, str) or not kid:
            errors.append(
                _error(
                    14,
                    f"{SETTINGS_NAME}['VERIFYING_KEYS'] has a key id that is not a string: "
                    f"{kid!r}.",
                    "Key ids are the 'kid' header values tokens carry.",
                )
            )
            continue
        if algorithm.startswith("HS"):
            errors.extend(_check_hmac_key(algorithm, key, f"verifying key {kid!r}"))
            continue
        try:
            _prepare(algorithm, key)
        except Exception:
            errors.append(
                _error(
                    14,
                    f"{SETTINGS_NAME}['VERIFYING_KEYS'][{kid!r}] is not a key for {algorithm}.",
                    "Give the PEM public (or private) key of the same type as SIGNING_KEY.",
                )
            )
    return errors


def _check_user_id_field(name: Any) -> list[Error]:
    from django.apps import apps
    from django.core.exceptions import FieldDoesNotExist

    try:
        model = apps.get_model(settings.AUTH_USER_MODEL)
        model._meta.get_field(name)
    except (FieldDoesNotExist, TypeError, LookupError, ValueError):
        return [
            _error(
                10,
                f"{SETTINGS_NAME}['USER_ID_FIELD'] {name!r} is not a field of the user model.",
                "Use the primary key ('id') or another unique, immutable field.",
            )
        ]
    return []


def _check_cookies(value: dict[str, Any]) -> list[Error | Warning]:
    """Cookie transport, checked only once ``AUTH_COOKIE`` turns it on."""
    errors: list[Error | Warning] = []
    names = {"AUTH_COOKIE": value["AUTH_COOKIE"], "REFRESH_COOKIE": value["REFRESH_COOKIE"]}
    for key, name in names.items():
        if not isinstance(name, str) or not COOKIE_NAME.fullmatch(name):
            errors.append(
                _error(
                    15,
                    f"{SETTINGS_NAME}['{key}'] must be a cookie name; got {name!r}.",
                    'Letters, digits and !#$%&\'*+-.^_`|~ only, for example "access_token"; '
                    "AUTH_COOKIE = None turns cookie transport off.",
                )
            )
    taken = [("REFRESH_COOKIE", "AUTH_COOKIE", value["AUTH_COOKIE"])]
    for key in ("AUTH_COOKIE", "REFRESH_COOKIE"):
        for other in ("CSRF_COOKIE_NAME", "SESSION_COOKIE_NAME", "LANGUAGE_COOKIE_NAME"):
            taken.append((key, other, getattr(settings, other)))
    for key, other, name in taken:
        if value[key] == name:
            errors.append(
                _error(
                    16,
                    f"{SETTINGS_NAME}['{key}'] {name!r} is also the name of {other}.",
                    "Each cookie needs a name of its own, or one overwrites the other.",
                )
            )
    samesite = value["AUTH_COOKIE_SAMESITE"]
    if samesite not in SAMESITE_VALUES:
        errors.append(
            _error(
                17,
                f'{SETTINGS_NAME}[\'AUTH_COOKIE_SAMESITE\'] must be "Lax", "Strict" or '
                f'"None"; got {samesite!r}.',
                '"Lax" (the default) suits a front end served from the API\'s own site.',
            )
        )
    secure = value["AUTH_COOKIE_SECURE"]
    if not isinstance(secure, bool):
        errors.append(
            _error(
                19,
                f"{SETTINGS_NAME}['AUTH_COOKIE_SECURE'] must be True or False; got {secure!r}.",
                "True (the default) sends the cookies over HTTPS only.",
            )
        )
    elif samesite == "None" and not secure:
        errors.append(
            _error(
                18,
                f"{SETTINGS_NAME}['AUTH_COOKIE_SAMESITE'] \"None\" needs AUTH_COOKIE_SECURE.",
                "Browsers refuse a SameSite=None cookie that is not Secure.",
            )
        )
    elif not secure and not settings.DEBUG:
        errors.append(
            Warning(
                f"{SETTINGS_NAME}['AUTH_COOKIE_SECURE'] is False.",
                hint=(
                    "The browser would send the token cookies over plain HTTP, where anyone "
                    "on the network can read them. Turn it off for local development only."
                ),
                id="django_jwt_revoke.W002",
            )
        )
    domain = value["AUTH_COOKIE_DOMAIN"]
    if domain is not None and (not isinstance(domain, str) or not domain):
        errors.append(
            _error(
                20,
                f"{SETTINGS_NAME}['AUTH_COOKIE_DOMAIN'] must be None or a domain; got {domain!r}.",
                "None (the default) keeps the cookies to the API's own host.",
            )
        )
    for key in ("AUTH_COOKIE_PATH", "REFRESH_COOKIE_PATH"):
        path = value[key]
        if key == "REFRESH_COOKIE_PATH" and path is None:
            continue
        if not isinstance(path, str) or not path.startswith("/"):
            errors.append(
                _error(
                    21,
                    f"{SETTINGS_NAME}['{key}'] must be a URL path starting with '/'; got {path!r}.",
                    "REFRESH_COOKIE_PATH = None (the default) uses the refresh endpoint's path.",
                )
            )
    if not _has_csrf_middleware():
        errors.append(
            _error(
                22,
                f"{SETTINGS_NAME}['AUTH_COOKIE'] needs django.middleware.csrf.CsrfViewMiddleware "
                "in MIDDLEWARE.",
                "Cookie transport sends the CSRF cookie that the front end echoes in "
                "X-CSRFToken; the middleware is what sets it.",
            )
        )
    return errors


def _has_csrf_middleware() -> bool:
    for path in getattr(settings, "MIDDLEWARE", None) or ():
        try:
            middleware = import_string(path)
        except ImportError:
            continue  # Django's own checks report it
        if isinstance(middleware, type) and issubclass(middleware, CsrfViewMiddleware):
            return True
    return False


@register(Tags.security, deploy=True)
def check_throttle_client_address(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Our rate limits are on while DRF takes the client address from X-Forwarded-For as sent."""
    from rest_framework.settings import api_settings

    from .throttling import USERNAME_SCOPE_SUFFIX

    rates = api_settings.DEFAULT_THROTTLE_RATES
    scopes = sorted(
        scope
        for scope, rate in (rates.items() if isinstance(rates, dict) else ())
        if isinstance(scope, str)
        and scope.startswith("jwt_revoke_")
        # A per-username limit counts usernames, whatever the address.
        and not scope.endswith(USERNAME_SCOPE_SUFFIX)
        and rate
    )
    if not scopes or api_settings.NUM_PROXIES is not None:
        return []
    return [
        Warning(
            "REST_FRAMEWORK['NUM_PROXIES'] is None while rate limits are set for "
            f"{', '.join(scopes)}.",
            hint=(
                "DRF then takes the client address from the X-Forwarded-For header as the "
                "client sent it: a new value on each request escapes every per-address limit. "
                "Set NUM_PROXIES to 0 when clients connect to Django directly, or to the number "
                "of proxies in front of it (each appending to X-Forwarded-For)."
            ),
            id="django_jwt_revoke.W004",
        )
    ]


@register(Tags.urls)
def check_refresh_cookie_path(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """With cookie transport and no REFRESH_COOKIE_PATH, the refresh URL must reverse."""
    user = getattr(settings, SETTINGS_NAME, {})
    if not isinstance(user, dict) or not user.get("AUTH_COOKIE") or user.get("REFRESH_COOKIE_PATH"):
        return []
    from .cookies import REFRESH_URL_NAME

    try:
        reverse(REFRESH_URL_NAME)
    except NoReverseMatch:
        return [
            _error(
                23,
                f"{SETTINGS_NAME}['REFRESH_COOKIE_PATH'] is None and the URL "
                f"{REFRESH_URL_NAME!r} cannot be reversed.",
                "Include django_jwt_revoke.urls in the URLconf, or set REFRESH_COOKIE_PATH "
                "to the path of your refresh endpoint.",
            )
        ]
    return []


@register(Tags.security)
def check_error_report_cookies(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Error reports would show a token cookie: its name is not one Django hides."""
    from .debug import token_cookies_shown

    shown = token_cookies_shown()
    if not shown:
        return []
    return [
        Warning(
            f"Error reports would show the token cookie{'s' if len(shown) > 1 else ''} "
            f"{', '.join(map(repr, shown))}: Django hides a cookie only when its name "
            "matches SafeExceptionReporterFilter.hidden_settings.",
            hint=(
                "Set DEFAULT_EXCEPTION_REPORTER_FILTER = "
                '"django_jwt_revoke.debug.ExceptionReporterFilter" (or add '
                "django_jwt_revoke.debug.TokenCookiesFilterMixin to your own filter), or give "
                'the cookies names Django hides, such as "access_token" and "refresh_token".'
            ),
            id="django_jwt_revoke.W005",
        )
    ]


@register(Tags.security)
def check_error_report_header(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Error reports would show the Authorization header (Django 4.2's filter)."""
    from .debug import authorization_header_shown

    if not authorization_header_shown():
        return []
    return [
        Warning(
            "Error reports would show the Authorization header, and with it the Bearer "
            "token: the reporter filter's hidden_settings does not match HTTP_AUTHORIZATION "
            "(Django before 5.0).",
            hint=(
                'Set DEFAULT_EXCEPTION_REPORTER_FILTER = "django_jwt_revoke.debug.'
                'ExceptionReporterFilter", or add AUTH to your filter\'s hidden_settings.'
            ),
            id="django_jwt_revoke.W006",
        )
    ]
