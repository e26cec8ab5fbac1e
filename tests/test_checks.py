"""Each system check, against the message it builds from the table in checks.py."""

import inspect
import re
import sys
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

from django_jwt_revoke import checks
from django_jwt_revoke.checks import (
    ALGORITHMS,
    MESSAGES,
    Message,
    check_refresh_cookie_path,
    check_settings,
    check_throttle_client_address,
)
from django_jwt_revoke.conf import DEFAULTS, jwt_revoke_settings
from tests.keys import pem_pair

LONG_KEY = "k" * 40
SIGNING_KEY = "signing key"


def run(**jwt_revoke):
    with override_settings(JWT_REVOKE=jwt_revoke):
        return check_settings()


# -- The table ----------------------------------------------------------------------------

#: The ids are public: one removed or renumbered breaks projects that silence it.
CODES = [f"E{n:03d}" for n in range(1, 41)] + [f"W{n:03d}" for n in range(1, 9)]


def test_the_table_holds_every_id_once():
    assert list(MESSAGES) == CODES
    named = {name: value for name, value in vars(checks).items() if isinstance(value, Message)}
    assert named == MESSAGES  # each one under its own code, none outside the table
    assert len({m.id for m in MESSAGES.values()}) == len(CODES)


def test_each_id_is_built_in_one_place_only():
    """One id per problem: no message is reported by two different checks."""
    source = inspect.getsource(checks)
    assert {code: source.count(f"{code}.build(") for code in CODES} == dict.fromkeys(CODES, 1)


def test_message_builds_an_error_or_a_warning():
    message = Message("E999", "{setting}['X'] is {value!r}.", "{{literal}}, {value}.")
    assert message.id == "django_jwt_revoke.E999"
    assert message.build(value="a") == Error(
        "JWT_REVOKE['X'] is 'a'.", hint="{literal}, a.", id="django_jwt_revoke.E999"
    )
    assert type(Message("W999", "m", "h").build()) is Warning
    for message in MESSAGES.values():
        assert re.fullmatch(r"django_jwt_revoke\.[EW]0\d\d", message.id)
        assert message.hint


def test_literal_braces_in_hints():
    assert checks.E001.build().hint == "Set JWT_REVOKE = {...} or remove it."
    assert checks.E014.build().hint.startswith('For example {"2025-01": ')


# -- JWT_REVOKE -----------------------------------------------------------------------------


def test_default_settings_pass():
    assert run() == []


def test_not_a_dict():
    with override_settings(JWT_REVOKE=["HS256"]):
        assert check_settings() == [checks.E001.build()]


def test_unknown_key():
    assert run(ALGORITM="HS256", ZZ=1) == [
        checks.E002.build(keys="ALGORITM, ZZ", known=", ".join(sorted(DEFAULTS)))
    ]
    assert "ALGORITHM" in run(ALGORITM="HS256")[0].hint


@pytest.mark.parametrize("alg", ["none", "None", "NONE", None, 5])
def test_none_algorithm(alg):
    assert run(ALGORITHM=alg) == [checks.E003.build(algorithm=alg)]


@pytest.mark.parametrize("alg", ["HS1", "hs256", "RS128"])
def test_unsupported_algorithm(alg):
    assert run(ALGORITHM=alg) == [
        checks.E026.build(algorithm=alg, choices=", ".join(sorted(ALGORITHMS)))
    ]
    assert "ES512, EdDSA, HS256" in run(ALGORITHM=alg)[0].hint


def test_asymmetric_algorithm_needs_cryptography(monkeypatch):
    monkeypatch.setitem(sys.modules, "cryptography", None)  # import raises ImportError
    assert run(ALGORITHM="RS256") == [checks.E009.build(algorithm="RS256")]


def test_short_hmac_key():
    assert run(SIGNING_KEY="short") == [checks.E004.build(what=SIGNING_KEY, minimum=32)]


def test_short_secret_key_is_caught_when_signing_key_is_unset():
    with override_settings(SECRET_KEY="tiny", JWT_REVOKE={}):
        assert check_settings() == [checks.E004.build(what=SIGNING_KEY, minimum=32)]
    with override_settings(SECRET_KEY=LONG_KEY, JWT_REVOKE={"SIGNING_KEY": None}):
        assert check_settings() == []


