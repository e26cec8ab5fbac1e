"""Deeply nested JSON at every POST endpoint: a 400, never a RecursionError and a 500."""

import io
import logging

import pytest
from django.urls import reverse
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DRFJSONParser

from django_jwt_revoke.models import TokenSession
from django_jwt_revoke.parsers import JSONParser, nested_deeper_than
from django_jwt_revoke.tokens import issue_token_pair
from django_jwt_revoke.views import TokenObtainView, TokenRevokeView
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# 2 KB and 100 KB: the first is deeper than CPython's default recursion limit
# lets json.load go; the second is deeper than any interpreter's C stack allows.
BODIES = {
    "arrays-2k": "[" * 2048 + "]" * 2048,
    "objects-2k": '{"a":' * 2048 + "1" + "}" * 2048,
    "arrays-100k": "[" * 100_000,
    "objects-100k": '{"a":' * 20_000 + "1" + "}" * 20_000,
}
NESTED = pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))


@pytest.fixture
def client(api_client):
    """Answers 500 instead of raising, as a server would."""
    api_client.raise_request_exception = False
    return api_client


@pytest.fixture
def no_error_logged(caplog):
    caplog.set_level(logging.ERROR)
    yield
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def post_json(client, name, body, access=None):
    """POST ``body`` to the app's endpoint of URL name ``name``."""
    url = reverse(f"django_jwt_revoke:{name}")
    extra = {"HTTP_AUTHORIZATION": f"Bearer {access}"} if access else {}
    return client.post(url, body, content_type="application/json", **extra)


def parse_error(response):
    assert response.status_code == 400, response.content[:300]
    answer = response.json()
    assert answer["code"] == "parse_error"
    assert answer["detail"].startswith("JSON parse error")
    return True


@NESTED
@pytest.mark.usefixtures("no_error_logged")
def test_endpoints_taking_a_json_body_answer_parse_error(client, user, body):
    assert parse_error(post_json(client, "token_obtain", body))
    assert parse_error(post_json(client, "token_refresh", body))
    pair = issue_token_pair(user)
    assert parse_error(post_json(client, "logout", body, pair.access))
    # the logout did not happen: the request was refused whole
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is None


@NESTED
@pytest.mark.usefixtures("no_error_logged")
def test_rfc_7009_and_7662_endpoints_answer_invalid_request(client, body):
    staff = issue_token_pair(UserFactory(is_staff=True))
    for name, access in (("token_revoke", None), ("token_introspect", staff.access)):
        response = post_json(client, name, body, access)
        assert response.status_code == 400, response.content[:300]
        assert response.json() == {"error": "invalid_request"}


@NESTED
@pytest.mark.usefixtures("no_error_logged")
def test_logout_all_does_not_read_its_body(client, pair, body):
    """It takes no body: whatever is sent, the caller is logged out everywhere."""
    response = post_json(client, "logout_all", body, pair.access)
    assert response.status_code == 204
    assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {pair.access}").status_code == 401


def test_malformed_json_has_the_same_stable_code(client, user):
    for body in ("{bad", "[1,", '{"username": "a", "password": NaN}x'):
        assert parse_error(post_json(client, "token_obtain", body))


def test_the_limit_is_the_same_on_every_interpreter():
    """512 levels parse; 513 are refused, even where the interpreter would go deeper."""
    parse = JSONParser().parse
    deepest = "[" * JSONParser.max_depth + "]" * JSONParser.max_depth
    assert nested_deeper_than(parse(io.BytesIO(deepest.encode()), "application/json", {}), 511)
    for body in ("[" + deepest + "]", '{"a":' + deepest + "}", "[1, [2, " + deepest + "]]"):
        with pytest.raises(ParseError) as refusal:
            parse(io.BytesIO(body.encode()), "application/json", {})
        assert refusal.value.detail == {
            "detail": "JSON parse error - nested deeper than 512 levels.",
            "code": "parse_error",
        }


def test_the_parser_refuses_nesting_as_malformed_json():
    for body in BODIES.values():
        with pytest.raises(ParseError) as refusal:
            JSONParser().parse(io.BytesIO(body.encode()), "application/json", {})
        assert refusal.value.detail["code"] == "parse_error"
    assert JSONParser().parse(io.BytesIO(b'{"a": [[1]]}'), "application/json", {}) == {"a": [[1]]}


def test_views_use_it_in_place_of_drfs_and_keep_the_project_s_other_parsers():
    for view in (TokenObtainView(), TokenRevokeView()):
        parsers = view.get_parsers()
        assert any(type(p) is JSONParser for p in parsers)
        assert not any(type(p) is DRFJSONParser for p in parsers)
    media_types = [p.media_type for p in TokenObtainView().get_parsers()]
    assert media_types == [p.media_type for p in (cls() for cls in TokenObtainView.parser_classes)]
