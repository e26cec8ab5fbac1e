"""The admin: read-only views of what is stored, and revocation actions.

Nothing here writes revocation state itself: the actions call
``revocation.revoke_session`` and ``revocation.revoke_user_tokens``. No raw
token is shown (none is stored).

The revocation state of a refresh token or a session (its state and reason
columns and filters, and which of the selected rows an action revokes) is
read through ``OutstandingToken.objects.with_state()`` /
``TokenSession.objects.with_state()`` and the queryset methods beside them,
in ``models.py``: no query here knows the revocation levels.

Every revoke action goes the way "delete selected" does (``RevokeAction``):
a confirmation page listing what it will revoke and what it leaves alone,
then, once confirmed, the revocations, a ``LogEntry`` for each (the admin's
history and "Recent actions") and a message linking to where they are shown.
docs/admin.md says which page shows which kind of revocation.

The project's user admin (Django's own ``UserAdmin`` or the project's class,
on every admin site) gains a "Revoke all tokens of selected users" action:
``give_user_admins_the_action()``, called by the app's ``ready()`` once
every app's admin module has been imported, whatever the order of
``INSTALLED_APPS``. A user admin registered after that (a site built in
``urls.py``, or one registered in another app's ``ready()``) gets it from
``RevokeUserTokensAdminMixin``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.sites import all_sites
from django.contrib.admin.utils import display_for_value, flatten_fieldsets
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from .claims import user_id_field
from .conf import jwt_revoke_settings
from .models import (
    BlacklistedToken,
    GlobalRevocation,
    OutstandingToken,
    OutstandingTokenQuerySet,
    Reason,
    TokenSession,
    TokenSessionQuerySet,
    UserRevocation,
    UserRevocationQuerySet,
    purge_cutoff,
)
from .revocation import revoke_session, revoke_user_tokens
from .tokens import user_key

ACTIVE, REVOKED, EXPIRED = "active", "revoked", "expired"
STATE_LABELS = {ACTIVE: _("active"), REVOKED: _("revoked"), EXPIRED: _("expired")}
# A list column shows this many characters of a user agent, and of a jti or
# a session id, ellipsis included (the whole text is in the cell's title,
# and on the detail page): the lists fit 1280 pixels (docs/admin.md).
USER_AGENT_CHARS = 40
ID_CHARS = 9
# A success message links to the rows it revoked by naming them, up to this
# many; beyond, to every row revoked by an administrator.
LINKED_ROWS = 50
CONFIRMATION_TEMPLATE = "admin/django_jwt_revoke/revoke_confirmation.html"

StatefulQuerySet = OutstandingTokenQuerySet | TokenSessionQuerySet


def _username_lookup(prefix: str) -> str:
    return f"{prefix}__{get_user_model().USERNAME_FIELD}"


def reason_label(reason: str | None) -> str:
    """A reason as the admin shows it: its label, or the stored text if unknown."""
    return str(Reason(reason).label) if reason in Reason.values else reason or ""


def shortened(text: str, chars: int = USER_AGENT_CHARS) -> str:
    """``text`` cut to ``chars`` with an ellipsis, the whole of it in a tooltip (escaped)."""
    if len(text) <= chars:
        return text
    return format_html('<span title="{}">{}</span>', text, Truncator(text).chars(chars))


def with_detail(value: Any, detail: Any) -> str:
    """A list cell: ``value``, and ``detail`` under it in the quiet style (both escaped)."""
    if not detail:
        return format_html("{}", value)
    return format_html('{}<br><span class="quiet">{}</span>', value, detail)


@admin.display(description=_("JWT id"), ordering="jti")
def jti_short(obj: Any) -> str:
    return shortened(obj.jti, ID_CHARS)


@admin.display(description=_("session"), ordering="sid")
def sid_short(obj: Any) -> str:
    return shortened(obj.sid, ID_CHARS)


def users_by_key(keys: Iterable[str]) -> dict[str, Any]:
    """The users whose revocation key (``tokens.user_key``) is one of ``keys``, by key.

    One query. A key that no longer names a value of the user id field (the
    user was deleted, the field changed type) names no one.
    """
    field = user_id_field()
    values = set()
    for key in set(keys):
        try:
            values.add(field.to_python(key))
        except (ValidationError, ValueError, TypeError):
            continue
    users = get_user_model()._default_manager.filter(**{f"{field.name}__in": values})
    return {user_key(user): user for user in users}


# -- shared by the pages -------------------------------------------------------------------


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


class StateFilter(admin.SimpleListFilter):
    """Active, revoked (at any level) or expired, as the model's queryset says."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return list(STATE_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        rows = cast(StatefulQuerySet, queryset)  # from a StatefulAdmin: with_state()
        choices = {EXPIRED: rows.expired, REVOKED: rows.revoked, ACTIVE: rows.live}
        chosen = choices.get(self.value() or "")
        return None if chosen is None else chosen()


