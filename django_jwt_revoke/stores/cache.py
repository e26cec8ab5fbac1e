"""The cache store: token-user checks answered from a shared cache, the
database behind it (``CACHE_ALIAS`` set; docs/consistency.md).

The cache holds one boolean per fact a check needs, never a number that
could go backwards:

* ``s:<h(sid, user)>``: the session is revoked (or not that user's);
* ``j:<h(jti)>``: the token is revoked;
* ``g:<h(user)>:<n>``: the user's generation has moved past ``n``;
* ``e:<n>``: the global generation has moved past ``n``.

``1`` ("revoked") is a fact that never becomes false: revocations ``set`` it
after they commit, readers may ``add`` it, and it lives as long as a token it
concerns can. ``0`` ("not revoked") is a copy of the database that may be
stale: only readers write it, with ``add``, and it expires
``CACHE_MAX_STALENESS`` after the database read it copies began. So no fault
(an unreachable cache during a revocation, a process without the cache,
eviction racing a reader, a restore from a snapshot, a failover) can make the
cache answer "not revoked" for longer than that after the revocation
committed. Every component of a key is hashed (no id is ever used as it
is), so keys cannot collide.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.cache import caches
from django.utils import timezone

from ..conf import jwt_revoke_settings
from ..signals import revocation_cache_write_failed
from .base import Fact, RevocationStore, TokenState
from .database import DatabaseStore
from .internals import locmem_get_many

if TYPE_CHECKING:
    from ..claims import ValidatedToken

logger = logging.getLogger("django_jwt_revoke.cache")

#: Every key of ours starts with this (``clear_revocation_cache`` drops them).
#: The "2" is the key format's version: entries of another format are never read.
KEY_PREFIX = "jwt_revoke:2:"
_LETTERS = {"session": "s", "jti": "j", "user": "g", "epoch": "e"}
#: Seconds: an entry that would live less than this is not written.
MIN_TIMEOUT = 0.01


def _digest(*parts: str) -> str:
    """A collision-resistant name for ``parts`` (each length-prefixed, then hashed)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = part.encode()
        h.update(len(data).to_bytes(4, "big"))
        h.update(data)
    return h.hexdigest()


def fact_key(kind: str, ident: tuple[Any, ...]) -> str:
    """The cache key of one fact (see ``Fact`` for the kinds)."""
    letter = _LETTERS[kind]
    if kind == "user":
        user, generation = ident
        return f"{KEY_PREFIX}{letter}:{_digest(str(user))}:{int(generation)}"
    if kind == "epoch":
        return f"{KEY_PREFIX}{letter}:{int(ident[0])}"
    return f"{KEY_PREFIX}{letter}:{_digest(*(str(part) for part in ident))}"


def token_keys(token: ValidatedToken) -> tuple[str, ...]:
    """The keys that decide ``token``: session (none for a legacy token), jti, user, epoch."""
    return _keys(token.jti, token.sid, token.user_key, token.generation, token.epoch)


@functools.lru_cache(maxsize=8192)
def _keys(jti: str, sid: str | None, user: str, generation: int, epoch: int) -> tuple[str, ...]:
    # A pure function of the token's values, asked on every request of the
    # token's life: hashed once per token and process (bounded memory).
    keys = [
        fact_key("jti", (jti,)),
        fact_key("user", (user, generation)),
        fact_key("epoch", (epoch,)),
    ]
    if sid is not None:
        keys.insert(0, fact_key("session", (sid, user)))
    return tuple(keys)


def _facts_of(token: ValidatedToken, state: TokenState) -> tuple[int, ...]:
    """``state`` as the cache's booleans for ``token``, in ``token_keys`` order."""
    values = (
        int(state.jti_revoked),
        int(token.generation < state.generation),
        int(token.epoch < state.epoch),
    )
    return values if token.sid is None else (int(not state.session_live), *values)


def _state_of(token: ValidatedToken, values: tuple[int, ...]) -> TokenState:
    """The cache's booleans as a state that decides ``token`` as the database would.

    ``generation`` and ``epoch`` are the token's own, plus one when revoked.
    """
    if token.sid is None:
        session_revoked, (jti, user, epoch) = 0, values
    else:
        session_revoked, jti, user, epoch = values
    return TokenState(
        session_live=not session_revoked,
        jti_revoked=bool(jti),
        generation=token.generation + bool(user),
        epoch=token.epoch + bool(epoch),
    )


class OutageLog:
    """Logs that the cache failed at something at most once per ``interval``
    seconds, not once per request, and once when it works again.

    Only the exception's type is logged: the message of a Redis error can
    quote the command, keys included.
    """

    interval = 60.0

    def __init__(self, alias: str, failing: str) -> None:
        self.alias = alias
        self.failing = failing  # "unreachable; answering from the database", say
        self.down = False
        self._lock = threading.Lock()
        self._last = -self.interval
        self._missed = 0
        self._reported = False  # a failure was logged and its end not yet

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            self.down = True
            if now - self._last < self.interval:
                self._missed += 1
                return
            missed, self._missed, self._last = self._missed, 0, now
            self._reported = True
        logger.warning(
            "Revocation cache %r %s (%s)%s.",
            self.alias,
            self.failing,
            type(exc).__name__,
            f"; {missed} more failures since the last report" if missed else "",
        )

    def recovered(self) -> None:
        with self._lock:
            if not self.down:
                return
            self.down = False
            if not self._reported:
                return
            self._reported = False
        logger.warning("Revocation cache %r works again.", self.alias)


