"""``RevocationCopy``: every revocation of the issuer that still matters, in memory.

One per process, kept current by the follower (``follower.py``), read on
every request. Reading is a handful of dict lookups, with no lock: the
follower is the only writer, and it makes each change visible in an order
that never lets a reader see "current" without the events that made it so.

A revocation is an absolute fact that never becomes false, so applying one
twice, or a snapshot holding events applied since, is harmless. What the copy
must never do is answer "not revoked" while it does not know: it tracks
``confirmed_at``, the moment it last knew it held every revocation the
issuer had committed, and ``is_current`` says whether that was recent enough.

Memory: identifiers the issuer makes (``secrets.token_hex(16)``: 32 lower-case
hex digits) are kept as the integer they spell, and expiry instants are
rounded up to the minute and shared: 10^6 revoked tokens take about 86 MB
(86 bytes each, measured with tracemalloc), where a dict of the jti strings
to integers would take about 145 MB. Lookups stay one exact dict probe.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..secevents import ALL, SESSION, TOKEN, USER, FeedError, Revocation, Snapshot

#: How often ``sweep`` drops entries whose tokens have all expired, at most.
SWEEP_EVERY = 60.0
#: Expiry instants are rounded up to a multiple of this (seconds), so that
#: entries share a handful of integer objects. Keeping an entry longer is
#: always safe.
UNTIL_GRAIN = 60


def compact(ident: str) -> str | int:
    """The key ``ident`` is kept under: the integer 32 lower-case hex digits spell, else itself.

    Exact: an integer key stands for the one string that formats back to it,
    and no string is ever an integer, so two identifiers never share a key.
    """
    if len(ident) == 32:
        try:
            number = int(ident, 16)
        except ValueError:
            return ident
        if format(number, "032x") == ident:
            return number
    return ident


class _State:
    """What the copy knows, swapped whole by ``load`` (one reference: atomic)."""

    __slots__ = ("everyone", "everyone_until", "seq", "sessions", "stream", "tokens", "user_until",
                 "users")  # fmt: skip

    def __init__(self, stream: str | None, seq: int) -> None:
        self.stream = stream
        self.seq = seq  # the last event applied
        self.tokens: dict[str | int, int] = {}  # jti -> until
        self.sessions: dict[str | int, int] = {}  # sid -> until
        self.users: dict[str, int] = {}  # user key -> generation
        self.user_until: dict[str, int] = {}  # user key -> until
        self.everyone = 0  # tokens whose epoch is below it are revoked
        self.everyone_until = 0


class RevocationCopy:
    """The revocations one process knows of, and how recently it knew them all.

    ``revokes(claims)`` / ``is_revoked(...)``: the per-request question.
    ``load(snapshot)`` replaces the state; ``apply(revocations)`` adds the
    next events (contiguous, else ``FeedError("event_gap")``);
    ``confirm(sent_at)`` records that the answer to a request sent at
    ``sent_at`` (``time.monotonic()``) showed every committed event applied.
    Usable without Django or a network (benchmarks build one by hand).
    """

    def __init__(self) -> None:
        self._state = _State(None, 0)
        self._untils: dict[int, int] = {}
        #: ``time.monotonic()`` of the sending of the last request whose
        #: answer showed the copy caught up; None until the first one.
        self.confirmed_at: float | None = None
        self._swept_at = 0.0

    # -- reading (the request path) ----------------------------------------------------

    @property
    def stream(self) -> str | None:
        return self._state.stream

    @property
    def seq(self) -> int:
        return self._state.seq

    @property
    def loaded(self) -> bool:
        """A snapshot was loaded: the copy follows a stream."""
        return self._state.stream is not None

    def is_current(self, max_staleness: float, now: float | None = None) -> bool:
        """The copy held every committed revocation at most ``max_staleness`` seconds ago."""
        confirmed = self.confirmed_at
        if confirmed is None:
            return False
        return (time.monotonic() if now is None else now) - confirmed <= max_staleness

    def staleness(self, now: float | None = None) -> float | None:
        """Seconds since the copy was last confirmed current; None if it never was."""
        confirmed = self.confirmed_at
        if confirmed is None:
            return None
        return (time.monotonic() if now is None else now) - confirmed

    def is_revoked(
        self, jti: str, sid: str | None, user_key: str, generation: int, epoch: int
    ) -> bool:
        """Whether the token so described is revoked, as far as the copy knows."""
        state = self._state
        if epoch < state.everyone:
            return True
        if state.users and generation < state.users.get(user_key, 0):
            return True
        if state.tokens and compact(jti) in state.tokens:
            return True
        return sid is not None and bool(state.sessions) and compact(sid) in state.sessions

    def revokes(self, claims: Mapping[str, Any], *, user_id_claim: str = "user_id") -> bool:
        """``is_revoked`` for a token's verified claims."""
        return self.is_revoked(
            claims["jti"],
            claims.get("sid"),
            user_key(claims[user_id_claim]),
            claims.get("gen", 0),
            claims.get("epoch", 0),
        )

    def __len__(self) -> int:
        state = self._state
        return len(state.tokens) + len(state.sessions) + len(state.users) + bool(state.everyone)

    def counts(self) -> dict[str, int]:
        """How many entries of each kind the copy holds (for logs and tests)."""
        state = self._state
        return {
            "tokens": len(state.tokens),
            "sessions": len(state.sessions),
            "users": len(state.users),
            "all": state.everyone,
        }

    # -- writing (the follower only) ---------------------------------------------------

    def load(self, snapshot: Snapshot, *, confirmed_at: float | None = None) -> None:
        """Replace the state with ``snapshot`` (a verified one), as of its event ``head``.

        ``confirmed_at``: when the request it answers was sent (the snapshot
        holds every event committed by then), or None to leave it as it is.
        """
        state = _State(snapshot.stream, snapshot.head)
        until = self._until
        state.tokens = {compact(jti): until(u) for jti, u in snapshot.tokens}
        state.sessions = {compact(sid): until(u) for sid, u in snapshot.sessions}
        for key, generation, u in snapshot.users:
            if generation > state.users.get(key, 0):
                state.users[key] = generation
            state.user_until[key] = max(state.user_until.get(key, 0), until(u))
        if snapshot.everyone is not None:
            state.everyone, state.everyone_until = snapshot.everyone[0], until(snapshot.everyone[1])
        self._state = state
        if confirmed_at is not None:
            self.confirm(confirmed_at)

    def apply(self, revocations: Iterable[Revocation]) -> None:
        """Add the events that follow the last one applied, in order.

        Every one is checked before any is applied: the seqs must be exactly
        ``seq + 1``, ``seq + 2``, ...; otherwise ``FeedError("event_gap")``
        and the copy is unchanged.
        """
        revs = list(revocations)
        state = self._state
        if state.stream is None:
            raise FeedError("event_gap", "no snapshot was loaded")
        for offset, rev in enumerate(revs, start=1):
            if rev.seq != state.seq + offset:
                raise FeedError("event_gap", f"event {rev.seq} where {state.seq + offset} was due")
        for rev in revs:
            self._apply_one(state, rev)
        if revs:
            state.seq = revs[-1].seq  # after the events: a reader never sees seq ahead of them

    def _apply_one(self, state: _State, rev: Revocation) -> None:
        until = self._until(rev.until)
        if rev.kind == TOKEN and rev.id is not None:
            key = compact(rev.id)
            state.tokens[key] = max(state.tokens.get(key, 0), until)
        elif rev.kind == SESSION and rev.id is not None:
            key = compact(rev.id)
            state.sessions[key] = max(state.sessions.get(key, 0), until)
        elif rev.kind == USER and rev.id is not None and rev.generation is not None:
            if rev.generation > state.users.get(rev.id, 0):
                state.users[rev.id] = rev.generation
            state.user_until[rev.id] = max(state.user_until.get(rev.id, 0), until)
        elif rev.kind == ALL and rev.generation is not None:
            state.everyone_until = max(state.everyone_until, until)
            state.everyone = max(state.everyone, rev.generation)

    def confirm(self, sent_at: float) -> None:
        """Every event committed before ``sent_at`` (``time.monotonic()``) is applied."""
        if self.confirmed_at is None or sent_at > self.confirmed_at:
            self.confirmed_at = sent_at

    def sweep(self, now: float | None = None, *, margin: float = 0.0, force: bool = False) -> int:
        """Drop the entries whose every token has expired; how many were dropped.

        ``now``: seconds since the epoch; an entry goes once ``until +
        margin`` has passed (``margin``: this server's own ``LEEWAY``, for it
        accepts tokens that long after their expiry). At most once per
        ``SWEEP_EVERY`` unless ``force``. Called by the follower, never on
        the request path.
        """
        moment = time.time() if now is None else now
        if not force and moment - self._swept_at < SWEEP_EVERY:
            return 0
        self._swept_at = moment
        cutoff = moment - margin
        state = self._state
        dropped = 0
        for table in (state.tokens, state.sessions):
            gone = [key for key, u in table.items() if u < cutoff]
            for key in gone:
                del table[key]
            dropped += len(gone)
        gone_users = [key for key, u in state.user_until.items() if u < cutoff]
        for key in gone_users:
            del state.users[key]
            del state.user_until[key]
        dropped += len(gone_users)
        # ``everyone`` stays: one integer, and it never needs to go.
        self._untils = {u: u for u in self._untils if u >= cutoff}
        return dropped

    def _until(self, value: int) -> int:
        rounded = -(-value // UNTIL_GRAIN) * UNTIL_GRAIN
        return self._untils.setdefault(rounded, rounded)


def user_key(value: Any) -> str:
    """The key of a user's revocation state from the user id claim: the issuer's ``user_key``.

    A string as it is, an integer in decimal. Anything else names no user
    the issuer keeps state for; ``authentication`` refuses such a token first.
    """
    if type(value) is int:
        return str(value)
    return value if isinstance(value, str) else repr(value)