class ReasonFilter(admin.SimpleListFilter):
    """Why the row is revoked: itself, its session, its user or everyone."""

    title = _("reason")
    parameter_name = "reason"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return Reason.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        reason = self.value()
        if not reason:
            return None
        return cast(StatefulQuerySet, queryset).revoked_for(reason)


class StatefulAdmin(ReadOnlyAdmin):
    """Refresh tokens and sessions: rows annotated with their revocation state."""

    list_filter = (StateFilter, ReasonFilter, "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Each row annotated with its revocation state (``with_state()``)."""
        return cast(StatefulQuerySet, super().get_queryset(request)).with_state()

    def revocation_reason(self, obj: Any) -> str | None:
        """Why ``obj`` (a ``with_state()`` row) is revoked, or None if it is not."""
        raise NotImplementedError

    def _state(self, obj: Any) -> tuple[str, str]:
        reason = self.revocation_reason(obj)
        if obj.expires_at < purge_cutoff():
            return EXPIRED, reason or ""
        return (ACTIVE, "") if reason is None else (REVOKED, reason)

    @admin.display(description=_("state"))
    def state(self, obj: Any) -> str:
        return str(STATE_LABELS[self._state(obj)[0]])

    @admin.display(description=_("reason"))
    def reason(self, obj: Any) -> str:
        return reason_label(self._state(obj)[1])

    @admin.display(description=_("state"))
    def state_and_reason(self, obj: Any) -> str:
        """The list column: the state, and under it the reason (one column less)."""
        return with_detail(self.state(obj), self.reason(obj))


# -- the revoke actions: confirmation, revocation, history, message -------------------------


class RevokeAction:
    """One revoke action, in two steps as "delete selected" is.

    The first POST renders a confirmation page listing what will be revoked
    and what is left alone (already revoked or expired), which posts the
    selected rows back with ``post=yes``; then each is revoked through
    ``revocation.py`` in one transaction, recorded as a ``LogEntry`` (CHANGE,
    on its model's content type) and counted in a message that links to
    the page showing the revocations.
    """

    name = ""  # the action's name: the confirmation page posts it back
    title: Any = ""
    question: Any = ""
    done: Any = ""  # ngettext_lazy(..., "count")
    left_alone: Any = None  # ngettext_lazy(..., "count"), or None: every row is revoked

    def __init__(self, model_admin: admin.ModelAdmin, request: HttpRequest) -> None:
        self.model_admin = model_admin
        self.request = request

    # What differs between the actions.

    def revocable(self, queryset: QuerySet) -> QuerySet:
        """Those of the selected rows that will be revoked."""
        return queryset

    def describe(self, obj: Any) -> str:
        """What the confirmation page and the history call ``obj`` (never a token)."""
        return str(obj)

    def describe_left_alone(self, obj: Any) -> str:
        return self.describe(obj)

    def revoke(self, obj: Any) -> None:
        raise NotImplementedError

    def where(self, revoked: list[Any]) -> list[tuple[type, Any, dict[str, str]]]:
        """The pages that show ``revoked``: (model, link text, changelist query)."""
        return []

    # The flow.

    def __call__(self, queryset: QuerySet) -> TemplateResponse | None:
        rows = list(queryset)
        revocable = set(self.revocable(queryset).values_list("pk", flat=True))
        chosen = [obj for obj in rows if obj.pk in revocable]
        left_alone = [obj for obj in rows if obj.pk not in revocable]
        if self.request.POST.get("post") != "yes":
            return self.confirmation(chosen, left_alone)
        with transaction.atomic(using=jwt_revoke_settings.database_alias(TokenSession)):
            for obj in chosen:
                self.revoke(obj)
        message = gettext("Revoked (%(reason)s): %(what)s")
        for obj in chosen:
            what = {"reason": Reason.ADMIN.value, "what": self.describe(obj)}
            self.model_admin.log_change(self.request, obj, message % what)
        self.report(chosen, left_alone)
        return None

    def confirmation(self, chosen: list[Any], left_alone: list[Any]) -> TemplateResponse:
        site, opts = self.model_admin.admin_site, self.model_admin.opts
        self.request.current_app = site.name
        back = reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_changelist")
        if self.request.GET:
            back = f"{back}?{self.request.GET.urlencode()}"
        context = {
            **site.each_context(self.request),
            "title": self.title,
            "question": self.question,
            "opts": opts,
            "chosen": [self.describe(obj) for obj in chosen],
            "left_alone": [self.describe_left_alone(obj) for obj in left_alone],
            "selected": [obj.pk for obj in chosen + left_alone],
            "action": self.name,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "changelist_url": back,
            "media": self.model_admin.media,
        }
        return TemplateResponse(self.request, CONFIRMATION_TEMPLATE, context)

    def report(self, chosen: list[Any], left_alone: list[Any]) -> None:
        if chosen:
            done = self.done % {"count": len(chosen)}
            links = [self.link(*where) for where in self.where(chosen)]
            shown = format_html_join(" ", "{}", ((link,) for link in links if link))
            message = format_html("{} {}", done, shown) if shown else done
            self.model_admin.message_user(self.request, message, messages.SUCCESS)
        if left_alone and self.left_alone is not None:
            count = {"count": len(left_alone)}
            self.model_admin.message_user(self.request, self.left_alone % count, messages.INFO)

    def link(self, model: type, text: Any, query: dict[str, str]) -> str | None:
        return changelist_link(self.model_admin.admin_site, self.request, model, text, query)


def changelist_link(
    site: admin.AdminSite, request: HttpRequest, model: type, text: Any, query: dict[str, str]
) -> str | None:
    """A link to ``model``'s changelist on ``site``, if it is there and the user may see it."""
    model_admin = site._registry.get(cast(Any, model))
    if model_admin is None or not model_admin.has_view_or_change_permission(request):
        return None
    opts = cast(Any, model)._meta
    url = reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_changelist")
    return format_html('<a href="{}{}">{}</a>.', url, f"?{urlencode(query)}" if query else "", text)


def named(lookup: str, values: Iterable[str]) -> dict[str, str]:
    """A changelist query for the rows with these values, or, when they are too
    many for a link, for every row revoked by an administrator."""
    unique = sorted(set(values))
    if len(unique) > LINKED_ROWS or any("," in value for value in unique):
        return {"reason": Reason.ADMIN.value}
    return {lookup: ",".join(unique)}


class RevokeLive(RevokeAction):
    """Tokens and sessions: the live ones among the selected rows are revoked."""

    model_admin: StatefulAdmin

    def revocable(self, queryset: QuerySet) -> QuerySet:
        return cast(StatefulQuerySet, queryset).live()

    def describe_left_alone(self, obj: Any) -> str:
        state, reason = self.model_admin.state(obj), self.model_admin.reason(obj)
        return f"{self.describe(obj)}: {state}" + (f" ({reason})" if reason else "")

    def revoke(self, obj: Any) -> None:
        revoke_session(obj.sid, reason=Reason.ADMIN)

    def where(self, revoked: list[Any]) -> list[tuple[type, Any, dict[str, str]]]:
        sids = named("sid__in", (obj.sid for obj in revoked))
        return [(TokenSession, _("See the revoked sessions"), sids)]


class RevokeTokens(RevokeLive):
    name = "revoke_selected_tokens"
    title = _("Revoke refresh tokens")
    question = _(
        "Each of these refresh tokens will be revoked with its session: "
        "the device signed in with it is signed out."
    )
    done = ngettext_lazy(
        "%(count)d token revoked, with its session.",
        "%(count)d tokens revoked, with their sessions.",
        "count",
    )
    left_alone = ngettext_lazy(
        "%(count)d token was already revoked or expired.",
        "%(count)d tokens were already revoked or expired.",
        "count",
    )

    def describe(self, obj: OutstandingToken) -> str:
        return gettext("refresh token %(jti)s of %(user)s, session %(sid)s") % {
            "jti": obj.jti,
            "user": obj.user.get_username(),
            "sid": obj.sid,
        }


class RevokeSessions(RevokeLive):
    name = "revoke_selected_sessions"
    title = _("Revoke sessions")
    question = _("These sessions will be revoked: the devices signed in with them are signed out.")
    done = ngettext_lazy("%(count)d session revoked.", "%(count)d sessions revoked.", "count")
    left_alone = ngettext_lazy(
        "%(count)d session was already revoked or expired.",
        "%(count)d sessions were already revoked or expired.",
        "count",
    )

    def describe(self, obj: TokenSession) -> str:
        agent = Truncator(obj.user_agent).chars(USER_AGENT_CHARS)
        device = ", ".join(filter(None, [agent, obj.ip]))
        what = gettext("session %(sid)s of %(user)s") % {
            "sid": obj.sid,
            "user": obj.user.get_username(),
        }
        return f"{what} ({device})" if device else what


class RevokeUsers(RevokeAction):
    name = "revoke_all_user_tokens"
    title = _("Revoke all tokens of users")
    question = _(
        "Every token of these users will be revoked: they are signed out "
        "everywhere, and can sign in again."
    )
    done = ngettext_lazy(
        "Revoked every token of %(count)d user.", "Revoked every token of %(count)d users.", "count"
    )

    def describe(self, obj: Any) -> str:
        return gettext("every token of user %(user)s") % {"user": obj.get_username()}

    def revoke(self, obj: Any) -> None:
        revoke_user_tokens(obj, reason=Reason.ADMIN)

    def where(self, revoked: list[Any]) -> list[tuple[type, Any, dict[str, str]]]:
        sessions = named("user__in", (str(user.pk) for user in revoked))
        keys = named("user_key__in", (user_key(user) for user in revoked))
        return [
            (TokenSession, _("See their sessions"), sessions),
            (UserRevocation, _("See the user revocations"), keys),
        ]


# -- outstanding (refresh) tokens -------------------------------------------------


@admin.register(OutstandingToken)
class OutstandingTokenAdmin(StatefulAdmin):
    # The device (user agent, IP address) is the session's: on its page and
    # on this token's detail page.
    list_display = (jti_short, "user", "session_short", "created_at", "state_and_reason")
    list_select_related = ("user", "session")
    actions = ("revoke_selected_tokens",)
    fields = (
        "jti",
        "user",
        "session_id_display",
        "state",
        "reason",
        "created_at",
        "expires_at",
        "rotated_at",
        "ip",
        "user_agent",
    )
    readonly_fields = fields

    def get_search_fields(self, request: HttpRequest) -> Any:
        return ("=jti", _username_lookup("user"), "=session__sid")

    def revocation_reason(self, obj: OutstandingToken) -> str | None:
        return obj.revocation_reason()

    @admin.display(description=_("session"), ordering="session__sid")
    def session_id_display(self, obj: OutstandingToken) -> str:
        return obj.session.sid

    @admin.display(description=_("session"), ordering="session__sid")
    def session_short(self, obj: OutstandingToken) -> str:
        return shortened(obj.session.sid, ID_CHARS)

    @admin.action(description=_("Revoke selected tokens"), permissions=["revoke"])
    def revoke_selected_tokens(
        self, request: HttpRequest, queryset: OutstandingTokenQuerySet
    ) -> TemplateResponse | None:
        """Revoke each live selected refresh token with its session (RFC 7009 §2.1)."""
        return RevokeTokens(self, request)(queryset.select_related("user", "session"))


# -- sessions ---------------------------------------------------------------------------


@admin.register(TokenSession)
class TokenSessionAdmin(StatefulAdmin):
    """One row per login ("sign out that device"): its state covers every level."""

    # The session id is on the detail page (and searched for): users are
    # told apart by their devices.
    list_display = ("user", "device", "created_at", "last_refreshed", "state_and_reason")
    list_select_related = ("user",)
    actions = ("revoke_selected_sessions",)
    fieldsets = (
        (None, {"fields": ("sid", "user", "created_at", "last_refreshed", "expires_at")}),
        (_("Revocation"), {"fields": ("state", "reason", "revoked_at")}),
        (_("Device"), {"fields": ("user_agent", "ip")}),
    )
    readonly_fields = flatten_fieldsets(fieldsets)

    def get_search_fields(self, request: HttpRequest) -> Any:
        return ("=sid", _username_lookup("user"))

    def revocation_reason(self, obj: TokenSession) -> str | None:
        return obj._jwtr_reason  # type: ignore[attr-defined]

    @admin.display(description=_("user agent, IP address"), ordering="user_agent")
    def device(self, obj: TokenSession) -> str:
        """The user agent (shortened, whole in its tooltip), the IP address under it."""
        return with_detail(shortened(obj.user_agent), obj.ip)

    @admin.display(description=_("last refreshed"), ordering="_jwtr_last_refreshed")
    def last_refreshed(self, obj: TokenSession) -> str:
        """When its newest refresh token was issued (at login, or at the last refresh)."""
        newest = obj._jwtr_last_refreshed  # type: ignore[attr-defined]
        return display_for_value(newest, self.get_empty_value_display())

    @admin.action(description=_("Revoke selected sessions"), permissions=["revoke"])
    def revoke_selected_sessions(
        self, request: HttpRequest, queryset: TokenSessionQuerySet
    ) -> TemplateResponse | None:
        """Revoke each live selected session: its access and refresh tokens."""
        return RevokeSessions(self, request)(queryset.select_related("user"))


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
    """Tokens revoked one by one (by jti); the page says where the others are."""

    # Whether it expired is in the state column; the expiry on the detail page.
    list_display = (
        jti_short,
        "token_type",
        "user",
        sid_short,
        "blacklisted_at",
        "state_and_reason",
    )
    list_filter = (BlacklistedStateFilter, "reason", "token_type", "blacklisted_at")
    list_select_related = ("user",)
    fields = ("jti", "token_type", "user", "sid", "state", "reason", "blacklisted_at", "expires_at")
    readonly_fields = fields

    def get_search_fields(self, request: HttpRequest) -> Any:
        return ("=jti", _username_lookup("user"), "=sid")

    @admin.display(description=_("state"))
    def state(self, obj: BlacklistedToken) -> str:
        return str(STATE_LABELS[EXPIRED if obj.expires_at < purge_cutoff() else REVOKED])

    @admin.display(description=_("state"), ordering="reason")
    def state_and_reason(self, obj: BlacklistedToken) -> str:
        return with_detail(self.state(obj), reason_label(obj.reason))

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        """With links to the pages of the revocations that write no row here."""
        pages = [
            (TokenSession, _("Revoked sessions"), {"state": REVOKED}),
            (UserRevocation, _("User revocations"), {}),
            (GlobalRevocation, _("Global revocations"), {}),
        ]
        links = [changelist_link(self.admin_site, request, *page) for page in pages]
        context = {**(extra_context or {}), "revocation_pages": [link for link in links if link]}
        return super().changelist_view(request, extra_context=context)


# -- user-wide and global revocations ---------------------------------------------------


@admin.register(UserRevocation)
class UserRevocationAdmin(ReadOnlyAdmin):
    """"Every token of user X issued until T revoked, reason R": one row per user."""

    list_display = ("user_display", "user_key", "revoked_at", "reason", "generation")
    list_filter = ("reason", "revoked_at")
    fields = ("user_display", "user_key", "revoked_at", "reason", "generation")
    readonly_fields = fields
    search_fields = ("=user_key",)
    search_help_text = _("A username, or a user id.")

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        """The page's users, found in one query (rows are keyed by value, not by a key)."""
        changelist = super().get_changelist_instance(request)
        users = users_by_key(row.user_key for row in changelist.result_list)
        for row in changelist.result_list:
            row._jwtr_user = users.get(row.user_key)
        return changelist

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        """Rows of the users whose username contains the term, or with that user id."""
        found, duplicates = super().get_search_results(request, queryset, search_term)
        if not search_term:
            return found, duplicates
        users = get_user_model()._default_manager.filter(
            **{f"{get_user_model().USERNAME_FIELD}__icontains": search_term}
        )
        theirs = cast(UserRevocationQuerySet, UserRevocation.objects).of_users(users)
        return queryset.filter(Q(pk__in=found.values("pk")) | Q(pk__in=theirs.values("pk"))), False

    @admin.display(description=_("user"))
    def user_display(self, obj: UserRevocation) -> str:
        if hasattr(obj, "_jwtr_user"):  # a changelist row
            user = obj._jwtr_user
        else:  # the detail page: one row, one query
            user = users_by_key([obj.user_key]).get(obj.user_key)
        return gettext("(no such user)") if user is None else user.get_username()


@admin.register(GlobalRevocation)
class GlobalRevocationAdmin(ReadOnlyAdmin):
    """"Every token of everyone issued until T revoked" (``revoke_all_tokens``)."""

    list_display = ("__str__", "revoked_at", "reason", "generation")
    fields = ("generation", "revoked_at", "reason")
    readonly_fields = fields


# -- the project's user admin -------------------------------------------------------


@admin.action(description=_("Revoke all tokens of selected users"), permissions=["change"])
def revoke_all_user_tokens(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet
) -> TemplateResponse | None:
    return RevokeUsers(modeladmin, request)(queryset)


def add_user_tokens_action(model_admin: admin.ModelAdmin) -> None:
    """Give one user ``ModelAdmin`` instance the revoke action (its class is untouched)."""
    actions = model_admin.actions
    if actions is None:  # the project turned actions off for this admin
        return
    names = {getattr(a, "__name__", a) for a in actions}
    if revoke_all_user_tokens.__name__ not in names:
        model_admin.actions = [*actions, revoke_all_user_tokens]


class RevokeUserTokensAdminMixin:
    """For a user admin registered after the apps are ready, which
    ``give_user_admins_the_action()`` cannot see: on an admin site built in
    ``urls.py``, in another app's ``ready()``, or with ``SimpleAdminConfig``
    (no autodiscovery)::

        @admin.register(User)
        class UserAdmin(RevokeUserTokensAdminMixin, auth_admin.UserAdmin):
            ...
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        add_user_tokens_action(self)  # type: ignore[arg-type]


def give_user_admins_the_action() -> None:
    """Add the action to the user admin registered on each admin site now.

    Called by ``JWTRevokeConfig.ready()`` after admin autodiscovery, so every
    app's admin module has registered its admins whatever the order of
    ``INSTALLED_APPS``. Once per admin instance, however often it is called.
    """
    User = get_user_model()
    for site in all_sites:
        model_admin = site._registry.get(User)
        if model_admin is not None:
            add_user_tokens_action(model_admin)
