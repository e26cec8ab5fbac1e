"""The issuer's revocation event feed (feed.py; events/ and events/snapshot/).

Every revocation is an event, in its own transaction, numbered with no gap in
the order the revocations commit; a consumer named in FEED_CONSUMERS reads
them as SETs signed with the key jwks/ publishes, and nobody else reads them.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from datetime import timedelta
from io import StringIO

import jwt
import pytest
import time_machine
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_jwt_revoke import feed, revocation, secevents
from django_jwt_revoke.claims import user_key
from django_jwt_revoke.models import (
    BlacklistedToken,
    EventStream,
    GlobalRevocation,
    Reason,
    RevocationEvent,
    TokenSession,
    UserRevocation,
)
from django_jwt_revoke.tokens import decode_token, issue_token_pair
from tests.factories import UserFactory
from tests.keys import pem_pair

pytestmark = pytest.mark.django_db

CREDENTIAL = "resource-server-credential-" + "x" * 24
OTHER_CREDENTIAL = "another-resource-credential-" + "y" * 24
EVENTS = reverse("django_jwt_revoke:event_feed")
SNAPSHOT = reverse("django_jwt_revoke:event_snapshot")
INTROSPECT = reverse("django_jwt_revoke:token_introspect")
JWKS = reverse("django_jwt_revoke:jwks")
LOGOUT_ALL = reverse("django_jwt_revoke:logout_all")
ME = "/api/me/"

only_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serializes writers, so revocations cannot race a reader; "
    "run with JWT_REVOKE_TEST_DB=postgres",
)


class Boom(Exception):
    pass


@pytest.fixture(scope="module")
def keys():
    return pem_pair("rsa")


@pytest.fixture(autouse=True)
def feed_settings(keys, settings):
    """RS256 (the feed needs an asymmetric key), two consumers, a short long poll."""
    settings.JWT_REVOKE = {
        **settings.JWT_REVOKE,
        "ALGORITHM": "RS256",
        "SIGNING_KEY": keys[0],
        "FEED_CONSUMERS": {"resource": CREDENTIAL, "other": OTHER_CREDENTIAL},
        "FEED_LONG_POLL": timedelta(seconds=0.3),
    }
    feed.signed_sets.clear()
    yield settings
    feed.signed_sets.clear()


def configure(settings, **jwt_revoke):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, **jwt_revoke}


def post(client, url, body, credential=CREDENTIAL, **headers):
    if credential is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {credential}"
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(url, data, content_type="application/json", **headers)


def poll(client, after=0, nonce="nonce-1", **members):
    return post(client, EVENTS, {"after": after, "nonce": nonce, **members})


def verified(client, token, typ, issuer=None):
    """The claims of a feed JWT, verified with the key jwks/ publishes for its kid."""
    header = jwt.get_unverified_header(token)
    assert set(header) == {"alg", "kid", "typ"}
    assert header["typ"] == typ
    key = jwt.PyJWKSet.from_dict(client.get(JWKS).json())[header["kid"]]
    assert header["alg"] == key.algorithm_name
    options = {"verify_iss": issuer is not None}
    return jwt.decode(token, key.key, algorithms=[header["alg"]], issuer=issuer, options=options)


class Read:
    """A poll answer, verified and parsed: ``revs``, ``receipt``, the raw ``answer``."""

    def __init__(self, client, after=0, nonce=None, issuer=None, **members):
        nonce = nonce or f"nonce-{random.random()}"
        response = poll(client, after, nonce, **members)
        assert response.status_code == 200, response.content
        assert response["Cache-Control"] == "no-store"
        self.answer = response.json()
        assert set(self.answer) == {"sets", "moreAvailable", "receipt"}
        claims = verified(client, self.answer["receipt"], secevents.RECEIPT_TYPE, issuer)
        assert claims["nonce"] == nonce
        self.receipt = secevents.parse_receipt(claims, issuer=issuer, nonce=nonce)
        self.claims = [
            verified(client, token, secevents.SET_TYPE, issuer)
            for token in self.answer["sets"].values()
        ]
        self.revs = [
            secevents.revocation_from_set(c, issuer=issuer, stream=self.receipt.stream)
            for c in self.claims
        ]
        assert [r.seq for r in self.revs] == list(range(after + 1, self.receipt.last + 1))
        assert list(self.answer["sets"]) == [f"{self.receipt.stream}.{r.seq}" for r in self.revs]
        assert self.answer["moreAvailable"] is self.receipt.more
        assert self.receipt.after == after

    def standard(self):
        """The CAEP / RISC event type of each SET."""
        return [
            next(uri for uri in c["events"] if uri != secevents.STATE_EVENT) for c in self.claims
        ]


def shape(rev):
    return (rev.kind, rev.id, rev.user, rev.generation, rev.reason)


# -- every revocation is an event ---------------------------------------------------------


def test_every_kind_of_revocation_is_an_event(client, api_client):
    alice, bob, carol, dave, erin, frank = (UserFactory() for _ in range(6))
    issued = []

    def login(user):
        pair = issue_token_pair(user)
        issued.extend([pair.access, pair.refresh])
        return pair

    def jti(token):
        return decode_token(token, token_type=None).jti

    def bearer(pair):
        return {"HTTP_AUTHORIZATION": f"Bearer {pair.access}"}

    a1, a2, a3, e1 = login(alice), login(alice), login(alice), login(erin)
    revocation.revoke_token(a1.access, Reason.ADMIN)
    revocation.revoke_token(a2.refresh, Reason.REVOKED)
    logout = api_client.post(
        reverse("django_jwt_revoke:logout"), {"refresh": a3.refresh}, format="json", **bearer(a3)
    )
    assert logout.status_code == 204
    assert api_client.post(LOGOUT_ALL, **bearer(login(bob))).status_code == 204
    carol.set_password("a brand new password for carol")
    carol.save()
    dave.is_active = False
    dave.save()
    e2 = revocation.rotate_refresh_token(e1.refresh)
    issued.extend([e2.access, e2.refresh])
    with pytest.raises(Exception, match="token_revoked"):
        revocation.rotate_refresh_token(e1.refresh)  # a reuse: the session ends
    a4 = login(alice)
    url = reverse("django_jwt_revoke:session_detail", args=[a4.sid])
    assert api_client.delete(url, **bearer(a4)).status_code == 204
    frank_key = user_key(frank)
    frank.delete()
    assert revocation.revoke_all_tokens() == 1
    revocation.revoke_user_tokens(alice, Reason.ADMIN)
    assert api_client.post(LOGOUT_ALL, **bearer(login(bob))).status_code == 204

    read = Read(client)
    T, S, U, A = secevents.TOKEN, secevents.SESSION, secevents.USER, secevents.ALL
    assert [shape(rev) for rev in read.revs] == [
        (T, jti(a1.access), None, None, "admin"),
        (T, jti(a2.refresh), None, None, "revoked"),
        (S, a2.sid, user_key(alice), None, "revoked"),
        (S, a3.sid, user_key(alice), None, "logout"),
        (T, jti(a3.refresh), None, None, "logout"),
        (U, user_key(bob), None, 1, "logout_all"),
        (U, user_key(carol), None, 1, "password_change"),
        (U, user_key(dave), None, 1, "deactivated"),
        (S, e1.sid, user_key(erin), None, "reuse_detected"),
        (S, a4.sid, user_key(alice), None, "logout"),
        (U, frank_key, None, 1, "deleted"),
        (A, None, None, 1, "incident"),
        (U, user_key(alice), None, 1, "admin"),
        (U, user_key(bob), None, 2, "logout_all"),
    ]
    assert read.standard() == [
        secevents.TOKEN_REVOKED,
        secevents.TOKEN_REVOKED,
        secevents.SESSION_REVOKED,
        secevents.SESSION_REVOKED,
        secevents.TOKEN_REVOKED,
        secevents.TOKENS_REVOKED,
        secevents.CREDENTIAL_CHANGE,
        secevents.ACCOUNT_DISABLED,
        secevents.SESSION_REVOKED,
        secevents.SESSION_REVOKED,
        secevents.ACCOUNT_PURGED,
        secevents.ALL_TOKENS_REVOKED,
        secevents.TOKENS_REVOKED,
        secevents.TOKENS_REVOKED,
    ]
    # The rotation of e1's first refresh token is no event (``announce``).
    assert read.receipt.last == read.receipt.head == 14 and not read.receipt.more
    assert EventStream.objects.get().last_seq == 14

    # No raw token anywhere: not in a column, not in an answer, not in a SET.
    columns = json.dumps(list(RevocationEvent.objects.values()), default=str)
    texts = [columns, json.dumps(read.answer), json.dumps(read.claims)]
    for token in issued:
        for text in texts:
            assert token not in text
            assert token.split(".")[2] not in text  # nor its signature


def test_until_is_when_no_token_it_concerns_can_be_accepted(client, settings, user):
    configure(settings, LEEWAY=timedelta(seconds=30))
    pair = issue_token_pair(user)
    access, refresh = decode_token(pair.access), decode_token(pair.refresh, token_type=None)
    before = timezone.now()
    revocation.revoke_token(pair.access)
    revocation.revoke_token(pair.refresh)
    revocation.revoke_user_tokens(user)
    revocation.revoke_all_tokens()
    after = timezone.now()
    token, refreshed, session, everything_of_user, everyone = Read(client).revs
    assert token.until == access.payload["exp"] + 30
    assert refreshed.until == refresh.payload["exp"] + 30
    assert session.until == int(TokenSession.objects.get(sid=pair.sid).expires_at.timestamp()) + 30
    for rev in (everything_of_user, everyone):  # every token issued up to now
        lifetime = timedelta(days=1, seconds=30).total_seconds()
        assert before.timestamp() + lifetime - 1 <= rev.until <= after.timestamp() + lifetime + 1
        assert int(before.timestamp()) <= rev.at <= after.timestamp()


def test_revoking_twice_is_one_event(client, user, pair):
    assert revocation.revoke_token(pair.access) is True
    assert revocation.revoke_token(pair.access) is False
    assert revocation.revoke_session(pair.sid) is True
    assert revocation.revoke_session(pair.sid) is False
    revocation.revoke_token(pair.refresh)  # its session is already revoked: the jti alone
    assert [rev.kind for rev in Read(client).revs] == ["token", "session", "token"]


def test_events_are_recorded_with_no_consumer_configured(settings, user):
    configure(settings, FEED_CONSUMERS={}, ALGORITHM="HS256", SIGNING_KEY=None)
    revocation.revoke_token(issue_token_pair(user).access)
    revocation.revoke_user_tokens(user)
    assert list(RevocationEvent.objects.values_list("seq", "kind")) == [(1, "token"), (2, "user")]


# -- in the revocation's transaction ------------------------------------------------------


def test_a_rolled_back_revocation_leaves_no_event_and_no_gap(client, user, pair):
    revocation.revoke_token(pair.access)
    with pytest.raises(Boom), transaction.atomic():
        revocation.revoke_user_tokens(user)
        revocation.revoke_all_tokens()
        revocation.revoke_session(pair.sid)
        assert EventStream.objects.get().last_seq == 4
        raise Boom
    assert list(RevocationEvent.objects.values_list("seq", flat=True)) == [1]
    assert EventStream.objects.get().last_seq == 1
    with transaction.atomic():
        revocation.revoke_session(pair.sid)
        with pytest.raises(Boom), transaction.atomic():  # a savepoint rolled back
            revocation.revoke_user_tokens(user)
            raise Boom
        revocation.revoke_user_tokens(user)
    read = Read(client)
    assert [(r.seq, r.kind, r.generation) for r in read.revs] == [
        (1, "token", None),
        (2, "session", None),
        (3, "user", 1),  # the rolled-back bump took its number with it
    ]
    assert read.receipt.head == 3


def test_a_revocation_whose_event_cannot_be_written_fails(monkeypatch, user, pair):
    """Fail closed: a committed revocation always has its event, so no event, no revocation."""

    real = QuerySet.bulk_create

    def broken(self, objs, *args, **kwargs):
        if self.model is RevocationEvent:
            raise DatabaseError("disk full")
        return real(self, objs, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "bulk_create", broken)
    with pytest.raises(DatabaseError):
        revocation.revoke_token(pair.access)
    with pytest.raises(DatabaseError):
        revocation.revoke_user_tokens(user)
    assert not BlacklistedToken.objects.exists()
    assert not UserRevocation.objects.filter(generation__gt=0).exists()
    assert not EventStream.objects.filter(last_seq__gt=0).exists()  # the numbers rolled back


@pytest.mark.django_db(transaction=True)
def test_a_committed_revocation_has_its_event_for_every_other_connection(user):
    pair = issue_token_pair(user)
    seen = []

    def other_connection():
        try:
            seen.append(list(RevocationEvent.objects.values_list("seq", "subject")))
        finally:
            connection.close()

    revocation.revoke_token(pair.access)
    reader = threading.Thread(target=other_connection)
    reader.start()
    reader.join()
    assert seen == [[(1, decode_token(pair.access).jti)]]


@pytest.mark.postgres
@only_postgres
@pytest.mark.django_db(transaction=True)
def test_a_reader_sees_every_event_once_in_order_while_revocations_race(monkeypatch):
    """Writers in threads, each pausing inside its transaction after its events are
    written and before it commits; a reader polls with ``after`` all the while. It
    must see every event exactly once, with no gap, and never one before an earlier
    one commits (a sequence handing out numbers at insert time would fail this)."""
    users = [UserFactory() for _ in range(6)]
    pairs = {u.pk: [issue_token_pair(u) for _ in range(4)] for u in users}
    real_record = feed.record

    def slow_record(facts, reason, using):
        real_record(facts, reason, using)
        time.sleep(random.uniform(0, 0.01))  # still in the transaction: not committed yet

    monkeypatch.setattr(feed, "record", slow_record)
    errors = []
    barrier = threading.Barrier(len(users))

    def writer(user):
        try:
            barrier.wait(timeout=10)
            for i, pair in enumerate(pairs[user.pk]):
                if i == 0:
                    revocation.revoke_token(pair.refresh)  # two events in one transaction
                elif i == 1:
                    revocation.revoke_user_tokens(user)
                elif i == 2:
                    revocation.revoke_all_tokens()
                else:
                    revocation.revoke_token(pair.access)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    writers = [threading.Thread(target=writer, args=(u,)) for u in users]
    for thread in writers:
        thread.start()
    client = Client()
    seen, after, polls = [], 0, 0
    try:
        while any(t.is_alive() for t in writers) or after < EventStream.objects.get().last_seq:
            read = Read(client, after, maxEvents=random.randint(1, 4))
            seen += [rev.seq for rev in read.revs]
            after = read.receipt.last
            polls += 1
    finally:
        for thread in writers:
            thread.join()
    assert not errors, errors
    total = len(users) * 5
    assert seen == list(range(1, total + 1))
    assert RevocationEvent.objects.count() == EventStream.objects.get().last_seq == total
    assert polls > len(users)  # it did poll while they wrote
    alls = RevocationEvent.objects.filter(kind="all").order_by("seq")
    assert list(alls.values_list("generation", flat=True)) == list(range(1, len(users) + 1))


# -- who may read it ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        f"Bearer {CREDENTIAL}x",
        f"Bearer {CREDENTIAL[:-1]}",
        f"Bearer {CREDENTIAL} {CREDENTIAL}",
        f"Basic {CREDENTIAL}",
        f"Token {CREDENTIAL}",
        CREDENTIAL,
        "Bearer " + "z" * 60,
    ],
)
@pytest.mark.parametrize("url", [EVENTS, SNAPSHOT])
def test_no_or_a_wrong_credential_is_401(client, url, authorization, caplog):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    with caplog.at_level(logging.DEBUG):
        response = post(client, url, {"after": 0, "nonce": "n"}, credential=None, **headers)
    assert response.status_code == 401
    assert response.json() == {
        "err": "authentication_failed",
        "description": "Send a feed consumer's credential as a Bearer token.",
    }
    assert response["WWW-Authenticate"] == "Bearer"
    assert response["Cache-Control"] == "no-store"
    assert CREDENTIAL not in caplog.text


@pytest.mark.parametrize("url", [EVENTS, SNAPSHOT])
def test_a_users_valid_jwt_is_no_credential(client, url):
    staff = UserFactory(is_staff=True, is_superuser=True)
    for token in (issue_token_pair(staff).access, issue_token_pair(staff).refresh):
        response = post(client, url, {"after": 0, "nonce": "n"}, credential=token)
        assert (response.status_code, response.json()["err"]) == (401, "authentication_failed")


def test_each_configured_consumer_may_read_and_only_while_configured(client, settings):
    assert poll(client).status_code == 200
    assert post(client, EVENTS, {"after": 0, "nonce": "n"}, OTHER_CREDENTIAL).status_code == 200
    assert post(client, EVENTS, {"after": 0, "nonce": "n"}, CREDENTIAL.lower()).status_code == 200
    # The scheme is case-insensitive (RFC 7235); the credential is not.
    headers = {"HTTP_AUTHORIZATION": f"bearer {CREDENTIAL}"}
    assert post(client, EVENTS, {"after": 0, "nonce": "n"}, None, **headers).status_code == 200
    assert post(client, EVENTS, {"after": 0, "nonce": "n"}, CREDENTIAL.upper()).status_code == 401
    configure(settings, FEED_CONSUMERS={"other": OTHER_CREDENTIAL})
    assert poll(client).status_code == 401
    configure(settings, FEED_CONSUMERS={"weak": "short", "resource": 12345, "none": None})
    assert post(client, EVENTS, {"after": 0, "nonce": "n"}, "short").status_code == 401
    configure(settings, FEED_CONSUMERS=["resource"])
    assert poll(client).status_code == 401


def test_the_credential_is_never_a_login_elsewhere(api_client):
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {CREDENTIAL}"}
    assert api_client.get(ME, **bearer).status_code == 401
    assert api_client.post(reverse("django_jwt_revoke:logout"), **bearer).status_code == 401
    assert api_client.get(reverse("django_jwt_revoke:session_list"), **bearer).status_code == 401


def test_feed_jwts_are_no_tokens(client, api_client, user, pair):
    revocation.revoke_token(pair.access)
    read = Read(client)
    snapshot = post(client, SNAPSHOT, {"nonce": "n"}).json()["snapshot"]
    staff = issue_token_pair(UserFactory(is_staff=True)).access
    for signed in [*read.answer["sets"].values(), read.answer["receipt"], snapshot]:
        assert api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {signed}").status_code == 401
        answer = api_client.post(
            INTROSPECT, {"token": signed}, format="json", HTTP_AUTHORIZATION=f"Bearer {staff}"
        )
        assert answer.json() == {"active": False}


# -- the poll ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"nonce": "n"},
        {"after": -1, "nonce": "n"},
        {"after": True, "nonce": "n"},
        {"after": False, "nonce": "n"},
        {"after": "0", "nonce": "n"},
        {"after": 1.0, "nonce": "n"},
        {"after": None, "nonce": "n"},
        {"after": 2**53, "nonce": "n"},
        {"after": 0},
        {"after": 0, "nonce": ""},
        {"after": 0, "nonce": "n" * 129},
        {"after": 0, "nonce": 7},
        {"after": 0, "nonce": ["n"]},
        {"after": 0, "nonce": "n", "maxEvents": 0},
        {"after": 0, "nonce": "n", "maxEvents": 1001},
        {"after": 0, "nonce": "n", "maxEvents": True},
        {"after": 0, "nonce": "n", "maxEvents": "10"},
        {"after": 0, "nonce": "n", "maxEvents": None},
        {"after": 0, "nonce": "n", "returnImmediately": "false"},
        {"after": 0, "nonce": "n", "returnImmediately": 0},
        {"after": 0, "nonce": "n", "returnImmediately": None},
        {"after": 0, "nonce": "n", "ack": "s.1"},
        {"after": 0, "nonce": "n", "ack": {"s.1": True}},
        {"after": 0, "nonce": "n", "ack": [1]},
        {"after": 0, "nonce": "n", "ack": None},
        [],
        "after=0",
        0,
    ],
)
def test_a_bad_member_is_400(client, body):
    response = post(client, EVENTS, body)
    assert response.status_code == 400, response.content
    assert response.json()["err"] == "invalid_request"
    assert response.json()["description"]


@pytest.mark.parametrize("raw", ['{"after": 0, "nonce": ', b"\xff\xfe", "[" * 5000])
def test_a_body_that_is_not_json_is_400(client, raw):
    response = post(client, EVENTS, raw)
    assert (response.status_code, response.json()["err"]) == (400, "invalid_request")


def test_a_body_that_is_not_declared_json_is_415(client):
    response = client.post(
        EVENTS,
        "after=0&nonce=n",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {CREDENTIAL}",
    )
    assert (response.status_code, response.json()["err"]) == (415, "invalid_request")


def test_other_methods_are_405(client):
    response = client.get(EVENTS, HTTP_AUTHORIZATION=f"Bearer {CREDENTIAL}")
    assert response.status_code == 405
    assert response.json()["err"] == "invalid_request"
    assert "POST" in response["Allow"]


def test_accepted_members_and_defaults(client, user, pair):
    revocation.revoke_token(pair.access)
    read = Read(client, 0, ack=["s.1", ""], returnImmediately=True, setErrs={}, other=1)
    assert len(read.revs) == 1
    nonce = "n" * 128
    assert Read(client, 0, nonce=nonce).receipt.nonce == nonce


def test_after_beyond_the_head_is_409(client, user, pair):
    revocation.revoke_token(pair.access)
    assert Read(client, 1).revs == []
    response = poll(client, after=2)
    assert response.status_code == 409
    assert response.json()["err"] == "resync_required"
    assert "load a snapshot" in response.json()["description"]


def test_paging_with_max_events(client, user):
    pairs = [issue_token_pair(user) for _ in range(5)]
    for pair in pairs:
        revocation.revoke_token(pair.access)
    pages = []
    after = 0
    while True:
        read = Read(client, after, maxEvents=2)
        pages.append(([r.seq for r in read.revs], read.receipt.more, read.receipt.head))
        after = read.receipt.last
        if not read.receipt.more:
            break
    assert pages == [([1, 2], True, 5), ([3, 4], True, 5), ([5], False, 5)]
    assert Read(client, 5).revs == [] and Read(client, 5).receipt.last == 5
    assert len(Read(client, 0).revs) == 5  # maxEvents defaults to 100
    assert [r.seq for r in Read(client, 3, maxEvents=1000).revs] == [4, 5]


def test_every_jwt_names_the_issuer_when_one_is_configured(client, settings, pair):
    configure(settings, ISSUER="https://issuer.example")
    revocation.revoke_token(issue_token_pair(UserFactory()).access)
    read = Read(client, issuer="https://issuer.example")
    assert read.receipt.stream == EventStream.objects.get().stream
    assert all(c["iss"] == "https://issuer.example" for c in read.claims)
    with pytest.raises(secevents.FeedError):
        secevents.parse_receipt(
            verified(client, read.answer["receipt"], secevents.RECEIPT_TYPE),
            issuer="https://elsewhere.example",
            nonce=read.receipt.nonce,
        )


def test_a_receipt_is_bound_to_its_request(client, pair):
    revocation.revoke_token(pair.access)
    first = poll(client, nonce="first").json()
    claims = verified(client, first["receipt"], secevents.RECEIPT_TYPE)
    with pytest.raises(secevents.FeedError) as exc:  # replayed as the answer to another
        secevents.parse_receipt(claims, issuer=None, nonce="second")
    assert exc.value.code == "receipt_replayed"


def test_sets_are_signed_with_the_current_key_and_never_stale(client, settings, keys, pair):
    revocation.revoke_token(pair.access)
    first = Read(client)
    assert Read(client).answer["sets"] == first.answer["sets"]  # kept, not signed again
    new_private, _new_public = pem_pair("rsa")
    configure(settings, SIGNING_KEY=new_private, VERIFYING_KEYS={"old": keys[1]})
    rotated = Read(client)  # verified with the new kid, from jwks/
    assert rotated.answer["sets"] != first.answer["sets"]
    assert rotated.revs == first.revs
    # A database restored from a backup numbers a new event as an old one was.
    RevocationEvent.objects.all().delete()
    EventStream.objects.update(last_seq=0)
    other = issue_token_pair(UserFactory())
    revocation.revoke_token(other.access)
    (rev,) = Read(client).revs
    assert (rev.seq, rev.id) == (1, decode_token(other.access).jti)


@pytest.mark.parametrize(("algorithm", "kind"), [("ES256", "ec"), ("EdDSA", "ed25519")])
def test_any_asymmetric_signing_key_signs_the_feed(client, settings, user, algorithm, kind):
    configure(settings, ALGORITHM=algorithm, SIGNING_KEY=pem_pair(kind)[0])
    revocation.revoke_user_tokens(user)
    read = Read(client)  # verified with the key jwks/ publishes
    assert [shape(rev) for rev in read.revs] == [("user", user_key(user), None, 1, "logout_all")]
    assert read_snapshot(client).users[0][:2] == (user_key(user), 1)


def test_long_poll_answers_empty_after_feed_long_poll(client, settings, pair):
    configure(settings, FEED_LONG_POLL=timedelta(seconds=1))
    revocation.revoke_token(pair.access)
    started = time.monotonic()
    read = Read(client, 1, returnImmediately=False)
    waited = time.monotonic() - started
    assert read.revs == [] and read.receipt.last == read.receipt.head == 1
    assert 1 <= waited < 4
    started = time.monotonic()
    Read(client, 1)  # returnImmediately defaults to true
    assert time.monotonic() - started < 0.8


def test_long_poll_answers_at_once_when_there_are_events(client, settings, pair):
    configure(settings, FEED_LONG_POLL=timedelta(seconds=5))
    revocation.revoke_token(pair.access)
    started = time.monotonic()
    assert len(Read(client, 0, returnImmediately=False).revs) == 1
    assert time.monotonic() - started < 2


@pytest.mark.django_db(transaction=True)
def test_long_poll_returns_early_when_another_thread_revokes(client, settings, user):
    configure(settings, FEED_LONG_POLL=timedelta(seconds=10))
    pair = issue_token_pair(user)
    revocation.revoke_token(pair.access)
    errors = []

    def revoke_soon():
        try:
            time.sleep(0.4)
            revocation.revoke_session(pair.sid)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=revoke_soon)
    started = time.monotonic()
    thread.start()
    read = Read(client, 1, returnImmediately=False)
    waited = time.monotonic() - started
    thread.join()
    assert not errors, errors
    assert [(r.seq, r.kind) for r in read.revs] == [(2, "session")]
    assert 0.4 <= waited < 5


def test_a_database_error_is_503_and_logs_no_credential(client, monkeypatch, caplog):
    def down(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(feed, "current_stream", down)
    for url in (EVENTS, SNAPSHOT):
        with caplog.at_level(logging.DEBUG):
            response = post(client, url, {"after": 0, "nonce": "n"})
        assert response.status_code == 503
        assert response.json()["err"] == "temporarily_unavailable"
        assert response["Retry-After"] == "1"
    assert CREDENTIAL not in caplog.text


def test_under_hmac_the_feed_is_unavailable(client, settings):
    configure(settings, ALGORITHM="HS256", SIGNING_KEY=None)
    for url in (EVENTS, SNAPSHOT):
        response = post(client, url, {"after": 0, "nonce": "n"})
        assert (response.status_code, response.json()["err"]) == (503, "feed_unavailable")


def test_a_poll_racing_the_purge_is_409_never_a_gap(client, monkeypatch, user):
    for _ in range(3):
        revocation.revoke_token(issue_token_pair(user).access)
    real_head = feed._head

    def purged_meanwhile(request, using):
        stream = real_head(request, using)
        RevocationEvent.objects.filter(seq__lte=2).delete()  # after the head was read
        return stream

    monkeypatch.setattr(feed, "_head", purged_meanwhile)
    response = poll(client, after=1)
    assert (response.status_code, response.json()["err"]) == (409, "resync_required")


# -- the snapshot --------------------------------------------------------------------------


def read_snapshot(client, nonce="snap", issuer=None):
    response = post(client, SNAPSHOT, {"nonce": nonce})
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    assert set(response.json()) == {"snapshot"}
    claims = verified(client, response.json()["snapshot"], secevents.SNAPSHOT_TYPE, issuer)
    return secevents.parse_snapshot(claims, issuer=issuer, nonce=nonce)


def test_a_snapshot_holds_exactly_what_still_matters(client, settings, user, other_user):
    configure(settings, LEEWAY=timedelta(seconds=10))
    long_ago = timezone.now() - timedelta(days=2)
    with time_machine.travel(long_ago, tick=False):
        old = issue_token_pair(user)
        revocation.revoke_token(old.access)  # expired since
        revocation.revoke_token(old.refresh)  # and its session
        revocation.revoke_user_tokens(other_user)  # no token it concerns is left
        revocation.revoke_all_tokens()
    live = issue_token_pair(user)
    untouched = issue_token_pair(user)
    revoked_session = issue_token_pair(user)
    revocation.revoke_token(live.access)
    revocation.revoke_session(revoked_session.sid)
    revocation.revoke_user_tokens(user, Reason.PASSWORD_CHANGE)
    revocation.revoke_user_tokens(user)

    snapshot = read_snapshot(client)
    assert snapshot.head == EventStream.objects.get().last_seq == 9
    assert snapshot.stream == EventStream.objects.get().stream
    access = decode_token(live.access)
    assert snapshot.tokens == [(access.jti, access.payload["exp"] + 10)]
    session = TokenSession.objects.get(sid=revoked_session.sid)
    assert snapshot.sessions == [(session.sid, int(session.expires_at.timestamp()) + 10)]
    assert untouched.sid not in {sid for sid, _until in snapshot.sessions}
    ((key, generation, until),) = snapshot.users
    revoked_at = UserRevocation.objects.get(user_key=user_key(user)).revoked_at
    window = timedelta(days=1, seconds=10, minutes=5)
    assert (key, generation) == (user_key(user), 2)
    assert until == math.ceil((revoked_at + window).timestamp())  # rounded up
    assert snapshot.everyone is None  # the incident's tokens have all expired


def test_a_snapshot_has_every_recent_level(client, user, pair):
    revocation.revoke_all_tokens()
    revocation.revoke_all_tokens()
    snapshot = read_snapshot(client, nonce="x" * 128)
    revoked_at = GlobalRevocation.objects.get().revoked_at
    window = timedelta(days=1, minutes=5)
    assert snapshot.everyone == (2, math.ceil((revoked_at + window).timestamp()))
    assert (snapshot.tokens, snapshot.sessions, snapshot.users) == ([], [], [])
    assert snapshot.head == 2


def test_a_snapshot_of_an_empty_database(client):
    snapshot = read_snapshot(client)
    assert snapshot == secevents.Snapshot(
        "snap", EventStream.objects.get().stream, 0, [], [], [], None
    )


def test_a_snapshot_reads_the_head_before_the_state(client, monkeypatch, user, pair):
    """A revocation committing between the two reads is in the state but after the head:
    a consumer then applies its event again (harmless), never misses it."""
    revocation.revoke_token(pair.access)
    real = feed.current_stream
    late = issue_token_pair(user)

    def and_then_a_revocation(using=None):
        stream = real(using)
        revocation.revoke_token(late.access)
        return stream

    monkeypatch.setattr(feed, "current_stream", and_then_a_revocation)
    snapshot = read_snapshot(client)
    assert snapshot.head == 1
    assert {jti for jti, _ in snapshot.tokens} == {
        decode_token(pair.access).jti,
        decode_token(late.access).jti,
    }


def test_a_snapshot_of_many_rows(client, user):
    session = TokenSession.objects.get(sid=issue_token_pair(user).sid)
    expires = timezone.now() + timedelta(minutes=5)
    BlacklistedToken.objects.bulk_create(
        BlacklistedToken(
            jti=f"jti-{i}",
            token_type="access",
            sid=session.sid,
            reason="logout",
            expires_at=expires,
        )
        for i in range(25_000)
    )
    snapshot = read_snapshot(client)
    assert len(snapshot.tokens) == 25_000
    assert {jti for jti, _ in snapshot.tokens} == {f"jti-{i}" for i in range(25_000)}


@pytest.mark.parametrize("body", [{}, {"nonce": ""}, {"nonce": "n" * 129}, {"nonce": 1}, []])
def test_a_snapshot_request_without_a_good_nonce_is_400(client, body):
    response = post(client, SNAPSHOT, body)
    assert (response.status_code, response.json()["err"]) == (400, "invalid_request")


# -- retention: purge_expired_tokens ----------------------------------------------------------


def purge(*args):
    out = StringIO()
    call_command("purge_expired_tokens", *args, stdout=out, stderr=StringIO())
    return out.getvalue().splitlines()[3:]


def old_events(user, count, days=2):
    with time_machine.travel(timezone.now() - timedelta(days=days), tick=False):
        for _ in range(count):
            revocation.revoke_token(issue_token_pair(user).access)


def test_the_purge_deletes_an_old_prefix_and_says_so(client, user):
    old_events(user, 3)
    recent = issue_token_pair(user)
    revocation.revoke_token(recent.access)
    revocation.revoke_user_tokens(user)
    assert purge("--dry-run") == [
        "Would delete 3 revocation events.",
        "Dry run: nothing was deleted.",
    ]
    assert RevocationEvent.objects.count() == 5
    assert EventStream.objects.get().purged_through == 0
    assert Read(client, 0).receipt.last == 5  # a dry run changes nothing
    assert purge() == ["Deleted 3 revocation events."]
    assert list(RevocationEvent.objects.values_list("seq", flat=True)) == [4, 5]
    assert EventStream.objects.get().purged_through == 3
    for after in (0, 1, 2):  # a consumer from before the purge
        response = poll(client, after=after)
        assert response.status_code == 409
        assert response.json()["err"] == "resync_required"
        assert "purged" in response.json()["description"]
    assert [r.seq for r in Read(client, 3).revs] == [4, 5]
    assert purge() == ["Deleted 0 revocation events."]  # nothing more is old enough
    assert EventStream.objects.get().purged_through == 3


def test_the_purge_never_leaves_a_hole(user):
    """The newest old event decides: everything before it goes, even what is recent."""
    old_events(user, 2)
    revocation.revoke_token(issue_token_pair(user).access)  # 3: recent
    old_events(user, 1)  # 4: old (a clock set back, say)
    revocation.revoke_token(issue_token_pair(user).access)  # 5: recent
    assert purge() == ["Deleted 4 revocation events."]
    assert list(RevocationEvent.objects.values_list("seq", flat=True)) == [5]
    assert EventStream.objects.get().purged_through == 4


def test_the_purge_keeps_what_a_token_may_still_need(settings, user):
    configure(
        settings, ACCESS_TOKEN_LIFETIME=timedelta(days=3), REFRESH_TOKEN_LIFETIME=timedelta(days=3)
    )
    old_events(user, 2, days=2)  # a 3-day token revoked 2 days ago may still be presented
    assert purge() == ["Deleted 0 revocation events."]
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=6)):
        assert purge() == ["Deleted 2 revocation events."]


def test_the_purge_goes_in_batches_each_moving_purged_through(user):
    old_events(user, 5)
    steps = []

    def progress(total):
        steps.append((total, EventStream.objects.get().purged_through))

    cutoff = timezone.now() - timedelta(days=1)
    deleted = RevocationEvent.objects.purge_old(cutoff=cutoff, batch_size=2, progress=progress)
    assert deleted == 5
    assert steps == [(2, 2), (4, 4), (5, 5)]
    assert RevocationEvent.objects.purge_old(cutoff=cutoff, dry_run=True) == 0


# -- introspection by a consumer ------------------------------------------------------------


def introspect(api_client, token, credential):
    return api_client.post(
        INTROSPECT, {"token": token}, format="json", HTTP_AUTHORIZATION=f"Bearer {credential}"
    )


def test_a_consumer_may_introspect_with_the_answers_staff_get(api_client, user, pair):
    staff = issue_token_pair(UserFactory(is_staff=True)).access
    revoked = issue_token_pair(user)
    revocation.revoke_token(revoked.access)
    for token in (pair.access, pair.refresh, revoked.access, "not a token"):
        as_consumer = introspect(api_client, token, CREDENTIAL)
        assert as_consumer.status_code == 200
        assert as_consumer["Cache-Control"] == "no-store"
        assert as_consumer.json() == introspect(api_client, token, staff).json()
    assert introspect(api_client, pair.access, CREDENTIAL).json()["active"] is True
    assert introspect(api_client, revoked.access, OTHER_CREDENTIAL).json() == {"active": False}
    form = api_client.post(
        INTROSPECT,
        f"token={pair.access}",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {CREDENTIAL}",
    )
    assert form.json()["active"] is True


def test_introspection_by_anyone_else_is_still_refused(api_client, settings, user, pair):
    anonymous = api_client.post(INTROSPECT, {"token": pair.access}, format="json")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="api"'
    not_staff = introspect(api_client, pair.access, pair.access)
    assert (not_staff.status_code, not_staff.json()["code"]) == (401, "insufficient_scope")
    wrong = introspect(api_client, pair.access, CREDENTIAL + "x")  # neither a consumer nor a JWT
    assert (wrong.status_code, wrong.json()["code"]) == (401, "token_invalid")
    configure(settings, FEED_CONSUMERS={})
    gone = introspect(api_client, pair.access, CREDENTIAL)
    assert (gone.status_code, gone.json()["code"]) == (401, "token_invalid")
    assert (
        api_client.post(
            INTROSPECT, {"token": pair.access}, format="json", HTTP_AUTHORIZATION="Bearer"
        ).status_code
        == 400
    )


def test_the_consumer_principal(api_client):
    consumer = feed.consumer_with(CREDENTIAL.encode())
    assert consumer == feed.FeedConsumer("resource")
    assert (consumer.is_authenticated, consumer.is_staff, consumer.pk) == (
        True,
        False,
        "feed-consumer:resource",
    )
    assert feed.consumer_with(b"") is None
    assert feed.consumer_with(CREDENTIAL.encode() + b"\x00") is None
