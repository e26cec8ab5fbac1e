"""User ids of any field type: exact matching, one canonical key per user.

Runs with every user model CI tests (``--ds tests.settings_uuid_user`` and
``tests.settings_email_user`` too): the assertions adapt to the id field.
"""

import uuid

import jwt
import pytest

from django_jwt_revoke import revocation
from django_jwt_revoke.conf import jwt_revoke_settings
from django_jwt_revoke.tokens import decode_token, issue_token_pair
from tests.factories import UserFactory

# revocations reach the cache on commit: on_commit_hooks runs them in the test transaction
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_commit_hooks")]


def resign(payload):
    return jwt.encode(payload, jwt_revoke_settings.SIGNING_KEY, algorithm="HS256")


def claims(raw):
    return jwt.decode(raw, options={"verify_signature": False})


@pytest.fixture
def person():
    return UserFactory()


def spellings(value):
    """Other ways to write the same id, as a client or another issuer might."""
    if isinstance(value, uuid.UUID):
        return [str(value).upper(), value.hex, f"{{{value}}}", f"urn:uuid:{value}"]
    return []


@pytest.mark.parametrize("path", ["/api/me/", "/api/token-user-me/"])
def test_every_spelling_of_a_uuid_is_one_user_for_revocation(get_me, person, path):
    pair = issue_token_pair(person)
    payload = claims(pair.access)
    variants = [resign(dict(payload, user_id=s)) for s in spellings(person.pk)]
    if not variants:
        pytest.skip("the active user model's id is not a UUID (CI runs tests.settings_uuid_user)")
    for raw in variants:
        assert decode_token(raw).user_key == str(person.pk)
        assert get_me(raw, path).status_code == 200
    revocation.revoke_user_tokens(person)
    for raw in variants:
        response = get_me(raw, path)
        assert response.status_code == 401 and response.json()["code"] == "token_revoked"


@pytest.mark.parametrize("value", [1.5, True, [1], {"id": 1}, "abc", "", None, 2**70])
def test_claims_of_the_wrong_shape_never_match_and_never_raise(get_me, person, value):
    pair = issue_token_pair(person)
    response = get_me(resign(dict(claims(pair.access), user_id=value)))
    assert response.status_code == 401
    assert response.json()["code"] == "token_claims_invalid"


def test_the_claim_holds_the_id_in_its_json_type(person):
    claim = claims(issue_token_pair(person).access)["user_id"]
    if isinstance(person.pk, int):
        assert claim == person.pk and type(claim) is int
    else:
        assert claim == str(person.pk)
