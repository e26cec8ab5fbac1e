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

import hashlib
import logging
import re
from datetime import datetime
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import DatabaseError, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from .conf import jwt_revoke_settings
from .exceptions import RevocationStateUnavailable
from .models import BlacklistedToken, GlobalRevocation, TokenSession, UserRevocation
from .tokens import ValidatedToken


class TokenState(NamedTuple):
    """What the database says about one token's session, jti and user."""

    session_live: bool  # the session exists, belongs to the user, is not revoked
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


def _generation_subquery(token: ValidatedToken) -> Subquery:
    return Subquery(
        UserRevocation.objects.filter(user_key=token.user_key).values("generation")[:1]
    )


def _jti_revoked(token: ValidatedToken) -> Exists:
    return Exists(BlacklistedToken.objects.filter(jti=token.jti))


def _epoch_subquery() -> Subquery:
    return Subquery(
        GlobalRevocation.objects.filter(pk=GlobalRevocation.SINGLETON_PK).values("generation")[:1]
    )


logger = logging.getLogger(__name__)


class DatabaseStore:
    """Revocation state read from the database (the source of truth).

    The interface every store keeps:

    * ``user_and_state(token)`` loads the user and the token's state together;
    * ``token_state(token)`` reads the state alone;
    * ``publish(...)`` is called by ``revocation.py`` inside the transaction
      that writes a revocation, so that a store with a copy of the state can
      update it. It must raise if it cannot, so that the revocation fails as
      a whole rather than leaving a copy that says "not revoked".
    """

    def publish(
        self,
        *,
        using: str,
        jti: str | None = None,
        jti_expires_at: datetime | None = None,
        sid: str | None = None,
        user_key: str | None = None,
        generation: int | None = None,
        epoch: int | None = None,
    ) -> None:
        """Nothing to do: the database row written is the state."""

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
                _jwtr_epoch=_epoch_subquery(),
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
            epoch=user._jwtr_epoch or 0,
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
                _jwtr_epoch=_epoch_subquery(),
            )
            .values_list("revoked_at", "_jwtr_jti_revoked", "_jwtr_generation", "_jwtr_epoch")
        )
        try:
            found = query.first()
        except DatabaseError as exc:
            raise RevocationStateUnavailable() from exc
        if found is None:
            return TokenState(session_live=False, jti_revoked=False, generation=0)
        revoked_at, jti_revoked, generation, epoch = found
        return TokenState(revoked_at is None, jti_revoked, generation or 0, epoch or 0)




_SAFE_KEY = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")
# How long a value written before its transaction commits may stand. Written
# again, for the full time, once the transaction commits; if it rolls back
# instead, the (over-cautious) "revoked" value is gone after this long.
PRE_COMMIT_TIMEOUT = 60
EPOCH_KEY = "jwt_revoke:epoch"


def _cache_id(value: str) -> str:
    return value if _SAFE_KEY.match(value) else hashlib.sha256(value.encode()).hexdigest()


