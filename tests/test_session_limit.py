"""``MAX_SESSIONS_PER_USER``: a login beyond the limit revokes the user's oldest sessions.

What a user notices: after N + 1 logins the first device is signed out (its
access token refused in user and token-user mode, its refresh token refused
at the refresh endpoint), ``sessions/`` lists N sessions, the admin shows the
old one revoked with reason ``session_limit``, and resource servers hear of
it on the event feed. A refresh opens no session and never counts.

Revocations reach the cache in ``transaction.on_commit``, which the test
transaction never runs: ``on_commit_hooks`` runs them where the login's
transaction commits. On PostgreSQL, real threads log one user in at once
(``transaction=True``: their connections must see each other's commits).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_jwt_revoke import checks, revocation, secevents, signals
from django_jwt_revoke.claims import user_key
from django_jwt_revoke.models import Reason, RevocationEvent, TokenSession
from django_jwt_revoke.revocation import live_sessions
from django_jwt_revoke.tokens import issue_token_pair
from tests.factories import UserFactory, credentials
from tests.keys import pem_pair

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_commit_hooks")]

TOKEN = reverse("django_jwt_revoke:token_obtain")
REFRESH = reverse("django_jwt_revoke:token_refresh")
SESSIONS = reverse("django_jwt_revoke:session_list")
EVENTS = reverse("django_jwt_revoke:event_feed")
JWKS = reverse("django_jwt_revoke:jwks")
ADMIN_SESSIONS = reverse("admin:django_jwt_revoke_tokensession_changelist")
ME = "/api/me/"
TOKEN_USER_ME = "/api/token-user-me/"
FEED_CREDENTIAL = "session-limit-feed-credential-" + "z" * 24

only_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serializes writers, so concurrent logins cannot race; "
    "run with JWT_REVOKE_TEST_DB=postgres (CI's PostgreSQL pass does)",
)


@pytest.fixture
def limit(settings):
    """Set ``MAX_SESSIONS_PER_USER`` (call it with the number, or None)."""

    def set_limit(value):
        settings.JWT_REVOKE = {**settings.JWT_REVOKE, "MAX_SESSIONS_PER_USER": value}

    return set_limit


@pytest.fixture
def revoked_signals():
    """What ``token_revoked`` sends, one dict of arguments per signal."""
    calls = []

    def receiver(sender, **kwargs):
        kwargs.pop("signal", None)
        calls.append({"sender": sender, **kwargs})

    signals.token_revoked.connect(receiver, dispatch_uid="tests.test_session_limit")
    yield calls
    signals.token_revoked.disconnect(dispatch_uid="tests.test_session_limit")


def bearer(access):
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def login(user, client=None):
    """POST token/ for ``user``: the answer's JSON (asserting a 200)."""
    client = client or Client()
    response = client.post(TOKEN, credentials(user), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def answers(pair, client=None):
    """What the server answers each token of ``pair``: {check: (status, code)}."""
    client = client or Client()
    found = {}
    for name, path in (("me", ME), ("token_user_me", TOKEN_USER_ME)):
        response = client.get(path, **bearer(pair["access"]))
        found[name] = (response.status_code, response.json().get("code"))
    response = client.post(REFRESH, {"refresh": pair["refresh"]}, content_type="application/json")
    found["refresh"] = (response.status_code, response.json().get("code"))
    return found


REFUSED = {
    "me": (401, "token_revoked"),
    "token_user_me": (401, "token_revoked"),
    "refresh": (401, "token_revoked"),
}
ACCEPTED = {"me": (200, None), "token_user_me": (200, None), "refresh": (200, None)}


def accepted_now(pair, client=None):
    """Both modes accept the access token (checked in token-user mode: now cached)."""
    client = client or Client()
    return all(
        client.get(path, **bearer(pair["access"])).status_code == 200
        for path in (ME, TOKEN_USER_ME)
    )


def as_pair(token_pair):
    return {"access": token_pair.access, "refresh": token_pair.refresh}


def live_sids(user):
    return set(live_sessions(user).values_list("sid", flat=True))


def sid_of(pair):
    from django_jwt_revoke.tokens import decode_token

    return decode_token(pair["access"]).sid


def listed(pair):
    """The ids ``sessions/`` lists to the holder of ``pair``."""
    response = Client().get(SESSIONS, **bearer(pair["access"]))
    assert response.status_code == 200, response.content
    return [session["id"] for session in response.json()]


def reason_of(sid):
    return TokenSession.objects.with_state().get(sid=sid)._jwtr_reason


# -- no limit unless set ----------------------------------------------------------------------


def test_no_limit_by_default(user):
    from django_jwt_revoke.conf import jwt_revoke_settings

    assert jwt_revoke_settings.MAX_SESSIONS_PER_USER is None
    pairs = [issue_token_pair(user) for _ in range(6)]
    assert live_sids(user) == {p.sid for p in pairs}


# -- limit 1: each login signs the previous device out -----------------------------------------


def test_limit_one_a_login_signs_the_previous_device_out(limit, user, other_user):
    limit(1)
    phone = login(user)
    bystander = login(other_user)
    # the phone's tokens were accepted, in token-user mode too: with a cache,
    # "not revoked" is now cached, and the revocation must overwrite it
    assert accepted_now(phone)

    laptop = login(user)

    assert answers(phone) == REFUSED
    assert accepted_now(laptop)
    assert listed(laptop) == [sid_of(laptop)]
    assert live_sids(user) == {sid_of(laptop)}
    assert reason_of(sid_of(phone)) == Reason.SESSION_LIMIT
    # another user's session does not count, and is untouched
    assert answers(bystander) == ACCEPTED


def test_limit_one_the_refused_refresh_opens_nothing_and_the_new_session_rotates(limit, user):
    limit(1)
    first = login(user)
    second = login(user)
    client = Client()
    refused = client.post(REFRESH, {"refresh": first["refresh"]}, content_type="application/json")
    assert (refused.status_code, refused.json()["code"]) == (401, "token_revoked")
    rotated = client.post(REFRESH, {"refresh": second["refresh"]}, content_type="application/json")
    assert rotated.status_code == 200
    assert accepted_now(rotated.json())
    assert live_sids(user) == {sid_of(second)}


# -- limit 3: the oldest go, the newest stay ------------------------------------------------------


def test_limit_three_keeps_the_three_newest(limit, user):
    limit(3)
    pairs = [issue_token_pair(user) for _ in range(5)]  # the Python API counts too

    assert live_sids(user) == {p.sid for p in pairs[2:]}
    for old in pairs[:2]:
        assert answers(as_pair(old)) == REFUSED
        assert reason_of(old.sid) == Reason.SESSION_LIMIT
    for new in pairs[2:]:
        assert accepted_now(as_pair(new))
    assert set(listed(as_pair(pairs[-1]))) == {p.sid for p in pairs[2:]}


def test_oldest_means_created_first_then_lowest_key(limit, user):
    """By ``created_at``: a session recorded later (higher key) but opened earlier goes
    first; opened in the same instant, the lower key is the older."""
    now = timezone.now()
    with time_machine.travel(now - timedelta(minutes=1), tick=False):
        middle = issue_token_pair(user)
    with time_machine.travel(now - timedelta(minutes=2), tick=False):
        oldest = issue_token_pair(user)  # recorded after ``middle``, opened before it
    with time_machine.travel(now - timedelta(seconds=30), tick=False):
        twin_a = issue_token_pair(user)
        twin_b = issue_token_pair(user)  # same created_at, higher key
    limit(3)

    newest = issue_token_pair(user)  # 5 live: the two oldest go
    assert live_sids(user) == {twin_a.sid, twin_b.sid, newest.sid}
    assert {reason_of(oldest.sid), reason_of(middle.sid)} == {Reason.SESSION_LIMIT}

    last = issue_token_pair(user)  # twin_a and twin_b share created_at: twin_a goes
    assert live_sids(user) == {twin_b.sid, newest.sid, last.sid}
    assert reason_of(twin_a.sid) == Reason.SESSION_LIMIT


def test_a_lower_limit_revokes_every_session_beyond_it_in_one_login(limit, user, revoked_signals):
    pairs = [issue_token_pair(user) for _ in range(4)]
    limit(2)
    new = issue_token_pair(user)

    assert live_sids(user) == {pairs[-1].sid, new.sid}
    evicted = [p.sid for p in pairs[:3]]
    assert sorted(
        (call["sid"], call["reason"], call["user_id"], call["sender"]) for call in revoked_signals
    ) == sorted((sid, "session_limit", user.pk, TokenSession) for sid in evicted)
    for old in pairs[:3]:
        assert answers(as_pair(old)) == REFUSED


def test_a_user_id_field_other_than_the_key(settings, limit, user):
    """USER_ID_FIELD the username: the sessions are found and announced by it."""
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "USER_ID_FIELD": type(user).USERNAME_FIELD}
    limit(1)
    first = login(user)
    second = login(user)
    assert answers(first) == REFUSED
    assert accepted_now(second)
    event = RevocationEvent.objects.get(reason=Reason.SESSION_LIMIT)
    assert (event.subject, event.user_key) == (sid_of(first), user.get_username())


