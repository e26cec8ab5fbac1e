"""The whole flow over real HTTP: a live server, httpx, and Authlib's OAuth 2.0 client."""

from __future__ import annotations

import httpx
import jwt
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from django.test import override_settings
from django.urls import reverse

from tests.factories import UserFactory, credentials
from tests.keys import pem_pair

TOKEN = reverse("django_jwt_revoke:token_obtain")
REFRESH = reverse("django_jwt_revoke:token_refresh")
LOGOUT = reverse("django_jwt_revoke:logout")
LOGOUT_ALL = reverse("django_jwt_revoke:logout_all")
SESSIONS = reverse("django_jwt_revoke:session_list")
REVOKE = reverse("django_jwt_revoke:token_revoke")
INTROSPECT = reverse("django_jwt_revoke:token_introspect")
JWKS = reverse("django_jwt_revoke:jwks")


class BearerAuth(httpx.Auth):
    def __init__(self, access: str) -> None:
        self.access = access

    def auth_flow(self, request):
        request.headers["Authorization"] = f"Bearer {self.access}"
        yield request


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


@pytest.fixture
def base(live_server):
    """The live server's address, for clients given absolute URLs."""
    return live_server.url


@pytest.fixture
def oauth():
    # A confidential client: Authlib sends HTTP Basic credentials, which the
    # endpoints must ignore (revoke) or not need (introspect: Bearer staff).
    with OAuth2Client(client_id="some-app", client_secret="not-checked") as client:
        yield client


def login(http, user, agent="pytest"):
    response = http.post(
        TOKEN,
        json=credentials(user),
        headers={"User-Agent": agent},
    )
    assert response.status_code == 200, response.text
    return response.json()


def me(http, access):
    return http.get("/api/me/", headers={"Authorization": f"Bearer {access}"}).status_code


def refresh(http, token):
    return http.post(REFRESH, json={"refresh": token})


def test_login_refresh_reuse_sessions_logout(http):
    user = UserFactory()
    bad = http.post(TOKEN, json=credentials(user, "wrong"))
    assert bad.status_code == 401

    first = login(http, user, "Phone")
    assert me(http, first["access"]) == 200

    # rotation: the new pair works, the old refresh token is retired
    rotated = refresh(http, first["refresh"])
    assert rotated.status_code == 200
    second = rotated.json()
    assert me(http, second["access"]) == 200

    # replaying the retired refresh token ends the whole session
    replay = refresh(http, first["refresh"])
    assert replay.status_code == 401
    assert replay.json()["code"] == "token_revoked"
    assert me(http, second["access"]) == 401
    assert refresh(http, second["refresh"]).status_code == 401

    # two fresh logins; the sessions list shows both, marks the caller's
    laptop = login(http, user, "Laptop")
    tablet = login(http, user, "Tablet")
    auth = {"Authorization": f"Bearer {laptop['access']}"}
    sessions = http.get(SESSIONS, headers=auth).json()
    assert [(s["user_agent"], s["current"]) for s in sessions] == [
        ("Tablet", False),
        ("Laptop", True),
    ]
    assert sessions[0]["ip"] == "127.0.0.1"

    # ending the tablet's session from the laptop
    tablet_id = sessions[0]["id"]
    tablet_url = reverse("django_jwt_revoke:session_detail", args=[tablet_id])
    assert http.delete(tablet_url, headers=auth).status_code == 204
    assert me(http, tablet["access"]) == 401
    assert me(http, laptop["access"]) == 200

    # logout ends this login only; logout-all ends every one
    desk = login(http, user, "Desk")
    assert http.post(LOGOUT, headers=auth).status_code == 204
    assert me(http, laptop["access"]) == 401
    assert refresh(http, laptop["refresh"]).status_code == 401
    assert me(http, desk["access"]) == 200
    phone = login(http, user, "Phone")
    desk_auth = {"Authorization": f"Bearer {desk['access']}"}
    assert http.post(LOGOUT_ALL, headers=desk_auth).status_code == 204
    assert me(http, desk["access"]) == 401
    assert me(http, phone["access"]) == 401
    assert refresh(http, phone["refresh"]).status_code == 401


