"""Hostile tokens at every endpoint that takes one: a clean refusal, never a
500 and never a pass."""

import base64
import json

import jwt
import pytest
from django.test import override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_jwt_revoke.conf import jwt_revoke_settings
from django_jwt_revoke.tokens import issue_token_pair
from tests.factories import UserFactory
from tests.keys import pem_pair
from tests.legacy import legacy_token

pytestmark = pytest.mark.django_db

REFRESH = reverse("django_jwt_revoke:token_refresh")
LOGOUT = reverse("django_jwt_revoke:logout")
REVOKE = reverse("django_jwt_revoke:token_revoke")
INTROSPECT = reverse("django_jwt_revoke:token_introspect")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_jwt(header, payload, signature=b"sig") -> str:
    def part(value):
        return b64(value if isinstance(value, bytes) else json.dumps(value).encode())

    return f"{part(header)}.{part(payload)}.{b64(signature)}"


def claims(raw):
    return jwt.decode(raw, options={"verify_signature": False})


def hs256(header: dict, body: bytes) -> str:
    """Sign by hand what PyJWT refuses to produce."""
    import hashlib
    import hmac

    head = b64(json.dumps(header).encode())
    signing_input = f"{head}.{b64(body)}".encode()
    key = jwt_revoke_settings.SIGNING_KEY.encode()
    return f"{signing_input.decode()}.{b64(hmac.new(key, signing_input, hashlib.sha256).digest())}"


def sign(payload, headers=None, key=None, algorithm="HS256"):
    return jwt.encode(
        payload, key or jwt_revoke_settings.SIGNING_KEY, algorithm=algorithm, headers=headers
    )


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def probe(api_client, staff):
    """Present ``raw`` everywhere a token is taken; assert a refusal each time."""

    def check(raw, *, expect_code=None):
        staff_access = issue_token_pair(staff).access  # under the settings in force
        for path in ("/api/me/", "/api/token-user-me/"):
            response = api_client.get(path, HTTP_AUTHORIZATION=f"Bearer {raw}")
            assert response.status_code == 401, (path, response.content)
            if expect_code:
                assert response.json()["code"] == expect_code
        response = api_client.post(REFRESH, {"refresh": raw}, format="json")
        assert response.status_code == 401, response.content
        response = api_client.post(LOGOUT, HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert response.status_code == 401, response.content
        # RFC 7009: 200 whatever the token, and nothing else happens
        response = api_client.post(REVOKE, {"token": raw}, format="json")
        assert response.status_code == 200, response.content
        response = api_client.post(
            INTROSPECT,
            {"token": raw},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {staff_access}",
        )
        assert response.status_code == 200 and response.json() == {"active": False}

    return check


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_unsigned_tokens_in_any_spelling(probe, pair, alg):
    probe(
        raw_jwt({"alg": alg, "typ": "JWT"}, claims(pair.access), b""), expect_code="token_invalid"
    )
    probe(raw_jwt({"alg": alg}, claims(pair.access), b"")[:-1], expect_code="token_invalid")


def test_algorithm_confusion_with_public_key(probe, user):
    private, public_pem = pem_pair("rsa")
    public = public_pem.encode()
    with override_settings(JWT_REVOKE={"ALGORITHM": "RS256", "SIGNING_KEY": private}):
        payload = claims(issue_token_pair(user).access)
        import hashlib
        import hmac

        header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = b64(json.dumps(payload).encode())
        mac = hmac.new(public, f"{header}.{body}".encode(), hashlib.sha256).digest()
        probe(f"{header}.{body}.{b64(mac)}", expect_code="token_invalid")
        # and the same family, another size
        probe(sign(payload, key=private, algorithm="RS512"), expect_code="token_invalid")


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_other_algorithm_of_the_same_family(probe, pair, alg):
    key = jwt_revoke_settings.SIGNING_KEY * 2  # long enough to not warn
    probe(sign(claims(pair.access), key=key, algorithm=alg), expect_code="token_invalid")


@pytest.mark.parametrize(
    "extra",
    [
        {"kid": "../../../../etc/passwd"},
        {"kid": "' OR '1'='1"},
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"jwk": {"kty": "oct", "k": "c2VjcmV0"}},
        {"x5c": ["MIIB"]},
        {"crit": ["exp"]},
        {"crit": ["x-custom"], "x-custom": 1},
    ],
)
def test_untrusted_header_parameters(probe, pair, extra):
    probe(sign(claims(pair.access), headers=extra), expect_code="token_invalid")


def test_kid_that_is_not_a_string(probe, pair):
    probe(hs256({"alg": "HS256", "kid": 7}, json.dumps(claims(pair.access)).encode()))


