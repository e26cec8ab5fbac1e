"""The database store: revocation state read from the database, in one query.

The source of truth, and the store used when no ``CACHE_ALIAS`` is set.
``user_and_state`` loads the user together with the token's session, jti,
generation and epoch state in a single query (the one a JWT package that
checks nothing pays for the user row); ``token_state`` reads the state alone.
An error reading it raises ``RevocationStateUnavailable``: refuse, never
guess. Nothing here writes: the hot path only reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DatabaseError, connections
from django.db.models import Exists, OuterRef, Subquery

from ..conf import jwt_revoke_settings
from ..exceptions import RevocationStateUnavailable
from ..models import BlacklistedToken, GlobalRevocation, TokenSession, UserRevocation
from ..tokens import ValidatedToken, _user_id_field
from .base import Fact, RevocationStore, TokenState


def _generation_subquery(token: ValidatedToken) -> Subquery:
    return Subquery(UserRevocation.objects.filter(user_key=token.user_key).values("generation")[:1])


def _jti_revoked(token: ValidatedToken) -> Exists:
    return Exists(BlacklistedToken.objects.filter(jti=token.jti))


def _epoch_subquery() -> Subquery:
    return Subquery(
        GlobalRevocation.objects.filter(pk=GlobalRevocation.SINGLETON_PK).values("generation")[:1]
    )


logger = logging.getLogger(__name__)


# Stand-ins for a token's values while a query is compiled once (see
# ``PreparedQuery``): values found exactly once among the compiled parameters.
_SENTINEL_TEXT = "9b0e6c1c-5d3b-4f8e-a7f2-6f1d2c3b4a59"  # a UUID, for a UUIDField id
_SENTINEL_INT = 7_318_349_394_477_056_243  # for an integer column of unbounded range
_STATE_COLUMNS = ("revoked_at", "_jwtr_jti_revoked", "_jwtr_generation", "_jwtr_epoch")
_LEGACY_STATE_COLUMNS = ("_jwtr_jti_revoked", "_jwtr_generation", "_jwtr_epoch")


class CannotPrepare(Exception):
    """The query cannot be compiled ahead; the caller runs it through the ORM."""


class PreparedQuery:
    """An ORM query compiled to SQL once and run with new values on each call.

    Compiling a query with four subqueries costs far more than running it, and
    every authenticated request runs one. The queryset is built with stand-in
    values and compiled by the ORM itself (so the SQL is the ORM's, for every
    backend); each call puts the token's values in their places among the
    parameters, runs the SQL and applies the ORM's converters to the row. The
    SQL is fixed for the store's settings, database alias and user model; the
    store is rebuilt when any of them changes.
    """

    def __init__(
        self, queryset: Any, using: str, slots: dict[str, Any], columns: tuple[str, ...] = ()
    ) -> None:
        query = queryset.query
        if columns and (*query.extra_select, *query.values_select, *query.annotation_select) != (
            columns
        ):
            raise CannotPrepare("columns")
        compiler = query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        self.sql = sql
        self.params = list(params)
        self.slots: dict[str, int] = {}
        for name, value in slots.items():
            found = [i for i, p in enumerate(params) if type(p) is type(value) and p == value]
            if len(found) != 1:
                raise CannotPrepare(name)
            self.slots[name] = found[0]
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        if getattr(compiler, "has_composite_fields", lambda f: False)(fields):
            raise CannotPrepare("composite field")
        # Converters are the ORM's own (bound to the compiling thread's
        # connection, whose settings every connection of the alias shares);
        # each call passes its own connection.
        self.converters = list(compiler.get_converters(fields).items())
        info = compiler.klass_info
        self.model: Any = None
        if info:  # a model query: where its fields are in the row, as ModelIterable reads them
            self.model = info["model"]
            start, end = info["select_fields"][0], info["select_fields"][-1] + 1
            self.model_columns = slice(start, end)
            self.attnames = [column[0].target.attname for column in compiler.select[start:end]]
            self.annotation_col_map = dict(compiler.annotation_col_map or {})

    def fetch_one(self, using: str, **values: Any) -> list[Any] | None:
        """The first row for ``values`` (already in their database form), converted."""
        params = list(self.params)
        for name, value in values.items():
            params[self.slots[name]] = value
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        row = list(row)
        for position, (convs, expression) in self.converters:
            value = row[position]
            for converter in convs:
                value = converter(value, expression, connection)
            row[position] = value
        return row

    def instance(self, using: str, row: list[Any]) -> Any:
        """The model instance of a row, annotations set as attributes, as the ORM builds it."""
        obj = self.model.from_db(using, self.attnames, row[self.model_columns])
        for name, position in self.annotation_col_map.items():
            setattr(obj, name, row[position])
        return obj


def _first(queryset: Any) -> Any:
    """What ``queryset.first()`` runs: ordered by primary key unless ordered, one row."""
    return (queryset if queryset.ordered else queryset.order_by("pk"))[:1]


def _db_value(field: Any, value: Any, using: str) -> Any:
    """``value`` as an exact lookup on ``field`` passes it to the database."""
    return field.get_db_prep_value(value, connections[using], prepared=False)


def _id_range(field: Any, using: str) -> tuple[int | None, int | None] | None:
    """The integer range of ``field``'s column, or None for a field that is not an integer."""
    from ..tokens import _is_int_field

    if not _is_int_field(field):
        return None
    try:
        return connections[using].ops.integer_field_range(field.get_internal_type())
    except KeyError:
        return None, None


