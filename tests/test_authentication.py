"""JWTAuthentication and JWTTokenUserAuthentication, seen through real requests."""

from datetime import timedelta

import jwt
import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from django_jwt_revoke import revocation
from django_jwt_revoke.conf import jwt_revoke_settings
from django_jwt_revoke.tokens import decode_token, issue_token_pair
from tests.factories import UserFactory, json_id, unused_id

# revocations reach the cache on commit: on_commit_hooks runs them in the test transaction
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_commit_hooks")]

LOGOUT = reverse("django_jwt_revoke:logout")

ME = "/api/me/"
TOKEN_USER_ME = "/api/token-user-me/"
BOTH = pytest.mark.parametrize("path", [ME, TOKEN_USER_ME])


def claims(raw):
    return jwt.decode(raw, options={"verify_signature": False})


def resign(payload, key=None, algorithm="HS256", headers=None):
    key = key or jwt_revoke_settings.SIGNING_KEY
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def assert_refused(response, code):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == code
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert "error_description=" in challenge


@BOTH
def test_valid_access_token_authenticates(get_me, user, pair, path):
    response = get_me(pair.access, path)
    assert response.status_code == 200
    assert response.json()["id"] == json_id(user)
    assert response.json()["jti"] == claims(pair.access)["jti"]


def test_request_auth_exposes_validated_claims(api_client, user, pair):
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from django_jwt_revoke.authentication import JWTAuthentication

    request = Request(APIRequestFactory().get(ME, HTTP_AUTHORIZATION=f"Bearer {pair.access}"))
    got_user, token = JWTAuthentication().authenticate(request)
    assert got_user == user
    payload = claims(pair.access)
    assert token.jti == payload["jti"]
    assert token.sid == payload["sid"] == pair.sid
    assert token["user_id"] == json_id(user)
    assert dict(token) == payload


def test_no_header_is_unauthenticated_not_refused(api_client):
    response = api_client.get(ME)
    assert response.status_code == 401
    assert response.json()["detail"]
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_other_schemes_are_left_to_other_classes(api_client, pair):
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from django_jwt_revoke.authentication import JWTAuthentication

    request = Request(APIRequestFactory().get(ME, HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz"))
    assert JWTAuthentication().authenticate(request) is None
    request = Request(APIRequestFactory().get(ME, HTTP_AUTHORIZATION=f"Token {pair.access}"))
    assert JWTAuthentication().authenticate(request) is None


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b", "bearer a.b.c extra"])
@pytest.mark.parametrize(
    "method,path", [("get", ME), ("get", TOKEN_USER_ME), ("post", LOGOUT)]
)
def test_malformed_bearer_header_is_a_bad_request(api_client, header, method, path):
    """RFC 6750 3.1: a malformed request is 400 invalid_request, not a bad token (401)."""
    response = getattr(api_client, method)(path, HTTP_AUTHORIZATION=header)
    assert response.status_code == 400, response.content
    assert response.json() == {
        "detail": "Authorization header must contain two space-delimited values: "
        "the scheme and the token.",
        "code": "authorization_header_invalid",
    }
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_request", error_description="Authorization header '
        'must contain two space-delimited values: the scheme and the token."'
    )


@BOTH
def test_token_that_is_not_ascii_is_an_invalid_token_not_a_bad_request(get_me, path):
    """The header is well-formed (scheme and one value): the token is what is malformed."""
    assert_refused(get_me("\u00e9t\u00e9.\u00e9.\u00e9", path), "token_invalid")


def test_refresh_token_is_not_an_access_token(get_me, pair):
    assert_refused(get_me(pair.refresh), "token_wrong_type")


@BOTH
def test_expired_token(get_me, pair, path):
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=1)):
        assert_refused(get_me(pair.access, path), "token_expired")


def test_leeway_accepts_slightly_expired_token(get_me, pair):
    with (
        override_settings(JWT_REVOKE={"LEEWAY": timedelta(seconds=30)}),
        time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=10)),
    ):
        assert get_me(pair.access).status_code == 200


def test_token_from_the_future(get_me, pair):
    payload = claims(pair.access)
    payload["iat"] += 3600
    assert_refused(get_me(resign(payload)), "token_not_yet_valid")


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "sid", "token_type", "user_id"])
def test_missing_claim(get_me, pair, claim):
    payload = claims(pair.access)
    del payload[claim]
    assert_refused(get_me(resign(payload)), "token_claims_invalid")


