"""The one module of this package that reads Django's private API.

Two speed-ups need it: the revocation query compiled once (below) and a fast
read of Django's local-memory cache (``locmem_get_many``). Nothing else in the
package touches an underscored name of Django's.

Compiling the revocation query (the user row with its session, jti,
generation and epoch subqueries) costs several times more than running it,
and every authenticated request runs one. ``compile_query`` has the ORM
compile the queryset once, with stand-in values, and ``PreparedQuery`` runs
that SQL with each token's values in their places.

Private API read here, and nowhere else in the package: ``Query`` attributes
(``extra_select``, ``values_select``, ``annotation_select``) and the
``SQLCompiler``'s ``as_sql()``, ``select``, ``col_count``, ``klass_info``,
``annotation_col_map``, ``get_converters()`` and ``has_composite_fields()``
(Django 5.2+). Checked against Django 4.2, 5.2 and 6.0: CI runs the suite,
and with it the tests comparing every compiled query's answers with the
ORM's (``tests/test_stores.py``), on each. On anything unexpected, when
compiling or when running (any error that is not the database's own), the
caller is told to use the ORM (``CannotPrepare``, or None from
``compile_query``) and logs it once: a Django release that changes these
internals costs speed, never a wrong answer. A database error is never
swallowed: it propagates, and the request is refused.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, connections

from ..claims import is_int_field

logger = logging.getLogger("django_jwt_revoke.stores")

#: The Django versions whose compiler internals this module was checked against.
CHECKED_DJANGO_VERSIONS = ("4.2", "5.2", "6.0")

# Stand-ins for a token's values while a query is compiled once: values no
# parameter of the ORM's own can equal, so that wherever one is found among the
# compiled parameters (once, or in each subquery that repeats it) it is the slot.
_SENTINEL_TEXT = "9b0e6c1c-5d3b-4f8e-a7f2-6f1d2c3b4a59"  # a UUID, for a UUIDField id
_SENTINEL_INT = 7_318_349_394_477_056_243  # for an integer column of unbounded range


class CannotPrepare(Exception):
    """The query cannot be compiled ahead (or ran into the unexpected); use the ORM."""


class PreparedQuery:
    """An ORM query compiled to SQL once and run with new values on each call.

    The queryset is built with stand-in values and compiled by the ORM itself
    (so the SQL is the ORM's, for every backend); each call puts the token's
    values in their places among the parameters, runs the SQL and applies the
    ORM's converters to the row. The SQL is fixed for the store's settings,
    database alias and user model; the store is rebuilt when any changes.
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
        self.slots = _slot_positions(self.params, slots)
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
        """The first row for ``values`` (already in their database form), converted.

        Raises ``CannotPrepare`` for anything but a database error.
        """
        rows = self._fetch(using, values, all_rows=False)
        return rows[0] if rows else None

    def fetch_all(self, using: str, **values: Any) -> list[list[Any]]:
        """Every row for ``values``, converted: for a query sliced to a few rows."""
        return self._fetch(using, values, all_rows=True)

    def params_for(self, **values: Any) -> list[Any]:
        """The compiled parameters with ``values`` in their slots."""
        params = list(self.params)
        for name, value in values.items():
            for position in self.slots[name]:
                params[position] = value
        return params

    def _fetch(self, using: str, values: dict[str, Any], *, all_rows: bool) -> list[list[Any]]:
        try:
            params = self.params_for(**values)
            connection = connections[using]
        except Exception as exc:
            raise CannotPrepare("parameters") from exc
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            if all_rows:
                rows = cursor.fetchall()
            else:
                row = cursor.fetchone()
                rows = [] if row is None else [row]
        try:
            return [self._converted(list(row), connection) for row in rows]
        except DatabaseError:
            raise
        except Exception as exc:
            raise CannotPrepare("converters") from exc

    def _converted(self, row: list[Any], connection: Any) -> list[Any]:
        for position, (convs, expression) in self.converters:
            value = row[position]
            for converter in convs:
                value = converter(value, expression, connection)
            row[position] = value
        return row

    def instance(self, using: str, row: list[Any]) -> Any:
        """The model instance of a row, annotations set as attributes, as the ORM builds it."""
        try:
            obj = self.model.from_db(using, self.attnames, row[self.model_columns])
            for name, position in self.annotation_col_map.items():
                setattr(obj, name, row[position])
        except Exception as exc:
            raise CannotPrepare("instance") from exc
        return obj


def _slot_positions(params: list[Any], slots: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Where each stand-in is among the parameters: at least once (a subquery may repeat it)."""
    positions = {}
    for name, value in slots.items():
        found = tuple(i for i, p in enumerate(params) if type(p) is type(value) and p == value)
        if not found:
            raise CannotPrepare(name)
        positions[name] = found
    return positions


def first(queryset: Any) -> Any:
    """What ``queryset.first()`` runs: ordered by primary key unless ordered, one row."""
    return (queryset if queryset.ordered else queryset.order_by("pk"))[:1]


def db_value(field: Any, value: Any, using: str) -> Any:
    """``value`` as an exact lookup on ``field`` passes it to the database."""
    return field.get_db_prep_value(value, connections[using], prepared=False)


def id_range(field: Any, using: str) -> tuple[int | None, int | None] | None:
    """The integer range of ``field``'s column, or None for a field that is not an integer."""
    if not is_int_field(field):
        return None
    try:
        return connections[using].ops.integer_field_range(field.get_internal_type())
    except KeyError:
        return None, None


def _sentinel(field: Any, using: str) -> Any:
    """A stand-in of ``field``'s Python type, within its column's range; or ``CannotPrepare``."""
    bounds = id_range(field, using)
    if bounds is not None:
        high = bounds[1]
        return _SENTINEL_INT if high is None else high - 7
    try:
        return field.to_python(_SENTINEL_TEXT)
    except Exception as exc:
        raise CannotPrepare(field.name) from exc


class StandIn:
    """What the queries read of a token, with stand-in values."""

    def __init__(self, user_id: Any) -> None:
        self.user_id = user_id
        self.sid = "jwtr-sentinel-sid-" + _SENTINEL_TEXT
        self.jti = "jwtr-sentinel-jti-" + _SENTINEL_TEXT
        self.user_key = "jwtr-sentinel-user-" + _SENTINEL_TEXT


def compile_query(
    name: str,
    build: Callable[[Any], Any],
    *,
    field: Any,
    using: str,
    columns: tuple[str, ...] = (),
    legacy: bool = False,
) -> PreparedQuery | None:
    """``build(token)``'s first row as a ``PreparedQuery``; None: run it through the ORM.

    ``field``: the user id field the query filters on. ``legacy``: the query
    reads no session (a simplejwt token has none). Compiling runs no query.
    """
    try:
        stand_in = StandIn(_sentinel(field, using))
        slots = {
            "user_id": db_value(field, stand_in.user_id, using),
            "sid": stand_in.sid,
            "jti": stand_in.jti,
            "user_key": stand_in.user_key,
        }
        if legacy:
            del slots["sid"]
        return PreparedQuery(first(build(stand_in)), using, slots, columns=columns)
    except CannotPrepare:
        logger.debug("revocation query %s runs through the ORM", name, exc_info=True)
    except Exception:
        logger.warning(
            "revocation query %s runs through the ORM: compiling it ahead failed "
            "(a Django version this package was not checked against?)",
            name,
            exc_info=True,
        )
    return None


# -- the local-memory cache ------------------------------------------------------


def locmem_get_many(cache: Any) -> Any:
    """A faster ``cache.get_many`` for Django's local-memory backend, or None.

    ``LocMemCache.get`` checks every key for memcached compatibility, a loop
    over its characters that costs more than the read itself; our keys are
    known to pass (hex digests and numbers). This reads the same entries as
    ``get`` does, under the backend's lock, expiry and all, without that
    check. It relies on the backend's private attributes (``_cache``,
    ``_lock``, ``_has_expired``, ``_delete``; Django 4.2 to 6.0), checked
    here: without them, ``cache.get_many`` serves. (A local-memory cache is per
    process: check W001 warns against it outside development.)
    """
    from django.core.cache.backends.locmem import LocMemCache

    names = ("_cache", "_lock", "_has_expired", "_delete")
    if type(cache) is not LocMemCache or not all(hasattr(cache, name) for name in names):
        return None
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
