"""Signals we handle: a user's tokens die with a password change, a
deactivation, a deletion, or a change of the value tokens name them by.

Only saves through the model see these. ``QuerySet.update()``,
``bulk_update()`` and raw SQL do not send signals: call
``revocation.revoke_user_tokens(user, reason=...)`` after them (deactivation
through ``update()`` is still refused at authentication, which reads
``is_active`` on every request).

The receivers are connected to the user model (and its proxies) only: a
receiver for every sender would cost every save in the project a call, and
a delete receiver for every sender would stop Django from deleting any
model's rows with a single ``DELETE`` (the purge relies on that).

What a save costs:

* unrelated saves (``last_login`` on login, a profile edit): no query;
* ``set_password()`` + ``save()``: no query, one revocation;
* a save of an inactive user: one query (was it active until now?);
* ``set_unusable_password()``, or a change of a ``USER_ID_FIELD`` other than
  the primary key: one query confirming the stored value really changed.

A save is judged by one detector per concern (``_password_changed``,
``_deactivated``, ``_id_value_change``), each checkable against the save
paths the README lists under "Automatic revocation"; ``_revocations`` puts
their findings together.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import FieldDoesNotExist
from django.db.models import NOT_PROVIDED
from django.db.models.signals import post_delete, post_init, post_save, pre_delete, pre_save

from .conf import jwt_revoke_settings
from .models import Reason

# On the instance, between pre_save and post_save: [(user, reason), ...].
_PENDING = "_jwt_revoke_pending"
# On the instance: the values of the watched fields as last read from or
# written to the database. A hint only: a change it suggests is confirmed by
# a query before anything is revoked.
_LOADED = "_jwt_revoke_loaded"
# On the instance: set_password() was called and no save has written it yet.
_PASSWORD_SET = "_jwt_revoke_password_set"

# _Save.stored() of a save that finds no row to update.
_NO_ROW = object()
_UNREAD = object()


def _concrete_field(model: Any, name: str) -> Any:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if getattr(field, "concrete", False) else None


def _id_field(model: Any) -> Any:
    """The USER_ID_FIELD when it is not the primary key (which a save cannot change)."""
    field = _concrete_field(model, jwt_revoke_settings.USER_ID_FIELD)
    if field is None or field.primary_key:
        return None
    return field


def _writes(update_fields: Any, field: Any) -> bool:
    return update_fields is None or field.name in update_fields or field.attname in update_fields


def _unusable(password: Any) -> bool:
    return isinstance(password, str) and password.startswith(UNUSABLE_PASSWORD_PREFIX)


def _watched(model: Any) -> list[Any]:
    return [f for f in (_concrete_field(model, "password"), _id_field(model)) if f is not None]


@functools.lru_cache(maxsize=64)
def _watched_attnames(model: Any, user_id_field: Any) -> tuple[str, ...]:
    """``_watched(model)``'s attnames, looked up once per model and USER_ID_FIELD."""
    return tuple(f.attname for f in _watched(model))