# -- what does not count ---------------------------------------------------------------------


def test_a_refresh_opens_no_session_and_does_not_count(limit, user):
    limit(2)
    first = login(user)
    second = login(user)
    client = Client()
    current = first
    for _ in range(4):  # the first device refreshes, again and again
        response = client.post(
            REFRESH, {"refresh": current["refresh"]}, content_type="application/json"
        )
        assert response.status_code == 200, response.content
        current = response.json()
    assert live_sids(user) == {sid_of(first), sid_of(second)}
    assert accepted_now(current) and accepted_now(second)
    assert not RevocationEvent.objects.filter(reason=Reason.SESSION_LIMIT).exists()

    # the next login: the first session is the oldest opened, refreshed or not
    third = login(user)
    assert live_sids(user) == {sid_of(second), sid_of(third)}
    assert answers(current) == REFUSED


def test_dead_sessions_do_not_count_and_are_not_revoked_again(limit, user, revoked_signals):
    limit(2)
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        expired = issue_token_pair(user)
    logged_out = issue_token_pair(user)
    revocation.revoke_session(logged_out.sid, Reason.LOGOUT)
    revoked_signals.clear()
    kept = issue_token_pair(user)
    new = issue_token_pair(user)

    assert live_sids(user) == {kept.sid, new.sid}
    assert revoked_signals == []
    assert reason_of(logged_out.sid) == Reason.LOGOUT
    assert TokenSession.objects.get(sid=expired.sid).revoked_at is None  # left to expire


