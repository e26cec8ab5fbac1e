"""The per-request query finds the session by its sid, whatever the statistics say.

Anyone who can log in can give their account many sessions. Had the
session's subquery filtered on both the sid and the owner, PostgreSQL could
plan it through the owner's index with the sid as a filter, reading every
session of the user on each request (measured: 18 ms at 10^5 sessions, with
statistics taken while the user had one). These tests set up exactly those
statistics and read the plan PostgreSQL chooses for the query each request
runs.
"""

import pytest
from django.db import connection

from django_jwt_revoke.stores.database import DatabaseStore
from django_jwt_revoke.tokens import decode_token, issue_token_pair

from .factories import UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="query plans are PostgreSQL's; run with JWT_REVOKE_TEST_DB=postgres",
    ),
]

SESSIONS = 20_000


def _plan(store, which, token):
    prepared = store._prepared(which)
    assert prepared is not None, "the query is compiled on PostgreSQL"
    params = prepared.params_for(**store._slot_values(token))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + prepared.sql, params)
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def crowded_user():
    """A user whose statistics say one session, who then opens 20 000 more."""
    user = UserFactory()
    issue_token_pair(user)
    table = "django_jwt_revoke_tokensession"
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
        cursor.execute(
            f"INSERT INTO {table} (sid, user_id, generation, epoch, created_at, expires_at,"
            " user_agent, revoke_reason) SELECT md5(g::text || random()::text), %s, 0, 0,"
            " now(), now() + interval '1 day', '', '' FROM generate_series(1, %s) g",
            [user.pk, SESSIONS],
        )
    return user


@pytest.mark.parametrize("which", ["user", "state"])
def test_the_session_is_found_by_its_sid_not_among_the_users_sessions(crowded_user, which):
    token = decode_token(issue_token_pair(crowded_user).access)
    store = DatabaseStore()
    # Run once through the store (compiles the query), then read its plan.
    if which == "user":
        user, state = store.user_and_state(token)
        assert user == crowded_user and not state.revokes(token)
    else:
        assert not store.token_state(token).revokes(token)
    plan = _plan(store, which, token)
    session_scans = [
        (line, plan[i + 1] if i + 1 < len(plan) else "")
        for i, line in enumerate(plan)
        if "tokensession" in line and "Scan" in line
    ]
    assert session_scans, plan
    for scan, condition in session_scans:
        assert "Index" in scan and "sid" in condition, "\n".join(plan)
    removed = [line for line in plan if "Rows Removed by Filter" in line]
    assert not any(int(line.split(":")[1]) > 1 for line in removed), "\n".join(plan)
    # The one row a unique sid finds is not sorted (by the model's ordering).
    assert not any("Sort" in line for line in plan), "\n".join(plan)


def test_a_session_of_another_user_still_does_not_count(crowded_user):
    """The owner is compared outside the subquery: a token naming another user
    with this session's sid is refused as before."""
    other = UserFactory()
    token = decode_token(issue_token_pair(crowded_user).access)
    forged = type(token)(token.header, {**token.payload, "user_id": other.pk}, other.pk)
    store = DatabaseStore()
    user, state = store.user_and_state(forged)
    assert user == other and state.revokes(forged)
    assert store.token_state(forged).revokes(forged)