@pytest.mark.parametrize("value", [300, timedelta(0), timedelta(seconds=-1), None])
def test_lifetime_must_be_positive_timedelta(value):
    assert run(SIGNING_KEY=LONG_KEY, ACCESS_TOKEN_LIFETIME=value) == [
        checks.E005.build(name="ACCESS_TOKEN_LIFETIME", value=value)
    ]
    assert run(REFRESH_TOKEN_LIFETIME=value) == [
        checks.E005.build(name="REFRESH_TOKEN_LIFETIME", value=value)
    ]


def test_refresh_shorter_than_access():
    assert run(
        ACCESS_TOKEN_LIFETIME=timedelta(hours=2), REFRESH_TOKEN_LIFETIME=timedelta(hours=1)
    ) == [checks.E006.build()]


def test_cache_alias_not_configured():
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ):
        assert run(CACHE_ALIAS="revocation") == [
            checks.E007.build(alias="revocation", aliases="default")
        ]
    with override_settings(CACHES={}):
        assert run(CACHE_ALIAS="revocation") == [
            checks.E007.build(alias="revocation", aliases="none")
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
        assert run(CACHE_ALIAS="default") == [checks.W001.build(alias="default")]
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
        assert run(CACHE_ALIAS="default") == [checks.W003.build(alias="default")]
    caches["default"]["LOCATION"] = "redis://a:6379/0"
    with override_settings(CACHES=caches):
        assert run(CACHE_ALIAS="default") == []


def test_memcached_with_several_servers_does_not_warn():
    """Memcached shards keys over its servers: there is no replica to lag."""
    backend = "django.core.cache.backends.memcached.PyMemcacheCache"
    caches = {"default": {"BACKEND": backend, "LOCATION": ["a:11211", "b:11211"]}}
    with override_settings(CACHES=caches):
        assert run(CACHE_ALIAS="default") == []


@pytest.mark.parametrize(
    "value", [0, -1, 0.5, 301, timedelta(hours=1), "10", True, None, float("nan"), 10**30]
)
def test_bad_cache_max_staleness(value):
    assert run(CACHE_MAX_STALENESS=value) == [checks.E025.build(maximum=300, value=value)]


@pytest.mark.parametrize("value", [1, 30, 2.5, timedelta(seconds=10), timedelta(minutes=5)])
def test_good_cache_max_staleness(value):
    assert run(CACHE_MAX_STALENESS=value) == []


def test_cache_max_staleness_in_seconds_reads_as_a_timedelta(settings):
    assert jwt_revoke_settings.CACHE_MAX_STALENESS == timedelta(seconds=10)
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "CACHE_MAX_STALENESS": 3}
    assert jwt_revoke_settings.CACHE_MAX_STALENESS == timedelta(seconds=3)


def test_database_alias_not_configured():
    assert run(DATABASE_ALIAS="primary") == [
        checks.E008.build(alias="primary", aliases="default, replica")
    ]
    assert run(DATABASE_ALIAS="replica") == []


@pytest.mark.parametrize("value", ["uid", None])
def test_user_id_field_must_exist(value):
    assert run(USER_ID_FIELD=value) == [checks.E010.build(name=value)]


@pytest.mark.parametrize("value", [-1, timedelta(seconds=-5), "10", True, None, float("nan")])
def test_bad_leeway(value):
    assert run(LEEWAY=value) == [checks.E011.build(value=value)]


@pytest.mark.parametrize("value", [float("inf"), 10**20])
def test_leeway_the_settings_cannot_read_is_reported(value):
    """conf.py would fail to read it as a timedelta on every request: the check says so."""
    assert run(LEEWAY=value) == [checks.E011.build(value=value)]
    with override_settings(JWT_REVOKE={"LEEWAY": value}), pytest.raises(OverflowError):
        jwt_revoke_settings.LEEWAY


@pytest.mark.parametrize("value", [0, 5, 2.5, timedelta(seconds=3)])
def test_good_leeway(value):
    assert run(LEEWAY=value) == []