def test_a_logout_all_leaves_no_session_to_count(limit, user):
    limit(2)
    issue_token_pair(user)
    issue_token_pair(user)
    revocation.revoke_user_tokens(user)
    a, b = issue_token_pair(user), issue_token_pair(user)
    assert live_sids(user) == {a.sid, b.sid}
    assert not TokenSession.objects.filter(revoke_reason=Reason.SESSION_LIMIT).exists()


# -- where the revocation shows ----------------------------------------------------------------


def test_the_admin_shows_the_session_revoked_for_the_limit(limit, client, user):
    limit(1)
    old = issue_token_pair(user)
    new = issue_token_pair(user)
    client.force_login(UserFactory(superuser=True))
    page = client.get(ADMIN_SESSIONS, {"reason": Reason.SESSION_LIMIT})
    assert page.status_code == 200
    cl = page.context["cl"]
    assert [row.sid for row in cl.result_list] == [old.sid]
    row = cl.result_list[0]
    assert (cl.model_admin.state(row), cl.model_admin.reason(row)) == (
        "revoked",
        "session limit reached",
    )
    assert new.sid.encode() not in page.content


def test_the_revocation_is_in_the_login_transaction(limit, user, monkeypatch):
    """A login that fails after revoking the oldest session takes the revocation back."""
    limit(1)
    old = issue_token_pair(user)
    events = RevocationEvent.objects.count()
    real = revocation._sessions_revoked

    def failing(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("the login fails after the revocation")

    monkeypatch.setattr(revocation, "_sessions_revoked", failing)
    with pytest.raises(RuntimeError):
        issue_token_pair(user)
    monkeypatch.undo()

    assert live_sids(user) == {old.sid}
    assert RevocationEvent.objects.count() == events
    assert accepted_now(as_pair(old))


@pytest.fixture
def feed_settings(settings):
    private, _public = pem_pair("rsa")
    settings.JWT_REVOKE = {
        **settings.JWT_REVOKE,
        "ALGORITHM": "RS256",
        "SIGNING_KEY": private,
        "FEED_CONSUMERS": {"resource": FEED_CREDENTIAL},
    }
    from django_jwt_revoke import feed

    feed.signed_sets.clear()
    yield
    feed.signed_sets.clear()


def test_the_feed_carries_a_session_revoked_event_per_evicted_session(feed_settings, limit, user):
    import jwt

    pairs = [issue_token_pair(user) for _ in range(3)]
    limit(1)
    issue_token_pair(user)

    client = Client()
    response = client.post(
        EVENTS,
        {"after": 0, "nonce": "n-1", "returnImmediately": True},
        content_type="application/json",
        **bearer(FEED_CREDENTIAL),
    )
    assert response.status_code == 200, response.content
    keys = jwt.PyJWKSet.from_dict(client.get(JWKS).json())
    found = []
    for token in response.json()["sets"].values():
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, keys[header["kid"]].key, algorithms=[header["alg"]])
        found.append(claims)
    assert len(found) == 3
    events = [c["events"] for c in found]
    assert all(secevents.SESSION_REVOKED in e for e in events)
    assert sorted(e[secevents.SESSION_REVOKED]["subject"]["id"] for e in events) == sorted(
        p.sid for p in pairs
    )
    assert {e[secevents.SESSION_REVOKED]["reason_admin"]["en"] for e in events} == {"session_limit"}
    rows = RevocationEvent.objects.order_by("seq")
    assert [(r.kind, r.user_key, r.reason) for r in rows] == [
        (secevents.SESSION, user_key(user), "session_limit")
    ] * 3


