"""simplejwt's token/verify/ and token/blacklist/, for clients written for it.

verify: 200 ``{}`` exactly when the token, of either type, would be accepted
now, revocation read from the database; 401 otherwise, whatever level revoked
it. blacklist: 200 ``{}`` and the refresh token's session revoked; 401 for
anything but a valid, unrevoked refresh token.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import jwt
import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_jwt_revoke import revocation
from django_jwt_revoke.conf import jwt_revoke_settings
from django_jwt_revoke.models import BlacklistedToken, TokenSession
from django_jwt_revoke.signals import token_revoked
from django_jwt_revoke.tokens import issue_token_pair
from tests import test_debug
from tests.factories import UserFactory
from tests.legacy import legacy_token
from tests.test_debug import assert_hidden, boom
from tests.test_extending import claims, signals_sent

pytestmark = pytest.mark.django_db

#: The fixture making a request fail with a 500, and the error reports of it.
server_error = test_debug.server_error

VERIFY = reverse("django_jwt_revoke:token_verify")
BLACKLIST = reverse("django_jwt_revoke:token_blacklist")


@pytest.fixture
def verify(api_client):
    def post(token, field="token"):
        return api_client.post(VERIFY, {field: token}, format="json")

    return post


@pytest.fixture
def blacklist(api_client):
    def post(token, field="refresh"):
        return api_client.post(BLACKLIST, {field: token}, format="json")

    return post


def refused(answer, code):
    """A 401 with our code and the Bearer challenge naming the error."""
    assert answer.status_code == 401, answer.content
    assert answer.json()["code"] == code
    assert set(answer.json()) == {"detail", "code"}
    assert 'error="invalid_token"' in answer["WWW-Authenticate"]
    return True


def accepted(answer):
    assert answer.status_code == 200, answer.content
    assert answer.json() == {}
    assert answer["Cache-Control"] == "no-store"
    return True


def me(api_client, access, path="/api/me/"):
    return api_client.get(path, HTTP_AUTHORIZATION=f"Bearer {access}").status_code


# -- token/verify/ ----------------------------------------------------------------------


def test_verify_accepts_a_good_token_of_either_type(verify, pair):
    assert accepted(verify(pair.access))
    assert accepted(verify(pair.refresh))


def test_verify_takes_a_form_too(api_client, pair):
    answer = api_client.post(
        VERIFY, urlencode({"token": pair.access}), content_type="application/x-www-form-urlencoded"
    )
    assert accepted(answer)


def revoke_jti(pair, user):
    revocation.revoke_token(pair.access)


def revoke_session(pair, user):
    revocation.revoke_session(pair.sid)


def revoke_user(pair, user):
    revocation.revoke_user_tokens(user)


def revoke_everyone(pair, user):
    revocation.revoke_all_tokens()


def refresh_token_revoked(pair, user):
    revocation.revoke_token(pair.refresh)  # its session with it


LEVELS = [revoke_jti, revoke_session, revoke_user, revoke_everyone, refresh_token_revoked]


@pytest.mark.parametrize("level", LEVELS, ids=lambda f: f.__name__)
def test_verify_refuses_a_token_revoked_at_any_level(verify, user, other_user, level):
    pair = issue_token_pair(user)
    bystander = issue_token_pair(other_user)
    level(pair, user)
    assert refused(verify(pair.access), "token_revoked")
    if level is not revoke_jti:  # an access token is revoked alone
        assert refused(verify(pair.refresh), "token_revoked")
    else:
        assert accepted(verify(pair.refresh))
    if level is not revoke_everyone:
        assert accepted(verify(bystander.access))


def test_verify_refuses_a_retired_refresh_token(verify, refreshes, pair):
    """Only its jti is revoked (rotation): its session, and its successor, live on."""
    new = refreshes(pair.refresh).json()
    assert refused(verify(pair.refresh), "token_revoked")
    assert accepted(verify(new["refresh"]))
    assert accepted(verify(pair.access))  # minted beside it, still good


def test_verify_reads_the_database_not_a_stale_cache(settings, verify, api_client, user):
    """A revocation the cache never heard of: the cache still says "live"; verify does not."""
    if not jwt_revoke_settings.CACHE_ALIAS:
        settings.CACHES = {
            **settings.CACHES,
            "jwtr-verify": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        }
        settings.JWT_REVOKE = {**settings.JWT_REVOKE, "CACHE_ALIAS": "jwtr-verify"}
    pair = issue_token_pair(user)
    assert me(api_client, pair.access, "/api/token-user-me/") == 200  # cached: not revoked
    # The test's transaction never commits, so the revocation is never
    # announced to the cache (transaction.on_commit): the cached copy is stale.
    revocation.revoke_session(pair.sid)
    assert me(api_client, pair.access, "/api/token-user-me/") == 200
    assert refused(verify(pair.access), "token_revoked")
    assert refused(verify(pair.refresh), "token_revoked")


def test_verify_refuses_an_expired_token(verify, pair):
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert refused(verify(pair.access), "token_expired")
        assert accepted(verify(pair.refresh))
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        assert refused(verify(pair.refresh), "token_expired")


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("not a token", "token_invalid"),
        ("a.b.c", "token_invalid"),
        ("x" * 5000, "token_too_large"),
    ],
)
def test_verify_refuses_what_is_no_token(verify, token, code):
    assert refused(verify(token), code)


def test_verify_refuses_a_token_signed_with_another_key(verify, pair):
    payload = jwt.decode(pair.access, options={"verify_signature": False})
    forged = jwt.encode(payload, "an-attacker-key-that-is-long-enough-for-hs256!", "HS256")
    assert refused(verify(forged), "token_invalid")


def test_verify_refuses_the_tokens_of_an_inactive_or_deleted_user(settings, verify):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "REVOKE_ON_DEACTIVATION": False}
    inactive, deleted = UserFactory(), UserFactory()
    inactive_pair, deleted_pair = issue_token_pair(inactive), issue_token_pair(deleted)
    get_user_model().objects.filter(pk=inactive.pk).update(is_active=False)  # no revocation
    deleted.delete()
    assert refused(verify(inactive_pair.access), "user_inactive")
    assert refused(verify(inactive_pair.refresh), "user_inactive")
    assert verify(deleted_pair.access).status_code == 401


@pytest.mark.parametrize(
    "body",
    [{}, {"refresh": "x"}, {"token": ""}, {"token": 0}, {"token": None}, {"token": ["a"]}],
    ids=["empty", "wrong-field", "blank", "number", "null", "list"],
)
def test_verify_answers_400_to_a_malformed_body(api_client, body):
    answer = api_client.post(VERIFY, body, format="json")
    assert answer.status_code == 400
    assert set(answer.json()) == {"token"}


def test_verify_never_echoes_the_token(verify, pair):
    revocation.revoke_session(pair.sid)
    for answer in (verify(pair.access), verify(pair.access + "x")):
        assert pair.access.encode() not in answer.content


def test_verify_of_legacy_tokens_follows_the_setting(settings, verify, user):
    token = legacy_token(user)
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "ACCEPT_SIMPLEJWT_TOKENS": False}
    assert refused(verify(token), "token_claims_invalid")
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "ACCEPT_SIMPLEJWT_TOKENS": True}
    assert accepted(verify(token))
    assert accepted(verify(legacy_token(user, "refresh")))
    revocation.revoke_user_tokens(user)
    assert refused(verify(token), "token_revoked")


# -- token/blacklist/ -------------------------------------------------------------------


def test_blacklist_revokes_the_session(blacklist, verify, refreshes, api_client, user):
    pair = issue_token_pair(user)
    other = issue_token_pair(user)  # another login of the same user
    assert accepted(blacklist(pair.refresh))
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is not None
    assert me(api_client, pair.access) == 401
    assert refused(refreshes(pair.refresh), "token_revoked")
    assert refused(verify(pair.access), "token_revoked")
    assert me(api_client, other.access) == 200
    assert accepted(verify(other.refresh))


@pytest.mark.django_db(transaction=True)
def test_blacklist_records_a_logout_and_signals_it(blacklist):
    user = UserFactory()
    pair = issue_token_pair(user)
    with signals_sent(token_revoked) as sent:
        assert accepted(blacklist(pair.refresh))
    row = BlacklistedToken.objects.get()
    assert (row.token_type, row.reason, row.sid, row.user_id) == (
        "refresh",
        "logout",
        pair.sid,
        user.pk,
    )
    assert {(s["jti"], s["sid"], s["reason"]) for s in sent} == {
        (claims(pair.refresh)["jti"], pair.sid, "logout"),  # the token
        (None, pair.sid, "logout"),  # its session
    }


def test_blacklist_refuses_an_access_token_and_revokes_nothing(blacklist, api_client, pair):
    assert refused(blacklist(pair.access), "token_wrong_type")
    assert me(api_client, pair.access) == 200
    assert not BlacklistedToken.objects.exists()
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is None


def test_blacklist_refuses_an_expired_refresh_token(blacklist, pair):
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        assert refused(blacklist(pair.refresh), "token_expired")


def test_blacklist_twice_is_a_401_the_second_time(blacklist, pair):
    """As simplejwt's "Token is blacklisted" (401)."""
    assert accepted(blacklist(pair.refresh))
    assert refused(blacklist(pair.refresh), "token_revoked")


