"""What is stored: never a raw token, only identifiers and state.

Revocation has three levels, each one write whatever the number of tokens:

* one token: a ``BlacklistedToken`` row for its ``jti``;
* one session (a login and every token rotated from it): ``TokenSession.revoked_at``;
* every token of a user so far: ``UserRevocation.generation`` goes up by one;
  tokens carry the generation current when they were issued (claim ``gen``)
  and a token whose generation is below the current one is revoked.

A generation number rather than an "issued before" timestamp: ``iat`` has
whole seconds, so a cutoff would either kill a token issued just after the
revocation or spare one issued just before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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


class TokenType(models.TextChoices):
    ACCESS = "access", _("access")
    REFRESH = "refresh", _("refresh")


class ExpiringQuerySet(models.QuerySet):
    def expired(self, leeway=None) -> ExpiringQuerySet:
        """Rows whose tokens can no longer be accepted, leeway included."""
        from .conf import jwt_revoke_settings

        if leeway is None:
            leeway = jwt_revoke_settings.LEEWAY
        return self.filter(expires_at__lt=timezone.now() - leeway)

    def _unreferenced(self, still_there: models.Q | None = None) -> ExpiringQuerySet:
        """Without rows that a ``DO_NOTHING`` foreign key still points at.

        ``still_there`` narrows the referencing rows counted (a dry run
        counts only those that the purge would keep).
        """
        qs = self
        for rel in self.model._meta.related_objects:
            if rel.on_delete is models.DO_NOTHING:
                refs = rel.related_model._base_manager.filter(**{rel.field.name: OuterRef("pk")})
                if still_there is not None:
                    refs = refs.filter(still_there)
                qs = qs.exclude(Exists(refs))
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

    objects = ExpiringQuerySet.as_manager()

    class Meta:
        verbose_name = _("token session")
        verbose_name_plural = _("token sessions")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"session {self.sid}"


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

    objects = ExpiringQuerySet.as_manager()

    class Meta:
        verbose_name = _("outstanding token")
        verbose_name_plural = _("outstanding tokens")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"refresh token {self.jti}"

    @property
    def sid(self) -> str:
        return self.session.sid


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

    objects = ExpiringQuerySet.as_manager()

    class Meta:
        verbose_name = _("blacklisted token")
        verbose_name_plural = _("blacklisted tokens")
        ordering = ("-blacklisted_at",)

    def __str__(self) -> str:
        return f"revoked {self.token_type} token {self.jti}"


class UserRevocation(models.Model):
    """A user's revocation generation, keyed by the token's user id claim.

    Keyed by value rather than by foreign key on purpose: the row outlives the
    user, so a deleted user's tokens stay dead and an account that later gets
    the same id value starts above them instead of inheriting their validity.
    """

    user_key = models.CharField(_("user id claim"), max_length=255, unique=True)
    generation = models.PositiveBigIntegerField(_("generation"), default=0)
    revoked_at = models.DateTimeField(_("last revoked at"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices, blank=True)

    class Meta:
        verbose_name = _("user revocation")
        verbose_name_plural = _("user revocations")

    def __str__(self) -> str:
        return f"user {self.user_key}: generation {self.generation}"


# Children before parents: an ``OutstandingToken`` points at its session.
PURGE_ORDER = (OutstandingToken, TokenSession, BlacklistedToken)


def purge_cutoff(leeway=None) -> datetime:
    """Tokens that expired before this instant can no longer be accepted."""
    from .conf import jwt_revoke_settings

    if leeway is None:
        leeway = jwt_revoke_settings.LEEWAY
    return timezone.now() - leeway


class GlobalRevocation(models.Model):
    """Incident response: every token issued before the last bump is revoked.

    One row (pk 1). Tokens carry the global generation current when they were
    issued (claim ``epoch``); ``revoke_all_tokens()`` adds one to it, for the
    day a signing key or a database dump leaks.
    """

    SINGLETON_PK = 1

    generation = models.PositiveBigIntegerField(_("generation"), default=0)
    revoked_at = models.DateTimeField(_("last revoked at"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices, blank=True)

    class Meta:
        verbose_name = _("global revocation")
        verbose_name_plural = _("global revocations")

    def __str__(self) -> str:
        return f"global generation {self.generation}"