@pytest.mark.parametrize(
    "raw",
    [
        "a",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        "....",
        "!!!.!!!.!!!",
        "eyJ.eyJ.sig",
        b64(b"not json") + "." + b64(b"{}") + ".c2ln",
        b64(b"[1,2]") + "." + b64(b"{}") + ".c2ln",
        b64(b'"str"') + "." + b64(b"{}") + ".c2ln",
        b64(b'{"alg":"HS256"}') + "." + b64(b"not json") + ".c2ln",
    ],
)
def test_malformed_shapes(probe, raw):
    probe(raw)


@pytest.mark.parametrize("payload", ["[1, 2]", '"a string"', "42", "null", "{bad json"])
def test_signed_non_object_payloads(probe, payload):
    probe(hs256({"alg": "HS256", "typ": "JWT"}, payload.encode()))


def test_nested_jwt(probe, pair):
    """A JWT whose payload is a JWT (RFC 7519 5.2 "cty": "JWT") is not unwrapped."""
    probe(hs256({"alg": "HS256", "cty": "JWT"}, pair.access.encode()))
    probe(hs256({"alg": "HS256"}, json.dumps(pair.access).encode()))
    probe(sign({"token": pair.access}))


@pytest.mark.parametrize(
    "claim,value",
    [
        ("exp", "tomorrow"),
        ("exp", None),
        ("exp", [1]),
        ("exp", 10**30),
        ("iat", "now"),
        ("iat", 10**30),
        ("nbf", 10**12),
        ("nbf", "soon"),
        ("user_id", 1.5),
        ("user_id", True),
        ("user_id", [1]),
        ("user_id", "abc"),
        ("user_id", None),
        ("user_id", {"id": 1}),
        ("user_id", -1),
        ("jti", 123),
        ("jti", ""),
        ("jti", "x" * 300),
        ("jti", None),
        ("sid", 123),
        ("sid", "x" * 100),
        ("token_type", "refresh "),
        ("token_type", None),
        ("token_type", 1),
        ("gen", -1),
        ("gen", 1.5),
        ("gen", True),
    ],
)
def test_claims_of_wrong_type_or_range(probe, pair, claim, value):
    payload = claims(pair.access)
    payload[claim] = value
    probe(sign(payload))


def test_lifetime_longer_than_we_issue(probe, pair):
    payload = claims(pair.access)
    payload["exp"] = payload["iat"] + 3600 * 24 * 365
    probe(sign(payload), expect_code="token_claims_invalid")


def test_another_issuer_and_audience(probe, user):
    with override_settings(JWT_REVOKE={"ISSUER": "https://other.example", "AUDIENCE": "other"}):
        foreign = issue_token_pair(user).access
    with override_settings(JWT_REVOKE={"ISSUER": "https://us.example", "AUDIENCE": "us"}):
        probe(foreign, expect_code="token_claims_invalid")


def test_refresh_token_where_an_access_token_is_expected(api_client, pair):
    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {pair.refresh}")
    assert response.status_code == 401 and response.json()["code"] == "token_wrong_type"


def test_access_token_where_a_refresh_token_is_expected(api_client, pair):
    response = api_client.post(REFRESH, {"refresh": pair.access}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "token_wrong_type"


def test_tokens_of_deleted_inactive_and_unknown_users(probe, user, other_user):
    deleted = issue_token_pair(user).access
    user.delete()
    probe(deleted)
    inactive = issue_token_pair(other_user).access
    other_user.is_active = False
    other_user.save()
    probe(inactive)
    ghost = claims(inactive)
    ghost["user_id"] = 10**9
    probe(sign(ghost))


# -- legacy (simplejwt-shaped) tokens: no sid, every other check alike ------------


@pytest.mark.usefixtures("accept_legacy")
def test_legacy_token_with_a_forged_signature(probe, user):
    key = "an-attacker-key-that-is-long-enough-for-hs256!"
    probe(legacy_token(user, key=key), expect_code="token_invalid")
    probe(legacy_token(user, "refresh", key=key), expect_code="token_invalid")


@pytest.mark.usefixtures("accept_legacy")
@pytest.mark.parametrize(
    "extra",
    [
        {"kid": "unknown"},
        {"jku": "https://attacker.example/jwks.json"},
        {"jwk": {"kty": "oct", "k": "c2VjcmV0"}},
        {"x5u": "https://attacker.example/cert.pem"},
        {"crit": ["exp"]},
    ],
)
def test_legacy_token_with_untrusted_header_parameters(probe, user, extra):
    probe(legacy_token(user, headers=extra), expect_code="token_invalid")


@pytest.mark.usefixtures("accept_legacy")
def test_legacy_token_unsigned(probe, user):
    payload = claims(legacy_token(user))
    probe(raw_jwt({"alg": "none", "typ": "JWT"}, payload, b""), expect_code="token_invalid")


@pytest.mark.usefixtures("accept_legacy")
@pytest.mark.parametrize("spelling", ["0{}", "+{}", " {}", "{} ", "{}.0", "{}_0", "0x{}", ""])
def test_legacy_user_id_in_another_spelling(probe, user, spelling):
    """Only the canonical decimal string stands for an integer id."""
    probe(legacy_token(user, user_id=spelling.format(user.pk)), expect_code="token_claims_invalid")


@pytest.mark.parametrize("claim", ["gen", "epoch"])
def test_our_token_without_its_sid_is_neither_ours_nor_legacy(probe, pair, claim):
    payload = claims(pair.access)
    del payload["sid"]
    del payload["epoch" if claim == "gen" else "gen"]  # keep only ``claim``
    probe(sign(payload), expect_code="token_claims_invalid")


@pytest.mark.usefixtures("accept_legacy")
def test_legacy_token_longer_lived_than_ours(probe, user):
    payload = claims(legacy_token(user))
    payload["exp"] = payload["iat"] + 3600 * 24 * 365
    probe(sign(payload), expect_code="token_claims_invalid")


def test_legacy_tokens_refused_when_turned_off(probe, user, settings):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "ACCEPT_SIMPLEJWT_TOKENS": False}
    probe(legacy_token(user), expect_code="token_claims_invalid")