@pytest.mark.parametrize("value", [(), ("Bearer token",), (1,), "", "Bearer token", None])
def test_bad_header_types(value):
    assert run(AUTH_HEADER_TYPES=value) == [checks.E012.build()]


@pytest.mark.parametrize("value", ["JWT", ("Bearer", "JWT"), ["Bearer"]])
def test_good_header_types(value):
    """A bare string is checked as the 1-tuple conf.py reads it as."""
    assert run(AUTH_HEADER_TYPES=value) == []


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
    assert run(ALGORITHM=alg, SIGNING_KEY=private) == [checks.E013.build(algorithm=alg)]
    assert run(ALGORITHM=alg, SIGNING_KEY="not a pem") == [checks.E013.build(algorithm=alg)]


def test_asymmetric_algorithm_with_secret_key_default():
    assert run(ALGORITHM="RS256") == [checks.E027.build(algorithm="RS256")]
    assert run(ALGORITHM="ES256", SIGNING_KEY=None) == [checks.E027.build(algorithm="ES256")]


def test_public_key_cannot_sign():
    _private, public = pem_pair("rsa")
    assert run(ALGORITHM="RS256", SIGNING_KEY=public) == [checks.E028.build(algorithm="RS256")]


def test_pem_key_as_hmac_secret_is_refused():
    _private, public = pem_pair("rsa")
    errors = run(ALGORITHM="HS256", SIGNING_KEY=public)
    assert errors == [checks.E029.build(what=SIGNING_KEY, algorithm="HS256")]
    assert public not in errors[0].msg + errors[0].hint  # never echo a key
    assert run(SIGNING_KEY=LONG_KEY, VERIFYING_KEYS={"old": public}) == [
        checks.E029.build(what="verifying key 'old'", algorithm="HS256")
    ]


