"""The drf-spectacular description of the app (openapi.py), and that it stays optional."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import include, path, resolve, reverse
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema
from drf_spectacular.validation import validate_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from django_jwt_revoke import openapi, views
from django_jwt_revoke.authentication import JWTAuthentication, JWTTokenUserAuthentication
from tests.factories import UserFactory, credentials
from tests.keys import pem_pair

# Where generate_schema() mounts the app's urls, as tests/urls.py does: the
# schema's paths are AUTH + the endpoints below.
AUTH = "/api/auth/"
TOKEN = reverse("django_jwt_revoke:token_obtain")
LOGIN = get_user_model().USERNAME_FIELD

REPO = Path(__file__).resolve().parent.parent

# Every endpoint: (path, method) -> the status codes it documents (no rate limits).
ENDPOINTS = {
    ("token/", "post"): {"200", "400", "401", "415", "503"},
    ("token/refresh/", "post"): {"200", "400", "401", "415", "503"},
    ("token/verify/", "post"): {"200", "400", "401", "415", "503"},
    ("token/blacklist/", "post"): {"200", "400", "401", "415", "503"},
    ("logout/", "post"): {"204", "400", "401", "415", "503"},
    ("logout-all/", "post"): {"204", "400", "401", "503"},
    ("sessions/", "get"): {"200", "400", "401", "503"},
    ("sessions/{sid}/", "delete"): {"204", "400", "401", "404", "503"},
    ("revoke/", "post"): {"200", "400", "503"},
    ("introspect/", "post"): {"200", "400", "401", "503"},
    ("jwks/", "get"): {"200", "404"},
    ("events/", "post"): {"200", "400", "401", "409", "415", "503"},
    ("events/snapshot/", "post"): {"200", "400", "401", "415", "503"},
}
BEARER_ONLY = {"logout/", "logout-all/", "sessions/", "sessions/{sid}/", "introspect/"}
#: The revocation event feed: a consumer credential, RFC 8935 errors {"err", "description"}.
FEED = {"events/", "events/snapshot/"}


def generate_schema(patterns: list | None = None, **jwt_revoke: object) -> dict:
    """The schema of the app's urls under /api/auth/; fails on any generator warning."""
    rest_framework = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    }
    with override_settings(
        REST_FRAMEWORK=rest_framework, JWT_REVOKE={**settings.JWT_REVOKE, **jwt_revoke}
    ):
        GENERATOR_STATS.reset()
        generator = SchemaGenerator(
            patterns=patterns or [path("api/auth/", include("django_jwt_revoke.urls"))]
        )
        schema = generator.get_schema(request=None, public=True)
        problems = {**GENERATOR_STATS._warn_cache, **GENERATOR_STATS._error_cache}
        GENERATOR_STATS.reset()
    assert not problems, f"schema generation warned: {list(problems)}"
    validate_schema(schema)
    return schema


@pytest.fixture(scope="module")
def schema() -> dict:
    return generate_schema()


def operation(schema: dict, endpoint: str, method: str) -> dict:
    return schema["paths"][AUTH + endpoint][method]


def component(schema: dict, ref: dict) -> dict:
    name = ref["$ref"].removeprefix("#/components/schemas/")
    return schema["components"]["schemas"][name]


def request_schema(schema: dict, endpoint: str, content_type: str = "application/json") -> dict:
    body = operation(schema, endpoint, "post")["requestBody"]
    return component(schema, body["content"][content_type]["schema"])


def response_schema(schema: dict, endpoint: str, method: str, code: str) -> dict:
    return operation(schema, endpoint, method)["responses"][code]["content"]["application/json"][
        "schema"
    ]