# Why a post_init receiver, run on every user load (every authenticated
# request loads one): it keeps the password hash and the id value as loaded,
# so that a save writing them back unchanged is known unchanged without a
# query. pre_save alone cannot know it: set_unusable_password() writes a
# fresh random "!..." value and leaves no mark (set_password() leaves
# ``_password``, which needs no snapshot), and a new USER_ID_FIELD value is a
# plain assignment. Without the snapshot, pre_save would read the stored row
# on every save() of a user whose password is unusable (accounts that log in
# elsewhere) and, with a USER_ID_FIELD other than the primary key, on every
# save() writing it: 2 queries instead of 1, where the README promises that a
# profile edit costs no extra query (and
# test_unusable_password_saved_again_unchanged_revokes_nothing and
# test_unchanged_id_value_costs_no_query say 1). What the receiver costs a
# load is the signal dispatch and a cached lookup of the attnames: about 3 µs
# (Model.from_db 3.2 -> 6.2 µs, of a get(pk) of ~300 µs on SQLite). The price
# of the hint: an instance loaded before another one changed the row, and
# saved with the value it loaded, writes that old value back unrevoked (an
# unusable password over a new one, an id value over a newer one).
def remember_loaded_values(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Keep the password hash and the id value as loaded (deferred fields are skipped)."""
    values = instance.__dict__
    attnames = _watched_attnames(sender, jwt_revoke_settings.USER_ID_FIELD)
    values[_LOADED] = {a: values[a] for a in attnames if a in values}


def _remember_written_values(sender: Any, instance: Any, update_fields: Any) -> None:
    values = instance.__dict__
    loaded = values.setdefault(_LOADED, {})
    for field in _watched(sender):
        if field.attname in values and _writes(update_fields, field):
            loaded[field.attname] = values[field.attname]
            if field.name == "password":
                values.pop(_PASSWORD_SET, None)


def _same_value(field: Any, a: Any, b: Any) -> bool:
    try:
        return field.to_python(a) == field.to_python(b)
    except Exception:  # unparseable: compare as stored
        return a == b


def _may_exist(sender: Any, instance: Any) -> bool:
    """Whether this save may update an existing row (Django's own rule)."""
    if instance.pk is None:
        return False
    if not instance._state.adding:
        return True
    # An unsaved instance with an explicit primary key: Django tries an
    # UPDATE first, unless the key has a default (then it always INSERTs).
    pk = sender._meta.pk
    return pk.default is NOT_PROVIDED and getattr(pk, "db_default", NOT_PROVIDED) is NOT_PROVIDED


class _Save:
    """A save of a user as pre_save sees it: the values it writes, the ones
    loaded, and the stored row, read at most once for all the detectors."""

    def __init__(self, sender: Any, instance: Any, update_fields: Any, using: Any) -> None:
        self.sender = sender
        self.instance = instance
        self.values = instance.__dict__
        self.update_fields = update_fields
        self.using = using
        # An unsaved instance with an explicit primary key loaded nothing.
        self.loaded = {} if instance._state.adding else self.values.get(_LOADED, {})
        self._row: Any = _UNREAD

    def writes(self, field: Any) -> bool:
        return _writes(self.update_fields, field)

    def field(self, name: str) -> Any:
        """The concrete field ``name`` if this save writes it, else None."""
        field = _concrete_field(self.sender, name)
        return field if field is not None and self.writes(field) else None

    def as_loaded(self, field: Any) -> bool:
        """Whether the value about to be written is the one loaded (a hint)."""
        attname = field.attname
        return attname in self.loaded and self.loaded[attname] == self.values.get(attname)

    def stored(self, field: Any) -> Any:
        """The value ``field`` has in the database now, or ``_NO_ROW``."""
        if self._row is _UNREAD:
            names = ("password", "is_active", jwt_revoke_settings.USER_ID_FIELD)
            fields = (_concrete_field(self.sender, name) for name in names)
            columns = dict.fromkeys(f.attname for f in fields if f is not None)
            manager = self.sender._base_manager.db_manager(self.using)
            self._row = manager.filter(pk=self.instance.pk).values(*columns).first()
        return _NO_ROW if self._row is None else self._row[field.attname]

    @property
    def found_no_row(self) -> bool:
        """The stored row was read and is not there: the save inserts one after all."""
        return self._row is None


def _password_set(instance: Any) -> bool:
    """set_password() was called and no save has written the password since.

    set_password() keeps the new raw password in ``_password`` until the next
    save(), which clears it even when that save does not write the password
    (update_fields): ``_keep_password_set`` remembers it until one does. A
    hash upgrade on login clears ``_password`` before saving: not a change.
    """
    return getattr(instance, "_password", None) is not None or instance.__dict__.get(
        _PASSWORD_SET, False
    )


def _keep_password_set(save: _Save) -> None:
    """A set_password() this save does not write waits for the save that does."""
    password = _concrete_field(save.sender, "password")
    if password is not None and not save.writes(password) and _password_set(save.instance):
        save.values[_PASSWORD_SET] = True


def _password_changed(save: _Save) -> bool:
    """README: set_password() + save() or save(update_fields=["password"]),
    and so the admin's password page, changepassword, PasswordChangeForm and
    SetPasswordForm, which call set_password(); set_unusable_password() +
    save(), confirmed against the stored hash (no query when the value is
    the one loaded)."""
    password = save.field("password")
    if password is None or not jwt_revoke_settings.REVOKE_ON_PASSWORD_CHANGE:
        return False
    if _password_set(save.instance):
        return True
    new = save.values.get(password.attname)
    if not _unusable(new) or save.as_loaded(password):
        return False
    old = save.stored(password)
    return old is not _NO_ROW and old != new


def _deactivated(save: _Save) -> bool:
    """README: is_active True → False through save(). Every save writing
    is_active=False asks the stored row whether it was True until now."""
    active = save.field("is_active")
    if active is None or not jwt_revoke_settings.REVOKE_ON_DEACTIVATION:
        return False
    return save.values.get(active.attname, True) is False and save.stored(active) is True


def _id_value_change(save: _Save) -> Any:
    """README: the value of USER_ID_FIELD changes through save(), only possible
    when it is not the primary key (a save with another primary key writes
    another row). Returns a copy of the user as its tokens knew it, or None."""
    id_field = _id_field(save.sender)
    if id_field is None or id_field.attname not in save.values or not save.writes(id_field):
        return None
    if save.as_loaded(id_field):
        return None
    old, new = save.stored(id_field), save.values[id_field.attname]
    if old is None or old is _NO_ROW or _same_value(id_field, old, new):
        return None
    # Tokens name the user by the old value: revoke that key, with a copy of
    # the user as those tokens knew it (a later account may take the value
    # and must not inherit them).
    before = copy.copy(save.instance)
    before.__dict__[id_field.attname] = old
    return before


def _revocations(save: _Save) -> list[tuple[Any, str]]:
    """What this save calls for: the old id value's tokens, then one
    revocation for a password change or, failing that, a deactivation."""
    _keep_password_set(save)
    renamed = _id_value_change(save)
    password_changed = _password_changed(save)
    deactivated = _deactivated(save)
    if save.found_no_row:  # a new row after all
        return []
    found: list[tuple[Any, str]] = []
    if renamed is not None:
        found.append((renamed, Reason.USER_ID_CHANGED))
    if password_changed:
        found.append((save.instance, Reason.PASSWORD_CHANGE))
    elif deactivated:
        found.append((save.instance, Reason.DEACTIVATED))
    return found


def remember_revoking_change(
    sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    """Note, before the row is written, which revocations this save calls for."""
    pending: list[tuple[Any, str]] = []
    instance.__dict__[_PENDING] = pending
    if raw or not _may_exist(sender, instance):
        return
    using = kwargs.get("using") or instance._state.db
    pending += _revocations(_Save(sender, instance, update_fields, using))
    if pending and _commits_before_post_save(using):
        # The row is about to commit in a transaction of its own, and post_save
        # comes after that commit: a process that died in between would keep
        # the new password and every old token. Revoke now as well (quietly);
        # the revocation after the save still kills a login that read the
        # generations in between.
        from .revocation import _revoke_user

        for user, reason in pending:
            _revoke_user(user, reason, signal=False)


def _commits_before_post_save(using: str | None) -> bool:
    """Whether the save about to run commits before post_save (autocommit, or
    revocation rows in another database), rather than with what post_save writes."""
    from django.db import connections

    alias = using or "default"
    return alias != jwt_revoke_settings.database_alias() or not connections[alias].in_atomic_block


def revoke_after_save(
    sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    pending = instance.__dict__.pop(_PENDING, None)
    _remember_written_values(sender, instance, update_fields)
    if pending:
        from .revocation import revoke_user_tokens

        for user, reason in pending:
            revoke_user_tokens(user, reason=reason)


def load_deleted_key(sender: Any, instance: Any, **kwargs: Any) -> None:
    # Read while the row exists: a deferred id field can still be loaded.
    getattr(instance, jwt_revoke_settings.USER_ID_FIELD)


def revoke_after_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A deleted user's tokens stay dead, and an account that later takes its
    id value does not inherit them (the generation outlives the user)."""
    from .revocation import revoke_user_tokens

    revoke_user_tokens(instance, reason=Reason.DELETED)


def user_models() -> list[Any]:
    """The user model and its proxies: every sender a user's save may come from."""
    user_model = get_user_model()
    concrete = user_model._meta.concrete_model
    return [m for m in apps.get_models() if m._meta.concrete_model is concrete]


def connect() -> None:
    handlers = (
        (post_init, remember_loaded_values),
        (pre_save, remember_revoking_change),
        (post_save, revoke_after_save),
        (pre_delete, load_deleted_key),
        (post_delete, revoke_after_delete),
    )
    for model in user_models():
        for signal, handler in handlers:
            uid = f"django_jwt_revoke.{handler.__name__}.{model._meta.label_lower}"
            signal.connect(handler, sender=model, dispatch_uid=uid)


# Imported from AppConfig.ready(), when every model is loaded.
connect()