@pytest.mark.parametrize("alg,minimum", [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_hmac_key_length_follows_the_hash(alg, minimum):
    assert run(ALGORITHM=alg, SIGNING_KEY="k" * minimum) == []
    assert run(ALGORITHM=alg, SIGNING_KEY="k" * (minimum - 1)) == [
        checks.E004.build(what=SIGNING_KEY, minimum=minimum)
    ]


def test_weak_or_mistyped_verifying_keys():
    keys = {"old": "short", 5: LONG_KEY, "": LONG_KEY}
    assert run(SIGNING_KEY=LONG_KEY, VERIFYING_KEYS=keys) == [
        checks.E004.build(what="verifying key 'old'", minimum=32),
        checks.E030.build(kid=5),
        checks.E030.build(kid=""),
    ]
    assert run(SIGNING_KEY=LONG_KEY, VERIFYING_KEYS=["k"]) == [checks.E014.build()]


def test_verifying_key_of_another_type():
    private, _ = pem_pair("rsa")
    _, ec_public = pem_pair("ec")
    keys = {"old": "not a pem", "ec": ec_public}
    errors = run(ALGORITHM="RS256", SIGNING_KEY=private, VERIFYING_KEYS=keys)
    assert errors == [
        checks.E031.build(kid="old", algorithm="RS256"),
        checks.E031.build(kid="ec", algorithm="RS256"),
    ]
    assert ec_public not in errors[1].msg + errors[1].hint  # never echo a key


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
    assert run(**{**COOKIES, key: name}) == [checks.E015.build(key=key, name=name)]


def test_cookie_names_must_not_clash():
    assert run(**{**COOKIES, "REFRESH_COOKIE": "access_token"}) == [
        checks.E016.build(key="REFRESH_COOKIE", name="access_token", other="AUTH_COOKIE")
    ]
    assert run(**{**COOKIES, "AUTH_COOKIE": "csrftoken", "REFRESH_COOKIE": "sessionid"}) == [
        checks.E016.build(key="AUTH_COOKIE", name="csrftoken", other="CSRF_COOKIE_NAME"),
        checks.E016.build(key="REFRESH_COOKIE", name="sessionid", other="SESSION_COOKIE_NAME"),
    ]
    assert run(**{**COOKIES, "AUTH_COOKIE": "django_language"}) == [
        checks.E016.build(key="AUTH_COOKIE", name="django_language", other="LANGUAGE_COOKIE_NAME"),
    ]


@pytest.mark.parametrize("value", ["lax", "Loose", None, False])
def test_samesite_values(value):
    assert run(**COOKIES, AUTH_COOKIE_SAMESITE=value) == [checks.E017.build(value=value)]


def test_samesite_none_requires_secure():
    assert run(**COOKIES, AUTH_COOKIE_SAMESITE="None") == []
    assert run(**COOKIES, AUTH_COOKIE_SAMESITE="None", AUTH_COOKIE_SECURE=False) == [
        checks.E018.build()
    ]


def test_secure_must_be_a_bool():
    assert run(**COOKIES, AUTH_COOKIE_SECURE="yes") == [checks.E019.build(value="yes")]


def test_insecure_cookies_warn_without_debug():
    with override_settings(DEBUG=True):
        assert run(**COOKIES, AUTH_COOKIE_SECURE=False) == []
    assert run(**COOKIES, AUTH_COOKIE_SECURE=False) == [checks.W002.build()]


@pytest.mark.parametrize("value", ["", 5])
def test_cookie_domain(value):
    assert run(**COOKIES, AUTH_COOKIE_DOMAIN=value) == [checks.E020.build(value=value)]
    assert run(**COOKIES, AUTH_COOKIE_DOMAIN=".example.com") == []


@pytest.mark.parametrize(
    ("key", "value"),
    [("AUTH_COOKIE_PATH", "api/"), ("AUTH_COOKIE_PATH", None), ("REFRESH_COOKIE_PATH", "")],
)
def test_cookie_paths(key, value):
    assert run(**COOKIES, **{key: value}) == [checks.E021.build(key=key, value=value)]


def test_cookie_transport_needs_the_csrf_middleware():
    middleware = [m for m in settings.MIDDLEWARE if "csrf" not in m]
    with override_settings(MIDDLEWARE=middleware):
        assert run(**COOKIES) == [checks.E022.build()]
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
            checks.E023.build(url_name="django_jwt_revoke:token_refresh")
        ]
    with override_settings(
        JWT_REVOKE={**COOKIES, "REFRESH_COOKIE_PATH": "/refresh/"}, ROOT_URLCONF=NoRefreshUrl
    ):
        assert check_refresh_cookie_path() == []
    with override_settings(JWT_REVOKE={}, ROOT_URLCONF=NoRefreshUrl):
        assert check_refresh_cookie_path() == []


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_accept_simplejwt_tokens_is_a_bool(value):
    assert run(ACCEPT_SIMPLEJWT_TOKENS=value) == [checks.E024.build(value=value)]
    assert run(ACCEPT_SIMPLEJWT_TOKENS=False) == []
    assert run(ACCEPT_SIMPLEJWT_TOKENS=True) == []


# -- The revocation event feed -------------------------------------------------------------

CREDENTIAL = "c" * 32


@pytest.fixture(scope="module")
def rsa_key():
    return pem_pair("rsa")[0]


def test_feed_consumers_with_an_asymmetric_key_pass(rsa_key):
    consumers = {"billing": CREDENTIAL, "search": "s" * 40}
    assert run(ALGORITHM="RS256", SIGNING_KEY=rsa_key, FEED_CONSUMERS=consumers) == []
    assert run(FEED_CONSUMERS={}) == []  # no consumer: HMAC is fine


@pytest.mark.parametrize(
    "value", [None, ["billing"], "billing", {"": CREDENTIAL}, {1: CREDENTIAL}, {None: CREDENTIAL}]
)
def test_feed_consumers_must_be_a_dict_of_names(rsa_key, value):
    assert run(ALGORITHM="RS256", SIGNING_KEY=rsa_key, FEED_CONSUMERS=value) == [
        checks.E036.build()
    ]


@pytest.mark.parametrize(
    "credential",
    [
        "c" * 31,
        "",
        None,
        12345678901234567890123456789012345,
        b"c" * 40,
        "c" * 31 + " ",
        "c" * 31 + "\u00e9",
        "c" * 16 + "\n" + "c" * 16,
    ],
)
def test_feed_credentials_must_be_long_printable_ascii(rsa_key, credential):
    errors = run(ALGORITHM="RS256", SIGNING_KEY=rsa_key, FEED_CONSUMERS={"billing": credential})
    assert errors == [checks.E037.build(name="billing", minimum=32)]
    if isinstance(credential, str) and credential:
        assert credential not in errors[0].msg + errors[0].hint  # never echoed


def test_feed_consumers_sharing_a_credential_warn(rsa_key):
    consumers = {"billing": CREDENTIAL, "search": "s" * 32, "reports": CREDENTIAL}
    errors = run(ALGORITHM="RS256", SIGNING_KEY=rsa_key, FEED_CONSUMERS=consumers)
    assert errors == [checks.W008.build(names="'billing', 'reports'")]
    assert CREDENTIAL not in errors[0].msg


@pytest.mark.parametrize("alg", ["HS256", "HS512"])
def test_feed_consumers_need_an_asymmetric_key(alg):
    assert run(ALGORITHM=alg, SIGNING_KEY="k" * 64, FEED_CONSUMERS={"billing": CREDENTIAL}) == [
        checks.E038.build(algorithm=alg)
    ]


@pytest.mark.parametrize(
    "value", [-1, 61, timedelta(seconds=-1), timedelta(minutes=2), "2", True, None, float("nan")]
)
def test_bad_feed_long_poll(value):
    assert run(FEED_LONG_POLL=value) == [checks.E039.build(maximum=60, value=value)]


@pytest.mark.parametrize("value", [0, 2, 0.5, 60, timedelta(seconds=0), timedelta(seconds=30)])
def test_good_feed_long_poll(value):
    assert run(FEED_LONG_POLL=value) == []


def test_feed_long_poll_in_seconds_reads_as_a_timedelta(settings):
    assert jwt_revoke_settings.FEED_LONG_POLL == timedelta(seconds=2)
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "FEED_LONG_POLL": 0.5}
    assert jwt_revoke_settings.FEED_LONG_POLL == timedelta(seconds=0.5)


