"""What is stored: never a raw token, only identifiers and state.

Revocation has four levels, each one write whatever the number of tokens:

* one token: a ``BlacklistedToken`` row for its ``jti``;
* one session (a login and every token rotated from it): ``TokenSession.revoked_at``;
* every token of a user so far: ``UserRevocation.generation`` goes up by one;
  tokens carry the generation current when they were issued (claim ``gen``)
  and a token whose generation is below the current one is revoked;
* every token of everyone so far: ``GlobalRevocation.generation`` (claim ``epoch``).

Each revocation also appends, in its own transaction, one ``RevocationEvent``
per revoked thing to the event feed (``feed.py``) that resource servers
follow: numbered from 1 with no gap, ``EventStream`` holding the last number.

The queries that read these levels live here, on the models' querysets, and
nowhere else: ``revocation_state()`` (a token's jti, user generation and
epoch, as annotations), ``TokenSession.objects.live()`` /
``TokenSession.is_live()`` (whether a session's tokens can still be used),
``OutstandingToken.objects.with_state()`` and ``TokenSession.objects.with_state()``
(the admin's state columns) and
``current_generations()`` (what a new session's tokens carry).

A generation number rather than an "issued before" timestamp: ``iat`` has
whole seconds, so a cutoff would either kill a token issued just after the
revocation or spare one issued just before it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Cast, Coalesce, Replace
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .conf import jwt_revoke_settings, per_settings

# What no text column can hold: NUL (PostgreSQL refuses it in text, a
# DataError) and lone surrogates (not UTF-8: every driver refuses to encode
# them, SQLite's included).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def is_storable(value: str) -> bool:
    """Whether ``value`` can be stored or compared in a text column of any database.

    Client text that fails this never reaches a query: a claim, a session id
    in a path or a username with a NUL names nothing we store.
    """
    if value.isascii():  # every id we issue: the quick answer
        return "\x00" not in value
    return _UNSTORABLE.search(value) is None


def storable(value: str) -> str:
    """``value`` with what no text column can hold replaced by U+FFFD (user agents)."""
    return value if is_storable(value) else _UNSTORABLE.sub("\ufffd", value)


class Reason(models.TextChoices):
    LOGOUT = "logout", _("logout")
    LOGOUT_ALL = "logout_all", _("logout from all sessions")
    PASSWORD_CHANGE = "password_change", _("password change")
    DEACTIVATED = "deactivated", _("user deactivated")
    DELETED = "deleted", _("user deleted")
    ADMIN = "admin", _("revoked by an administrator")
    REUSE_DETECTED = "reuse_detected", _("refresh token reuse detected")
    ROTATED = "rotated", _("rotated")
    REVOKED = "revoked", _("revoked (RFC 7009)")
    USER_ID_CHANGED = "user_id_changed", _("user id changed")
    INCIDENT = "incident", _("incident response: every token revoked")
    SESSION_LIMIT = "session_limit", _("session limit reached")


class TokenType(models.TextChoices):
    ACCESS = "access", _("access")
    REFRESH = "refresh", _("refresh")


class ExpiringQuerySet(models.QuerySet):
    def expired(self, leeway=None) -> ExpiringQuerySet:
        """Rows whose tokens can no longer be accepted, leeway included."""
        if leeway is None:
            leeway = jwt_revoke_settings.LEEWAY
        return self.filter(expires_at__lt=timezone.now() - leeway)

    def _unreferenced(self, still_there: models.Q | None = None) -> ExpiringQuerySet:
        """Without rows that a ``DO_NOTHING`` foreign key still points at.

        ``still_there`` narrows the referencing rows counted (a dry run
        counts only those that the purge would keep).

        Asked as "the first referencing key IS NULL" (a scalar subquery, one
        index probe per row) rather than NOT EXISTS: PostgreSQL turns NOT
        EXISTS into an anti-join, and costing a join reads the actual ends
        of both keys' indexes, stepping over every entry left by rows
        deleted but not yet vacuumed: the referencing rows the purge has
        just deleted. Planned once per batch, that grew with the table
        (12 ms to 200 ms per batch at 10^7 outstanding tokens); a scalar
        subquery is never a join, so planning reads no index at all.
        """
        qs = self
        for rel in self.model._meta.related_objects:
            if rel.on_delete is models.DO_NOTHING:
                refs = rel.related_model._base_manager.filter(**{rel.field.name: OuterRef("pk")})
                if still_there is not None:
                    refs = refs.filter(still_there)
                first = Subquery(refs.order_by().values("pk")[:1])
                qs = qs.filter(models.lookups.IsNull(first, True))
        return qs

    def purge_expired(
        self,
        *,
        cutoff: datetime,
        batch_size: int = 1000,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Delete the rows whose tokens expired before ``cutoff``; return how many.

        In batches by primary key: one short ``SELECT`` of at most
        ``batch_size`` keys, then one ``DELETE`` of those keys that re-checks
        the expiry (a row extended in between is kept), each in its own
        transaction, so memory and locks stay bounded whatever the table's
        size and logins and revocations go on meanwhile. Rows that a
        ``DO_NOTHING`` foreign key still references are kept: purge the
        referencing model first. ``dry_run`` only counts. ``progress`` is
        called with the running total after each batch.
        """
        expired = self.filter(expires_at__lt=cutoff)
        if dry_run:
            return expired._unreferenced(models.Q(expires_at__gte=cutoff)).count()
        db = self.db
        base = type(self)(self.model, using=db)  # no filter, no default-manager quirk
        total, last = 0, None
        while True:
            batch = expired.order_by("pk")
            if last is not None:
                batch = batch.filter(pk__gt=last)
            pks = list(batch.values_list("pk", flat=True)[:batch_size])
            if not pks:
                return total
            last = pks[-1]
            with transaction.atomic(using=db):
                doomed = base.filter(pk__in=pks, expires_at__lt=cutoff)._unreferenced()
                deleted, _per_model = doomed.delete()
            total += deleted
            if progress is not None:
                progress(total)


