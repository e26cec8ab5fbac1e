"""purge_expired_tokens and revoke_user_tokens, through call_command."""

import re
import threading
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_jwt_revoke import revocation
from django_jwt_revoke.management.commands.purge_expired_tokens import Command as PurgeCommand
from django_jwt_revoke.models import (
    BlacklistedToken,
    OutstandingToken,
    Reason,
    RevocationEvent,
    TokenSession,
    UserRevocation,
    purge_cutoff,
)
from django_jwt_revoke.tokens import issue_token_pair, user_key
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def counts():
    return (
        OutstandingToken.objects.count(),
        TokenSession.objects.count(),
        BlacklistedToken.objects.count(),
    )


@pytest.fixture
def http(api_client):
    def me(pair):
        return api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {pair.access}")

    return me


def old_login(user, days=2, rotations=0, revoke_access=False):
    """A login made ``days`` ago (its refresh token lifetime is one day)."""
    with time_machine.travel(timezone.now() - timedelta(days=days), tick=False):
        pair = issue_token_pair(user)
        for _ in range(rotations):
            pair = revocation.rotate_refresh_token(pair.refresh)
        if revoke_access:
            revocation.revoke_token(pair.access)
    return pair


# -- purge_expired_tokens ------------------------------------------------------------


def test_purge_deletes_only_expired_rows(http, user, other_user):
    old_login(user, rotations=1, revoke_access=True)  # 2 refresh, 1 session, 2 blacklisted
    live = issue_token_pair(other_user)
    revoked_live = issue_token_pair(other_user)
    revocation.revoke_token(revoked_live.access)
    assert counts() == (4, 3, 3)

    assert run("purge_expired_tokens") == (
        "Deleted 2 outstanding tokens.\n"
        "Deleted 1 token session.\n"
        "Deleted 2 blacklisted tokens.\n"
        "Deleted 1 revocation event.\n"  # the old revocation (a rotation is none)
    )
    assert counts() == (2, 2, 1)
    assert RevocationEvent.objects.count() == 1
    assert http(live).status_code == 200
    assert http(revoked_live).json()["code"] == "token_revoked"
    assert revocation.rotate_refresh_token(live.refresh).access


def test_purge_on_an_empty_table():
    assert run("purge_expired_tokens") == (
        "Deleted 0 outstanding tokens.\n"
        "Deleted 0 token sessions.\n"
        "Deleted 0 blacklisted tokens.\n"
        "Deleted 0 revocation events.\n"
    )


def test_dry_run_counts_and_deletes_nothing(user):
    old_login(user, rotations=2, revoke_access=True)
    issue_token_pair(user)
    before = counts()
    assert run("purge_expired_tokens", "--dry-run") == (
        "Would delete 3 outstanding tokens.\n"
        "Would delete 1 token session.\n"
        "Would delete 3 blacklisted tokens.\n"
        "Would delete 1 revocation event.\n"  # the revocation; rotations are none
        "Dry run: nothing was deleted.\n"
    )
    assert counts() == before
    assert RevocationEvent.objects.count() == 1


def test_verbosity_zero_prints_nothing(user):
    old_login(user)
    assert run("purge_expired_tokens", verbosity=0) == ""
    assert counts() == (0, 0, 0)


def test_user_revocations_are_never_purged(user):
    old_login(user)
    revocation.revoke_user_tokens(user)
    run("purge_expired_tokens")
    assert UserRevocation.objects.filter(user_key=user_key(user), generation=1).exists()


@override_settings(JWT_REVOKE={"LEEWAY": timedelta(seconds=30)})
def test_revoked_token_inside_the_leeway_stays_revoked(http, user):
    pair = issue_token_pair(user)
    revocation.revoke_token(pair.access)
    # 10 s past exp: the leeway still accepts the token, so its revocation must hold
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=10)):
        assert run("purge_expired_tokens").splitlines()[2] == "Deleted 0 blacklisted tokens."
        assert http(pair).json()["code"] == "token_revoked"
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=31)):
        assert run("purge_expired_tokens").splitlines()[2] == "Deleted 1 blacklisted token."
        assert http(pair).json()["code"] == "token_expired"