def test_messages_come_in_the_order_of_the_settings_checks():
    errors = run(
        BOGUS=1,
        ALGORITHM="HS1",
        ACCESS_TOKEN_LIFETIME=None,
        LEEWAY=-1,
        AUTH_COOKIE="a b",
        AUTH_COOKIE_SECURE="yes",
    )
    assert [e.id[-4:] for e in errors] == ["E002", "E026", "E005", "E011", "E015", "E019"]


# -- W004: rate limits keyed by an address the client can forge --------------------------

W004_RATES = {"jwt_revoke_refresh": "30/min", "jwt_revoke_obtain": "5/min", "anon": "100/min"}


def throttle_check(**rest_framework):
    with override_settings(REST_FRAMEWORK=rest_framework):
        return check_throttle_client_address()


def test_rate_limits_with_a_forgeable_client_address():
    assert throttle_check(DEFAULT_THROTTLE_RATES=W004_RATES) == [
        checks.W004.build(scopes="jwt_revoke_obtain, jwt_revoke_refresh")
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


def test_every_check_is_registered_with_its_tags():
    from django.core.checks import registry

    registered = registry.registry.get_checks()
    expected = {
        check_settings: {"security", "compatibility"},
        check_refresh_cookie_path: {"urls"},
        checks.check_error_report_cookies: {"security"},
        checks.check_error_report_header: {"security"},
    }
    for check, tags in expected.items():
        assert check in registered
        assert set(check.tags) == tags


# -- E032: migrations of this app not applied (issue 14) ---------------------------------

MIGRATE = "python manage.py migrate"
MISSING_TABLE = re.compile(
    r"table (django_jwt_revoke_\w+) does not exist: run `python manage\.py migrate`"
)


def _buffer():
    from io import StringIO

    return StringIO()


def _our_tables():
    from django.apps import apps

    return {model._meta.db_table for model in apps.get_app_config("django_jwt_revoke").get_models()}


def _migrate_app(targets):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)  # a new loader: reads what is applied now
    executor.migrate(targets)


