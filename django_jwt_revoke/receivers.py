"""Signals we handle: a user's tokens die with a password change, a
deactivation or a deletion.

Only saves through the model see these. ``QuerySet.update()``,
``bulk_update()`` and raw SQL do not send signals: call
``revocation.revoke_user_tokens(user, reason=...)`` after them (deactivation
through ``update()`` is still refused at authentication, which reads
``is_active`` on every request).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from .conf import jwt_revoke_settings
from .models import Reason

_PENDING = "_jwt_revoke_pending_reason"


def _is_user_model(sender: Any) -> bool:
    return sender._meta.label == settings.AUTH_USER_MODEL or (
        sender._meta.concrete_model._meta.label == settings.AUTH_USER_MODEL
    )


@receiver(pre_save, dispatch_uid="django_jwt_revoke.user_pre_save")
def remember_revoking_change(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """Note, before the row is written, whether this save must revoke tokens."""
    if raw or instance._state.adding or instance.pk is None or not _is_user_model(sender):
        return
    update_fields = kwargs.get("update_fields")
    s = jwt_revoke_settings
    reason = None
    # set_password() keeps the new raw password in ``_password`` until save().
    if s.REVOKE_ON_PASSWORD_CHANGE and getattr(instance, "_password", None) is not None:
        if update_fields is None or "password" in update_fields:
            reason = Reason.PASSWORD_CHANGE
    if (
        reason is None
        and s.REVOKE_ON_DEACTIVATION
        and getattr(instance, "is_active", True) is False
        and (update_fields is None or "is_active" in update_fields)
    ):
        # Only saves of an inactive user pay this query: was it active until now?
        manager = sender._base_manager.using(kwargs.get("using") or instance._state.db)
        if manager.filter(pk=instance.pk, is_active=True).exists():
            reason = Reason.DEACTIVATED
    setattr(instance, _PENDING, reason)


@receiver(post_save, dispatch_uid="django_jwt_revoke.user_post_save")
def revoke_after_save(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    reason = instance.__dict__.pop(_PENDING, None)
    if reason is not None:
        from .revocation import revoke_user_tokens

        revoke_user_tokens(instance, reason=reason)


@receiver(post_delete, dispatch_uid="django_jwt_revoke.user_post_delete")
def revoke_after_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A deleted user's tokens stay dead, and an account that later takes its
    id value does not inherit them (the generation outlives the user)."""
    if _is_user_model(sender):
        from .revocation import revoke_user_tokens

        revoke_user_tokens(instance, reason=Reason.DELETED)