def test_legacy_tokens_refused_by_default(probe, user, api_client, get_me, settings):
    """A token signed with our key and shaped as simplejwt's is no credential by default."""
    assert "ACCEPT_SIMPLEJWT_TOKENS" not in jwt_revoke_settings.user_settings
    access, refresh = legacy_token(user), legacy_token(user, "refresh")
    probe(access, expect_code="token_claims_invalid")
    probe(refresh, expect_code="token_claims_invalid")
    # the same tokens once it is turned on: the refusal was the default's
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "ACCEPT_SIMPLEJWT_TOKENS": True}
    me = get_me(access)
    assert me.status_code == 200 and me.json()["username"] == user.get_username()
    response = api_client.post(REFRESH, {"refresh": refresh}, format="json")
    assert response.status_code == 200


def test_oversized_token_refused_before_decoding(probe, pair):
    probe("a" * 10_000 + "." + "b" * 10 + ".c", expect_code="token_too_large")


# -- property-based: anything at all gets a clean 401 --------------------------

_HS = HealthCheck
token_text = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=300),
    st.lists(st.text("abcdefABCDEF0123456789-_", max_size=60), min_size=1, max_size=6).map(
        ".".join
    ),
)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[_HS.function_scoped_fixture])
@given(raw=token_text)
def test_random_tokens_get_a_clean_401(api_client, raw):
    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    if not raw:  # "Bearer " and no token: a malformed header, 400 (RFC 6750 3.1)
        assert (response.status_code, response.json()["code"]) == (
            400,
            "authorization_header_invalid",
        )
        return
    assert response.status_code == 401
    assert response.json()["code"] in {
        "token_invalid",
        "token_too_large",
        "authorization_header_invalid",
    }


@hsettings(max_examples=150, deadline=None, suppress_health_check=[_HS.function_scoped_fixture])
@given(data=st.data())
def test_mutated_tokens_get_a_clean_401(api_client, pair, data):
    raw = pair.access
    position = data.draw(st.integers(0, len(raw) - 1))
    replacement = data.draw(st.sampled_from("AQgw_-.xZ9"))
    mutated = raw[:position] + replacement + raw[position + 1 :]
    if mutated == raw:
        return
    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {mutated}")
    # base64url has slack bits in its last character: a change there can
    # decode to the very same bytes, and then the token is still the token
    if response.status_code == 200:
        assert jwt.utils.base64url_decode(mutated.split(".")[2]) == jwt.utils.base64url_decode(
            raw.split(".")[2]
        )
        assert mutated.split(".")[:2] == raw.split(".")[:2]
        return
    assert response.status_code == 401, response.content
    assert "code" in response.json()


@hsettings(max_examples=100, deadline=None, suppress_health_check=[_HS.function_scoped_fixture])
@given(
    payload=st.dictionaries(
        st.sampled_from(["exp", "iat", "jti", "sid", "token_type", "user_id", "gen", "nbf"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**70), 2**70),
            st.floats(allow_nan=False),
            st.text(max_size=20),
            st.lists(st.integers(), max_size=2),
        ),
    )
)
def test_signed_random_claims_never_crash(api_client, payload):
    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {sign(payload)}")
    assert response.status_code == 401, response.content
