"""The admin: read-only views of what is stored, and revocation actions.

Nothing here writes revocation state itself: the actions call
``revocation.revoke_session`` and ``revocation.revoke_user_tokens``. No raw
token is shown (none is stored).

The user admin registered when this module is imported (Django's own
``UserAdmin`` or the project's class, on every admin site that exists then)
gains a "Revoke all tokens of selected users" action. A user admin registered
later (an app listed after ``django_jwt_revoke``, or a site built in
``urls.py``) gets it from ``RevokeUserTokensAdminMixin``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.sites import all_sites
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Replace
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .conf import jwt_revoke_settings
from .models import (
    BlacklistedToken,
    GlobalRevocation,
    OutstandingToken,
    Reason,
    UserRevocation,
    purge_cutoff,
)
from .revocation import revoke_session, revoke_user_tokens

ACTIVE, REVOKED, EXPIRED = "active", "revoked", "expired"
STATE_LABELS = {ACTIVE: _("active"), REVOKED: _("revoked"), EXPIRED: _("expired")}


def _username_lookup(prefix: str) -> str:
    return f"{prefix}__{get_user_model().USERNAME_FIELD}"


def user_revocations(user_path: str) -> QuerySet:
    """The ``UserRevocation`` row of the user at ``user_path`` of the outer query.

    Rows are keyed by the user id claim as text; the outer value is cast to
    text the same way. A UUID is compared without hyphens, since databases
    without a uuid type store it as 32 hex digits.
    """
    field = get_user_model()._meta.get_field(jwt_revoke_settings.USER_ID_FIELD)
    assert isinstance(field, models.Field)  # a concrete column (checked by E010)
    ref = OuterRef(f"{user_path}_id" if field.primary_key else f"{user_path}__{field.attname}")
    key = Cast(ref, output_field=models.CharField())
    if field.get_internal_type() == "UUIDField":
        return UserRevocation.objects.annotate(
            _jwtr_key=Replace("user_key", Value("-"), Value(""))
        ).filter(_jwtr_key=Replace(key, Value("-"), Value("")))
    return UserRevocation.objects.filter(user_key=key)


# -- outstanding (refresh) tokens -------------------------------------------------


def _revoked_q() -> Q:
    return (
        Q(_jwtr_jti_reason__isnull=False)
        | Q(session__revoked_at__isnull=False)
        | Q(session__generation__lt=F("_jwtr_user_generation"))
        | Q(session__epoch__lt=F("_jwtr_epoch"))
    )


def _live_q() -> Q:
    return Q(expires_at__gte=purge_cutoff()) & ~_revoked_q()


class OutstandingStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return list(STATE_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        cutoff = purge_cutoff()
        if self.value() == EXPIRED:
            return queryset.filter(expires_at__lt=cutoff)
        if self.value() == REVOKED:
            return queryset.filter(Q(expires_at__gte=cutoff) & _revoked_q())
        if self.value() == ACTIVE:
            return queryset.filter(_live_q())
        return None


class OutstandingReasonFilter(admin.SimpleListFilter):
    """Why the token is revoked: its own jti, its session, or its user."""

    title = _("reason")
    parameter_name = "reason"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return Reason.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        reason = self.value()
        if not reason:
            return None
        return queryset.filter(
            Q(_jwtr_jti_reason=reason)
            | Q(session__revoked_at__isnull=False, session__revoke_reason=reason)
            | Q(_jwtr_user_reason=reason, session__generation__lt=F("_jwtr_user_generation"))
            | Q(_jwtr_epoch_reason=reason, session__epoch__lt=F("_jwtr_epoch"))
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Data to look at: revocation goes through the actions, never a form."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        """Revoking is allowed to those with the model's change permission."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


