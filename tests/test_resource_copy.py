"""RevocationCopy (django_jwt_revoke.resource.copy): a process's copy of the issuer's revocations.

No Django, no network: what a benchmark builds by hand. The rules are the
issuer's (``TokenState.revokes``): a revoked jti, a revoked session, a user
generation above the token's ``gen``, a global epoch above its ``epoch``.
"""

from __future__ import annotations

import gc
import secrets
import time
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_jwt_revoke.resource.copy import UNTIL_GRAIN, RevocationCopy, compact, user_key
from django_jwt_revoke.secevents import ALL, SESSION, TOKEN, USER, FeedError, Revocation, Snapshot

NOW = 1_750_000_000
LATER = NOW + 3600


def snapshot(head=0, *, tokens=(), sessions=(), users=(), everyone=None, stream="s1"):
    return Snapshot("n", stream, head, list(tokens), list(sessions), list(users), everyone)


def loaded(**kwargs):
    copy = RevocationCopy()
    copy.load(snapshot(**kwargs), confirmed_at=100.0)
    return copy


def rev(seq, kind=TOKEN, ident="j", until=LATER, **kwargs):
    return Revocation(seq, kind, ident, until, 0, **kwargs)


# -- Keys ---------------------------------------------------------------------------------


def test_an_identifier_the_issuer_makes_is_kept_as_an_integer():
    jti = secrets.token_hex(16)
    assert compact(jti) == int(jti, 16)
    assert compact("0" * 32) == 0


@pytest.mark.parametrize(
    "ident",
    [
        "A" * 32,  # upper case: another string than the lower-case one
        "0x" + "a" * 30,
        "_" + "a" * 31,
        " " + "a" * 31,
        "+" + "a" * 31,
        "a" * 31,
        "a" * 33,
        "g" * 32,
        "sjwt-" + "a" * 27,
        "\u0661" * 32,  # ARABIC-INDIC DIGIT ONE: int() reads it as 1
    ],
)
def test_any_other_identifier_is_kept_as_it_is(ident):
    assert compact(ident) == ident and isinstance(compact(ident), str)


@given(st.text(max_size=40), st.text(max_size=40))
def test_two_identifiers_never_share_a_key(a, b):
    if a != b:
        assert compact(a) != compact(b)


@given(st.text(alphabet="0123456789abcdefABCDEF_x ", min_size=32, max_size=32))
def test_a_key_that_is_an_integer_spells_its_identifier(ident):
    key = compact(ident)
    assert key == ident or format(key, "032x") == ident


def test_user_keys_are_the_issuers():
    assert (user_key(42), user_key("42"), user_key("ab-c"), user_key(-1)) == (
        "42",
        "42",
        "ab-c",
        "-1",
    )


# -- Revokes -----------------------------------------------------------------------------


def test_a_snapshot_says_what_is_revoked():
    jti, sid = secrets.token_hex(16), secrets.token_hex(16)
    copy = loaded(
        head=7,
        tokens=[(jti, LATER), ("legacy-jti", LATER)],
        sessions=[(sid, LATER)],
        users=[("42", 3, LATER)],
        everyone=(2, LATER),
    )
    assert (copy.stream, copy.seq, copy.loaded) == ("s1", 7, True)
    ok = dict(jti="other", sid="other", user_key="1", generation=0, epoch=2)
    assert not copy.is_revoked(**ok)
    assert copy.is_revoked(**{**ok, "jti": jti})
    assert copy.is_revoked(**{**ok, "jti": "legacy-jti"})
    assert copy.is_revoked(**{**ok, "sid": sid})
    assert copy.is_revoked(**{**ok, "user_key": "42", "generation": 2})
    assert not copy.is_revoked(**{**ok, "user_key": "42", "generation": 3})
    assert copy.is_revoked(**{**ok, "epoch": 1})
    assert not copy.is_revoked(**{**ok, "sid": None})
    claims = {"jti": jti, "sid": "x", "user_id": 1, "gen": 0, "epoch": 2}
    assert copy.revokes(claims)
    assert not copy.revokes({**claims, "jti": "y"})
    assert copy.revokes({"jti": "y", "sid": "x", "uid": 42, "epoch": 2}, user_id_claim="uid")
    assert copy.counts() == {"tokens": 2, "sessions": 1, "users": 1, "all": 2}


def test_events_apply_in_order():
    copy = loaded(head=3)
    copy.apply(
        [
            rev(4, TOKEN, "t"),
            rev(5, SESSION, "s", user="1"),
            rev(6, USER, "7", generation=2),
            rev(7, ALL, None, generation=1),
            rev(8, USER, "7", generation=1),  # an older generation never lowers it
        ]
    )
    assert copy.seq == 8
    base = dict(jti="x", sid="y", user_key="1", generation=0, epoch=1)
    assert copy.is_revoked(**{**base, "jti": "t"})
    assert copy.is_revoked(**{**base, "sid": "s"})
    assert copy.is_revoked(**{**base, "user_key": "7", "generation": 1})
    assert not copy.is_revoked(**{**base, "user_key": "7", "generation": 2})
    assert copy.is_revoked(**{**base, "epoch": 0})
    assert not copy.is_revoked(**base)
    copy.apply([])
    assert copy.seq == 8