def _or_zero(expression: Any) -> Coalesce:
    """A generation subquery as a number: 0 where no row was ever bumped."""
    return Coalesce(expression, Value(0), output_field=models.BigIntegerField())


class TokenSessionQuerySet(ExpiringQuerySet):
    def live(self, user_key: str | None = None) -> TokenSessionQuerySet:
        """Sessions whose tokens can still be used (``TokenSession.is_live`` in SQL).

        Not revoked, not expired (leeway included, as verification allows),
        and opened at or after their user's last "revoke every token" and the
        last ``revoke_all_tokens``. ``user_key``: the sessions are all of the
        user with that key (one subquery instead of one per session).
        """
        if user_key is None:
            user_generation = UserRevocation.objects.of_user_at("user").values("generation")[:1]
        else:
            user_generation = UserRevocation.objects.of(user_key).values("generation")[:1]
        return self.filter(
            revoked_at__isnull=True,
            expires_at__gt=purge_cutoff(),
            generation__gte=_or_zero(Subquery(user_generation)),
            epoch__gte=_or_zero(GlobalRevocation.objects.epoch()),
        )

    def with_state(self) -> TokenSessionQuerySet:
        """Annotated with why each session is revoked and when it was last refreshed.

        ``_jwtr_reason``: None while no level revokes it, else the reason of
        the first that does: the session itself (its ``revoke_reason``), its
        user's generation, the global one (that row's reason; "" if none was
        given). ``_jwtr_last_refreshed``: when its newest refresh token was
        issued. Subqueries: one query for the rows, whatever their number.
        """
        revocations = UserRevocation.objects.of_user_at("user")
        everyone = GlobalRevocation.objects.current()
        newest = OutstandingToken.objects.filter(session=OuterRef("pk")).order_by("-created_at")
        return self.annotate(
            _jwtr_user_generation=_or_zero(Subquery(revocations.values("generation")[:1])),
            _jwtr_epoch=_or_zero(Subquery(everyone.values("generation")[:1])),
            _jwtr_last_refreshed=Subquery(newest.values("created_at")[:1]),
        ).annotate(
            _jwtr_reason=Case(
                When(revoked_at__isnull=False, then=F("revoke_reason")),
                When(
                    generation__lt=F("_jwtr_user_generation"),
                    then=Coalesce(Subquery(revocations.values("reason")[:1]), Value("")),
                ),
                When(
                    epoch__lt=F("_jwtr_epoch"),
                    then=Coalesce(Subquery(everyone.values("reason")[:1]), Value("")),
                ),
                default=None,
                output_field=models.CharField(),
            )
        )

    def revoked(self) -> TokenSessionQuerySet:
        """Not expired, and revoked at some level (needs ``with_state()``)."""
        return self.filter(expires_at__gt=purge_cutoff(), _jwtr_reason__isnull=False)

    def revoked_for(self, reason: str) -> TokenSessionQuerySet:
        """Revoked at a level that gave ``reason``, expired or not (needs ``with_state()``)."""
        return self.filter(_jwtr_reason=reason)


