"""The database store: revocation state read from the database, in one query.

The source of truth, and the store used when no ``CACHE_ALIAS`` is set.
``user_and_state`` loads the user together with the token's session, jti,
generation and epoch state in a single query (the one a JWT package that
checks nothing pays for the user row); ``token_state`` reads the state alone.
An error reading it raises ``RevocationStateUnavailable``: refuse, never
guess. Nothing here writes: the hot path only reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import DatabaseError
from django.db.models import BooleanField, Case, ExpressionWrapper, Q, Subquery, Value, When

from ..claims import ValidatedToken, user_id_field
from ..conf import jwt_revoke_settings
from ..exceptions import DatabaseHintLog, RevocationStateUnavailable
from ..models import TokenSession, revocation_state, users_with_id
from .base import Fact, RevocationStore, TokenState
from .internals import CannotPrepare, PreparedQuery, compile_query, db_value, id_range, logger

_STATE_COLUMNS = (
    "revoked_at",
    "_jwtr_owner_matches",
    "_jwtr_jti_revoked",
    "_jwtr_generation",
    "_jwtr_epoch",
)
_LEGACY_STATE_COLUMNS = ("_jwtr_jti_revoked", "_jwtr_generation", "_jwtr_epoch")
#: A table of ours missing (``migrate`` forgotten): said in the log once a minute.
missing_tables = DatabaseHintLog(logger)


class DatabaseStore(RevocationStore):
    """Revocation state read from the database (the source of truth)."""

    def __init__(self) -> None:
        self.database = self
        self.alias = jwt_revoke_settings.database_alias(TokenSession)
        self._compiled: dict[str, PreparedQuery | None] = {}
        self._id_bounds: tuple[int | None, int | None] | None = None

    def user_and_state(self, token: ValidatedToken) -> tuple[Any, TokenState | None]:
        """The token's user with its revocation state, in one query.

        ``(None, None)`` when no such user exists. The session must belong to
        the user loaded, so a token never authenticates an account that later
        took the same id value. A legacy (simplejwt) token has no session: its
        user is the one its user id claim names, as simplejwt has it.
        """
        legacy = token.legacy
        user = self._first_row(
            "user_legacy" if legacy else "user",
            token,
            orm=lambda: self._user_query(token, legacy=legacy).first(),
            model=True,
        )
        if user is None:
            return None, None
        state = TokenState(
            session_live=True if legacy else bool(user._jwtr_session_live),
            jti_revoked=user._jwtr_jti_revoked,
            generation=user._jwtr_generation or 0,
            epoch=user._jwtr_epoch or 0,
        )
        return user, state

    def token_state(self, token: ValidatedToken) -> TokenState:
        """The token's revocation state without loading its user (one query).

        A legacy (simplejwt) token has no session: it counts as live while
        its user exists (the query reads the user's row instead).
        """
        legacy = token.legacy
        query = self._legacy_state_query if legacy else self._state_query
        found = self._first_row(
            "state_legacy" if legacy else "state", token, orm=lambda: query(token).first()
        )
        if found is None:
            return TokenState(session_live=False, jti_revoked=False, generation=0)
        if legacy:
            jti_revoked, generation, epoch = found
            return TokenState(True, jti_revoked, generation or 0, epoch or 0)
        revoked_at, owner_matches, jti_revoked, generation, epoch = found
        live = revoked_at is None and bool(owner_matches)
        return TokenState(live, jti_revoked, generation or 0, epoch or 0)

    def _first_row(
        self, which: str, token: ValidatedToken, *, orm: Callable[[], Any], model: bool = False
    ) -> Any:
        """The first row of query ``which`` for ``token``: compiled if it can be, else ``orm()``.

        A database error raises ``RevocationStateUnavailable`` (refuse, never
        guess); anything unexpected of the compiled query retires it for the
        ORM, for good.
        """
        try:
            prepared = self._prepared(which)
            if prepared is None:
                return orm()
            if not self._id_in_range(token.user_id):
                return None  # no such user can exist: no query, as the ORM does
            try:
                row = prepared.fetch_one(self.alias, **self._slot_values(token))
                if row is None:
                    return None
                return prepared.instance(self.alias, row) if model else tuple(row)
            except CannotPrepare:
                logger.warning("revocation query %s failed; the ORM runs it", which, exc_info=True)
                self._compiled[which] = None
                return orm()
        except DatabaseError as exc:
            missing_tables.log(exc, alias=self.alias)
            raise RevocationStateUnavailable() from exc

    def _user_query(self, token: Any, *, legacy: bool = False) -> Any:
        """The user row with the token's state; ``_jwtr_session_live``: the
        token's session is not revoked and is this user's (NULL: no such session).

        The session is found by its sid alone, and its owner compared with
        the user outside the subquery: with nothing but the unique sid to
        filter on, the database can only look it up through the sid's index,
        whatever its statistics say, instead of scanning the user's sessions
        (a cost growing with their number, which anyone who can log in
        decides).
        """
        query = users_with_id(token.user_id, self.alias)
        if not legacy:
            live = TokenSession.objects.filter(sid=token.sid, revoked_at__isnull=True)
            # Unordered: the sid is unique, and the model's ordering would have
            # the database sort the one row it finds (planned on every request).
            owner = Subquery(live.order_by().values("user_id")[:1])
            query = query.annotate(
                _jwtr_session_live=ExpressionWrapper(Q(pk=owner), output_field=BooleanField())
            )
        return query.annotate(**revocation_state(jti=token.jti, user_key=token.user_key))

    def _legacy_user_query(self, token: Any) -> Any:
        return self._user_query(token, legacy=True)

    def _legacy_state_query(self, token: Any) -> Any:
        """A legacy token's state: its user's row stands where the session would."""
        return (
            users_with_id(token.user_id, self.alias)
            .annotate(**revocation_state(jti=token.jti, user_key=token.user_key))
            .values_list(*_LEGACY_STATE_COLUMNS)
        )

    def _state_query(self, token: Any) -> Any:
        """The session with the token's state (``_user_query`` says why by sid alone)."""
        owner = {f"user__{jwt_revoke_settings.USER_ID_FIELD}": token.user_id}
        matches = Case(When(**owner, then=Value(True)), default=Value(False))
        return (
            TokenSession.objects.using(self.alias)
            .filter(sid=token.sid)
            # The sid is unique: ordered by it (not by the model's ordering, nor
            # by pk as first() would), the plan is the sid's index for both.
            .order_by("sid")
            .annotate(
                _jwtr_owner_matches=ExpressionWrapper(matches, output_field=BooleanField()),
                **revocation_state(jti=token.jti, user_key=token.user_key),
            )
            .values_list(*_STATE_COLUMNS)
        )

    def _prepared(self, which: str) -> PreparedQuery | None:
        """The compiled query ``which``; None: use the ORM each time.

        ``which`` is "user" or "state", or "user_legacy" or "state_legacy" for
        legacy (simplejwt) tokens, which have no session to look up.
        Compiled on first use; one that cannot be is remembered as such.
        """
        try:
            return self._compiled[which]
        except KeyError:
            pass
        field = user_id_field()
        self._id_bounds = id_range(field, self.alias)
        queries: dict[str, tuple[Callable[[Any], Any], tuple[str, ...]]] = {
            "user": (self._user_query, ()),
            "state": (self._state_query, _STATE_COLUMNS),
            "user_legacy": (self._legacy_user_query, ()),
            "state_legacy": (self._legacy_state_query, _LEGACY_STATE_COLUMNS),
        }
        build, columns = queries[which]
        prepared = compile_query(
            which,
            build,
            field=field,
            using=self.alias,
            columns=columns,
            legacy=which.endswith("_legacy"),
        )
        self._compiled[which] = prepared
        return prepared

    def _id_in_range(self, value: Any) -> bool:
        """False for an integer id beyond its column (the ORM would answer "no rows")."""
        bounds = self._id_bounds
        if bounds is None:
            return True
        low, high = bounds
        return (low is None or value >= low) and (high is None or value <= high)

    def _slot_values(self, token: ValidatedToken) -> dict[str, Any]:
        values = {
            "user_id": db_value(user_id_field(), token.user_id, self.alias),
            "jti": token.jti,
            "user_key": token.user_key,
        }
        if not token.legacy:
            values["sid"] = token.sid
        return values

    def revoked(self, facts: Iterable[Fact]) -> None:
        """Nothing to do: the rows the revocation committed are the state."""

    def clear(self) -> int:
        return 0