def test_the_bearer_scheme(schema):
    schemes = schema["components"]["securitySchemes"]
    assert list(schemes) == ["feedConsumerAuth", "jwtAuth"]
    assert schemes["jwtAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    feed_scheme = schemes["feedConsumerAuth"]
    assert (feed_scheme["type"], feed_scheme["scheme"]) == ("http", "bearer")
    assert "bearerFormat" not in feed_scheme  # a credential, not a JWT
    assert "FEED_CONSUMERS" in feed_scheme["description"]


def test_every_endpoint_and_method_and_nothing_else(schema):
    documented = {
        (url.removeprefix(AUTH), method)
        for url, operations in schema["paths"].items()
        for method in operations
    }
    assert documented == set(ENDPOINTS)


@pytest.mark.parametrize(("endpoint", "method"), sorted(ENDPOINTS))
def test_status_codes(schema, endpoint, method):
    responses = operation(schema, endpoint, method)["responses"]
    assert set(responses) == ENDPOINTS[endpoint, method]
    for answer in responses.values():
        assert answer["description"]


@pytest.mark.parametrize(("endpoint", "method"), sorted(ENDPOINTS))
def test_security(schema, endpoint, method):
    security = operation(schema, endpoint, method)["security"]
    if endpoint == "introspect/":  # a staff user's access token, or a feed consumer
        assert security == [{"feedConsumerAuth": []}, {"jwtAuth": []}]
    elif endpoint in BEARER_ONLY:
        assert security == [{"jwtAuth": []}]
    elif endpoint in FEED:
        assert security == [{"feedConsumerAuth": []}]
    else:
        assert security == [{}]  # no credentials: the body carries the token or the password


def test_login_body_and_answer(schema):
    body = request_schema(schema, "token/")
    # The USERNAME_FIELD, and "username" too (its alias) when that is another field.
    assert set(body["properties"]) == {LOGIN, "username", "password"}
    login = jsonschema.Draft7Validator(body)
    assert login.is_valid({LOGIN: "a", "password": "x"})
    assert login.is_valid({"username": "a", "password": "x"})
    assert not login.is_valid({LOGIN: "a"})
    assert not login.is_valid({"password": "x"})  # the server answers 400: no login name
    assert operation(schema, "token/", "post")["requestBody"]["required"] is True
    pair = component(schema, response_schema(schema, "token/", "post", "200"))
    assert set(pair["properties"]) == {"access", "refresh"}
    assert set(pair["required"]) == {"access", "refresh"}


def test_refresh_body_and_answer(schema):
    body = request_schema(schema, "token/refresh/")
    assert set(body["properties"]) == {"refresh"}
    assert body["required"] == ["refresh"]
    assert response_schema(schema, "token/refresh/", "post", "200") == response_schema(
        schema, "token/", "post", "200"
    )


def test_whitespace_is_what_strip_removes():
    whitespace = re.compile(f"[{openapi.WHITESPACE}]")
    for char in map(chr, range(0x110000)):
        assert bool(whitespace.fullmatch(char)) == (char.strip() == ""), hex(ord(char))


# (endpoint, body, whether the server refuses it with a 400): the schema must agree.
# Left out: login credentials sent as JSON numbers, documented as strings and read
# as their digits (DRF's CharField, and simplejwt's login, do so).
# The endpoint by its URL name; the login's by the user model's USERNAME_FIELD.
BODIES = [
    ("token_obtain", {LOGIN: "", "password": "x"}, True),
    ("token_obtain", {LOGIN: " \t\n", "password": "x"}, True),  # trimmed away
    ("token_obtain", {LOGIN: "\x1c\u3000", "password": "x"}, True),  # str.strip() removes them
    ("token_obtain", {LOGIN: " a ", "password": "x"}, False),
    ("token_obtain", {LOGIN: "a", "password": ""}, True),
    ("token_obtain", {LOGIN: "a", "password": " "}, False),  # a password is not trimmed
    ("token_obtain", {LOGIN: "a\x00", "password": "b\x00"}, False),  # no account has it: 401
    ("token_obtain", {"password": "x"}, True),
    ("token_refresh", {"refresh": ""}, True),
    ("token_refresh", {"refresh": "a\x00b"}, True),
    ("token_refresh", {"refresh": 0}, True),  # a number is no token
    ("token_refresh", {"refresh": " "}, False),  # not a token: 401
    ("logout", {}, False),
    ("logout", {"refresh": ""}, False),
    ("logout", {"refresh": "not a token"}, False),
    ("logout", {"refresh": "\x00"}, True),
    ("logout", {"refresh": 0}, True),
    ("logout", {"refresh": None}, True),
    ("token_revoke", {"token": ""}, True),
    ("token_revoke", {"token": 0}, True),
    ("token_revoke", {"token": "a\x00"}, False),  # not a token: 200
    ("token_revoke", {"token": "x", "token_type_hint": 0}, False),  # the hint is ignored
    ("token_introspect", {"token": ""}, True),
    ("token_introspect", {"token": "x", "token_type_hint": ["refresh_token"]}, False),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "body", "refused"), BODIES)
