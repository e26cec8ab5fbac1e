"""Each system check, against the exact message object."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.checks import Error, Warning
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.middleware.csrf import CsrfViewMiddleware
from django.test import override_settings
from django.urls import path

from django_jwt_revoke.checks import (
    check_refresh_cookie_path,
    check_settings,
    check_throttle_client_address,
)
from tests.keys import pem_pair

LONG_KEY = "k" * 40


def run(**jwt_revoke):
    with override_settings(JWT_REVOKE=jwt_revoke):
        return check_settings()


def test_default_settings_pass():
    assert run() == []


def test_not_a_dict():
    with override_settings(JWT_REVOKE=["HS256"]):
        assert check_settings() == [
            Error(
                "JWT_REVOKE must be a dict.",
                hint="Set JWT_REVOKE = {...} or remove it.",
                id="django_jwt_revoke.E001",
            )
        ]


def test_unknown_key():
    errors = run(ALGORITM="HS256")
    assert errors[0].id == "django_jwt_revoke.E002"
    assert errors[0].msg == "JWT_REVOKE has unknown keys: ALGORITM."
    assert "ALGORITHM" in errors[0].hint


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_none_algorithm(alg):
    assert run(ALGORITHM=alg) == [
        Error(
            f"JWT_REVOKE['ALGORITHM'] must name a signing algorithm; {alg!r} would accept "
            "unsigned tokens.",
            hint="Use HS256 (the default) or an asymmetric algorithm such as RS256 or EdDSA.",
            id="django_jwt_revoke.E003",
        )
    ]


def test_unsupported_algorithm():
    [error] = run(ALGORITHM="HS1")
    assert error.id == "django_jwt_revoke.E003"
    assert error.msg == "JWT_REVOKE['ALGORITHM'] 'HS1' is not supported."


def test_short_hmac_key():
    assert run(SIGNING_KEY="short") == [
        Error(
            "The HMAC signing key is shorter than 32 bytes.",
            hint="Anyone who guesses it can mint tokens. Use a long random secret "
            "(SIGNING_KEY, or SECRET_KEY when SIGNING_KEY is unset).",
            id="django_jwt_revoke.E004",
        )
    ]


def test_short_secret_key_is_caught_when_signing_key_is_unset():
    with override_settings(SECRET_KEY="tiny", JWT_REVOKE={}):
        assert [e.id for e in check_settings()] == ["django_jwt_revoke.E004"]


@pytest.mark.parametrize("value", [300, timedelta(0), timedelta(seconds=-1), None])
def test_lifetime_must_be_positive_timedelta(value):
    assert run(SIGNING_KEY=LONG_KEY, ACCESS_TOKEN_LIFETIME=value) == [
        Error(
            "JWT_REVOKE['ACCESS_TOKEN_LIFETIME'] must be a positive datetime.timedelta.",
            hint=f"For example timedelta(minutes=5); got {value!r}.",
            id="django_jwt_revoke.E005",
        )
    ]


def test_refresh_shorter_than_access():
    assert run(
        ACCESS_TOKEN_LIFETIME=timedelta(hours=2), REFRESH_TOKEN_LIFETIME=timedelta(hours=1)
    ) == [
        Error(
            "JWT_REVOKE['REFRESH_TOKEN_LIFETIME'] is shorter than ACCESS_TOKEN_LIFETIME.",
            hint="A refresh token must outlive the access tokens it renews.",
            id="django_jwt_revoke.E006",
        )
    ]


def test_cache_alias_not_configured():
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ):
        assert run(CACHE_ALIAS="revocation") == [
            Error(
                "JWT_REVOKE['CACHE_ALIAS'] 'revocation' is not in CACHES.",
                hint="Configured aliases: default.",
                id="django_jwt_revoke.E007",
            )
        ]


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
    ],
)
def test_per_process_cache_warns_without_debug(backend):
    caches = {"default": {"BACKEND": backend}}
    with override_settings(CACHES=caches, DEBUG=False):
        assert run(CACHE_ALIAS="default") == [
            Warning(
                "JWT_REVOKE['CACHE_ALIAS'] 'default' is a per-process cache.",
                hint=(
                    "Each process would keep its own copy of revocation state: a revocation "
                    "made in one process is seen by the others only through the database. "
                    "Use a shared cache (Django's RedisCache) or no CACHE_ALIAS."
                ),
                id="django_jwt_revoke.W001",
            )
        ]
    with override_settings(CACHES=caches, DEBUG=True):
        assert run(CACHE_ALIAS="default") == []


def test_shared_cache_does_not_warn():
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
        }
    }
    with override_settings(CACHES=caches):
        assert run(CACHE_ALIAS="default") == []


def test_shared_redis_with_replicas_does_not_warn():
    """Django's RedisCache with replicas: the store reads its first server, the primary."""
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": ["redis://primary:6379/0", "redis://replica:6379/0"],
        }
    }
    with override_settings(CACHES=caches):
        assert run(CACHE_ALIAS="default") == []