@pytest.mark.parametrize(
    "claim,value",
    [
        ("user_id", "1"),
        ("user_id", 1.0),
        ("user_id", True),
        ("user_id", [1]),
        ("user_id", 2**70),
        ("jti", 5),
        ("jti", ""),
        ("sid", None),
        ("token_type", "id"),
        ("gen", -1),
        ("gen", "0"),
        ("exp", "soon"),
    ],
)
def test_claim_of_wrong_type(get_me, pair, claim, value):
    payload = claims(pair.access)
    payload[claim] = value
    response = get_me(resign(payload))
    assert response.status_code == 401
    assert response.json()["code"] in {"token_claims_invalid", "token_invalid"}


def test_bad_signature(get_me, pair):
    forged = resign(claims(pair.access), key="another-secret-of-at-least-thirty-two-bytes!!")
    assert_refused(get_me(forged), "token_invalid")


def test_wrong_algorithm_refused(get_me, pair):
    key = jwt_revoke_settings.SIGNING_KEY
    assert_refused(get_me(resign(claims(pair.access), key, "HS512")), "token_invalid")


def test_unsigned_token_refused(get_me, pair):
    unsigned = jwt.encode(claims(pair.access), None, algorithm="none")
    assert_refused(get_me(unsigned), "token_invalid")


@pytest.mark.parametrize("garbage", ["abc", "a.b.c", "....", "é.é.é"])
def test_garbage(get_me, garbage):
    response = get_me(garbage)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_oversized_token(get_me, pair):
    payload = claims(pair.access)
    payload["padding"] = "x" * 5000
    assert_refused(get_me(resign(payload)), "token_too_large")


@override_settings(JWT_REVOKE={"ISSUER": "https://issuer.example", "AUDIENCE": "api"})
def test_issuer_and_audience_required_when_configured(get_me, user):
    good = issue_token_pair(user)
    payload = claims(good.access)
    assert payload["iss"] == "https://issuer.example" and payload["aud"] == "api"
    assert get_me(good.access).status_code == 200
    for claim, value in (("iss", "https://evil.example"), ("aud", "other")):
        bad = dict(payload, **{claim: value})
        assert_refused(get_me(resign(bad)), "token_claims_invalid")
        del bad[claim]
        assert_refused(get_me(resign(bad)), "token_claims_invalid")


@BOTH
@pytest.mark.parametrize("aud", ["some-other-service", ["a", "b"], "", [], None])
def test_token_with_an_audience_is_refused_when_none_is_configured(get_me, pair, path, aud):
    """RFC 7519 4.1.3: with no AUDIENCE we identify with no value of any ``aud``."""
    assert get_me(pair.access, path).status_code == 200
    foreign = resign(dict(claims(pair.access), aud=aud))
    assert_refused(get_me(foreign, path), "token_claims_invalid")
    assert get_me(pair.access, path).status_code == 200


@override_settings(JWT_REVOKE={"AUDIENCE": "api"})
@pytest.mark.parametrize("aud", ["api", ["other", "api"]])
def test_token_naming_the_configured_audience_among_others_is_accepted(get_me, user, aud):
    payload = claims(issue_token_pair(user).access)
    assert get_me(resign(dict(payload, aud=aud))).status_code == 200
    assert_refused(get_me(resign(dict(payload, aud=["other", "apis"]))), "token_claims_invalid")


def test_deleted_user(get_me, user, pair):
    user.delete()
    assert get_me(pair.access).status_code == 401


def test_never_existing_user(get_me, pair):
    payload = claims(pair.access)
    payload["user_id"] = unused_id()
    assert_refused(get_me(resign(payload)), "user_not_found")


def test_inactive_user_via_update_is_refused(get_me, user, pair):
    type(user).objects.filter(pk=user.pk).update(is_active=False)  # bypasses signals
    assert_refused(get_me(pair.access), "user_inactive")


# -- each revocation level, on the very next request ---------------------------


@BOTH
def test_revoked_access_token(get_me, pair, path):
    assert get_me(pair.access, path).status_code == 200
    revocation.revoke_token(pair.access)
    assert_refused(get_me(pair.access, path), "token_revoked")


@BOTH
def test_revoked_access_token_leaves_its_session_alone(get_me, user, pair, path):
    revocation.revoke_token(pair.access)
    # a fresh access token of the same session (rotation) still works
    new = revocation.rotate_refresh_token(pair.refresh)
    assert get_me(new.access, path).status_code == 200


@BOTH
def test_revoked_session(get_me, user, pair, path):
    other = issue_token_pair(user)
    revocation.revoke_session(pair.sid)
    assert_refused(get_me(pair.access, path), "token_revoked")
    assert get_me(other.access, path).status_code == 200


@BOTH
def test_revoked_refresh_token_takes_its_session(get_me, pair, path):
    revocation.revoke_token(pair.refresh)
    assert_refused(get_me(pair.access, path), "token_revoked")