# -- the check, and a value it refuses -----------------------------------------------------------


def run_check(value):
    from django.test import override_settings

    with override_settings(JWT_REVOKE={"MAX_SESSIONS_PER_USER": value}):
        return checks.check_settings()


@pytest.mark.parametrize("value", [0, -1, True, False, "2", 2.0, 1.5, [2], {}])
def test_e040_refuses_anything_but_none_or_a_positive_int(value):
    assert run_check(value) == [checks.E040.build(value=value)]
    assert checks.E040.build(value=value).id == "django_jwt_revoke.E040"


@pytest.mark.parametrize("value", [None, 1, 2, 50, 10**9])
def test_e040_accepts_none_and_positive_ints(value):
    assert run_check(value) == []


def test_manage_py_check_reports_e040(settings):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, "MAX_SESSIONS_PER_USER": 0}
    with pytest.raises(SystemCheckError, match=r"django_jwt_revoke\.E040"):
        call_command("check")


@pytest.mark.parametrize("value", [0, "3", True, -2, 2.5])
def test_a_value_the_check_refuses_limits_to_one_session(limit, user, value):
    """Fail closed: a mistyped limit is the strictest one, never no limit, never a crash."""
    limit(value)
    first = login(user)
    second = login(user)
    assert live_sids(user) == {sid_of(second)}
    assert answers(first) == REFUSED


# -- what a login costs ----------------------------------------------------------------------------


def login_statements(user):
    from django.test.utils import CaptureQueriesContext

    from django_jwt_revoke.feed import current_stream

    # The feed's row, as its migration leaves it: a transactional test run
    # before this one in the same process flushed every table.
    current_stream()
    client = Client()
    login(user, client)  # warm: nothing lazy left
    with CaptureQueriesContext(connection) as ctx:
        login(user, client)
    return [q["sql"] for q in ctx.captured_queries]


def test_a_login_under_the_limit_costs_the_lock_and_the_count(limit, user):
    """PostgreSQL: the 4 statements of a login (tests/test_views.py), in a
    transaction of their own (BEGIN and COMMIT, here a savepoint), the user row
    locked, the sessions beyond the limit looked for: 8. SQLite has no row locks
    (its writer lock serialises the logins): 7."""
    limit(5)
    statements = login_statements(user)
    locks = connection.features.has_select_for_update
    assert len(statements) == (8 if locks else 7), statements
    if locks:  # the lock, first in the login's transaction
        assert statements[3].startswith(f'SELECT "{type(user)._meta.db_table}"'), statements[3]
        assert statements[3].endswith(("FOR NO KEY UPDATE", "FOR UPDATE")), statements[3]


def test_a_login_that_revokes_costs_four_statements_more(limit, user):
    """The sessions' UPDATE, and the feed's three (its number, read back, the events)."""
    limit(1)
    statements = login_statements(user)
    locks = connection.features.has_select_for_update
    assert len(statements) == (12 if locks else 11), statements
    updates = [s for s in statements if s.startswith("UPDATE")]
    assert len(updates) == 2, updates  # the sessions, the feed's number
    assert "tokensession" in updates[0] and "eventstream" in updates[1]


