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
"""

from __future__ import annotations

import copy
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


def remember_loaded_values(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Keep the password hash and the id value as loaded (deferred fields are skipped)."""
    values = instance.__dict__
    fields = _watched(sender)
    values[_LOADED] = {f.attname: values[f.attname] for f in fields if f.attname in values}


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


def remember_revoking_change(
    sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    """Note, before the row is written, which revocations this save calls for."""
    pending: list[tuple[Any, str]] = []
    instance.__dict__[_PENDING] = pending
    if raw or not _may_exist(sender, instance):
        return
    s = jwt_revoke_settings
    values = instance.__dict__
    loaded = values.get(_LOADED, {}) if not instance._state.adding else {}
    password_changed = False
    to_read: list[Any] = []  # stored values needed to decide

    password = _concrete_field(sender, "password")
    # set_password() keeps the new raw password in ``_password`` until the
    # next save(), which clears it even when that save does not write the
    # password (update_fields): remember it ourselves until one does. A hash
    # upgrade on login clears ``_password`` before saving: no revocation.
    set_but_unsaved = getattr(instance, "_password", None) is not None or values.get(
        _PASSWORD_SET, False
    )
    if password is not None and not _writes(update_fields, password) and set_but_unsaved:
        values[_PASSWORD_SET] = True
    if s.REVOKE_ON_PASSWORD_CHANGE and password is not None and _writes(update_fields, password):
        if set_but_unsaved:
            password_changed = True
        elif _unusable(values.get(password.attname)) and (
            loaded.get(password.attname) != values.get(password.attname)
        ):
            to_read.append(password)  # set_unusable_password(), or so it seems

    active = _concrete_field(sender, "is_active")
    check_active = (
        s.REVOKE_ON_DEACTIVATION
        and active is not None
        and values.get(active.attname, True) is False
        and _writes(update_fields, active)
    )
    if check_active:
        to_read.append(active)

    id_field = _id_field(sender)
    if (
        id_field is not None
        and id_field.attname in values
        and _writes(update_fields, id_field)
        and (id_field.attname not in loaded or loaded[id_field.attname] != values[id_field.attname])
    ):
        to_read.append(id_field)

    stored: dict[str, Any] = {}
    if to_read:
        manager = sender._base_manager.db_manager(kwargs.get("using") or instance._state.db)
        row = manager.filter(pk=instance.pk).values(*(f.attname for f in to_read)).first()
        if row is None:  # a new row after all
            return
        stored = row

    if password is not None and password in to_read:
        password_changed = stored[password.attname] != values.get(password.attname)
    if id_field is not None and id_field in to_read:
        old = stored[id_field.attname]
        if old is not None and not _same_value(id_field, old, values[id_field.attname]):
            # Tokens name the user by the old value: revoke that key, with a
            # copy of the user as those tokens knew it (a later account may
            # take the value and must not inherit them).
            before = copy.copy(instance)
            before.__dict__[id_field.attname] = old
            pending.append((before, Reason.USER_ID_CHANGED))
    if password_changed:
        pending.append((instance, Reason.PASSWORD_CHANGE))
    elif check_active and stored.get(active.attname) is True:
        pending.append((instance, Reason.DEACTIVATED))
    if pending and _commits_before_post_save(kwargs.get("using") or instance._state.db):
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