@BOTH
def test_revoked_user(get_me, user, other_user, path):
    first, second = issue_token_pair(user), issue_token_pair(user)
    bystander = issue_token_pair(other_user)
    revocation.revoke_user_tokens(user)
    assert_refused(get_me(first.access, path), "token_revoked")
    assert_refused(get_me(second.access, path), "token_revoked")
    assert get_me(bystander.access, path).status_code == 200
    assert get_me(issue_token_pair(user).access, path).status_code == 200


@BOTH
def test_same_second_revocation(get_me, user, path):
    """iat has whole seconds: a cutoff on it would get one of these wrong."""
    with time_machine.travel(timezone.now().replace(microsecond=100_000), tick=False) as clock:
        before = issue_token_pair(user)
        clock.shift(timedelta(microseconds=300_000))
        revocation.revoke_user_tokens(user)
        clock.shift(timedelta(microseconds=300_000))
        after = issue_token_pair(user)
        assert claims(before.access)["iat"] == claims(after.access)["iat"]
        assert_refused(get_me(before.access, path), "token_revoked")
        assert get_me(after.access, path).status_code == 200


@BOTH
def test_unknown_session_is_refused(get_me, user, pair, path):
    """A token whose session was never recorded here is not trusted."""
    payload = claims(pair.access)
    payload["sid"] = "f" * 32
    assert_refused(get_me(resign(payload), path), "token_revoked")


def test_session_of_another_user_is_refused(get_me, user, other_user, pair):
    """A token naming user B with user A's session does not pass."""
    theirs = issue_token_pair(other_user)
    payload = claims(theirs.access)
    payload["sid"] = pair.sid
    assert_refused(get_me(resign(payload)), "token_revoked")


# -- cost and failure -----------------------------------------------------------


def test_one_query_per_request(get_me, pair, django_assert_num_queries):
    get_me(pair.access)  # warm up anything lazily loaded
    with django_assert_num_queries(1):
        assert get_me(pair.access).status_code == 200


def test_one_query_per_refused_request(get_me, pair, django_assert_num_queries):
    revocation.revoke_session(pair.sid)
    with django_assert_num_queries(1):
        assert get_me(pair.access).status_code == 401


def test_token_user_mode_queries(get_me, pair, django_assert_num_queries):
    """One query without a cache; with one, none once the cache knows the token."""
    with django_assert_num_queries(1):
        assert get_me(pair.access, TOKEN_USER_ME).status_code == 200
    with django_assert_num_queries(0 if jwt_revoke_settings.CACHE_ALIAS else 1):
        assert get_me(pair.access, TOKEN_USER_ME).status_code == 200


def test_authentication_never_writes(get_me, pair, django_assert_num_queries):
    with django_assert_num_queries(1) as ctx:
        get_me(pair.access)
    for query in ctx.captured_queries:
        assert query["sql"].lstrip().upper().startswith("SELECT")


def _broken_database(execute, sql, params, many, context):
    raise DatabaseError("connection lost")


@BOTH
def test_database_error_answers_503_never_200(get_me, pair, path):
    with connection.execute_wrapper(_broken_database):
        response = get_me(pair.access, path)
    assert response.status_code == 503
    assert response.json()["code"] == "revocation_state_unavailable"
    assert response["Retry-After"]
    assert "WWW-Authenticate" not in response


def test_user_id_field_other_than_pk(get_me):
    field = get_user_model().USERNAME_FIELD  # username, or email for an email login
    with override_settings(JWT_REVOKE={"USER_ID_FIELD": field, "USER_ID_CLAIM": "sub"}):
        user = UserFactory(name="alice")
        pair = issue_token_pair(user)
        assert claims(pair.access)["sub"] == user.get_username()
        assert get_me(pair.access).status_code == 200
        assert get_me(pair.access, TOKEN_USER_ME).json()["id"] == user.get_username()
        revocation.revoke_user_tokens(user)
        assert get_me(pair.access).status_code == 401


def test_decode_returns_canonical_user_id(pair, user):
    assert decode_token(pair.access).user_id == user.pk


def test_header_types_follow_the_settings(api_client, pair, settings):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "AUTH_HEADER_TYPES": ("JWT",)}
    response = api_client.get(ME, HTTP_AUTHORIZATION=f"JWT {pair.access}")
    assert response.status_code == 200
    response = api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {pair.access}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'JWT realm="api"'
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "AUTH_HEADER_TYPES": ("Bearer", "JWT")}
    assert api_client.get(ME, HTTP_AUTHORIZATION=f"bearer {pair.access}").status_code == 200