@pytest.fixture
def unmigrated(request, transactional_db, user):
    """The test database with django_jwt_revoke migrated to zero (as before a first
    ``migrate``), and migrated back at the end whatever happens, for the rest of the suite.

    ``.names``: the migrations unapplied; ``.user`` and ``.pair``, a pair issued before.
    """
    from types import SimpleNamespace

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from django_jwt_revoke.stores import database
    from django_jwt_revoke.tokens import issue_token_pair

    graph = MigrationLoader(connection).graph
    leaves = graph.leaf_nodes(checks.APP_LABEL)
    names = [name for app, name in graph.forwards_plan(leaves[0]) if app == checks.APP_LABEL]
    pair = issue_token_pair(user)
    request.addfinalizer(lambda: _migrate_app(leaves))
    request.addfinalizer(database.missing_tables.reset)
    database.missing_tables.reset()
    _migrate_app([(checks.APP_LABEL, None)])
    return SimpleNamespace(names=names, user=user, pair=pair)


def test_unapplied_migrations_are_an_error_of_the_database_check(unmigrated):
    names = unmigrated.names
    assert names[0] == "0001_initial"
    expected = checks.E032.build(alias="default", migrations=", ".join(names), command=MIGRATE)
    assert checks.check_migrations_applied(databases=["default"]) == [expected]
    assert expected.id == "django_jwt_revoke.E032" and expected.is_serious()
    assert expected.msg == (
        f"Database 'default' lacks migrations of django_jwt_revoke: {', '.join(names)}."
    )
    assert expected.hint.startswith("Run python manage.py migrate. ")
    # Only when asked for database checks: plain `check` (and runserver) opens no connection.
    assert checks.check_migrations_applied() == []
    call_command("check", stdout=_buffer())
    with pytest.raises(SystemCheckError, match=r"django_jwt_revoke\.E032"):
        call_command("check", databases=["default"], stdout=_buffer())


def test_the_check_names_the_database_to_migrate(monkeypatch):
    from django.db import router
    from django.db.migrations import executor
    from django.db.migrations.migration import Migration

    class Behind:
        """A database our 0001_initial is not applied to."""

        def __init__(self, connection):
            self.loader = SimpleNamespace(graph=SimpleNamespace(leaf_nodes=lambda app: []))

        def migration_plan(self, targets):
            return [
                (Migration("0001_initial", "auth"), False),
                (Migration("0001_initial", "django_jwt_revoke"), False),
            ]

    from types import SimpleNamespace

    monkeypatch.setattr(executor, "MigrationExecutor", Behind)
    [found] = checks.check_migrations_applied(databases=["replica"])
    assert found == checks.E032.build(
        alias="replica", migrations="0001_initial", command=f"{MIGRATE} --database replica"
    )
    assert found.hint.startswith("Run python manage.py migrate --database replica. ")
    # A database this app's tables are not routed to is not its concern.
    monkeypatch.setattr(router, "allow_migrate_model", lambda alias, model: alias != "replica")
    assert checks.check_migrations_applied(databases=["replica"]) == []


def test_a_database_that_does_not_answer_is_a_warning_not_a_crash(monkeypatch):
    from django.db import OperationalError
    from django.db.migrations import executor

    class Unreachable:
        def __init__(self, connection):
            raise OperationalError("connection refused")

    monkeypatch.setattr(executor, "MigrationExecutor", Unreachable)
    assert checks.check_migrations_applied(databases=["default"]) == [
        checks.W007.build(alias="default", error="OperationalError")
    ]


@pytest.mark.django_db
def test_no_e032_once_migrated():
    assert checks.check_migrations_applied(databases=["default"]) == []


def test_migrate_is_not_stopped_by_the_error_it_fixes(unmigrated):
    """``migrate`` runs the database checks first: E032 must not stop it."""
    out = _buffer()
    call_command("migrate", skip_checks=False, verbosity=1, stdout=out, stderr=out)
    assert "E032" not in out.getvalue()
    assert f"Applying django_jwt_revoke.{unmigrated.names[0]}... OK" in out.getvalue()
    assert checks.check_migrations_applied(databases=["default"]) == []