@pytest.mark.parametrize(
    "seqs", [[5], [4, 6], [4, 4], [3], [2, 3, 4], [4, 5, 5]], ids=lambda s: repr(s)
)
def test_events_that_do_not_follow_on_are_refused_whole(seqs):
    copy = loaded(head=3, tokens=[("kept", LATER)])
    before = (copy.seq, dict(copy._state.tokens))
    with pytest.raises(FeedError) as error:
        copy.apply([rev(seq, TOKEN, f"t{n}") for n, seq in enumerate(seqs)])
    assert error.value.code == "event_gap"
    assert (copy.seq, dict(copy._state.tokens)) == before


def test_no_event_applies_before_a_snapshot():
    with pytest.raises(FeedError):
        RevocationCopy().apply([rev(1)])


def test_a_snapshot_replaces_the_state():
    copy = loaded(head=3, tokens=[("a", LATER)], users=[("1", 2, LATER)], everyone=(3, LATER))
    copy.load(snapshot(head=9, tokens=[("b", LATER)], stream="s2"))
    assert (copy.stream, copy.seq) == ("s2", 9)
    assert not copy.is_revoked("a", None, "1", 0, 0)
    assert copy.is_revoked("b", None, "1", 5, 5)


# -- Freshness ---------------------------------------------------------------------------


def test_current_within_max_staleness_of_the_last_confirmation():
    copy = RevocationCopy()
    assert not copy.is_current(5) and copy.staleness() is None
    copy.load(snapshot(), confirmed_at=100.0)
    assert copy.is_current(5, now=105.0) and not copy.is_current(5, now=105.1)
    assert copy.staleness(now=103.0) == 3.0
    copy.confirm(90.0)  # an older answer, later: never moves it back
    assert copy.confirmed_at == 100.0
    copy.confirm(104.0)
    assert copy.is_current(5, now=109.0)


def test_loading_without_a_confirmation_leaves_it():
    copy = RevocationCopy()
    copy.load(snapshot())
    assert copy.loaded and copy.confirmed_at is None and not copy.is_current(10**9)


# -- Expiry -------------------------------------------------------------------------------


def test_the_sweep_drops_what_cannot_matter_any_more_and_nothing_else():
    copy = loaded(
        tokens=[("old", NOW - 100), ("live", NOW + 100)],
        sessions=[("old-s", NOW - 100), ("live-s", NOW + 100)],
        users=[("old-u", 5, NOW - 100), ("live-u", 5, NOW + 100)],
        everyone=(4, NOW - 100),
    )
    assert copy.sweep(NOW - 3600) == 0
    dropped = copy.sweep(NOW + UNTIL_GRAIN + 1, force=True)
    assert dropped == 3
    assert copy.counts() == {"tokens": 1, "sessions": 1, "users": 1, "all": 4}
    assert copy.is_revoked("live", None, "1", 0, 4)
    assert copy.is_revoked("x", None, "x", 0, 3)  # the epoch never goes


def test_the_sweep_keeps_entries_for_the_servers_own_leeway():
    copy = loaded(tokens=[("t", NOW)])
    assert copy.sweep(NOW + UNTIL_GRAIN + 10, margin=60, force=True) == 0
    assert copy.sweep(NOW + UNTIL_GRAIN + 61, margin=60, force=True) == 1


def test_the_sweep_runs_at_most_once_a_minute():
    copy = loaded(tokens=[("t", NOW)])
    until = next(iter(copy._state.tokens.values()))
    assert copy.sweep(until - 30) == 0  # runs: not expired yet
    assert copy.sweep(until + 29) == 0  # expired, but 59 s after the last sweep: not run
    assert copy.is_revoked("t", None, "1", 0, 0)
    assert copy.sweep(until + 31) == 1


def test_untils_are_rounded_up_and_shared():
    copy = loaded(tokens=[(f"t{n}", NOW + n) for n in range(100)])
    values = list(copy._state.tokens.values())
    assert all(v >= NOW + n and v % UNTIL_GRAIN == 0 for n, v in enumerate(values))
    assert len({id(v) for v in values}) <= 3


# -- Memory ------------------------------------------------------------------------------


def _measure(count):
    """Bytes the copy holds for ``count`` revoked tokens of the issuer's shape."""
    until = int(time.time()) + 300
    tokens = [(secrets.token_hex(16), until + n % 300) for n in range(count)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        copy = RevocationCopy()
        copy.load(Snapshot("n", "s", count, tokens, [], [], None))
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert copy.counts()["tokens"] == count
    return after - before


def test_a_revoked_token_costs_under_100_bytes():
    count = 100_000
    per_token = _measure(count) / count
    # A dict of the jti strings to int untils would hold about 155 bytes each.
    assert per_token < 100, per_token


def test_lookups_stay_exact_at_scale():
    jtis = [secrets.token_hex(16) for _ in range(20_000)]
    copy = loaded(tokens=[(j, LATER) for j in jtis[::2]])
    assert all(copy.is_revoked(j, None, "1", 0, 0) for j in jtis[::2])
    assert not any(copy.is_revoked(j, None, "1", 0, 0) for j in jtis[1::2])