def test_the_schema_refuses_what_the_server_refuses(schema, api_client, name, body, refused):
    """JSON bodies: valid by the schema exactly when the server does not answer 400."""
    url = reverse(f"django_jwt_revoke:{name}")
    endpoint_schema = request_schema(schema, url.removeprefix(AUTH))
    valid = jsonschema.Draft7Validator(endpoint_schema).is_valid(body)
    user = UserFactory(is_staff=True)
    access = api_client.post(TOKEN, credentials(user), format="json").json()["access"]
    answer = api_client.post(url, body, format="json", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert (answer.status_code == 400) == refused, answer.content
    assert valid == (not refused)


FEED_CREDENTIAL = "openapi-test-feed-consumer-" + "f" * 24
# (endpoint, body, whether the server refuses it with a 400), with a consumer's credential.
FEED_BODIES = [
    ("events/", {"after": 0, "nonce": "n"}, False),
    ("events/", {"after": 0, "nonce": " ", "maxEvents": 1000, "ack": ["", " "]}, False),
    ("events/", {"after": 0, "nonce": "\x00", "returnImmediately": True}, False),
    ("events/", {"after": 0}, True),
    ("events/", {"nonce": "n"}, True),
    ("events/", {"after": -1, "nonce": "n"}, True),
    ("events/", {"after": 2**53, "nonce": "n"}, True),
    ("events/", {"after": True, "nonce": "n"}, True),
    ("events/", {"after": "0", "nonce": "n"}, True),
    ("events/", {"after": 0, "nonce": ""}, True),
    ("events/", {"after": 0, "nonce": "n" * 129}, True),
    ("events/", {"after": 0, "nonce": "n", "maxEvents": 0}, True),
    ("events/", {"after": 0, "nonce": "n", "maxEvents": 1001}, True),
    ("events/", {"after": 0, "nonce": "n", "returnImmediately": "true"}, True),
    ("events/", {"after": 0, "nonce": "n", "ack": [1]}, True),
    ("events/", {"after": 0, "nonce": "n", "ack": "s.1"}, True),
    ("events/snapshot/", {"nonce": "n"}, False),
    ("events/snapshot/", {"nonce": "n" * 128, "after": "ignored"}, False),
    ("events/snapshot/", {}, True),
    ("events/snapshot/", {"nonce": ""}, True),
    ("events/snapshot/", {"nonce": 1}, True),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("endpoint", "body", "refused"), FEED_BODIES)
def test_the_feed_schema_refuses_what_the_server_refuses(schema, client, endpoint, body, refused):
    valid = jsonschema.Draft7Validator(request_schema(schema, endpoint)).is_valid(body)
    feed_settings = {
        **settings.JWT_REVOKE,
        "ALGORITHM": "ES256",
        "SIGNING_KEY": pem_pair("ec")[0],
        "FEED_CONSUMERS": {"openapi": FEED_CREDENTIAL},
    }
    with override_settings(JWT_REVOKE=feed_settings):
        answer = client.post(
            AUTH + endpoint,
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {FEED_CREDENTIAL}",
        )
    assert answer.status_code == (400 if refused else 200), answer.content
    assert valid == (not refused)


def test_logout_body_is_optional(schema):
    body = request_schema(schema, "logout/")
    assert set(body["properties"]) == {"refresh"}
    assert "required" not in body
    assert "required" not in operation(schema, "logout/", "post")["requestBody"]
    assert "content" not in operation(schema, "logout/", "post")["responses"]["204"]
    assert "requestBody" not in operation(schema, "logout-all/", "post")


@pytest.mark.parametrize("endpoint", ["revoke/", "introspect/"])
def test_oauth_bodies_form_or_json(schema, endpoint):
    content = operation(schema, endpoint, "post")["requestBody"]["content"]
    assert set(content) == {"application/x-www-form-urlencoded", "application/json"}
    for content_type in content:
        body = request_schema(schema, endpoint, content_type)
        assert set(body["properties"]) == {"token", "token_type_hint"}
        assert body["required"] == ["token"]
        assert body["properties"]["token"]["minLength"] == 1  # "" is no token: 400
        assert "type" not in body["properties"]["token_type_hint"]  # ignored, whatever it is
    error = component(schema, response_schema(schema, endpoint, "post", "400"))
    if endpoint == "introspect/":  # or a malformed Authorization header: {"detail", "code"}
        assert [component(schema, one)["properties"].keys() for one in error["oneOf"]] == [
            {"error"},
            {"detail", "code"},
        ]
    else:
        assert set(error["properties"]) == {"error"}


def test_revoke_answers_200_without_a_body(schema):
    assert "content" not in operation(schema, "revoke/", "post")["responses"]["200"]


def test_introspection_answer(schema):
    answer = component(schema, response_schema(schema, "introspect/", "post", "200"))
    assert answer["required"] == ["active"]
    assert {
        "active",
        "token_type",
        "jwt_token_type",
        "sub",
        "username",
        "jti",
        "sid",
        "exp",
    } <= set(answer["properties"])


def test_sessions_list_and_delete(schema):
    listed = response_schema(schema, "sessions/", "get", "200")
    assert listed["type"] == "array"
    session = component(schema, listed["items"])
    assert set(session["properties"]) == {
        "id",
        "created_at",
        "expires_at",
        "user_agent",
        "ip",
        "current",
    }
    (sid,) = operation(schema, "sessions/{sid}/", "delete")["parameters"]
    assert (sid["name"], sid["in"], sid["required"], sid["schema"]) == (
        "sid",
        "path",
        True,
        {"type": "string"},
    )


def test_jwks_answer(schema):
    jwks = component(schema, response_schema(schema, "jwks/", "get", "200"))
    assert jwks["properties"]["keys"]["type"] == "array"


def test_errors_and_their_headers(schema):
    for (endpoint, method), codes in ENDPOINTS.items():
        responses = operation(schema, endpoint, method)["responses"]
        errors = codes & {"401", "403", "404", "415", "503"}
        if endpoint in BEARER_ONLY - {"logout/", "introspect/"}:
            errors.add("400")  # a malformed Authorization header, their only 400
        if endpoint in FEED:
            errors = codes - {"200"}
        for code in errors:
            error = component(schema, response_schema(schema, endpoint, method, code))
            if endpoint in FEED:
                assert set(error["properties"]) == {"err", "description"}, (endpoint, code)
                assert set(error["required"]) == {"err", "description"}
                continue
            assert set(error["properties"]) == {"detail", "code"}, (endpoint, code)
            assert error["required"] == ["detail"]  # DRF's own refusals carry no code
        if "401" in codes:
            assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True
        if "503" in codes:
            assert responses["503"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}


def test_rate_limited_operations_document_429():
    rest_framework = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"jwt_revoke_refresh": "10/min", "jwt_revoke_sessions": None},
    }
    with override_settings(REST_FRAMEWORK=rest_framework):
        schema = generate_schema()
    limited = {
        endpoint
        for (endpoint, method) in ENDPOINTS
        if "429" in operation(schema, endpoint, method)["responses"]
    }
    # token/: its per-username limit picks its rate per request, so any rate may be its own.
    assert limited == {"token/refresh/", "token/"}
    answer = operation(schema, "token/refresh/", "post")["responses"]["429"]
    assert answer["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    error = component(schema, answer["content"]["application/json"]["schema"])
    assert set(error["properties"]) == {"detail", "code"}
    refresh = operation(schema, "token/refresh/", "post")["responses"]
    assert set(refresh) == ENDPOINTS["token/refresh/", "post"] | {"429"}
    assert "429" not in operation(generate_schema(), "token/refresh/", "post")["responses"]


def test_component_names_leave_generic_ones_to_the_project(schema):
    assert set(schema["components"]["schemas"]) == {
        "RevocationFeedAnswer",
        "RevocationFeedError",
        "RevocationFeedPoll",
        "RevocationFeedSnapshot",
        "RevocationFeedSnapshotRequest",
        "JWKSet",
        "Logout",
        "OAuthError",
        "TokenError",
        "TokenIntrospection",
        "TokenIntrospectionError",
        "TokenIntrospectionResult",
        "TokenObtain",
        "TokenPair",
        "TokenRevocation",
        "TokenRotation",
        "TokenSession",
        "TokenVerification",
        "TokenBlacklist",
    }


def test_schema_follows_the_header_type_setting():
    schema = generate_schema(AUTH_HEADER_TYPES=("JWT",))
    scheme = schema["components"]["securitySchemes"]["jwtAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")


class CustomAuthentication(JWTAuthentication):
    pass


def views_protected_by(*authentications: type) -> list:
    """One GET view per authentication class (built once AutoSchema is the schema class)."""

    def view(authentication: type) -> type:
        class Protected(APIView):
            authentication_classes = [authentication]

            @extend_schema(responses={204: None})
            def get(self, request):
                return Response(status=204)

        return Protected

    return [view(authentication).as_view() for authentication in authentications]


def test_one_scheme_for_every_class_in_one_project():
    rest_framework = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    }
    with override_settings(REST_FRAMEWORK=rest_framework):
        user, token_user, custom = views_protected_by(
            JWTAuthentication, JWTTokenUserAuthentication, CustomAuthentication
        )
        schema = generate_schema(
            patterns=[
                path("user/", user),
                path("token-user/", token_user),
                path("custom/", custom),
                path("api/auth/", include("django_jwt_revoke.urls")),
            ]
        )
    assert list(schema["components"]["securitySchemes"]) == ["feedConsumerAuth", "jwtAuth"]
    for url in ["/user/", "/token-user/", "/custom/"]:
        assert schema["paths"][url]["get"]["security"] == [{"jwtAuth": []}]