@admin.register(OutstandingToken)
class OutstandingTokenAdmin(ReadOnlyAdmin):
    list_display = (
        "jti",
        "user",
        "session_id_display",
        "state",
        "reason",
        "created_at",
        "expires_at",
        "ip",
        "user_agent",
    )
    list_filter = (OutstandingStateFilter, OutstandingReasonFilter, "created_at")
    list_select_related = ("user", "session")
    actions = ("revoke_selected_tokens",)
    fields = (
        "jti",
        "user",
        "session_id_display",
        "created_at",
        "expires_at",
        "rotated_at",
        "ip",
        "user_agent",
    )
    readonly_fields = fields

    def get_search_fields(self, request: HttpRequest) -> Any:
        return ("=jti", _username_lookup("user"), "=session__sid")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        revocations = user_revocations("user")
        everyone = GlobalRevocation.objects.filter(pk=GlobalRevocation.SINGLETON_PK)
        return (
            super()
            .get_queryset(request)
            .annotate(
                _jwtr_jti_reason=Subquery(
                    BlacklistedToken.objects.filter(jti=OuterRef("jti")).values("reason")[:1]
                ),
                _jwtr_user_generation=Coalesce(
                    Subquery(revocations.values("generation")[:1]),
                    Value(0),
                    output_field=models.BigIntegerField(),
                ),
                _jwtr_user_reason=Subquery(revocations.values("reason")[:1]),
                _jwtr_epoch=Coalesce(
                    Subquery(everyone.values("generation")[:1]),
                    Value(0),
                    output_field=models.BigIntegerField(),
                ),
                _jwtr_epoch_reason=Subquery(everyone.values("reason")[:1]),
            )
        )

    @admin.display(description=_("session"), ordering="session__sid")
    def session_id_display(self, obj: OutstandingToken) -> str:
        return obj.session.sid

    def _state(self, obj: Any) -> tuple[str, str]:
        if obj._jwtr_jti_reason:
            reason = obj._jwtr_jti_reason
        elif obj.session.revoked_at is not None:
            reason = obj.session.revoke_reason
        elif obj.session.generation < obj._jwtr_user_generation:
            reason = obj._jwtr_user_reason or ""
        elif obj.session.epoch < obj._jwtr_epoch:
            reason = obj._jwtr_epoch_reason or ""
        else:
            reason = None
        if obj.expires_at < purge_cutoff():
            return EXPIRED, reason or ""
        return (ACTIVE, "") if reason is None else (REVOKED, reason)

    @admin.display(description=_("state"))
    def state(self, obj: OutstandingToken) -> str:
        return str(STATE_LABELS[self._state(obj)[0]])

    @admin.display(description=_("reason"))
    def reason(self, obj: OutstandingToken) -> str:
        reason = self._state(obj)[1]
        return str(Reason(reason).label) if reason in Reason.values else reason

    @admin.action(description=_("Revoke selected tokens"), permissions=["revoke"])
    def revoke_selected_tokens(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Revoke each live selected refresh token with its session (RFC 7009 §2.1)."""
        selected = queryset.count()
        live = list(queryset.filter(_live_q()).values_list("session__sid", flat=True))
        with transaction.atomic(using=jwt_revoke_settings.database_alias(OutstandingToken)):
            for sid in set(live):
                revoke_session(sid, reason=Reason.ADMIN)
        if live:
            self.message_user(
                request,
                ngettext(
                    "%(count)d token revoked, with its session.",
                    "%(count)d tokens revoked, with their sessions.",
                    len(live),
                )
                % {"count": len(live)},
                messages.SUCCESS,
            )
        skipped = selected - len(live)
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d token was already revoked or expired.",
                    "%(count)d tokens were already revoked or expired.",
                    skipped,
                )
                % {"count": skipped},
                messages.INFO,
            )


# -- blacklisted tokens ------------------------------------------------------------


class BlacklistedStateFilter(admin.SimpleListFilter):
    """A blacklisted token is revoked until it expires; then only the purge wants it."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return [(REVOKED, STATE_LABELS[REVOKED]), (EXPIRED, STATE_LABELS[EXPIRED])]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        if self.value() == EXPIRED:
            return queryset.filter(expires_at__lt=purge_cutoff())
        if self.value() == REVOKED:
            return queryset.filter(expires_at__gte=purge_cutoff())
        return None


@admin.register(BlacklistedToken)
class BlacklistedTokenAdmin(ReadOnlyAdmin):
    list_display = (
        "jti",
        "token_type",
        "user",
        "sid",
        "state",
        "reason",
        "blacklisted_at",
        "expires_at",
    )
    list_filter = (BlacklistedStateFilter, "reason", "token_type", "blacklisted_at")
    list_select_related = ("user",)
    fields = ("jti", "token_type", "user", "sid", "reason", "blacklisted_at", "expires_at")
    readonly_fields = fields

    def get_search_fields(self, request: HttpRequest) -> Any:
        return ("=jti", _username_lookup("user"), "=sid")

    @admin.display(description=_("state"))
    def state(self, obj: BlacklistedToken) -> str:
        return str(STATE_LABELS[EXPIRED if obj.expires_at < purge_cutoff() else REVOKED])


# -- the project's user admin -------------------------------------------------------


@admin.action(description=_("Revoke all tokens of selected users"), permissions=["change"])
def revoke_all_user_tokens(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    users = list(queryset)
    with transaction.atomic(using=jwt_revoke_settings.database_alias()):
        for user in users:
            revoke_user_tokens(user, reason=Reason.ADMIN)
    modeladmin.message_user(
        request,
        ngettext(
            "Revoked every token of %(count)d user.",
            "Revoked every token of %(count)d users.",
            len(users),
        )
        % {"count": len(users)},
        messages.SUCCESS,
    )


def add_user_tokens_action(model_admin: admin.ModelAdmin) -> None:
    """Give one user ``ModelAdmin`` instance the revoke action (its class is untouched)."""
    actions = model_admin.actions
    if actions is None:  # the project turned actions off for this admin
        return
    names = {getattr(a, "__name__", a) for a in actions}
    if revoke_all_user_tokens.__name__ not in names:
        model_admin.actions = [*actions, revoke_all_user_tokens]


class RevokeUserTokensAdminMixin:
    """For a user admin registered after this app's admin module was imported::

        @admin.register(User)
        class UserAdmin(RevokeUserTokensAdminMixin, auth_admin.UserAdmin):
            ...
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        add_user_tokens_action(self)  # type: ignore[arg-type]


def _patch_registered_user_admins() -> None:
    User = get_user_model()
    for site in all_sites:
        model_admin = site._registry.get(User)
        if model_admin is not None:
            add_user_tokens_action(model_admin)


_patch_registered_user_admins()
