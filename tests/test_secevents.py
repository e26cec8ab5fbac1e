"""The feed's wire format (secevents.py): what one side builds the other parses,
and what does not fit the documented shapes is refused with a stable code."""

import pytest

from django_jwt_revoke import secevents
from django_jwt_revoke.secevents import FeedError, Receipt, Revocation, Snapshot

EVENTS = [
    Revocation(1, secevents.TOKEN, "jti-1", 2000, 1000, "42", None, "logout"),
    Revocation(2, secevents.SESSION, "sid-1", 2000, 1000, "42", None, "reuse_detected"),
    Revocation(3, secevents.USER, "42", 2000, 1000, None, 7, "password_change"),
    Revocation(4, secevents.ALL, None, 2000, 1000, None, 3, "incident"),
]


@pytest.mark.parametrize("rev", EVENTS, ids=lambda r: r.kind)
def test_a_set_carries_its_revocation_back(rev):
    claims = secevents.set_claims(rev, issuer="me", now=1500, stream="s1")
    assert secevents.revocation_from_set(claims, issuer="me", stream="s1") == rev
    assert claims["jti"] == f"s1.{rev.seq}" and claims["iss"] == "me"


@pytest.mark.parametrize(
    "rev,uri",
    [
        (EVENTS[0], secevents.TOKEN_REVOKED),
        (EVENTS[1], secevents.SESSION_REVOKED),
        (EVENTS[2], secevents.CREDENTIAL_CHANGE),
        (EVENTS[2]._replace(reason="deactivated"), secevents.ACCOUNT_DISABLED),
        (EVENTS[2]._replace(reason="deleted"), secevents.ACCOUNT_PURGED),
        (EVENTS[2]._replace(reason="logout_all"), secevents.TOKENS_REVOKED),
        (EVENTS[3], secevents.ALL_TOKENS_REVOKED),
    ],
)
def test_each_revocation_names_the_standard_event_that_fits(rev, uri):
    events = secevents.set_claims(rev, issuer=None, now=1, stream="s")["events"]
    assert set(events) == {uri, secevents.STATE_EVENT}
    assert events[uri]["subject"]["format"] == "opaque"


def test_a_set_of_another_issuer_or_stream_is_refused():
    claims = secevents.set_claims(EVENTS[0], issuer="me", now=1, stream="s1")
    with pytest.raises(FeedError) as exc:
        secevents.revocation_from_set(claims, issuer="someone-else", stream="s1")
    assert exc.value.code == "wrong_issuer"
    with pytest.raises(FeedError) as exc:
        secevents.revocation_from_set(claims, issuer="me", stream="s2")
    assert exc.value.code == "event_invalid"


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 0},
        {"seq": True},
        {"seq": "1"},
        {"kind": "nothing"},
        {"until": -1},
        {"until": 2**60},
        {"id": ""},
        {"id": 5},
        {"id": "x" * 256},
        {"generation": 2},  # a token event has no generation
        {"reason": ["logout"]},
    ],
)
def test_a_payload_that_does_not_fit_is_refused(change):
    payload = {**EVENTS[0].payload(), **change}
    with pytest.raises(FeedError) as exc:
        Revocation.from_payload(payload)
    assert exc.value.code == "event_invalid"


def test_a_user_event_needs_a_generation_and_an_all_event_no_id():
    with pytest.raises(FeedError):
        Revocation.from_payload({**EVENTS[2].payload(), "generation": None})
    with pytest.raises(FeedError):
        Revocation.from_payload({**EVENTS[3].payload(), "id": "42"})


def test_a_receipt_is_bound_to_its_request():
    receipt = Receipt("n1", "s1", after=4, last=6, head=9, more=True)
    claims = secevents.receipt_claims(receipt, issuer=None, now=1)
    assert secevents.parse_receipt(claims, issuer=None, nonce="n1") == receipt
    with pytest.raises(FeedError) as exc:
        secevents.parse_receipt(claims, issuer=None, nonce="n2")
    assert exc.value.code == "receipt_replayed"


@pytest.mark.parametrize(
    "change",
    [{"after": 7}, {"last": 10}, {"head": -1}, {"moreAvailable": "yes"}, {"stream": ""}],
)
def test_a_receipt_whose_members_do_not_fit_together_is_refused(change):
    claims = secevents.receipt_claims(Receipt("n", "s", 4, 6, 9, False), issuer=None, now=1)
    with pytest.raises(FeedError) as exc:
        secevents.parse_receipt({**claims, **change}, issuer=None, nonce="n")
    assert exc.value.code == "receipt_invalid"


def test_a_snapshot_round_trips_and_refuses_a_bad_entry():
    snapshot = Snapshot(
        "n", "s", 12, [("jti-1", 5)], [("sid-1", 6)], [("42", 2, 7)], (1, 8)
    )
    claims = secevents.snapshot_claims(snapshot, issuer="me", now=1)
    # What a JSON round trip gives: lists, never tuples.
    as_json = {
        **claims,
        "tokens": [list(t) for t in snapshot.tokens],
        "sessions": [list(s) for s in snapshot.sessions],
        "users": [list(u) for u in snapshot.users],
        "all": list(snapshot.everyone),
    }
    assert secevents.parse_snapshot(as_json, issuer="me", nonce="n") == snapshot
    for bad in ({"tokens": [["jti", "5"]]}, {"users": [["42", 2]]}, {"all": [1]}, {"head": None}):
        with pytest.raises(FeedError) as exc:
            secevents.parse_snapshot({**as_json, **bad}, issuer="me", nonce="n")
        assert exc.value.code == "snapshot_invalid"
    with pytest.raises(FeedError) as exc:
        secevents.parse_snapshot(as_json, issuer="me", nonce="other")
    assert exc.value.code == "receipt_replayed"
