from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone

from django_jwt_revoke.exceptions import InvalidToken
from django_jwt_revoke.models import OutstandingToken, TokenSession
from django_jwt_revoke.tokens import ACCESS, REFRESH, decode_token, issue_token_pair
from tests.factories import UserFactory, json_id
from tests.keys import pem_pair

pytestmark = pytest.mark.django_db


def unverified(raw):
    return jwt.decode(raw, options={"verify_signature": False})


def test_pair_claims(user):
    pair = issue_token_pair(user)
    access, refresh = unverified(pair.access), unverified(pair.refresh)
    assert access["token_type"] == "access" and refresh["token_type"] == "refresh"
    assert access["sid"] == refresh["sid"] == pair.sid
    assert access["jti"] != refresh["jti"]
    assert access["user_id"] == refresh["user_id"] == json_id(user)
    assert access["exp"] - access["iat"] == 300
    assert refresh["exp"] - refresh["iat"] == 86400
    assert access["gen"] == 0
    assert jwt.get_unverified_header(pair.access) == {"alg": "HS256", "typ": "JWT"}


def test_ids_are_random(user):
    pairs = [issue_token_pair(user) for _ in range(20)]
    jtis = {unverified(p.access)["jti"] for p in pairs} | {
        unverified(p.refresh)["jti"] for p in pairs
    }
    assert len(jtis) == 40
    assert len({p.sid for p in pairs}) == 20


def test_issue_records_session_and_refresh_token(user, rf):
    request = rf.post("/", HTTP_USER_AGENT="curl/8.0", REMOTE_ADDR="203.0.113.9")
    pair = issue_token_pair(user, request=request)
    session = TokenSession.objects.get(sid=pair.sid)
    assert session.user == user
    assert (session.user_agent, session.ip) == ("curl/8.0", "203.0.113.9")
    refresh = unverified(pair.refresh)
    outstanding = OutstandingToken.objects.get(jti=refresh["jti"])
    assert outstanding.session == session and outstanding.user == user
    assert outstanding.expires_at.timestamp() == refresh["exp"] == session.expires_at.timestamp()
    assert (outstanding.user_agent, outstanding.ip) == ("curl/8.0", "203.0.113.9")


def test_issue_without_request_records_no_client(user):
    session = TokenSession.objects.get(sid=issue_token_pair(user).sid)
    assert (session.user_agent, session.ip) == ("", None)


def test_decode_checks_type(user):
    pair = issue_token_pair(user)
    assert decode_token(pair.refresh, token_type=REFRESH).token_type == "refresh"
    with pytest.raises(InvalidToken) as exc:
        decode_token(pair.refresh, token_type=ACCESS)
    assert exc.value.code == "token_wrong_type"
    assert decode_token(pair.refresh, token_type=None).jti == unverified(pair.refresh)["jti"]


def test_decode_expired_can_be_skipped_for_revocation(user):
    pair = issue_token_pair(user)
    later = timezone.now() + timedelta(days=2)
    import time_machine

    with time_machine.travel(later):
        with pytest.raises(InvalidToken) as exc:
            decode_token(pair.access)
        assert exc.value.code == "token_expired"
        assert decode_token(pair.access, verify_exp=False).sid == pair.sid


def test_invalid_token_error_shape():
    error = InvalidToken("token_revoked")
    assert error.status_code == 401
    assert error.detail == {"detail": "Token has been revoked.", "code": "token_revoked"}
    with pytest.raises(ValueError):
        InvalidToken("no_such_code")


def test_rs256_round_trip_and_kid_rotation(user):
    old_private, old_public = pem_pair()
    new_private, _ = pem_pair()
    with override_settings(JWT_REVOKE={"ALGORITHM": "RS256", "SIGNING_KEY": old_private}):
        old_pair = issue_token_pair(user)
        assert decode_token(old_pair.access).sid == old_pair.sid
    # rotate: new signing key, the old public key still accepted under its kid
    with override_settings(
        JWT_REVOKE={
            "ALGORITHM": "RS256",
            "SIGNING_KEY": new_private,
            "VERIFYING_KEYS": {"old": old_public},
        }
    ):
        new_pair = issue_token_pair(user)
        header = jwt.get_unverified_header(new_pair.access)
        assert header["alg"] == "RS256" and header["kid"]
        assert decode_token(new_pair.access).sid == new_pair.sid
        # the old token's kid (derived from the old key) is not one configured: refused
        with pytest.raises(InvalidToken):
            decode_token(old_pair.access)
        # re-labelled with the old kid, the old key verifies it
        relabelled = jwt.encode(
            unverified(old_pair.access), old_private, algorithm="RS256", headers={"kid": "old"}
        )
        assert decode_token(relabelled).sid == old_pair.sid
        unknown = jwt.encode(
            unverified(old_pair.access), old_private, algorithm="RS256", headers={"kid": "retired"}
        )
        with pytest.raises(InvalidToken):
            decode_token(unknown)


