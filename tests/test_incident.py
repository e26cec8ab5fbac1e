"""Incident response: every token of every user, revoked in one write."""

from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from django_jwt_revoke import revocation, signals
from django_jwt_revoke.models import GlobalRevocation
from django_jwt_revoke.tokens import decode_token, issue_token_pair

# revocations reach the cache on commit: on_commit_hooks runs them in the test transaction
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_commit_hooks")]


@pytest.fixture
def everyone(user, other_user):
    return [issue_token_pair(user), issue_token_pair(user), issue_token_pair(other_user)]


PATHS = ("/api/me/", "/api/token-user-me/")


def test_revoke_all_tokens_kills_every_token_issued_before(get_me, user, other_user, everyone):
    for pair in everyone:
        for path in PATHS:
            assert get_me(pair.access, path).status_code == 200
    assert revocation.revoke_all_tokens() == 1
    for pair in everyone:
        for path in PATHS:
            response = get_me(pair.access, path)
            assert response.status_code == 401 and response.json()["code"] == "token_revoked"
        with pytest.raises(Exception):
            revocation.rotate_refresh_token(pair.refresh)
    fresh = issue_token_pair(other_user)
    assert decode_token(fresh.access).epoch == 1
    for path in PATHS:
        assert get_me(fresh.access, path).status_code == 200
    assert revocation.rotate_refresh_token(fresh.refresh).sid == fresh.sid
    assert list(revocation.live_sessions(other_user).values_list("sid", flat=True)) == [fresh.sid]


def test_revoke_all_is_one_write_whatever_the_number_of_tokens(
    user, everyone, django_assert_max_num_queries
):
    revocation.revoke_all_tokens()
    with django_assert_max_num_queries(7) as ctx:
        revocation.revoke_all_tokens()
    statements = [q["sql"].lstrip().split()[0].upper() for q in ctx.captured_queries]
    # The bump, then its event in the feed (feed.record).
    assert [s for s in statements if s not in {"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"}] == [
        "UPDATE",
        "SELECT",
        "UPDATE",
        "SELECT",
        "INSERT",
    ]
    assert GlobalRevocation.objects.get().generation == 2


def test_signal(user):
    seen = []

    def handler(sender, **kwargs):
        seen.append({k: v for k, v in kwargs.items() if k != "signal"})

    signals.all_tokens_revoked.connect(handler)
    try:
        revocation.revoke_all_tokens()
    finally:
        signals.all_tokens_revoked.disconnect(handler)
    assert seen == [{"reason": "incident", "generation": 1}]


def test_command_noinput(get_me, everyone):
    out = StringIO()
    call_command("revoke_all_tokens", "--noinput", stdout=out)
    assert out.getvalue() == (
        "Revoked every token issued so far (global generation 1, reason incident).\n"
    )
    assert get_me(everyone[0].access).status_code == 401


def test_command_asks_first_and_cancels_on_anything_but_yes(get_me, everyone):
    with mock.patch("builtins.input", return_value="no"):
        with pytest.raises(CommandError, match=r"Cancelled: nothing was revoked\."):
            call_command("revoke_all_tokens", stdout=StringIO())
    assert get_me(everyone[0].access).status_code == 200
    with mock.patch("builtins.input", return_value="yes") as asked:
        call_command("revoke_all_tokens", "--reason", "admin", stdout=StringIO())
    assert "every user" in asked.call_args.args[0]
    assert GlobalRevocation.objects.get().reason == "admin"
    assert get_me(everyone[0].access).status_code == 401