@pytest.mark.parametrize(
    "authentication",
    [JWTAuthentication, JWTTokenUserAuthentication, CustomAuthentication],
)
def test_both_authentication_classes_and_subclasses_have_the_scheme(authentication):
    extension = OpenApiAuthenticationExtension.get_match(authentication())
    assert isinstance(extension, openapi.JWTAuthenticationScheme)
    assert extension.get_security_definition(None) == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


def test_generation_leaves_the_views_alone(schema):
    assert resolve(TOKEN).func.cls is views.TokenObtainView
    assert not hasattr(views.TokenObtainView.post, "kwargs")
    assert "_spectacular_annotation" not in vars(views.TokenObtainView)


@pytest.mark.django_db
def test_answers_have_the_documented_shape(schema, api_client):
    """Real answers carry exactly the documented fields (a schema can drift from the views)."""
    answer = api_client.post(TOKEN, credentials(UserFactory(is_staff=True)), format="json")
    pair_schema = component(schema, response_schema(schema, "token/", "post", "200"))
    assert set(answer.json()) == set(pair_schema["properties"])

    bearer = {"HTTP_AUTHORIZATION": f"Bearer {answer.json()['access']}"}
    sessions = api_client.get(reverse("django_jwt_revoke:session_list"), **bearer).json()
    session_schema = component(schema, response_schema(schema, "sessions/", "get", "200")["items"])
    assert set(sessions[0]) == set(session_schema["properties"])

    introspected = api_client.post(
        reverse("django_jwt_revoke:token_introspect"),
        {"token": answer.json()["access"]},
        format="json",
        **bearer,
    ).json()
    result_schema = component(schema, response_schema(schema, "introspect/", "post", "200"))
    assert set(result_schema["required"]) <= set(introspected)
    documented = {
        name for name in result_schema["properties"] if name not in {"iss", "aud"}
    }  # iss and aud only when configured
    assert documented <= set(introspected)

    refused = api_client.post(TOKEN, {LOGIN: "x", "password": "y"}, format="json")
    error_schema = component(schema, response_schema(schema, "token/", "post", "401"))
    assert refused.status_code == 401
    assert set(refused.json()) == set(error_schema["properties"])

    missing = api_client.post(reverse("django_jwt_revoke:token_revoke"), {}, format="json")
    error_schema = component(schema, response_schema(schema, "revoke/", "post", "400"))
    assert set(missing.json()) == set(error_schema["properties"])