def test_batches_are_single_deletes_by_primary_key(user):
    """Bounded memory: rows are never loaded, only their keys, N at a time."""
    for _ in range(5):
        old_login(user, revoke_access=True)
    with CaptureQueriesContext(connection) as ctx:
        output = run("purge_expired_tokens", "--batch-size", "2")
    assert output == (
        "Deleted 5 outstanding tokens.\n"
        "Deleted 5 token sessions.\n"
        "Deleted 5 blacklisted tokens.\n"
        "Deleted 5 revocation events.\n"
    )
    deletes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 12  # 3 batches (2 + 2 + 1) for each model
    selects = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT")]
    # The events' first: the newest event old enough, where the prefix purged ends.
    assert " LIMIT 1" in selects.pop(-5)  # then 3 batches and the empty one
    for sql in selects:
        selected = sql.split(" FROM ")[0]
        assert '"jti"' not in selected and '"user_agent"' not in selected, sql
        assert " LIMIT 2" in sql, sql


def test_purge_keeps_a_session_whose_older_token_outlives_it(user):
    """After REFRESH_TOKEN_LIFETIME is shortened, a session can end before a
    retired token of it: the session stays until that token is purged too."""
    pair = old_login(user, rotations=1)
    retired = OutstandingToken.objects.filter(session__sid=pair.sid).order_by("pk").first()
    OutstandingToken.objects.filter(pk=retired.pk).update(
        expires_at=timezone.now() + timedelta(hours=1)
    )
    assert run("purge_expired_tokens", "--dry-run").splitlines()[:2] == [
        "Would delete 1 outstanding token.",
        "Would delete 0 token sessions.",  # the retired token is not expired
    ]
    assert run("purge_expired_tokens") == (
        "Deleted 1 outstanding token.\n"
        "Deleted 0 token sessions.\n"
        "Deleted 1 blacklisted token.\n"
        "Deleted 0 revocation events.\n"  # a rotation is none
    )
    assert TokenSession.objects.filter(sid=pair.sid).exists()
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert run("purge_expired_tokens", "--dry-run").splitlines()[:2] == [
            "Would delete 1 outstanding token.",
            "Would delete 1 token session.",  # its last token would be gone first
        ]
        assert run("purge_expired_tokens").splitlines()[:2] == [
            "Deleted 1 outstanding token.",
            "Deleted 1 token session.",
        ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_planning_a_session_batch_does_not_walk_the_tokens_just_purged(user):
    """The sessions' batches stay as cheap as the first at any table size.

    Their tokens are purged first, and until VACUUM runs every one leaves a
    dead entry in the index of their session key. A batch that checked for
    referencing tokens with a join made PostgreSQL's planner step over those
    entries on every batch (it reads the actual ends of a join key's index),
    a cost growing with the table. Each batch's DELETE is planned here
    (EXPLAIN, BUFFERS) before it runs: what planning reads must not depend
    on how many dead tokens there are.
    """
    if connection.vendor != "postgresql":
        pytest.skip("the planner is PostgreSQL's: run with JWT_REVOKE_TEST_DB=postgres")
    sessions, per = 2000, 10
    gone = timezone.now() - timedelta(days=2)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO django_jwt_revoke_tokensession (sid, user_id, generation, epoch,"
            " created_at, expires_at, user_agent, revoke_reason) SELECT 's' || g, %s, 0, 0,"
            " %s, %s, '', '' FROM generate_series(1, %s) g",
            [user.pk, gone, gone, sessions],
        )
        cursor.execute(
            "INSERT INTO django_jwt_revoke_outstandingtoken (jti, user_id, session_id,"
            " created_at, expires_at, user_agent) SELECT s.id || '-' || g, %s, s.id, %s, %s, ''"
            " FROM django_jwt_revoke_tokensession s, generate_series(1, %s) g",
            [user.pk, gone, gone, per],
        )
        cursor.execute("ANALYZE django_jwt_revoke_tokensession")
        cursor.execute("ANALYZE django_jwt_revoke_outstandingtoken")
    cutoff = purge_cutoff()
    assert OutstandingToken.objects.purge_expired(cutoff=cutoff) == sessions * per
    planned = []

    def plan_first(execute, sql, params, many, context):
        if sql.startswith("DELETE"):
            cursor = context["cursor"]
            cursor.execute("EXPLAIN (BUFFERS) " + sql, params)
            plan = [row[0] for row in cursor.fetchall()]
            planning = plan[plan.index("Planning:") + 1] if "Planning:" in plan else ""
            planned.append(sum(int(n) for n in re.findall(r"(?:hit|read)=(\d+)", planning)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(plan_first):
        deleted = TokenSession.objects.purge_expired(cutoff=cutoff, batch_size=100)
    assert deleted == sessions
    assert len(planned) == sessions // 100
    # A join stepped over 10 dead entries a session (hundreds of pages here);
    # a batch without one reads no page of either table to be planned.
    assert max(planned) < 20, planned


def test_progress_lines_on_long_runs(user, monkeypatch):
    monkeypatch.setattr(PurgeCommand, "progress_every", 2)
    for _ in range(5):
        old_login(user)
    assert run("purge_expired_tokens", "--batch-size", "1") == (
        "  ... 2 outstanding tokens deleted so far\n"
        "  ... 4 outstanding tokens deleted so far\n"
        "Deleted 5 outstanding tokens.\n"
        "  ... 2 token sessions deleted so far\n"
        "  ... 4 token sessions deleted so far\n"
        "Deleted 5 token sessions.\n"
        "Deleted 0 blacklisted tokens.\n"
        "Deleted 0 revocation events.\n"
    )


@pytest.mark.parametrize("size", ["0", "-3", "many"])
def test_batch_size_must_be_a_positive_number(size):
    with pytest.raises(CommandError, match="--batch-size"):
        run("purge_expired_tokens", "--batch-size", size)


def test_logins_and_revocations_during_the_purge_are_kept(http, user, other_user):
    """Each batch is its own transaction; what happens between them survives."""
    for _ in range(4):
        old_login(user, revoke_access=True)
    made = []

    def meanwhile(total):
        pair = issue_token_pair(other_user)
        revoked = issue_token_pair(other_user)
        revocation.revoke_token(revoked.access)
        revocation.revoke_token(revoked.refresh)
        made.append((pair, revoked))

    cutoff = purge_cutoff()
    for model in (OutstandingToken, TokenSession, BlacklistedToken):
        model.objects.purge_expired(cutoff=cutoff, batch_size=1, progress=meanwhile)
    assert len(made) == 12
    for live, revoked in made:
        assert http(live).status_code == 200
        assert http(revoked).json()["code"] == "token_revoked"
    assert not OutstandingToken.objects.filter(user=user).exists()
    assert not BlacklistedToken.objects.filter(expires_at__lt=cutoff).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_purge_concurrent_with_logins_and_revocations(user, other_user, api_client):
    """A real race on PostgreSQL: logins, rotations and revocations in another
    thread while the purge deletes in small batches. Nothing live is lost."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers: run with JWT_REVOKE_TEST_DB=postgres")
    for _ in range(60):
        old_login(user, rotations=1, revoke_access=True)
    stop = threading.Event()
    live, dead, errors = [], [], []

    def traffic():
        try:
            while not stop.is_set():
                pair = issue_token_pair(other_user)
                pair = revocation.rotate_refresh_token(pair.refresh)
                live.append(pair)
                gone = issue_token_pair(other_user)
                revocation.revoke_token(gone.refresh)
                dead.append(gone)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        output = run("purge_expired_tokens", "--batch-size", "7")
    finally:
        stop.set()
        worker.join()
    assert not errors, errors
    assert output == (
        "Deleted 120 outstanding tokens.\n"
        "Deleted 60 token sessions.\n"
        "Deleted 120 blacklisted tokens.\n"
        "Deleted 60 revocation events.\n"  # the revocations: a rotation records none
    )
    assert live and dead
    for pair in live:
        response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {pair.access}")
        assert response.status_code == 200
    for pair in dead:
        response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {pair.access}")
        assert response.json()["code"] == "token_revoked"


# -- revoke_user_tokens --------------------------------------------------------------


def test_revoke_by_username_and_by_id(http):
    alice, bob, carol = (UserFactory(name=name) for name in ("alice", "bob", "carol"))
    pairs = {u: issue_token_pair(u) for u in (alice, bob, carol)}
    output = run("revoke_user_tokens", alice.get_username(), str(bob.pk))
    assert output == (
        f"Revoked every token of {alice.get_username()!r} (id {alice.pk}).\n"
        f"Revoked every token of {bob.get_username()!r} (id {bob.pk}).\n"
    )
    assert http(pairs[alice]).json()["code"] == "token_revoked"
    assert http(pairs[bob]).json()["code"] == "token_revoked"
    assert http(pairs[carol]).status_code == 200
    assert UserRevocation.objects.get(user_key=user_key(alice)).reason == Reason.ADMIN
    assert http(issue_token_pair(alice)).status_code == 200


def test_revoke_with_a_reason_and_a_user_named_twice(user):
    run("revoke_user_tokens", user.get_username(), str(user.pk), "--reason", "password_change")
    row = UserRevocation.objects.get(user_key=user_key(user))
    assert (row.generation, row.reason) == (1, Reason.PASSWORD_CHANGE)


def test_unknown_users_revoke_nothing(http, user):
    pair = issue_token_pair(user)
    with pytest.raises(CommandError) as exc:
        run("revoke_user_tokens", user.get_username(), "nobody", "424242")
    assert str(exc.value) == (
        "No user with the username or id 'nobody'.\n"
        "No user with the username or id '424242'.\n"
        "No token was revoked."
    )
    assert exc.value.returncode == 1
    assert http(pair).status_code == 200
    assert not UserRevocation.objects.exists()


def test_username_of_one_user_and_id_of_another_is_refused():
    if get_user_model().USERNAME_FIELD == "email":
        pytest.skip("an email address cannot be a primary key")
    first = UserFactory()
    second = UserFactory(name=str(first.pk))  # a login name that is the first user's id
    with pytest.raises(CommandError) as exc:
        run("revoke_user_tokens", str(first.pk))
    assert str(exc.value) == (
        f"{str(first.pk)!r} is the username of one user and the id of another: "
        f"give the other user's username, or the id {second.pk}.\n"
        "No token was revoked."
    )
    assert not UserRevocation.objects.exists()


def test_unknown_reason_is_refused(user):
    with pytest.raises(CommandError, match="invalid choice"):
        run("revoke_user_tokens", user.get_username(), "--reason", "because")
    assert not UserRevocation.objects.exists()


# -- import_simplejwt_blacklist (the rest in test_simplejwt_compat.py) --------------


def test_import_simplejwt_blacklist_needs_simplejwt_blacklist_app():
    with pytest.raises(CommandError) as error:
        run("import_simplejwt_blacklist")
    assert str(error.value) == (
        "rest_framework_simplejwt.token_blacklist is not in INSTALLED_APPS, so there is no "
        "simplejwt blacklist to import. Keep it installed (with djangorestframework-simplejwt) "
        "until this command has run."
    )
    assert counts() == (0, 0, 0)