def test_the_database_check_is_registered_with_the_database_tag():
    from django.core.checks import registry

    assert checks.check_migrations_applied in registry.registry.get_checks()
    assert set(checks.check_migrations_applied.tags) == {"database"}


def test_login_without_migrate_logs_the_table_and_migrate(unmigrated, api_client, caplog):
    from django.urls import reverse

    from tests.factories import PASSWORD

    url = reverse("django_jwt_revoke:token_obtain")
    body = {"username": unmigrated.user.get_username(), "password": PASSWORD}
    response = api_client.post(url, body, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "revocation_state_unavailable"
    [record] = [r for r in caplog.records if r.name == "django_jwt_revoke"]
    message = record.getMessage()
    assert message.startswith("Database error in TokenObtainView: answered 503; table ")
    assert MISSING_TABLE.search(message).group(1) in _our_tables()
    assert PASSWORD not in caplog.text


def test_a_request_with_a_token_without_migrate_logs_it_once_a_minute(
    unmigrated, get_me, caplog, monkeypatch
):
    from django_jwt_revoke.exceptions import DatabaseHintLog

    for _ in range(3):
        response = get_me(unmigrated.pair.access)
        assert response.status_code == 503
        assert response.json()["code"] == "revocation_state_unavailable"
    records = [r for r in caplog.records if r.name == "django_jwt_revoke.stores"]
    [record] = records  # one line for three requests
    message = record.getMessage()
    assert message.startswith(
        "Revocation state could not be read from database 'default' (answered 503): table "
    )
    assert MISSING_TABLE.search(message).group(1) in _our_tables()
    for part in unmigrated.pair.access.split("."):
        assert part not in caplog.text  # never a token in a log
    monkeypatch.setattr(DatabaseHintLog, "interval", 0.0)  # a minute later
    assert get_me(unmigrated.pair.access).status_code == 503
    assert len([r for r in caplog.records if r.name == "django_jwt_revoke.stores"]) == 2


def test_after_migrate_everything_works(unmigrated, api_client, get_me):
    from django.urls import reverse

    from tests.factories import PASSWORD

    call_command("migrate", verbosity=0)
    assert checks.check_migrations_applied(databases=["default"]) == []
    url = reverse("django_jwt_revoke:token_obtain")
    body = {"username": unmigrated.user.get_username(), "password": PASSWORD}
    response = api_client.post(url, body, format="json")
    assert response.status_code == 200
    assert get_me(response.json()["access"]).status_code == 200


@pytest.mark.parametrize(
    "error,hint",
    [
        ("no such table: django_jwt_revoke_tokensession", "table django_jwt_revoke_tokensession"),
        (
            'relation "django_jwt_revoke_userrevocation" does not exist\nLINE 1: SELECT ...',
            "table django_jwt_revoke_userrevocation",
        ),
        (
            "(1146, \"Table 'app.django_jwt_revoke_blacklistedtoken' doesn't exist\")",
            "table django_jwt_revoke_blacklistedtoken",
        ),
        (
            "no such column: django_jwt_revoke_tokensession.revoked_at",
            "column revoked_at of table django_jwt_revoke_tokensession",
        ),
        (
            'column "epoch" of relation "django_jwt_revoke_globalrevocation" does not exist',
            "column epoch of table django_jwt_revoke_globalrevocation",
        ),
        (
            "column django_jwt_revoke_tokensession.revoked_at does not exist",
            "column revoked_at of table django_jwt_revoke_tokensession",
        ),
    ],
)
def test_database_error_hint(error, hint):
    from django.db import OperationalError

    from django_jwt_revoke.exceptions import database_error_hint

    assert database_error_hint(OperationalError(error)) == f"{hint} does not exist: run `{MIGRATE}`"
    assert database_error_hint(OperationalError(error), alias="auth") == (
        f"{hint} does not exist: run `{MIGRATE} --database auth`"
    )


@pytest.mark.parametrize(
    "error", ["no such table: auth_user", "connection refused", 'relation "x" does not exist']
)
def test_no_hint_for_other_errors(error):
    from django.db import OperationalError

    from django_jwt_revoke.exceptions import database_error_hint

    assert database_error_hint(OperationalError(error)) is None