def _sentinel(field: Any, using: str) -> Any:
    """A stand-in of ``field``'s Python type, within its column's range; or ``CannotPrepare``."""
    bounds = _id_range(field, using)
    if bounds is not None:
        high = bounds[1]
        return _SENTINEL_INT if high is None else high - 7
    try:
        return field.to_python(_SENTINEL_TEXT)
    except Exception as exc:
        raise CannotPrepare(field.name) from exc


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
        try:
            prepared = self._prepared("user_legacy" if legacy else "user")
            if prepared is None:
                user = self._user_query(token, legacy=legacy).first()
            elif not self._id_in_range(token.user_id):
                user = None  # no such user can exist: no query, as the ORM does
            else:
                row = prepared.fetch_one(self.alias, **self._slot_values(token))
                user = None if row is None else prepared.instance(self.alias, row)
        except DatabaseError as exc:
            raise RevocationStateUnavailable() from exc
        if user is None:
            return None, None
        state = TokenState(
            session_live=True if legacy else user._jwtr_session_live,
            jti_revoked=user._jwtr_jti_revoked,
            generation=user._jwtr_generation or 0,
            epoch=user._jwtr_epoch or 0,
        )
        return user, state

    def _user_query(self, token: Any, *, legacy: bool = False) -> Any:
        User = get_user_model()
        query = User._default_manager.db_manager(self.alias).filter(
            **{jwt_revoke_settings.USER_ID_FIELD: token.user_id}
        )
        if not legacy:
            query = query.annotate(
                _jwtr_session_live=Exists(
                    TokenSession.objects.filter(
                        sid=token.sid, user=OuterRef("pk"), revoked_at__isnull=True
                    )
                )
            )
        return query.annotate(
            _jwtr_jti_revoked=_jti_revoked(token),
            _jwtr_generation=_generation_subquery(token),
            _jwtr_epoch=_epoch_subquery(),
        )

    def _legacy_user_query(self, token: Any) -> Any:
        return self._user_query(token, legacy=True)

    def _legacy_state_query(self, token: Any) -> Any:
        """A legacy token's state: its user's row stands where the session would."""
        User = get_user_model()
        return (
            User._default_manager.db_manager(self.alias)
            .filter(**{jwt_revoke_settings.USER_ID_FIELD: token.user_id})
            .annotate(
                _jwtr_jti_revoked=_jti_revoked(token),
                _jwtr_generation=_generation_subquery(token),
                _jwtr_epoch=_epoch_subquery(),
            )
            .values_list(*_LEGACY_STATE_COLUMNS)
        )

    def _state_query(self, token: Any) -> Any:
        owner = {f"user__{jwt_revoke_settings.USER_ID_FIELD}": token.user_id}
        return (
            TokenSession.objects.using(self.alias)
            .filter(sid=token.sid, **owner)
            .annotate(
                _jwtr_jti_revoked=_jti_revoked(token),
                _jwtr_generation=_generation_subquery(token),
                _jwtr_epoch=_epoch_subquery(),
            )
            .values_list(*_STATE_COLUMNS)
        )

    def _prepared(self, which: str) -> PreparedQuery | None:
        """The compiled query ``which``; None: use the ORM each time.

        ``which`` is "user" or "state", or "user_legacy" or "state_legacy" for
        legacy (simplejwt) tokens, which have no session to look up.

        Compiled on first use (compiling runs no query); a query that cannot
        be compiled ahead is remembered as such and runs through the ORM.
        """
        try:
            return self._compiled[which]
        except KeyError:
            pass
        field = _user_id_field()
        self._id_bounds = _id_range(field, self.alias)
        try:
            stand_in = _StandIn(_sentinel(field, self.alias))
            queries: dict[str, tuple[Callable[[Any], Any], tuple[str, ...]]] = {
                "user": (self._user_query, ()),
                "state": (self._state_query, _STATE_COLUMNS),
                "user_legacy": (self._legacy_user_query, ()),
                "state_legacy": (self._legacy_state_query, _LEGACY_STATE_COLUMNS),
            }
            build, columns = queries[which]
            slots = {
                "user_id": _db_value(field, stand_in.user_id, self.alias),
                "sid": stand_in.sid,
                "jti": stand_in.jti,
                "user_key": stand_in.user_key,
            }
            if which.endswith("_legacy"):
                del slots["sid"]
            prepared: PreparedQuery | None = PreparedQuery(
                _first(build(stand_in)), self.alias, slots, columns=columns
            )
        except CannotPrepare:
            logger.debug("revocation query %s runs through the ORM", which, exc_info=True)
            prepared = None
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
            "user_id": _db_value(_user_id_field(), token.user_id, self.alias),
            "jti": token.jti,
            "user_key": token.user_key,
        }
        if not token.legacy:
            values["sid"] = token.sid
        return values

    def token_state(self, token: ValidatedToken) -> TokenState:
        """The token's revocation state without loading its user (one query).

        A legacy (simplejwt) token has no session: it counts as live while
        its user exists (the query reads the user's row instead).
        """
        legacy = token.legacy
        try:
            prepared = self._prepared("state_legacy" if legacy else "state")
            if prepared is None:
                query = self._legacy_state_query if legacy else self._state_query
                found = query(token).first()
            elif not self._id_in_range(token.user_id):
                found = None
            else:
                row = prepared.fetch_one(self.alias, **self._slot_values(token))
                found = None if row is None else tuple(row)
        except DatabaseError as exc:
            raise RevocationStateUnavailable() from exc
        if found is None:
            return TokenState(session_live=False, jti_revoked=False, generation=0)
        if legacy:
            jti_revoked, generation, epoch = found
            return TokenState(True, jti_revoked, generation or 0, epoch or 0)
        revoked_at, jti_revoked, generation, epoch = found
        return TokenState(revoked_at is None, jti_revoked, generation or 0, epoch or 0)

    def revoked(self, facts: Iterable[Fact]) -> None:
        """Nothing to do: the rows the revocation committed are the state."""

    def clear(self) -> int:
        return 0


class _StandIn:
    """What the queries read of a token, with stand-in values (see ``PreparedQuery``)."""

    def __init__(self, user_id: Any) -> None:
        self.user_id = user_id
        self.sid = "jwtr-sentinel-sid-" + _SENTINEL_TEXT
        self.jti = "jwtr-sentinel-jti-" + _SENTINEL_TEXT
        self.user_key = "jwtr-sentinel-user-" + _SENTINEL_TEXT