def test_blacklist_of_a_retired_refresh_token_ends_its_session(blacklist, refreshes, verify, pair):
    """401 (it is revoked), and the session its successor lives in is revoked all the same."""
    new = refreshes(pair.refresh).json()
    assert refused(blacklist(pair.refresh), "token_revoked")
    assert refused(verify(new["refresh"]), "token_revoked")
    assert refused(refreshes(new["refresh"]), "token_revoked")


@pytest.mark.django_db(transaction=True)
def test_the_401_does_not_roll_the_revocation_back(monkeypatch, blacklist, refreshes):
    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", True)
    pair = issue_token_pair(UserFactory())
    new = refreshes(pair.refresh).json()
    assert refused(blacklist(pair.refresh), "token_revoked")
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is not None
    assert refreshes(new["refresh"]).status_code == 401


@pytest.mark.parametrize(
    "body",
    [{}, {"token": "x"}, {"refresh": ""}, {"refresh": 0}, {"refresh": None}],
    ids=["empty", "wrong-field", "blank", "number", "null"],
)
def test_blacklist_answers_400_to_a_malformed_body(api_client, pair, body):
    answer = api_client.post(BLACKLIST, body, format="json")
    assert answer.status_code == 400
    assert set(answer.json()) == {"refresh"}
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is None