def test_hmac_with_public_key_as_secret_is_refused(user):
    """Algorithm confusion: an attacker signs HS256 with the server's public key."""
    private, public = pem_pair()
    with override_settings(JWT_REVOKE={"ALGORITHM": "RS256", "SIGNING_KEY": private}):
        payload = unverified(issue_token_pair(user).access)
        import base64
        import hashlib
        import hmac
        import json

        def b64(data):
            return base64.urlsafe_b64encode(data).rstrip(b"=")

        signing_input = (
            b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
            + b"."
            + b64(json.dumps(payload).encode())
        )
        signature = hmac.new(public.encode(), signing_input, hashlib.sha256).digest()
        forged = (signing_input + b"." + b64(signature)).decode()
        with pytest.raises(InvalidToken) as exc:
            decode_token(forged)
        assert exc.value.code == "token_invalid"


def test_uuid_like_user_id_claim_for_string_fields():
    field = get_user_model().USERNAME_FIELD  # username, or email for an email login
    with override_settings(JWT_REVOKE={"USER_ID_FIELD": field, "USER_ID_CLAIM": "user_id"}):
        user = UserFactory(name="bob")
        token = decode_token(issue_token_pair(user).access)
        assert token.user_id == user.get_username() and token.user_key == user.get_username()


def test_decoded_headers_are_remembered_boundedly_and_never_shared(pair):
    import base64
    import json

    from django_jwt_revoke import jose

    token = decode_token(pair.access)
    token.header["kid"] = "changed by a caller"  # the token's own copy
    assert "kid" not in decode_token(pair.access).header
    body = pair.access.split(".", 1)[1]
    for i in range(3 * jose.HEADERS_KEPT):
        head = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "n": i}).encode())
        with pytest.raises(InvalidToken):
            decode_token(head.decode().rstrip("=") + "." + body)
        assert len(jose._headers) <= jose.HEADERS_KEPT
    assert decode_token(pair.access).jti == token.jti


@pytest.mark.parametrize(
    "algorithm,kind",
    [
        ("HS384", None),
        ("HS512", None),
        ("RS256", "rsa"),
        ("PS256", "rsa"),
        ("ES256", "ec"),
        ("EdDSA", "ed25519"),
    ],
)
def test_every_supported_algorithm_round_trips(get_me, user, algorithm, kind):
    key = "s" * 64 if kind is None else pem_pair(kind)[0]
    with override_settings(JWT_REVOKE={"ALGORITHM": algorithm, "SIGNING_KEY": key}):
        pair = issue_token_pair(user)
        assert jwt.get_unverified_header(pair.access)["alg"] == algorithm
        assert decode_token(pair.access).sid == pair.sid
        assert get_me(pair.access).status_code == 200
    # a token of one algorithm is refused once another is pinned
    with override_settings(JWT_REVOKE={"ALGORITHM": "HS256", "SIGNING_KEY": "t" * 64}):
        with pytest.raises(InvalidToken) as exc:
            decode_token(pair.access)
        assert exc.value.code == "token_invalid"


def test_asymmetric_token_without_a_kid_still_verifies_with_the_signing_key(user):
    """Tokens issued before the kid was always written (one asymmetric key) keep working."""
    private, _ = pem_pair("ec")
    with override_settings(JWT_REVOKE={"ALGORITHM": "ES256", "SIGNING_KEY": private}):
        pair = issue_token_pair(user)
        assert jwt.get_unverified_header(pair.access)["kid"]
        kidless = jwt.encode(unverified(pair.access), private, algorithm="ES256")
        assert "kid" not in jwt.get_unverified_header(kidless)
        assert decode_token(kidless).jti == unverified(pair.access)["jti"]


