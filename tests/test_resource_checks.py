"""The system checks of JWT_REVOKE_RESOURCE (resource/checks.py), each against its message."""

from __future__ import annotations

import inspect
from datetime import timedelta

import pytest
from django.core.checks import Error, Warning, registry
from django.test import override_settings

from django_jwt_revoke.resource import checks
from django_jwt_revoke.resource.checks import MESSAGES, check_settings
from django_jwt_revoke.resource.conf import DEFAULTS, config, resource_settings

GOOD = {
    "ISSUER_URL": "https://auth.example.com/api/auth/",
    "FEED_CREDENTIAL": "c" * 32,
}

CODES = [f"E{n}" for n in range(101, 117)] + ["W101", "W102"]


def run(value=None, **overrides):
    with override_settings(JWT_REVOKE_RESOURCE={**GOOD, **overrides} if value is None else value):
        return check_settings()


def test_the_table_holds_every_id_once_and_each_is_built_in_one_place():
    assert list(MESSAGES) == CODES
    source = inspect.getsource(checks)
    assert {code: source.count(f"{code}.build(") for code in CODES} == dict.fromkeys(CODES, 1)
    assert MESSAGES["E103"].id == "django_jwt_revoke.E103"


def test_good_settings_pass():
    assert run() == []
    assert run(ISSUER_URL="http://127.0.0.1:8000/api/auth/") == []
    assert run(ISSUER="auth", AUDIENCE=["a", "b"], LEEWAY=5, MAX_STALENESS=30, STARTUP_WAIT=0) == []
    assert run(ALGORITHMS="ES256", AUTH_HEADER_TYPES="JWT", LONG_POLL=True) == []


def test_the_checks_are_registered_only_by_the_resource_app():
    # This process (tests.settings) installs the issuer's app, not the resource one.
    assert check_settings not in registry.registry.registered_checks


def test_not_a_dict():
    assert run([1]) == [
        Error(
            "JWT_REVOKE_RESOURCE must be a dict.",
            hint=MESSAGES["E101"].hint.format(setting="JWT_REVOKE_RESOURCE"),
            id="django_jwt_revoke.E101",
        )
    ]


def test_unknown_keys():
    [error] = run(POLL_INTERVALL=1)
    assert error.id == "django_jwt_revoke.E102" and "POLL_INTERVALL" in error.msg


def test_issuer_url_is_required():
    assert run({"FEED_CREDENTIAL": "c" * 32}) == [
        Error(
            "JWT_REVOKE_RESOURCE['ISSUER_URL'] is required.",
            hint="The issuer's base URL, where django_jwt_revoke.urls is included, for example "
            '"https://auth.example.com/api/auth/".',
            id="django_jwt_revoke.E103",
        )
    ]
    assert [e.id for e in run(ISSUER_URL="")] == ["django_jwt_revoke.E103"]


@pytest.mark.parametrize(
    "url",
    [
        "https://auth.example.com/api/auth",
        "ftp://auth.example.com/api/auth/",
        "auth.example.com/api/auth/",
        "https:///api/auth/",
        "https://auth.example.com/api/auth/?x=/",
        42,
    ],
)
def test_issuer_url_must_be_http_with_a_trailing_slash(url):
    [error] = run(ISSUER_URL=url)
    assert error.id == "django_jwt_revoke.E104" and repr(url) in error.msg


def test_plain_http_to_another_host_is_a_warning():
    assert run(ISSUER_URL="http://auth.internal/api/auth/") == [
        Warning(
            "JWT_REVOKE_RESOURCE['ISSUER_URL'] is plain http to auth.internal.",
            hint=MESSAGES["W101"].hint,
            id="django_jwt_revoke.W101",
        )
    ]


@pytest.mark.parametrize("credential", [None, "", "c" * 31, b"c" * 40, 12345])
def test_feed_credential_missing_or_short(credential):
    [error] = run(FEED_CREDENTIAL=credential)
    assert error.id == "django_jwt_revoke.E105"
    assert "c" * 31 not in error.msg + error.hint  # never echoed


@pytest.mark.parametrize(
    "algorithms",
    [("HS256",), ("RS256", "HS512"), ("none",), ("NONE",), (), ("RS256", "ES256K"), 5, [None]],
)
def test_algorithms_must_be_asymmetric(algorithms):
    [error] = run(ALGORITHMS=algorithms)
    assert error.id == "django_jwt_revoke.E106"
    with override_settings(JWT_REVOKE_RESOURCE={**GOOD, "ALGORITHMS": algorithms}):
        assert config().algorithms == frozenset()  # and the request path accepts none