def test_rfc7009_revocation_with_authlib(http, base, oauth):
    user = UserFactory()
    pair = login(http, user)

    response = oauth.revoke_token(
        f"{base}{REVOKE}", token=pair["refresh"], token_type_hint="refresh_token"
    )

    assert response.status_code == 200
    assert refresh(http, pair["refresh"]).status_code == 401
    assert me(http, pair["access"]) == 401
    # again, and with nonsense: still 200
    assert oauth.revoke_token(f"{base}{REVOKE}", token=pair["refresh"]).status_code == 200
    assert oauth.revoke_token(f"{base}{REVOKE}", token="nonsense").status_code == 200


def test_rfc7009_access_token_leaves_the_session(http, base, oauth):
    pair = login(http, UserFactory())
    assert oauth.revoke_token(f"{base}{REVOKE}", token=pair["access"]).status_code == 200
    assert me(http, pair["access"]) == 401
    assert refresh(http, pair["refresh"]).status_code == 200


def test_rfc7662_introspection_with_authlib(http, base, oauth):
    user = UserFactory()
    staff = login(http, UserFactory(is_staff=True))
    pair = login(http, user)
    as_staff = BearerAuth(staff["access"])

    active = oauth.introspect_token(f"{base}{INTROSPECT}", token=pair["access"], auth=as_staff)
    assert active.status_code == 200
    body = active.json()
    assert body["active"] is True
    assert body["username"] == user.get_username()
    assert (body["token_type"], body["jwt_token_type"]) == ("Bearer", "access")
    assert pair["access"] not in active.text

    # Authlib's own client credentials (HTTP Basic) do not make a caller staff
    assert oauth.introspect_token(f"{base}{INTROSPECT}", token=pair["access"]).status_code == 401
    # RFC 7662 2.3: a Bearer token without the privileges for it is a 401 too
    as_user = BearerAuth(pair["access"])
    refused = oauth.introspect_token(f"{base}{INTROSPECT}", token=pair["access"], auth=as_user)
    assert refused.status_code == 401
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]

    oauth.revoke_token(f"{base}{REVOKE}", token=pair["refresh"])
    for token in (pair["access"], pair["refresh"], "nonsense"):
        gone = oauth.introspect_token(f"{base}{INTROSPECT}", token=token, auth=as_staff)
        assert gone.status_code == 200
        assert gone.json() == {"active": False}


def test_jwks_under_hmac_is_404(http):
    assert http.get(JWKS).status_code == 404


@pytest.mark.parametrize(
    "kind,algorithm", [("rsa", "RS256"), ("ec", "ES256"), ("ed25519", "EdDSA")]
)
def test_pyjwkclient_finds_the_key_of_our_tokens_in_jwks(http, base, kind, algorithm):
    """One asymmetric SIGNING_KEY and nothing else: tokens name the kid jwks/ publishes."""
    private, _ = pem_pair(kind)
    with override_settings(JWT_REVOKE={"ALGORITHM": algorithm, "SIGNING_KEY": private}):
        pair = login(http, UserFactory())
        jwks = jwt.PyJWKClient(f"{base}{JWKS}", cache_jwk_set=False)
        for token in (pair["access"], pair["refresh"]):
            key = jwks.get_signing_key_from_jwt(token)
            assert key.key_id == jwt.get_unverified_header(token)["kid"]
            decoded = jwt.decode(token, key.key, algorithms=[algorithm])
            assert decoded["sid"] == jwt.decode(token, options={"verify_signature": False})["sid"]
        assert me(http, pair["access"]) == 200


def test_pyjwkclient_after_a_key_rotation(http, base):
    """Tokens of the retired key still find it in jwks/ under their own kid."""
    old_private, old_public = pem_pair("ec")
    new_private, _ = pem_pair("ec")
    with override_settings(JWT_REVOKE={"ALGORITHM": "ES256", "SIGNING_KEY": old_private}):
        old = login(http, UserFactory())
    rotated = {
        "ALGORITHM": "ES256",
        "SIGNING_KEY": new_private,
        "VERIFYING_KEYS": {jwt.get_unverified_header(old["access"])["kid"]: old_public},
    }
    with override_settings(JWT_REVOKE=rotated):
        new = login(http, UserFactory())
        jwks = jwt.PyJWKClient(f"{base}{JWKS}", cache_jwk_set=False)
        for token in (old["access"], new["access"]):
            jwt.decode(token, jwks.get_signing_key_from_jwt(token).key, algorithms=["ES256"])
            assert me(http, token) == 200