# Runs in a fresh interpreter where drf_spectacular cannot be imported.
_WITHOUT_SPECTACULAR = textwrap.dedent(
    """
    import sys

    class BlockSpectacular:
        def find_spec(self, name, path=None, target=None):
            if name == "drf_spectacular" or name.startswith("drf_spectacular."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, BlockSpectacular())

    import django
    django.setup()

    from django.test import Client
    from django.urls import reverse
    import django_jwt_revoke.urls, django_jwt_revoke.views  # noqa: F401

    client = Client()
    assert client.get(reverse("django_jwt_revoke:jwks")).status_code == 404
    answer = client.post(reverse("django_jwt_revoke:token_revoke"), {})
    assert (answer.status_code, answer.json()) == (400, {"error": "invalid_request"})
    loaded = sorted(
        name for name in sys.modules
        if name.startswith("drf_spectacular") or name == "django_jwt_revoke.openapi"
    )
    assert not loaded, loaded
    print("ok")
    """
)


def run_python(script: str) -> str:
    """Runs ``script`` in a fresh interpreter on the test settings; returns its output."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_app_works_without_drf_spectacular():
    assert run_python(_WITHOUT_SPECTACULAR) == "ok"


def test_django_setup_alone_registers_the_extensions():
    script = textwrap.dedent(
        """
        import sys
        import django
        django.setup()

        from drf_spectacular.extensions import OpenApiAuthenticationExtension
        from django_jwt_revoke.authentication import JWTTokenUserAuthentication

        assert "django_jwt_revoke.openapi" in sys.modules
        extension = OpenApiAuthenticationExtension.get_match(JWTTokenUserAuthentication())
        print(type(extension).__name__)
        """
    )
    assert run_python(script) == "JWTTokenUserAuthenticationScheme"


# Cookie transport --------------------------------------------------------------

COOKIE_ENDPOINTS = {
    **ENDPOINTS,
    ("token/refresh/", "post"): {"200", "400", "401", "403", "415", "503"},
    ("logout/", "post"): {"204", "400", "401", "403", "415", "503"},
    ("logout-all/", "post"): {"204", "400", "401", "403", "503"},
    ("sessions/{sid}/", "delete"): {"204", "400", "401", "403", "404", "503"},
    ("introspect/", "post"): {"200", "400", "401", "403", "503"},
}


@pytest.fixture(scope="module")
def cookie_schema() -> dict:
    return generate_schema(AUTH_COOKIE="access_token")


def test_cookie_mode_adds_the_cookie_scheme_as_an_alternative(cookie_schema):
    schemes = cookie_schema["components"]["securitySchemes"]
    assert schemes["jwtAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    cookie = schemes["jwtCookieAuth"]
    assert (cookie["type"], cookie["in"], cookie["name"]) == ("apiKey", "cookie", "access_token")
    assert "X-CSRFToken" in cookie["description"]
    for endpoint in BEARER_ONLY:
        (method,) = {m for (e, m) in ENDPOINTS if e == endpoint}
        consumer = [{"feedConsumerAuth": []}] if endpoint == "introspect/" else []
        assert operation(cookie_schema, endpoint, method)["security"] == [
            *consumer,
            {"jwtAuth": []},
            {"jwtCookieAuth": []},
        ]


@pytest.mark.parametrize(("endpoint", "method"), sorted(COOKIE_ENDPOINTS))
def test_cookie_mode_status_codes(cookie_schema, endpoint, method):
    responses = operation(cookie_schema, endpoint, method)["responses"]
    assert set(responses) == COOKIE_ENDPOINTS[endpoint, method]
    if "403" in responses:
        assert "csrf_failed" in responses["403"]["description"]
        error = component(cookie_schema, response_schema(cookie_schema, endpoint, method, "403"))
        assert set(error["properties"]) == {"detail", "code"}


def test_cookie_mode_answers_and_refresh_body(cookie_schema):
    for endpoint in ("token/", "token/refresh/"):
        answer = component(cookie_schema, response_schema(cookie_schema, endpoint, "post", "200"))
        assert set(answer["properties"]) == {"access_expires_at", "refresh_expires_at"}
        headers = operation(cookie_schema, endpoint, "post")["responses"]["200"]["headers"]
        assert "Set-Cookie" in headers
    body = request_schema(cookie_schema, "token/refresh/")
    assert set(body["properties"]) == {"refresh"}
    assert "required" not in body
    logout = operation(cookie_schema, "logout/", "post")
    assert "Set-Cookie" in logout["responses"]["204"]["headers"]


def test_cookie_mode_off_again_is_headers_only(cookie_schema):
    schema = generate_schema()
    assert list(schema["components"]["securitySchemes"]) == ["feedConsumerAuth", "jwtAuth"]
    assert "headers" not in operation(schema, "token/", "post")["responses"]["200"]


@pytest.mark.django_db
def test_cookie_mode_answers_have_the_documented_shape(cookie_schema, api_client):
    user = UserFactory()
    with override_settings(JWT_REVOKE={**settings.JWT_REVOKE, "AUTH_COOKIE": "access_token"}):
        answer = api_client.post(TOKEN, credentials(user), format="json")
    documented = component(cookie_schema, response_schema(cookie_schema, "token/", "post", "200"))
    assert set(answer.json()) == set(documented["properties"])