class CachedStore(DatabaseStore):
    """Token state from a shared cache, the database behind it.

    Entries: ``g:<user>`` the user's generation, ``s:<sid>`` 1 if the session
    is live else 0, ``j:<jti>`` 1 if the jti is revoked else 0, ``epoch`` the
    global generation. Readers fill
    misses from the database with ``add`` (never ``set``), and revocations
    ``set`` the revoked value before their transaction commits and again
    after, so a reader can never put back a stale "not revoked". A miss, an
    evicted key or a flushed cache is read from the database, never taken
    for "not revoked"; an unreachable cache falls back to the database too,
    and only when both fail is the request refused (503).
    """

    def __init__(self, alias: str) -> None:
        super().__init__()
        self.cache = caches[alias]

    # -- keys and lifetimes ------------------------------------------------

    @staticmethod
    def keys(token: ValidatedToken) -> tuple[str, str, str, str]:
        return (
            f"jwt_revoke:g:{_cache_id(token.user_key)}",
            f"jwt_revoke:s:{_cache_id(token.sid)}",
            f"jwt_revoke:j:{_cache_id(token.jti)}",
            EPOCH_KEY,
        )

    @staticmethod
    def _state_timeout() -> int:
        s = jwt_revoke_settings
        return max(1, int((s.REFRESH_TOKEN_LIFETIME + s.LEEWAY).total_seconds()))

    @staticmethod
    def _until(expires_at: datetime) -> int:
        left = expires_at + jwt_revoke_settings.LEEWAY - timezone.now()
        return max(1, int(left.total_seconds()) + 1)

    # -- reading -----------------------------------------------------------

    def token_state(self, token: ValidatedToken) -> TokenState:
        keys = self.keys(token)
        gen_key, sid_key, jti_key, epoch_key = keys
        try:
            found = self.cache.get_many(keys)
        except Exception:  # any cache failure: the database decides
            logger.warning("revocation cache unreachable; reading the database", exc_info=True)
            return super().token_state(token)
        if len(found) == 4:
            return TokenState(
                session_live=found[sid_key] == 1,
                jti_revoked=found[jti_key] == 1,
                generation=int(found[gen_key]),
                epoch=int(found[epoch_key]),
            )
        state = super().token_state(token)
        fill = {
            gen_key: (state.generation, self._state_timeout()),
            sid_key: (1 if state.session_live else 0, self._state_timeout()),
            jti_key: (1 if state.jti_revoked else 0, self._until(token.expires_at)),
            epoch_key: (state.epoch, self._state_timeout()),
        }
        try:
            for key, (value, timeout) in fill.items():
                if key not in found:
                    self.cache.add(key, value, timeout)
        except Exception:
            logger.warning("revocation cache unreachable; not filled", exc_info=True)
        return state

    # -- writing -----------------------------------------------------------

    def publish(
        self,
        *,
        using: str,
        jti: str | None = None,
        jti_expires_at: datetime | None = None,
        sid: str | None = None,
        user_key: str | None = None,
        generation: int | None = None,
        epoch: int | None = None,
    ) -> None:
        entries: dict[str, tuple[Any, int]] = {}
        if jti is not None:
            expires = jti_expires_at or timezone.now()
            entries[f"jwt_revoke:j:{_cache_id(jti)}"] = (1, self._until(expires))
        if sid is not None:
            entries[f"jwt_revoke:s:{_cache_id(sid)}"] = (0, self._state_timeout())
        if user_key is not None and generation is not None:
            entries[f"jwt_revoke:g:{_cache_id(user_key)}"] = (generation, self._state_timeout())
        if epoch is not None:
            entries[EPOCH_KEY] = (epoch, self._state_timeout())
        if not entries:
            return
        # Raises when the cache is down: the caller's transaction rolls back.
        self.cache.set_many(
            {key: value for key, (value, _t) in entries.items()},
            min(PRE_COMMIT_TIMEOUT, min(t for _v, t in entries.values())),
        )

        def after_commit() -> None:
            try:
                for key, (value, timeout) in entries.items():
                    self.cache.set(key, value, timeout)
            except Exception:
                # The pre-commit value stands for PRE_COMMIT_TIMEOUT seconds,
                # then readers go to the database, which has the revocation.
                logger.error("revocation cache write after commit failed", exc_info=True)

        transaction.on_commit(after_commit, using=using)


_stores: dict[int, DatabaseStore] = {}


def get_store() -> DatabaseStore:
    """The store for the current settings (rebuilt when they change)."""
    gen = jwt_revoke_settings.generation
    store = _stores.get(gen)
    if store is None:
        alias = jwt_revoke_settings.CACHE_ALIAS
        store = CachedStore(alias) if alias else DatabaseStore()
        _stores.clear()
        _stores[gen] = store
    return store
