"""What is stored: after a whole flow, no column of any table holds a token."""

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse

from django_jwt_revoke import revocation
from django_jwt_revoke.tokens import issue_token_pair

pytestmark = pytest.mark.django_db

REVOKE = reverse("django_jwt_revoke:token_revoke")


def all_stored_text():
    with connection.cursor() as cursor:
        for model in apps.get_models():
            table = model._meta.db_table
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    if value is not None:
                        yield table, str(value)


def test_no_raw_token_in_any_table_after_a_flow(user, rf):
    request = rf.post("/", HTTP_USER_AGENT="pytest", REMOTE_ADDR="127.0.0.1")
    first = issue_token_pair(user, request=request)
    second = revocation.rotate_refresh_token(first.refresh, request=request)
    revocation.revoke_token(second.access)
    revocation.revoke_token(second.refresh)
    third = issue_token_pair(user)
    revocation.revoke_user_tokens(user)
    tokens = [
        first.access,
        first.refresh,
        second.access,
        second.refresh,
        third.access,
        third.refresh,
    ]
    # the signature part is what makes a token usable: it must appear nowhere
    signatures = [t.rsplit(".", 1)[1] for t in tokens]
    seen = 0
    for table, text in all_stored_text():
        seen += 1
        for token, signature in zip(tokens, signatures):
            assert token not in text, table
            assert signature not in text, table
    assert seen > 0


def test_no_raw_token_in_logs_or_signals(user, api_client, caplog):
    import logging

    from django_jwt_revoke import signals

    sent = []

    def record(sender, **kwargs):
        sent.append(repr(kwargs))

    for sig in (signals.token_revoked, signals.user_tokens_revoked, signals.refresh_token_reused):
        sig.connect(record, weak=False)
    caplog.set_level(logging.DEBUG)
    try:
        pair = issue_token_pair(user)
        rotated = revocation.rotate_refresh_token(pair.refresh)
        try:
            revocation.rotate_refresh_token(pair.refresh)  # reuse: revokes the session
        except Exception:
            pass
        api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {rotated.access}")  # refused
        api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {rotated.access}x")  # bad signature
        api_client.post(REVOKE, {"token": rotated.refresh}, format="json")
        revocation.revoke_user_tokens(user)
    finally:
        for sig in (
            signals.token_revoked,
            signals.user_tokens_revoked,
            signals.refresh_token_reused,
        ):
            sig.disconnect(record)
    assert sent, "the flow sent no signal"
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert logged, "the flow logged nothing: the assertion below would be empty"
    for token in (pair.access, pair.refresh, rotated.access, rotated.refresh):
        signature = token.rsplit(".", 1)[1]
        assert signature not in logged
        for message in sent:
            assert signature not in message
