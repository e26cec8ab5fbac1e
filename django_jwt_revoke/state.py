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
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import DatabaseError, connections, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from .conf import jwt_revoke_settings
from .exceptions import RevocationStateUnavailable
from .models import BlacklistedToken, GlobalRevocation, TokenSession, UserRevocation
from .tokens import ValidatedToken, _user_id_field


class TokenState(NamedTuple):
    """What the database says about one token's session, jti and user."""

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
    from .tokens import _is_int_field

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


class _StandIn:
    """What the queries read of a token, with stand-in values (see ``PreparedQuery``)."""

    def __init__(self, user_id: Any) -> None:
        self.user_id = user_id
        self.sid = "jwtr-sentinel-sid-" + _SENTINEL_TEXT
        self.jti = "jwtr-sentinel-jti-" + _SENTINEL_TEXT
        self.user_key = "jwtr-sentinel-user-" + _SENTINEL_TEXT


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
    global generation. A legacy (simplejwt) token has no ``s:`` entry; its
    entries are filled only once its user is found to exist. Readers fill
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
        self._get_many = (
            _redis_get_many(self.cache) or _locmem_get_many(self.cache) or self.cache.get_many
        )

    # -- keys and lifetimes ------------------------------------------------

    @staticmethod
    def keys(token: ValidatedToken) -> tuple[str, ...]:
        """Generation, session, jti and epoch keys; no session key for a legacy token."""
        sid = token.sid
        if sid is None:
            return (
                f"jwt_revoke:g:{_cache_id(token.user_key)}",
                f"jwt_revoke:j:{_cache_id(token.jti)}",
                EPOCH_KEY,
            )
        return (
            f"jwt_revoke:g:{_cache_id(token.user_key)}",
            f"jwt_revoke:s:{_cache_id(sid)}",
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
        legacy = len(keys) == 3
        if legacy:
            gen_key, jti_key, epoch_key = keys
            sid_key = None
        else:
            gen_key, sid_key, jti_key, epoch_key = keys
        try:
            found = self._get_many(keys)
        except Exception:  # any cache failure: the database decides
            logger.warning("revocation cache unreachable; reading the database", exc_info=True)
            return super().token_state(token)
        if len(found) == len(keys):
            return TokenState(
                session_live=legacy or found[sid_key] == 1,
                jti_revoked=found[jti_key] == 1,
                generation=int(found[gen_key]),
                epoch=int(found[epoch_key]),
            )
        state = super().token_state(token)
        if legacy and not state.session_live:
            # No such user: nothing in the cache may stand for "it exists".
            return state
        fill = {
            gen_key: (state.generation, self._state_timeout()),
            jti_key: (1 if state.jti_revoked else 0, self._until(token.expires_at)),
            epoch_key: (state.epoch, self._state_timeout()),
        }
        if sid_key is not None:
            fill[sid_key] = (1 if state.session_live else 0, self._state_timeout())
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


def _redis_get_many(cache: Any) -> Any:
    """A faster ``cache.get_many`` for Django's built-in Redis backend, or None.

    That backend builds a new ``redis.Redis`` client object on every call,
    which costs several times the round trip itself. This reads the same keys
    (same key function, same serializer, one ``MGET``) through one client kept
    for the store's life; a client is thread-safe and its connection pool is
    the backend's own. Only with a single server: with replicas, Django's own
    choice of server per read stands.
    """
    try:
        from django.core.cache.backends.redis import RedisCache
    except ImportError:  # pragma: no cover - Django < 4.0 is not supported anyway
        return None
    backend: Any = getattr(cache, "_cache", None)
    if (
        type(cache) is not RedisCache
        or len(getattr(backend, "_servers", ())) != 1
        or not hasattr(backend, "_serializer")
        or not hasattr(backend, "get_client")
    ):
        return None
    client = backend.get_client(None)
    loads = backend._serializer.loads
    make_key = cache.make_key

    def get_many(keys: Any) -> dict[str, Any]:
        values = client.mget([make_key(key) for key in keys])
        found = zip(keys, values, strict=True)
        return {key: loads(value) for key, value in found if value is not None}

    return get_many


def _locmem_get_many(cache: Any) -> Any:
    """A faster ``cache.get_many`` for Django's local-memory backend, or None.

    ``LocMemCache.get`` checks every key for memcached compatibility, a loop
    over its characters that costs more than the read itself; our keys are
    known to pass (see ``_cache_id``). This reads the same entries as ``get``
    does, under the backend's lock, expiry and all, without that check. It
    relies on the backend's private attributes, checked here: without them,
    ``cache.get_many`` serves.
    """
    from django.core.cache.backends.locmem import LocMemCache

    names = ("_cache", "_lock", "_has_expired", "_delete")
    if type(cache) is not LocMemCache or not all(hasattr(cache, name) for name in names):
        return None
    import pickle

    make_key = cache.make_key
    backend: Any = cache  # private attributes, checked above
    entries, lock = backend._cache, backend._lock
    has_expired, delete = backend._has_expired, backend._delete

    def get_many(keys: Any) -> dict[str, Any]:
        found = {}
        with lock:
            for key in keys:
                name = make_key(key)
                if has_expired(name):  # also true of a missing key
                    delete(name)
                    continue
                found[key] = entries[name]
                entries.move_to_end(name, last=False)
        # The backend's own values, pickled by itself: no outside data.
        return {key: pickle.loads(value) for key, value in found.items()}  # noqa: S301

    return get_many


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