@pytest.mark.parametrize(
    "location",
    [["redis://primary:6379/0", "redis://replica:6379/0"], "redis://a:6379/0;redis://b:6379/0"],
)
def test_other_backend_with_several_servers_warns(location):
    caches = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location}}
    with override_settings(CACHES=caches):
        assert run(CACHE_ALIAS="default") == [
            Warning(
                "JWT_REVOKE['CACHE_ALIAS'] 'default' names several servers of a backend "
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


def test_memcached_with_several_servers_does_not_warn():
    """Memcached shards keys over its servers: there is no replica to lag."""
    backend = "django.core.cache.backends.memcached.PyMemcacheCache"
    caches = {"default": {"BACKEND": backend, "LOCATION": ["a:11211", "b:11211"]}}
    with override_settings(CACHES=caches):
        assert run(CACHE_ALIAS="default") == []


@pytest.mark.parametrize("value", [0, -1, 0.5, 301, timedelta(hours=1), "10", True, None])
def test_bad_cache_max_staleness(value):
    assert run(CACHE_MAX_STALENESS=value) == [
        Error(
            "JWT_REVOKE['CACHE_MAX_STALENESS'] must be a timedelta or a number of seconds "
            "from 1 second to 300 seconds.",
            hint=(
                "It bounds how long the cache may answer 'not revoked' for a revoked token "
                f"under a cache fault (default 10 seconds); got {value!r}."
            ),
            id="django_jwt_revoke.E025",
        )
    ]


@pytest.mark.parametrize("value", [1, 30, 2.5, timedelta(seconds=10), timedelta(minutes=5)])
def test_good_cache_max_staleness(value):
    assert run(CACHE_MAX_STALENESS=value) == []


def test_cache_max_staleness_in_seconds_reads_as_a_timedelta(settings):
    from django_jwt_revoke.conf import jwt_revoke_settings

    assert jwt_revoke_settings.CACHE_MAX_STALENESS == timedelta(seconds=10)
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "CACHE_MAX_STALENESS": 3}
    assert jwt_revoke_settings.CACHE_MAX_STALENESS == timedelta(seconds=3)


def test_database_alias_not_configured():
    assert run(DATABASE_ALIAS="primary") == [
        Error(
            "JWT_REVOKE['DATABASE_ALIAS'] 'primary' is not in DATABASES.",
            hint="Configured aliases: default, replica.",
            id="django_jwt_revoke.E008",
        )
    ]


def test_user_id_field_must_exist():
    assert run(USER_ID_FIELD="uid") == [
        Error(
            "JWT_REVOKE['USER_ID_FIELD'] 'uid' is not a field of the user model.",
            hint="Use the primary key ('id') or another unique, immutable field.",
            id="django_jwt_revoke.E010",
        )
    ]


@pytest.mark.parametrize("value", [-1, timedelta(seconds=-5), "10", True])
def test_bad_leeway(value):
    assert run(LEEWAY=value) == [
        Error(
            "JWT_REVOKE['LEEWAY'] must be a timedelta or a number of seconds, not negative.",
            hint=f"Got {value!r}.",
            id="django_jwt_revoke.E011",
        )
    ]


@pytest.mark.parametrize("value", [(), ("Bearer token",), (1,)])
def test_bad_header_types(value):
    assert [e.id for e in run(AUTH_HEADER_TYPES=value)] == ["django_jwt_revoke.E012"]


def test_manage_py_check_reports_instead_of_crashing():
    with override_settings(JWT_REVOKE={"ALGORITHM": "none"}):
        with pytest.raises(SystemCheckError, match=r"django_jwt_revoke\.E003"):
            call_command("check")


@pytest.mark.parametrize("alg,kind", [("RS256", "rsa"), ("ES256", "ec"), ("EdDSA", "ed25519")])
def test_matching_asymmetric_keys_pass(alg, kind):
    private, _public = pem_pair(kind)
    _other_private, other_public = pem_pair(kind)
    assert run(ALGORITHM=alg, SIGNING_KEY=private, VERIFYING_KEYS={"old": other_public}) == []


@pytest.mark.parametrize("alg,kind", [("RS256", "ec"), ("ES256", "rsa"), ("EdDSA", "rsa")])
def test_mismatched_key_type(alg, kind):
    private, _public = pem_pair(kind)
    assert run(ALGORITHM=alg, SIGNING_KEY=private) == [
        Error(
            f"JWT_REVOKE['SIGNING_KEY'] is not a key for {alg}.",
            hint=f"{alg} signs with a private key in PEM format; set SIGNING_KEY to it "
            "(SECRET_KEY is not a key for it).",
            id="django_jwt_revoke.E013",
        )
    ]


def test_asymmetric_algorithm_with_secret_key_default():
    [error] = run(ALGORITHM="RS256")
    assert error.id == "django_jwt_revoke.E013"
    assert error.msg == "JWT_REVOKE['SIGNING_KEY'] is required for RS256."


def test_public_key_cannot_sign():
    _private, public = pem_pair("rsa")
    [error] = run(ALGORITHM="RS256", SIGNING_KEY=public)
    assert error.msg == "JWT_REVOKE['SIGNING_KEY'] is a public key; RS256 signs with a private key."


def test_pem_key_as_hmac_secret_is_refused():
    _private, public = pem_pair("rsa")
    [error] = run(ALGORITHM="HS256", SIGNING_KEY=public)
    assert error.id == "django_jwt_revoke.E013"
    assert error.msg == "The HMAC signing key is a PEM key: HS256 takes a shared secret."
    assert public not in error.msg + error.hint  # never echo a key


@pytest.mark.parametrize("alg,minimum", [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_hmac_key_length_follows_the_hash(alg, minimum):
    assert run(ALGORITHM=alg, SIGNING_KEY="k" * minimum) == []
    [error] = run(ALGORITHM=alg, SIGNING_KEY="k" * (minimum - 1))
    assert (error.id, error.msg) == (
        "django_jwt_revoke.E004",
        f"The HMAC signing key is shorter than {minimum} bytes.",
    )


def test_weak_or_mistyped_verifying_keys():
    errors = run(SIGNING_KEY=LONG_KEY, VERIFYING_KEYS={"old": "short", 5: LONG_KEY})
    assert [(e.id, e.msg) for e in errors] == [
        ("django_jwt_revoke.E004", "The HMAC verifying key 'old' is shorter than 32 bytes."),
        (
            "django_jwt_revoke.E014",
            "JWT_REVOKE['VERIFYING_KEYS'] has a key id that is not a string: 5.",
        ),
    ]
    private, _ = pem_pair("rsa")
    [error] = run(ALGORITHM="RS256", SIGNING_KEY=private, VERIFYING_KEYS={"old": "not a pem"})
    assert error.msg == "JWT_REVOKE['VERIFYING_KEYS']['old'] is not a key for RS256."
    [error] = run(SIGNING_KEY=LONG_KEY, VERIFYING_KEYS=["k"])
    assert error.id == "django_jwt_revoke.E014"


# Cookie transport -------------------------------------------------------------

COOKIES = {"SIGNING_KEY": LONG_KEY, "AUTH_COOKIE": "access_token"}


def test_cookie_transport_defaults_pass():
    assert run(**COOKIES) == []


def test_cookie_settings_are_not_checked_while_cookie_transport_is_off():
    assert run(REFRESH_COOKIE="", AUTH_COOKIE_SAMESITE="Loose") == []


@pytest.mark.parametrize(
    ("key", "name"),
    [("AUTH_COOKIE", ""), ("AUTH_COOKIE", "access token"), ("REFRESH_COOKIE", "a;b")],
)
def test_cookie_names(key, name):
    assert run(**{**COOKIES, key: name}) == [
        Error(
            f"JWT_REVOKE['{key}'] must be a cookie name; got {name!r}.",
            hint='Letters, digits and !#$%&\'*+-.^_`|~ only, for example "access_token"; '
            "AUTH_COOKIE = None turns cookie transport off.",
            id="django_jwt_revoke.E015",
        )
    ]


def test_cookie_names_must_not_clash():
    hint = "Each cookie needs a name of its own, or one overwrites the other."
    assert run(**{**COOKIES, "REFRESH_COOKIE": "access_token"}) == [
        Error(
            "JWT_REVOKE['REFRESH_COOKIE'] 'access_token' is also the name of AUTH_COOKIE.",
            hint=hint,
            id="django_jwt_revoke.E016",
        )
    ]
    assert run(**{**COOKIES, "AUTH_COOKIE": "csrftoken", "REFRESH_COOKIE": "sessionid"}) == [
        Error(
            "JWT_REVOKE['AUTH_COOKIE'] 'csrftoken' is also the name of CSRF_COOKIE_NAME.",
            hint=hint,
            id="django_jwt_revoke.E016",
        ),
        Error(
            "JWT_REVOKE['REFRESH_COOKIE'] 'sessionid' is also the name of SESSION_COOKIE_NAME.",
            hint=hint,
            id="django_jwt_revoke.E016",
        ),
    ]


@pytest.mark.parametrize("value", ["lax", "Loose", None, False])
def test_samesite_values(value):
    assert run(**COOKIES, AUTH_COOKIE_SAMESITE=value) == [
        Error(
            f'JWT_REVOKE[\'AUTH_COOKIE_SAMESITE\'] must be "Lax", "Strict" or "None"; '
            f"got {value!r}.",
            hint='"Lax" (the default) suits a front end served from the API\'s own site.',
            id="django_jwt_revoke.E017",
        )
    ]


def test_samesite_none_requires_secure():
    assert run(**COOKIES, AUTH_COOKIE_SAMESITE="None") == []
    assert run(**COOKIES, AUTH_COOKIE_SAMESITE="None", AUTH_COOKIE_SECURE=False) == [
        Error(
            "JWT_REVOKE['AUTH_COOKIE_SAMESITE'] \"None\" needs AUTH_COOKIE_SECURE.",
            hint="Browsers refuse a SameSite=None cookie that is not Secure.",
            id="django_jwt_revoke.E018",
        )
    ]


def test_secure_must_be_a_bool():
    assert run(**COOKIES, AUTH_COOKIE_SECURE="yes") == [
        Error(
            "JWT_REVOKE['AUTH_COOKIE_SECURE'] must be True or False; got 'yes'.",
            hint="True (the default) sends the cookies over HTTPS only.",
            id="django_jwt_revoke.E019",
        )
    ]


def test_insecure_cookies_warn_without_debug():
    with override_settings(DEBUG=True):
        assert run(**COOKIES, AUTH_COOKIE_SECURE=False) == []
    assert run(**COOKIES, AUTH_COOKIE_SECURE=False) == [
        Warning(
            "JWT_REVOKE['AUTH_COOKIE_SECURE'] is False.",
            hint=(
                "The browser would send the token cookies over plain HTTP, where anyone "
                "on the network can read them. Turn it off for local development only."
            ),
            id="django_jwt_revoke.W002",
        )
    ]


@pytest.mark.parametrize("value", ["", 5])
def test_cookie_domain(value):
    assert run(**COOKIES, AUTH_COOKIE_DOMAIN=value) == [
        Error(
            f"JWT_REVOKE['AUTH_COOKIE_DOMAIN'] must be None or a domain; got {value!r}.",
            hint="None (the default) keeps the cookies to the API's own host.",
            id="django_jwt_revoke.E020",
        )
    ]
    assert run(**COOKIES, AUTH_COOKIE_DOMAIN=".example.com") == []


@pytest.mark.parametrize(
    ("key", "value"),
    [("AUTH_COOKIE_PATH", "api/"), ("AUTH_COOKIE_PATH", None), ("REFRESH_COOKIE_PATH", "")],
)
def test_cookie_paths(key, value):
    assert run(**COOKIES, **{key: value}) == [
        Error(
            f"JWT_REVOKE['{key}'] must be a URL path starting with '/'; got {value!r}.",
            hint="REFRESH_COOKIE_PATH = None (the default) uses the refresh endpoint's path.",
            id="django_jwt_revoke.E021",
        )
    ]


def test_cookie_transport_needs_the_csrf_middleware():
    middleware = [m for m in settings.MIDDLEWARE if "csrf" not in m]
    with override_settings(MIDDLEWARE=middleware):
        assert run(**COOKIES) == [
            Error(
                "JWT_REVOKE['AUTH_COOKIE'] needs django.middleware.csrf.CsrfViewMiddleware in "
                "MIDDLEWARE.",
                hint="Cookie transport sends the CSRF cookie that the front end echoes in "
                "X-CSRFToken; the middleware is what sets it.",
                id="django_jwt_revoke.E022",
            )
        ]
    with override_settings(MIDDLEWARE=[*middleware, "tests.test_checks.CsrfSubclass"]):
        assert run(**COOKIES) == []


class CsrfSubclass(CsrfViewMiddleware):
    pass


class NoRefreshUrl:
    urlpatterns = [path("admin/", admin.site.urls)]


def test_refresh_cookie_path_needs_the_refresh_url():
    with override_settings(JWT_REVOKE=COOKIES):
        assert check_refresh_cookie_path() == []
    with override_settings(JWT_REVOKE=COOKIES, ROOT_URLCONF=NoRefreshUrl):
        assert check_refresh_cookie_path() == [
            Error(
                "JWT_REVOKE['REFRESH_COOKIE_PATH'] is None and the URL "
                "'django_jwt_revoke:token_refresh' cannot be reversed.",
                hint="Include django_jwt_revoke.urls in the URLconf, or set REFRESH_COOKIE_PATH "
                "to the path of your refresh endpoint.",
                id="django_jwt_revoke.E023",
            )
        ]
    with override_settings(
        JWT_REVOKE={**COOKIES, "REFRESH_COOKIE_PATH": "/refresh/"}, ROOT_URLCONF=NoRefreshUrl
    ):
        assert check_refresh_cookie_path() == []
    with override_settings(JWT_REVOKE={}, ROOT_URLCONF=NoRefreshUrl):
        assert check_refresh_cookie_path() == []


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_accept_simplejwt_tokens_is_a_bool(value):
    assert run(ACCEPT_SIMPLEJWT_TOKENS=value) == [
        Error(
            f"JWT_REVOKE['ACCEPT_SIMPLEJWT_TOKENS'] must be True or False; got {value!r}.",
            hint="False (the default) refuses tokens djangorestframework-simplejwt issued with "
            "the same key; True accepts them while switching over from simplejwt, until none "
            "of them can still be in use.",
            id="django_jwt_revoke.E024",
        )
    ]
    assert run(ACCEPT_SIMPLEJWT_TOKENS=False) == []
    assert run(ACCEPT_SIMPLEJWT_TOKENS=True) == []


# -- W004: rate limits keyed by an address the client can forge --------------------------

W004_RATES = {"jwt_revoke_refresh": "30/min", "jwt_revoke_obtain": "5/min", "anon": "100/min"}


def throttle_check(**rest_framework):
    with override_settings(REST_FRAMEWORK=rest_framework):
        return check_throttle_client_address()


def test_rate_limits_with_a_forgeable_client_address():
    assert throttle_check(DEFAULT_THROTTLE_RATES=W004_RATES) == [
        Warning(
            "REST_FRAMEWORK['NUM_PROXIES'] is None while rate limits are set for "
            "jwt_revoke_obtain, jwt_revoke_refresh.",
            hint="DRF then takes the client address from the X-Forwarded-For header as the "
            "client sent it: a new value on each request escapes every per-address limit. "
            "Set NUM_PROXIES to 0 when clients connect to Django directly, or to the number "
            "of proxies in front of it (each appending to X-Forwarded-For).",
            id="django_jwt_revoke.W004",
        )
    ]


@pytest.mark.parametrize(
    "rest_framework",
    [
        {},
        {"DEFAULT_THROTTLE_RATES": W004_RATES, "NUM_PROXIES": 0},
        {"DEFAULT_THROTTLE_RATES": W004_RATES, "NUM_PROXIES": 2},
        {"DEFAULT_THROTTLE_RATES": {"anon": "100/min"}},  # not ours
        {"DEFAULT_THROTTLE_RATES": {"jwt_revoke_obtain": None}},  # not limited
        # a per-username limit does not count addresses
        {"DEFAULT_THROTTLE_RATES": {"jwt_revoke_obtain_username": "5/min"}},
    ],
)
def test_no_w004_when_no_limit_of_ours_trusts_the_header(rest_framework):
    assert throttle_check(**rest_framework) == []


def test_w004_is_a_deployment_security_check():
    from django.core.checks import registry

    assert check_throttle_client_address in registry.registry.get_checks(
        include_deployment_checks=True
    )
    assert check_throttle_client_address not in registry.registry.get_checks()
    assert "security" in check_throttle_client_address.tags