class CacheStore(RevocationStore):
    """Token-user checks from a Django cache; the database on any miss or failure.

    Reads and writes go through four primitives that a backend may make
    faster (``RedisStore``): ``_get``, ``_add`` (only where absent) and
    ``_set``, and ``clear``.
    """

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.cache = caches[alias]
        self.database: DatabaseStore = DatabaseStore()
        self.outage = OutageLog(alias, "unreachable; answering from the database")
        self.fill_outage = OutageLog(alias, "refused a write; checks read the database")
        self._get_many = locmem_get_many(self.cache) or self.cache.get_many

    # -- the primitives --------------------------------------------------------

    def _get(self, keys: tuple[str, ...]) -> dict[str, int]:
        return self._get_many(keys)

    def _add(self, entries: dict[str, tuple[int, float]]) -> None:
        """Write each ``key: (value, seconds)`` that the cache does not hold yet.

        A backend that keeps whole seconds must round "not revoked" timeouts down.
        """
        for key, (value, timeout) in entries.items():
            self.cache.add(key, value, timeout)

    def _set(self, entries: dict[str, float]) -> None:
        """Write "revoked" (1) at each ``key: seconds``, over whatever is there."""
        for key, timeout in entries.items():
            self.cache.set(key, 1, timeout)

    def clear(self) -> int | None:
        """Every entry of this cache alias goes (Django's cache API cannot pick ours)."""
        self.cache.clear()
        return None

    # -- the interface -----------------------------------------------------------

    def user_and_state(self, token: ValidatedToken) -> tuple[Any, TokenState | None]:
        return self.database.user_and_state(token)

    def token_state(self, token: ValidatedToken) -> TokenState:
        keys = token_keys(token)
        try:
            found = self._get(keys)
        except Exception as exc:  # any cache failure: the database decides
            self.outage.failed(exc)
            return self.database.token_state(token)
        if self.outage.down:
            self.outage.recovered()
        if len(found) == len(keys):
            return _state_of(token, tuple(found[key] for key in keys))
        started = time.monotonic()
        state = self.database.token_state(token)
        if token.sid is None and not state.session_live:
            # A legacy token of no existing user: nothing may stand for "it exists".
            return state
        self._fill(token, keys, found, state, started)
        return state

    def _fill(
        self,
        token: ValidatedToken,
        keys: tuple[str, ...],
        found: dict[str, int],
        state: TokenState,
        started: float,
    ) -> None:
        """Copy what the database said into the missing keys, with ``add``.

        "Revoked" lives as long as the token can; "not revoked" at most
        ``CACHE_MAX_STALENESS`` from ``started``, when the database read began:
        a read that raced a revocation can leave a stale "not revoked" for no
        longer than that after the revocation committed. Under
        ``MIN_TIMEOUT``, nothing is written. A "not revoked" found in the
        cache that the database contradicts is overwritten with the fact
        (``set``: a 1 may go over anything), so one miss ends a stale copy.
        """
        s = jwt_revoke_settings
        left = (token.expires_at + s.LEEWAY - timezone.now()).total_seconds()
        fresh = s.CACHE_MAX_STALENESS.total_seconds() - (time.monotonic() - started)
        entries = {}
        contradicted = {}
        for key, value in zip(keys, _facts_of(token, state), strict=True):
            timeout = left if value else min(left, fresh)
            if timeout < MIN_TIMEOUT:
                continue
            if key not in found:
                entries[key] = (value, timeout)
            elif value and not found[key]:
                # A stale "not revoked" the database contradicts: the fact
                # goes over it, so the next check is refused by the cache too.
                contradicted[key] = timeout
        if not entries and not contradicted:
            return
        try:
            if entries:
                self._add(entries)
            if contradicted:
                self._set(contradicted)
        except Exception as exc:
            self.fill_outage.failed(exc)
        else:
            if self.fill_outage.down:
                self.fill_outage.recovered()

    def revoked(self, facts: Iterable[Fact]) -> None:
        facts = list(facts)
        now = timezone.now()
        leeway = jwt_revoke_settings.LEEWAY
        entries = {}
        for fact in facts:
            timeout = (fact.until + leeway - now).total_seconds() + 1
            if timeout >= MIN_TIMEOUT:
                entries[fact_key(fact.kind, fact.ident)] = timeout
        if not entries:
            return
        try:
            self._set(entries)
        except Exception as exc:
            _write_failed(self, facts, exc)


def _write_failed(store: CacheStore, facts: list[Fact], exc: Exception) -> None:
    """A revocation committed but its cache copy could not be written: say so."""
    kinds = tuple(sorted({fact.kind for fact in facts}))
    logger.error(
        "Revocation cache %r not written after a revocation committed (%s; kinds: %s). "
        "The revocation stands in the database; cached 'not revoked' entries expire within "
        "CACHE_MAX_STALENESS (%s s).",
        store.alias,
        type(exc).__name__,
        ", ".join(kinds),
        jwt_revoke_settings.CACHE_MAX_STALENESS.total_seconds(),
    )
    try:
        revocation_cache_write_failed.send(
            sender=type(store), alias=store.alias, kinds=kinds, error=exc
        )
    except Exception:  # a receiver's failure must not undo what has happened
        logger.exception("A revocation_cache_write_failed receiver raised.")
