"""The interface every revocation store keeps (docs/consistency.md).

A store answers one question on the hot path: "is this token revoked?" (and
in user mode, "and who is its user?"). The database is the source of truth;
a store with a copy of the state (a cache) is told of each revocation after
it has committed, through ``revoked()``. In the style of
``django.contrib.sessions`` backends: this base says what each method must
guarantee, one module per backend implements it, and one contract test suite
(``tests/test_stores.py``) runs against every backend.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from ..claims import ValidatedToken


class TokenState(NamedTuple):
    """What the store says about one token's session, jti, user and epoch."""

    # The session exists, belongs to the user, is not revoked. A legacy
    # (simplejwt) token has no session: True when its user exists.
    session_live: bool
    jti_revoked: bool
    generation: int  # the user's current revocation generation
    epoch: int = 0  # the global revocation generation

    def revokes(self, token: ValidatedToken) -> bool:
        return (
            (not self.session_live)
            or self.jti_revoked
            or token.generation < self.generation
            or token.epoch < self.epoch
        )


class Fact(NamedTuple):
    """One revoked thing, as a revocation tells the stores after it commits.

    A fact never becomes false again: a revoked jti stays revoked, a revoked
    session stays revoked, a generation once superseded stays superseded.

    ``kind`` and ``ident``:

    * ``"jti"``, ``(jti,)``: that token is revoked;
    * ``"session"``, ``(sid, user_key)``: that session is no longer live for
      tokens naming that user;
    * ``"user"``, ``(user_key, generation)``: tokens of that user carrying
      ``generation`` are revoked (the user's generation moved past it);
    * ``"epoch"``, ``(epoch,)``: tokens carrying that global generation are
      revoked.

    ``until``: no token the fact concerns can be accepted after this instant
    (leeway not included), so a copy of it need not be kept longer.
    """

    kind: str
    ident: tuple[Any, ...]
    until: datetime


class RevocationStore(abc.ABC):
    """Revocation state for the authentication classes and introspection.

    Every implementation guarantees:

    * **No false "not revoked" beyond the bound.** ``token_state`` never
      answers "not revoked" for a token whose revocation committed more than
      ``CACHE_MAX_STALENESS`` ago, whatever the faults of a store other than
      the database; with every store healthy, never once ``revoked()`` has
      returned.
    * **Fail closed.** When it cannot read the state from anywhere it raises
      ``RevocationStateUnavailable`` (503); it never guesses.
    * **Read only.** Reading never writes the database; a copy may be filled.
    * **Never in the way of a revocation.** ``revoked()`` never raises.
    """

    #: The store that reads the database itself: this one, unless it keeps a copy.
    database: RevocationStore

    @abc.abstractmethod
    def user_and_state(self, token: ValidatedToken) -> tuple[Any, TokenState | None]:
        """The token's user and its state, read together from the database.

        ``(None, None)`` when no such user exists. Always the database: the
        user row is read there anyway, so a copy would only add a round trip.
        """

    @abc.abstractmethod
    def token_state(self, token: ValidatedToken) -> TokenState:
        """The token's state without its user (token-user mode)."""

    @abc.abstractmethod
    def revoked(self, facts: Iterable[Fact]) -> None:
        """Called after a revocation committed to the database: update any copy.

        Must not raise: the revocation has happened. A copy that cannot be
        updated says so (log, signal) and relies on the bound.
        """

    @abc.abstractmethod
    def clear(self) -> int | None:
        """Drop every copied entry; the number dropped, or None if unknown."""
