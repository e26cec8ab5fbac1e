"""Reading revocation state: one round trip per request.

The authentication classes ask one question of a store: "is this token
revoked?" (and in user mode, "and who is its user?"). ``DatabaseStore``
answers from the database in a single query; ``CachedStore`` (``CACHE_ALIAS``
set) answers the token-user question from the cache and falls back to the
database on any miss. Both refuse rather than guess: an error reading state
raises ``RevocationStateUnavailable``.

Nothing here writes to the database: the hot path only reads.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.db import DatabaseError
from django.db.models import Exists, OuterRef, Subquery

from .conf import jwt_revoke_settings
from .exceptions import RevocationStateUnavailable
from .models import BlacklistedToken, TokenSession, UserRevocation
from .tokens import ValidatedToken


class TokenState(NamedTuple):
    """What the database says about one token's session, jti and user."""

    session_live: bool  # the session exists, belongs to the user, is not revoked
    jti_revoked: bool
    generation: int  # the user's current revocation generation

    def revokes(self, token: ValidatedToken) -> bool:
        return (not self.session_live) or self.jti_revoked or token.generation < self.generation


def _generation_subquery(token: ValidatedToken) -> Subquery:
    return Subquery(
        UserRevocation.objects.filter(user_key=token.user_key).values("generation")[:1]
    )


def _jti_revoked(token: ValidatedToken) -> Exists:
    return Exists(BlacklistedToken.objects.filter(jti=token.jti))


class DatabaseStore:
    """Revocation state read from the database (the source of truth)."""

    def __init__(self) -> None:
        self.alias = jwt_revoke_settings.database_alias(TokenSession)

    def user_and_state(self, token: ValidatedToken) -> tuple[Any, TokenState | None]:
        """The token's user with its revocation state, in one query.

        ``(None, None)`` when no such user exists. The session must belong to
        the user loaded, so a token never authenticates an account that later
        took the same id value.
        """
        User = get_user_model()
        query = (
            User._default_manager.db_manager(self.alias)
            .filter(**{jwt_revoke_settings.USER_ID_FIELD: token.user_id})
            .annotate(
                _jwtr_session_live=Exists(
                    TokenSession.objects.filter(
                        sid=token.sid, user=OuterRef("pk"), revoked_at__isnull=True
                    )
                ),
                _jwtr_jti_revoked=_jti_revoked(token),
                _jwtr_generation=_generation_subquery(token),
            )
        )
        try:
            user = query.first()
        except DatabaseError as exc:
            raise RevocationStateUnavailable() from exc
        if user is None:
            return None, None
        state = TokenState(
            session_live=user._jwtr_session_live,
            jti_revoked=user._jwtr_jti_revoked,
            generation=user._jwtr_generation or 0,
        )
        return user, state

    def token_state(self, token: ValidatedToken) -> TokenState:
        """The token's revocation state without loading its user (one query)."""
        owner = {f"user__{jwt_revoke_settings.USER_ID_FIELD}": token.user_id}
        query = (
            TokenSession.objects.using(self.alias)
            .filter(sid=token.sid, **owner)
            .annotate(
                _jwtr_jti_revoked=_jti_revoked(token),
                _jwtr_generation=_generation_subquery(token),
            )
            .values_list("revoked_at", "_jwtr_jti_revoked", "_jwtr_generation")
        )
        try:
            found = query.first()
        except DatabaseError as exc:
            raise RevocationStateUnavailable() from exc
        if found is None:
            return TokenState(session_live=False, jti_revoked=False, generation=0)
        revoked_at, jti_revoked, generation = found
        return TokenState(revoked_at is None, jti_revoked, generation or 0)


_stores: dict[int, DatabaseStore] = {}


def get_store() -> DatabaseStore:
    """The store for the current settings (rebuilt when they change)."""
    gen = jwt_revoke_settings.generation
    store = _stores.get(gen)
    if store is None:
        store = DatabaseStore()
        _stores.clear()
        _stores[gen] = store
    return store