# -- tokens verified before (tokens._verified) ---------------------------------------
# A token seen before skips the signature check: each test below tries to make
# a kept verdict outlive what makes it true.


def test_a_kept_token_still_expires(user):
    import time_machine

    pair = issue_token_pair(user)
    assert decode_token(pair.access).jti  # verified, and kept
    expires = datetime.fromtimestamp(unverified(pair.access)["exp"], tz=dt_timezone.utc)
    with time_machine.travel(expires - timedelta(seconds=1), tick=False):
        assert decode_token(pair.access).jti
    with time_machine.travel(expires, tick=False):  # exp <= now: expired, as PyJWT says
        with pytest.raises(InvalidToken) as exc:
            decode_token(pair.access)
        assert exc.value.code == "token_expired"
    with override_settings(JWT_REVOKE={"LEEWAY": timedelta(seconds=30)}):
        decode_token(pair.access)  # kept again under these settings
        with time_machine.travel(expires + timedelta(seconds=29), tick=False):
            assert decode_token(pair.access).jti
        with time_machine.travel(expires + timedelta(seconds=30), tick=False):
            with pytest.raises(InvalidToken) as exc:
                decode_token(pair.access)
            assert exc.value.code == "token_expired"


def test_a_kept_token_is_not_valid_before_its_time(user):
    import time_machine

    pair = issue_token_pair(user)
    issued = datetime.fromtimestamp(unverified(pair.access)["iat"], tz=dt_timezone.utc)
    decode_token(pair.access)
    with time_machine.travel(issued - timedelta(seconds=5), tick=False):  # the clock went back
        with pytest.raises(InvalidToken) as exc:
            decode_token(pair.access)
        assert exc.value.code == "token_not_yet_valid"


def test_a_kept_token_dies_with_its_key(user):
    old = {"SIGNING_KEY": "k" * 64}
    with override_settings(JWT_REVOKE=old):
        pair = issue_token_pair(user)
        assert decode_token(pair.access).jti
    with override_settings(JWT_REVOKE={"SIGNING_KEY": "n" * 64}):  # rotated, old key dropped
        with pytest.raises(InvalidToken) as exc:
            decode_token(pair.access)
        assert exc.value.code == "token_invalid"
    with override_settings(JWT_REVOKE={**old, "AUDIENCE": "other-api"}):  # the rules changed
        with pytest.raises(InvalidToken) as exc:
            decode_token(pair.access)
        assert exc.value.code == "token_claims_invalid"


def test_a_kept_token_keeps_its_type(user):
    pair = issue_token_pair(user)
    assert decode_token(pair.refresh, token_type=REFRESH).jti
    with pytest.raises(InvalidToken) as exc:
        decode_token(pair.refresh)  # ACCESS expected: kept as a refresh token, refused
    assert exc.value.code == "token_wrong_type"


def test_a_token_one_byte_off_a_kept_one_is_verified_afresh(user):
    pair = issue_token_pair(user)
    decode_token(pair.access)
    head, body, signature = pair.access.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(InvalidToken) as exc:
        decode_token(f"{head}.{body}.{flipped}")
    assert exc.value.code == "token_invalid"
    assert decode_token(pair.access).jti


def test_what_a_caller_does_to_a_kept_token_stays_with_it(user):
    pair = issue_token_pair(user)
    first = decode_token(pair.access)
    first.payload["user_id"] = "someone else"
    first.payload["exp"] = 2**40
    again = decode_token(pair.access)
    assert again.payload["user_id"] == unverified(pair.access)["user_id"]
    again.payload["sid"] = "other"
    assert decode_token(pair.access).sid == pair.sid


def test_the_kept_tokens_are_bounded(user):
    from django_jwt_revoke import tokens
    from django_jwt_revoke.jose import VERIFIED_KEPT

    pairs = [issue_token_pair(user) for _ in range(50)]
    for pair in pairs:
        decode_token(pair.access)
    kept = tokens._verified()
    assert 50 <= len(kept) <= VERIFIED_KEPT
    for i in range(VERIFIED_KEPT + 10):  # the dict, not the tokens, is what is bounded
        kept[f"filler-{i}", ACCESS] = kept[pairs[0].access, ACCESS]
        if len(kept) >= VERIFIED_KEPT:
            break
    decode_token(issue_token_pair(user).access)
    assert len(tokens._verified()) <= VERIFIED_KEPT