# -- PostgreSQL: real threads ----------------------------------------------------------------------

THREADS = 8


def concurrent_logins(users):
    """Each of ``users`` logs in (POST token/) from its own thread, all released together.

    Returns each thread's (status, json).
    """
    barrier = threading.Barrier(len(users))
    results: list = [None] * len(users)

    def run(i, user):
        client = Client()
        try:
            barrier.wait(timeout=10)
            response = client.post(TOKEN, credentials(user), content_type="application/json")
            results[i] = (response.status_code, response.json())
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, u)) for i, u in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.fixture
def paused(monkeypatch):
    """Widen the race: every login sleeps inside its locked section before it counts."""
    real = revocation._revoke_sessions_beyond

    def slow(*args, **kwargs):
        time.sleep(0.05)
        return real(*args, **kwargs)

    monkeypatch.setattr(revocation, "_revoke_sessions_beyond", slow)


@pytest.mark.postgres
@only_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_logins_of_one_user_never_leave_more_than_the_limit(limit, paused):
    limit(2)
    user = UserFactory()
    results = concurrent_logins([user] * THREADS)

    assert [status for status, _ in results] == [200] * THREADS, results
    sessions = list(TokenSession.objects.filter(user=user).order_by("-created_at", "-pk"))
    assert len(sessions) == THREADS
    newest = {s.sid for s in sessions[:2]}
    assert live_sids(user) == newest
    assert all(s.revoke_reason == Reason.SESSION_LIMIT for s in sessions[2:])
    # one event per evicted session, none twice
    evicted = RevocationEvent.objects.filter(reason=Reason.SESSION_LIMIT)
    assert sorted(evicted.values_list("subject", flat=True)) == sorted(s.sid for s in sessions[2:])
    # every pair but the two newest is refused on its next request
    by_sid = {sid_of(body): body for _, body in results}
    for sid, body in by_sid.items():
        assert answers(body) == (ACCEPTED if sid in newest else REFUSED), sid


@pytest.mark.postgres
@only_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_logins_of_many_users_each_keep_their_limit(limit, paused):
    limit(1)
    users = [UserFactory() for _ in range(4)]
    concurrent_logins([u for u in users for _ in range(2)])
    for user in users:
        sessions = list(TokenSession.objects.filter(user=user).order_by("-created_at", "-pk"))
        assert len(sessions) == 2
        assert live_sids(user) == {sessions[0].sid}


@pytest.mark.postgres
@only_postgres
@pytest.mark.django_db(transaction=True)
def test_a_login_waits_for_the_same_users_login_only(limit, monkeypatch):
    """Alice's login holds her lock (paused inside it): her second login waits for it,
    Bob's does not."""
    limit(1)
    alice, bob = UserFactory(), UserFactory()
    inside = threading.Event()
    release = threading.Event()
    real = revocation._revoke_sessions_beyond

    def holding(limit_, session, *args, **kwargs):
        if session.user_id == alice.pk and not inside.is_set():
            inside.set()
            assert release.wait(timeout=20)
        return real(limit_, session, *args, **kwargs)

    monkeypatch.setattr(revocation, "_revoke_sessions_beyond", holding)
    done: dict = {}

    def log_in(name, user):
        try:
            done[name] = login(user)
        finally:
            connection.close()

    first = threading.Thread(target=log_in, args=("alice-1", alice))
    second = threading.Thread(target=log_in, args=("alice-2", alice))
    other = threading.Thread(target=log_in, args=("bob", bob))
    first.start()
    try:
        assert inside.wait(timeout=10)
        second.start()
        other.start()
        other.join(timeout=10)
        assert "bob" in done, "another user's login waited for Alice's lock"
        second.join(timeout=0.5)
        assert second.is_alive(), "Alice's second login did not wait for her first"
    finally:
        release.set()
        for thread in (first, second, other):
            if thread.is_alive():
                thread.join(timeout=20)
    assert set(done) == {"alice-1", "alice-2", "bob"}
    # the second login, serialised after the first, revoked it
    assert live_sids(alice) == {sid_of(done["alice-2"])}
    assert answers(done["alice-1"]) == REFUSED
    assert answers(done["bob"]) == ACCEPTED