class TokenSession(models.Model):
    """One login: shared by every token that descends from it through rotation."""

    sid = models.CharField(_("session id"), max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="jwt_sessions",
        verbose_name=_("user"),
    )
    # The user's revocation generation when the session was opened: a session
    # is dead once the user's generation has moved past it.
    generation = models.PositiveBigIntegerField(_("generation"), default=0)
    # The global revocation generation when the session was opened.
    epoch = models.PositiveBigIntegerField(_("global generation"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # The expiry of the newest refresh token of the session.
    expires_at = models.DateTimeField(_("expires at"), db_index=True)
    user_agent = models.CharField(_("user agent"), max_length=256, blank=True, default="")
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoke_reason = models.CharField(
        _("revocation reason"), max_length=32, choices=Reason.choices, blank=True, default=""
    )

    objects = TokenSessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("token session")
        verbose_name_plural = _("token sessions")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"session {self.sid}"

    def is_live(self, generation: int, epoch: int) -> bool:
        """Whether tokens of this session can still be used, given the current
        generations of its user and of everyone (``objects.live()`` in Python;
        expiry is the token's own check)."""
        return self.revoked_at is None and self.generation >= generation and self.epoch >= epoch


class OutstandingTokenQuerySet(ExpiringQuerySet):
    def with_state(self) -> OutstandingTokenQuerySet:
        """Annotated with what ``revoked()``, ``live()`` and ``revocation_reason()`` read.

        ``_jwtr_jti_reason`` (why its jti was blacklisted, or None), the
        current generation of its user and of everyone (0 when never bumped)
        and the reasons given for those.
        """
        revocations = UserRevocation.objects.of_user_at("user")
        everyone = GlobalRevocation.objects.current()
        return self.annotate(
            _jwtr_jti_reason=Subquery(
                BlacklistedToken.objects.filter(jti=OuterRef("jti")).values("reason")[:1]
            ),
            _jwtr_user_generation=_or_zero(Subquery(revocations.values("generation")[:1])),
            _jwtr_user_reason=Subquery(revocations.values("reason")[:1]),
            _jwtr_epoch=_or_zero(Subquery(everyone.values("generation")[:1])),
            _jwtr_epoch_reason=Subquery(everyone.values("reason")[:1]),
        )

    @staticmethod
    def _revoked_q() -> Q:
        return (
            Q(_jwtr_jti_reason__isnull=False)
            | Q(session__revoked_at__isnull=False)
            | Q(session__generation__lt=F("_jwtr_user_generation"))
            | Q(session__epoch__lt=F("_jwtr_epoch"))
        )

    def revoked(self) -> OutstandingTokenQuerySet:
        """Not expired, and revoked at some level (needs ``with_state()``)."""
        return self.filter(Q(expires_at__gte=purge_cutoff()) & self._revoked_q())

    def live(self) -> OutstandingTokenQuerySet:
        """Not expired and revoked at no level (needs ``with_state()``)."""
        return self.filter(Q(expires_at__gte=purge_cutoff()) & ~self._revoked_q())

    def revoked_for(self, reason: str) -> OutstandingTokenQuerySet:
        """Revoked at a level that gave ``reason`` (needs ``with_state()``)."""
        return self.filter(
            Q(_jwtr_jti_reason=reason)
            | Q(session__revoked_at__isnull=False, session__revoke_reason=reason)
            | Q(_jwtr_user_reason=reason, session__generation__lt=F("_jwtr_user_generation"))
            | Q(_jwtr_epoch_reason=reason, session__epoch__lt=F("_jwtr_epoch"))
        )


class OutstandingToken(models.Model):
    """One issued refresh token (identified by its ``jti``, never stored raw)."""

    jti = models.CharField(_("JWT id"), max_length=255, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="jwt_outstanding_tokens",
        verbose_name=_("user"),
    )
    # DO_NOTHING: the purge deletes tokens before their sessions, so deleting
    # sessions needs no cascade collector (one DELETE per batch). Sessions of
    # a deleted user go with the user, in the same transaction.
    session = models.ForeignKey(
        TokenSession,
        on_delete=models.DO_NOTHING,
        related_name="refresh_tokens",
        verbose_name=_("session"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)
    user_agent = models.CharField(_("user agent"), max_length=256, blank=True, default="")
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    # Set, exactly once, when the token is exchanged for a new pair.
    rotated_at = models.DateTimeField(_("rotated at"), null=True, blank=True)

    objects = OutstandingTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("outstanding token")
        verbose_name_plural = _("outstanding tokens")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"refresh token {self.jti}"

    @property
    def sid(self) -> str:
        return self.session.sid

    def revocation_reason(self) -> str | None:
        """Why this token is revoked (its jti, its session, its user, everyone), or
        None if it is not; read from a ``with_state()`` row (``revoked()`` in Python)."""
        session = self.session
        if self._jwtr_jti_reason:  # type: ignore[attr-defined]
            return self._jwtr_jti_reason  # type: ignore[attr-defined]
        if session.revoked_at is not None:
            return session.revoke_reason
        if session.generation < self._jwtr_user_generation:  # type: ignore[attr-defined]
            return self._jwtr_user_reason or ""  # type: ignore[attr-defined]
        if session.epoch < self._jwtr_epoch:  # type: ignore[attr-defined]
            return self._jwtr_epoch_reason or ""  # type: ignore[attr-defined]
        return None


class BlacklistedTokenQuerySet(ExpiringQuerySet):
    def revokes(self, jti: Any) -> Exists:
        """Whether ``jti`` (a value or an expression) is revoked, as a subquery."""
        return Exists(self.filter(jti=jti))


class BlacklistedToken(models.Model):
    """One revoked token (access or refresh), by ``jti``."""

    jti = models.CharField(_("JWT id"), max_length=255, unique=True)
    token_type = models.CharField(_("token type"), max_length=16, choices=TokenType.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    sid = models.CharField(_("session id"), max_length=64, blank=True, default="")
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)
    blacklisted_at = models.DateTimeField(_("revoked at"), default=timezone.now)
    # The token's own expiry: the row is useless (and purged) after it.
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    objects = BlacklistedTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("blacklisted token")
        verbose_name_plural = _("blacklisted tokens")
        ordering = ("-blacklisted_at",)

    def __str__(self) -> str:
        return f"revoked {self.token_type} token {self.jti}"


class UserRevocationQuerySet(models.QuerySet):
    def of(self, user_key: Any) -> UserRevocationQuerySet:
        """The row of the user with ``user_key`` (its canonical id as text)."""
        return self.filter(user_key=user_key)

    def of_each(self, user_keys: Any) -> UserRevocationQuerySet:
        """The rows of the users with any of ``user_keys`` (an iterable of ``of()`` keys)."""
        return self.filter(user_key__in=user_keys)

    def of_user_at(self, user_path: str) -> UserRevocationQuerySet:
        """The row of the user at ``user_path`` of the outer query (a foreign key name).

        Rows are keyed by the user id claim as text; the outer value is cast
        to text the same way. A UUID is compared without hyphens, since
        databases without a uuid type store it as 32 hex digits.
        """
        from django.contrib.auth import get_user_model

        field = get_user_model()._meta.get_field(jwt_revoke_settings.USER_ID_FIELD)
        assert isinstance(field, models.Field)  # a concrete column (checked by E010)
        ref = OuterRef(f"{user_path}_id" if field.primary_key else f"{user_path}__{field.attname}")
        key = Cast(ref, output_field=models.CharField())
        if field.get_internal_type() == "UUIDField":
            return self.annotate(_jwtr_key=Replace("user_key", Value("-"), Value(""))).filter(
                _jwtr_key=Replace(key, Value("-"), Value(""))
            )
        return self.filter(user_key=key)

    def of_users(self, users: models.QuerySet) -> UserRevocationQuerySet:
        """The rows of the users in ``users`` (a user queryset), in one query.

        Compared as ``of_user_at`` compares: the user id as text, a UUID
        without hyphens.
        """
        from django.contrib.auth import get_user_model

        field = get_user_model()._meta.get_field(jwt_revoke_settings.USER_ID_FIELD)
        assert isinstance(field, models.Field)  # a concrete column (checked by E010)
        keys = users.annotate(_jwtr_key=Cast(field.attname, output_field=models.CharField()))
        if field.get_internal_type() == "UUIDField":
            bare = keys.annotate(_jwtr_bare=Replace("_jwtr_key", Value("-"), Value("")))
            return self.annotate(_jwtr_key=Replace("user_key", Value("-"), Value(""))).filter(
                _jwtr_key__in=bare.values("_jwtr_bare")
            )
        return self.filter(user_key__in=keys.values("_jwtr_key"))

    def generation(self, user_key: Any) -> Subquery:
        """The current generation of the user with ``user_key``; NULL if never bumped."""
        return Subquery(self.of(user_key).values("generation")[:1])


class Generation(models.Model):
    """A revocation generation: bumped by one to revoke every token carrying it."""

    generation = models.PositiveBigIntegerField(_("generation"), default=0)
    revoked_at = models.DateTimeField(_("last revoked at"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices, blank=True)

    class Meta:
        abstract = True


class UserRevocation(Generation):
    """A user's revocation generation, keyed by the token's user id claim.

    Keyed by value rather than by foreign key on purpose: the row outlives the
    user, so a deleted user's tokens stay dead and an account that later gets
    the same id value starts above them instead of inheriting their validity.
    """

    user_key = models.CharField(_("user id claim"), max_length=255, unique=True)

    objects = UserRevocationQuerySet.as_manager()

    class Meta:
        verbose_name = _("user revocation")
        verbose_name_plural = _("user revocations")

    def __str__(self) -> str:
        return f"user {self.user_key}: generation {self.generation}"


# Children before parents: an ``OutstandingToken`` points at its session.
PURGE_ORDER = (OutstandingToken, TokenSession, BlacklistedToken)


def purge_cutoff(leeway=None) -> datetime:
    """Tokens that expired before this instant can no longer be accepted."""
    if leeway is None:
        leeway = jwt_revoke_settings.LEEWAY
    return timezone.now() - leeway


class GlobalRevocationQuerySet(models.QuerySet):
    def current(self) -> GlobalRevocationQuerySet:
        """The one row (absent until the first ``revoke_all_tokens``)."""
        return self.filter(pk=GlobalRevocation.SINGLETON_PK)

    def epoch(self) -> Subquery:
        """The current global generation as a subquery; NULL if never bumped."""
        return Subquery(self.current().values("generation")[:1])


class GlobalRevocation(Generation):
    """Incident response: every token issued before the last bump is revoked.

    One row (pk 1). Tokens carry the global generation current when they were
    issued (claim ``epoch``); ``revoke_all_tokens()`` adds one to it, for the
    day a signing key or a database dump leaks.
    """

    SINGLETON_PK = 1

    objects = GlobalRevocationQuerySet.as_manager()

    class Meta:
        verbose_name = _("global revocation")
        verbose_name_plural = _("global revocations")

    def __str__(self) -> str:
        return f"global generation {self.generation}"


def revocation_state(*, jti: Any, user_key: Any) -> dict[str, Any]:
    """The annotations that read a token's state beside its session or user row.

    ``_jwtr_jti_revoked`` (its jti is blacklisted), ``_jwtr_generation`` (its
    user's current generation) and ``_jwtr_epoch`` (the global one), the last
    two NULL where never bumped. A token is revoked when its jti is, or when
    it carries a generation (or epoch) below the current one
    (``stores.TokenState.revokes``), or when its session is not live.
    """
    return {
        "_jwtr_jti_revoked": BlacklistedToken.objects.revokes(jti),
        "_jwtr_generation": UserRevocation.objects.generation(user_key),
        "_jwtr_epoch": GlobalRevocation.objects.epoch(),
    }


def users_with_id(user_id: Any, using: str) -> models.QuerySet:
    """The user whose ``USER_ID_FIELD`` is ``user_id`` (a token's canonical claim)."""
    from django.contrib.auth import get_user_model

    manager = get_user_model()._default_manager.db_manager(using)
    return manager.filter(**{jwt_revoke_settings.USER_ID_FIELD: user_id})


def generations_of_username(username: Any, using: str) -> tuple[Any, int, int] | None:
    """The id value, generation and global generation of the user ``username`` names.

    One query: the user found as the stock ``get_by_natural_key`` finds it
    (``USERNAME_FIELD`` exact, through the default manager's queryset), with
    both generations beside it. None when no user, or more than one, has it.

    Every login runs it, and building and compiling it through the ORM cost
    more than the database took to answer: it is compiled once per settings
    and database alias (``stores.internals.PreparedQuery``, the revocation
    check's own mechanism, which falls back to the ORM on anything unexpected).
    """
    rows = _prepared_generations(username, using)
    if rows is None:
        rows = list(_generations_of(username, using))
    if len(rows) != 1:
        return None
    value, generation, epoch = rows[0]
    return value, generation or 0, epoch or 0


def _generations_of(username: Any, using: str) -> models.QuerySet:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    users = User._default_manager.db_manager(using).filter(**{User.USERNAME_FIELD: username})
    mine = UserRevocation.objects.of_users(users).values("generation")[:1]
    return users.annotate(
        _jwtr_generation=Subquery(mine), _jwtr_epoch=GlobalRevocation.objects.epoch()
    ).values_list(jwt_revoke_settings.USER_ID_FIELD, "_jwtr_generation", "_jwtr_epoch")[:2]


#: A username to compile the login's query with: found once among its parameters.
_USERNAME_STAND_IN = "jwtr-sentinel-username-9b0e6c1c-5d3b-4f8e-a7f2-6f1d2c3b4a59"


@per_settings
def _generations_queries() -> dict[str, Any]:
    """The login's compiled query by database alias (None: it runs through the ORM)."""
    return {}


def _prepared_generations(username: Any, using: str) -> list[list[Any]] | None:
    """``_generations_of``'s rows through its compiled SQL; None: ask the ORM."""
    from django.contrib.auth import get_user_model

    from .stores.internals import CannotPrepare, PreparedQuery, db_value, logger

    compiled = _generations_queries()
    field = get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD)
    if using not in compiled:
        compiled[using] = None
        try:
            compiled[using] = PreparedQuery(
                _generations_of(_USERNAME_STAND_IN, using),
                using,
                {"username": db_value(field, _USERNAME_STAND_IN, using)},
            )
        except CannotPrepare:  # e.g. a USERNAME_FIELD that is not text
            logger.debug("the login's generations query runs through the ORM", exc_info=True)
        except Exception:
            logger.warning(
                "the login's generations query runs through the ORM: compiling it ahead "
                "failed (a Django version this package was not checked against?)",
                exc_info=True,
            )
    prepared = compiled[using]
    if prepared is None:
        return None
    try:
        value = db_value(field, username, using)
    except Exception:  # what the ORM makes of it (an error, or no user) is its to say
        return None
    try:
        return prepared.fetch_all(using, username=value)
    except CannotPrepare:
        compiled[using] = None  # retired for good: the ORM answers from now on
        logger.warning(
            "the login's compiled generations query failed; the ORM runs it", exc_info=True
        )
        return None


def current_generations(user_key: str | None, using: str) -> tuple[int, int]:
    """The generation of the user with ``user_key`` and the global one, now (one query).

    ``user_key`` None: no user (its generation is 0), the global one alone.
    """
    everyone = GlobalRevocation.objects.using(using).current()
    if user_key is None:
        return 0, everyone.values_list("generation", flat=True).first() or 0
    found = (
        everyone.annotate(_jwtr_generation=UserRevocation.objects.generation(user_key))
        .values_list("_jwtr_generation", "generation")
        .first()
    )
    if found is None:  # no global row (a flushed database): the epoch is 0
        mine = UserRevocation.objects.using(using).of(user_key)
        return mine.values_list("generation", flat=True).first() or 0, 0
    return found[0] or 0, found[1]


# -- the revocation event feed (feed.py) ---------------------------------------------


def event_lifetime() -> timedelta:
    """How long after a revocation a token it concerns may still be accepted.

    The longest token lifetime and the leeway, plus five minutes' margin: an
    event (or a snapshot entry) older than this cannot matter any more.
    """
    s = jwt_revoke_settings
    longest = max(s.ACCESS_TOKEN_LIFETIME, s.REFRESH_TOKEN_LIFETIME)
    return longest + s.LEEWAY + timedelta(minutes=5)


def new_stream_id() -> str:
    """A random id for a new event stream (a new database: a new history)."""
    return secrets.token_hex(8)


class EventStream(models.Model):
    """The feed's one row (pk 1): its id, its last event and what was purged.

    Every revocation adds to ``last_seq`` with an ``UPDATE`` held to commit
    (``feed.record``), so events commit in order and with no gap.
    """

    SINGLETON_PK = 1

    stream = models.CharField(_("stream id"), max_length=64, default=new_stream_id)
    last_seq = models.PositiveBigIntegerField(_("last event"), default=0)
    # Every event up to this one was purged: a consumer behind it must resync.
    purged_through = models.PositiveBigIntegerField(_("purged through event"), default=0)

    class Meta:
        verbose_name = _("event stream")
        verbose_name_plural = _("event streams")

    def __str__(self) -> str:
        return f"event stream {self.stream} at {self.last_seq}"


class RevocationEventQuerySet(models.QuerySet):
    def purge_old(
        self,
        *,
        cutoff: datetime,
        batch_size: int = 1000,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Delete the oldest events, up to the newest created before ``cutoff``; return how many.

        A prefix of the feed, never a hole in it: every event up to that one
        goes, and ``EventStream.purged_through`` says so, so that a consumer
        still behind it is told to resync rather than miss them. In batches
        of ``batch_size`` events, each (the ``UPDATE`` of ``purged_through``
        and one ``DELETE``) in its own short transaction. ``dry_run`` only counts.
        """
        db = self.db
        # The newest event created before the cutoff (one index probe):
        # events are numbered as they are created.
        old = self.filter(created_at__lt=cutoff).order_by("-created_at", "-seq")
        through = old.values_list("seq", flat=True).first()
        if through is None:
            return 0
        doomed = self.filter(seq__lte=through)
        if dry_run:
            return doomed.count()
        streams = EventStream.objects.using(db).filter(pk=EventStream.SINGLETON_PK)
        base = type(self)(self.model, using=db)  # no filter, no default-manager quirk
        total = 0
        while True:
            seqs = list(doomed.order_by("seq").values_list("seq", flat=True)[:batch_size])
            if not seqs:
                return total
            with transaction.atomic(using=db):
                streams.filter(purged_through__lt=seqs[-1]).update(purged_through=seqs[-1])
                deleted, _per_model = base.filter(seq__lte=seqs[-1]).delete()
            total += deleted
            if progress is not None:
                progress(total)


class RevocationEvent(models.Model):
    """One revoked thing, as the feed tells resource servers: never a raw token.

    ``kind`` (``secevents.TOKEN``, ``SESSION``, ``USER``, ``ALL``) and
    ``subject``: the jti, the sid, the user key, or "" for everyone.
    ``generation``: for a user or everyone, tokens carrying a lower one are
    revoked. ``expires_at``: no token it concerns can be accepted after it
    (leeway included).
    """

    seq = models.PositiveBigIntegerField(_("event number"), primary_key=True)
    kind = models.CharField(_("kind"), max_length=8)
    subject = models.CharField(_("subject"), max_length=255, blank=True, default="")
    # A session's owner (the user id claim as text).
    user_key = models.CharField(_("user id claim"), max_length=255, blank=True, default="")
    generation = models.PositiveBigIntegerField(_("generation"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(_("expires at"))

    objects = RevocationEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("revocation event")
        verbose_name_plural = _("revocation events")
        ordering = ("seq",)

    def __str__(self) -> str:
        return f"event {self.seq}: {self.kind} {self.subject}".rstrip()