@pytest.mark.parametrize(
    "name", ["MAX_STALENESS", "POLL_INTERVAL", "HTTP_TIMEOUT", "JWKS_MIN_REFRESH"]
)
@pytest.mark.parametrize("value", [0, -1, timedelta(0), timedelta(seconds=-1), "5", None, True])
def test_durations_must_be_positive(name, value):
    found = run(**{name: value})
    assert "django_jwt_revoke.E107" in [e.id for e in found]
    [e107] = [e for e in found if e.id == "django_jwt_revoke.E107"]
    assert name in e107.msg and e107.hint == f"The default is {DEFAULTS[name]}."


def test_startup_wait_may_be_zero_not_negative():
    assert run(STARTUP_WAIT=0) == []
    assert [e.id for e in run(STARTUP_WAIT=-1)] == ["django_jwt_revoke.E107"]


@pytest.mark.parametrize("value", [-1, timedelta(seconds=-1), "0"])
def test_leeway(value):
    assert [e.id for e in run(LEEWAY=value)] == ["django_jwt_revoke.E108"]


@pytest.mark.parametrize("staleness,interval", [(1, 1), (1, 2), (0.5, 1)])
def test_max_staleness_must_exceed_the_poll_interval(staleness, interval):
    [error] = run(MAX_STALENESS=staleness, POLL_INTERVAL=interval)
    assert error.id == "django_jwt_revoke.E109"
    assert f"MAX_STALENESS {float(staleness)}s" in error.hint


def test_max_staleness_without_room_for_a_slow_poll_is_a_warning():
    assert [e.id for e in run(MAX_STALENESS=3, POLL_INTERVAL=1, HTTP_TIMEOUT=3)] == [
        "django_jwt_revoke.W102"
    ]


@pytest.mark.parametrize("types", [(), ("",), ("Bear er",), (1,), None])
def test_auth_header_types(types):
    assert [e.id for e in run(AUTH_HEADER_TYPES=types)] == ["django_jwt_revoke.E110"]


@pytest.mark.parametrize("issuer", ["", 5, ["a"]])
def test_issuer(issuer):
    assert [e.id for e in run(ISSUER=issuer)] == ["django_jwt_revoke.E111"]


@pytest.mark.parametrize("audience", ["", 5, [], ["a", ""]])
def test_audience(audience):
    assert [e.id for e in run(AUDIENCE=audience)] == ["django_jwt_revoke.E112"]


@pytest.mark.parametrize("name", ["LONG_POLL", "INTROSPECT_WHEN_STALE"])
def test_switches(name):
    assert [e.id for e in run(**{name: "yes"})] == ["django_jwt_revoke.E113"]


@pytest.mark.parametrize("claim", ["", None, 1])
def test_user_id_claim(claim):
    assert [e.id for e in run(USER_ID_CLAIM=claim)] == ["django_jwt_revoke.E114"]


@pytest.mark.parametrize("value", [0, -1, "4096", 1.5, True])
def test_max_token_bytes(value):
    assert [e.id for e in run(MAX_TOKEN_BYTES=value)] == ["django_jwt_revoke.E115"]


def test_without_cryptography(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_cryptography(name, *args, **kwargs):
        if name == "cryptography":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cryptography)
    assert [e.id for e in run()] == ["django_jwt_revoke.E116"]


# -- The settings object -----------------------------------------------------------------


def test_settings_reload_on_change_and_unknown_names_raise():
    with override_settings(JWT_REVOKE_RESOURCE={**GOOD, "POLL_INTERVAL": 2}):
        generation = resource_settings.generation
        assert resource_settings.POLL_INTERVAL == timedelta(seconds=2)
        assert config().poll_interval == 2.0
        with override_settings(JWT_REVOKE_RESOURCE=GOOD):
            assert resource_settings.generation > generation
            assert resource_settings.POLL_INTERVAL == DEFAULTS["POLL_INTERVAL"]
            assert config().poll_interval == 1.0
    with pytest.raises(AttributeError):
        resource_settings.POLL_INTERVALL


def test_a_bad_value_reads_as_one_that_fails_closed():
    with override_settings(
        JWT_REVOKE_RESOURCE={"ISSUER_URL": "https://x/no-slash", "MAX_STALENESS": "5"}
    ):
        cfg = config()
        assert cfg.issuer_url is None and cfg.credential is None
        assert cfg.max_staleness == 0.0  # never current: every request 503
