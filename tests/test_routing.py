"""Revocation state is read where it is written, never from a lagging replica."""

import pytest
from django.test import override_settings

from django_jwt_revoke import revocation
from django_jwt_revoke.conf import jwt_revoke_settings
from django_jwt_revoke.models import BlacklistedToken, TokenSession
from django_jwt_revoke.tokens import issue_token_pair
from tests.factories import UserFactory

# revocations reach the cache on commit: on_commit_hooks runs them in the test transaction
pytestmark = [
    pytest.mark.django_db(databases=["default", "replica"]),
    pytest.mark.usefixtures("on_commit_hooks"),
]

REPLICA_ROUTER = override_settings(DATABASE_ROUTERS=["tests.testapp.routers.ReadReplicaRouter"])


@REPLICA_ROUTER
@pytest.mark.parametrize("path", ["/api/me/", "/api/token-user-me/"])
def test_revocation_is_seen_although_reads_go_to_a_lagging_replica(get_me, path):
    user = UserFactory()
    pair = issue_token_pair(user)
    # the replica has none of it: a read there would find the session unknown
    assert not TokenSession.objects.using("replica").exists()
    assert get_me(pair.access, path).status_code == 200
    revocation.revoke_token(pair.access)
    assert not BlacklistedToken.objects.using("replica").exists()
    response = get_me(pair.access, path)
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_database_alias_setting_moves_revocation_state(settings, get_me):
    """DATABASE_ALIAS names where state lives; everything else follows it."""
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "DATABASE_ALIAS": "replica"}
    assert jwt_revoke_settings.database_alias() == "replica"
    user = UserFactory()
    User = type(user)
    replica_user = User.objects.using("replica").create(
        pk=user.pk, **{User.USERNAME_FIELD: user.get_username()}
    )
    pair = issue_token_pair(replica_user)
    assert TokenSession.objects.using("replica").filter(sid=pair.sid).exists()
    assert not TokenSession.objects.using("default").filter(sid=pair.sid).exists()
    assert get_me(pair.access).status_code == 200
    revocation.revoke_session(pair.sid)
    assert TokenSession.objects.using("replica").get(sid=pair.sid).revoked_at is not None
    assert get_me(pair.access).status_code == 401