@pytest.mark.parametrize("token", ["not a token", "a.b.c"])
def test_blacklist_refuses_what_is_no_token(blacklist, token):
    assert refused(blacklist(token), "token_invalid")


def test_blacklist_of_a_legacy_refresh_token(settings, blacklist, refreshes, user):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "ACCEPT_SIMPLEJWT_TOKENS": True}
    token = legacy_token(user, "refresh")
    assert accepted(blacklist(token))
    assert refused(refreshes(token), "token_revoked")
    assert refused(blacklist(token), "token_revoked")


# -- what both share --------------------------------------------------------------------


@pytest.mark.parametrize("url", [VERIFY, BLACKLIST])
def test_no_csrf_token_is_needed_even_with_cookie_transport(settings, url, user):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "AUTH_COOKIE": "access_token"}
    pair = issue_token_pair(user)
    client = Client(enforce_csrf_checks=True)
    client.cookies["refresh_token"] = pair.refresh  # ambient cookies are not read
    field = "token" if url == VERIFY else "refresh"
    answer = client.post(url, {field: pair.refresh}, content_type="application/json")
    assert answer.status_code == 200
    assert not answer.cookies  # no cookie is set or deleted


@pytest.mark.parametrize(("url", "scope"), [(VERIFY, "verify"), (BLACKLIST, "blacklist")])
def test_each_has_its_throttle_scope(settings, api_client, user, url, scope):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {f"jwt_revoke_{scope}": "1/min"},
    }
    field = "token" if url == VERIFY else "refresh"
    first = api_client.post(url, {field: issue_token_pair(user).refresh}, format="json")
    second = api_client.post(url, {field: issue_token_pair(user).refresh}, format="json")
    assert (first.status_code, second.status_code) == (200, 429)


@pytest.mark.parametrize("url", [VERIFY, BLACKLIST])
def test_only_post(api_client, url):
    assert api_client.get(url).status_code == 405


def _database_down(execute, sql, params, many, context):
    raise DatabaseError("down")


@pytest.mark.parametrize("url", [VERIFY, BLACKLIST])
def test_a_database_failure_is_a_503_and_revokes_nothing(api_client, pair, url):
    field = "token" if url == VERIFY else "refresh"
    with connection.execute_wrapper(_database_down):
        answer = api_client.post(url, {field: pair.refresh}, format="json")
    assert answer.status_code == 503
    assert answer["Retry-After"]
    assert answer.json()["code"] == "revocation_state_unavailable"
    assert TokenSession.objects.get(sid=pair.sid).revoked_at is None


# -- error reports ----------------------------------------------------------------------


@pytest.mark.parametrize("url", [VERIFY, BLACKLIST])
def test_a_500_report_shows_no_token(server_error, monkeypatch, pair, url):
    from django_jwt_revoke.authentication import JWTAuthentication

    monkeypatch.setattr(JWTAuthentication, "get_user", boom)
    monkeypatch.setattr(revocation, "is_token_revoked", boom)
    field = "token" if url == VERIFY else "refresh"
    found = server_error("post", url, data={field: pair.refresh}, format="json")
    assert_hidden(found, [pair.refresh], ["handle_token", "boom"])
