"""Switching over from djangorestframework-simplejwt: importing its blacklist.

simplejwt's ``token_blacklist`` app records each refresh token it issued
(``OutstandingToken``) and those it revoked (``BlacklistedToken``). Its
tokens stay valid here after the switch (``ACCEPT_SIMPLEJWT_TOKENS``), so
what it revoked must be revoked here too: ``import_blacklist`` copies both
tables (jti, user, expiry; never the raw ``token`` column, which is not even
read) into our models. Each imported refresh token gets the session its
first refresh would have given it (``claims.legacy_sid``), so import and
refresh agree whichever runs first, and running the import again adds
nothing.

It is the one writer of revocation state outside ``revocation.py``: a
one-off copy of revocations that already happened, so it sends no signals,
but it does tell the store (the cache) of every session it revokes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.utils import timezone

from .claims import legacy_sid
from .conf import jwt_revoke_settings
from .models import (
    BlacklistedToken,
    OutstandingToken,
    Reason,
    TokenSession,
    TokenType,
    UserRevocation,
    current_generations,
    purge_cutoff,
)
from .revocation import announce, session_facts

SIMPLEJWT_BLACKLIST_APP = "rest_framework_simplejwt.token_blacklist"


class SimplejwtBlacklistNotInstalled(LookupError):
    """simplejwt's ``token_blacklist`` app is not in ``INSTALLED_APPS``."""


@dataclass
class ImportCounts:
    """What an import added (or, in a dry run, would add)."""

    outstanding: int = 0
    blacklisted: int = 0
    sessions_revoked: int = 0


def simplejwt_models() -> tuple[Any, Any]:
    """simplejwt's ``OutstandingToken`` and ``BlacklistedToken``, from the app registry."""
    if not apps.is_installed(SIMPLEJWT_BLACKLIST_APP):
        raise SimplejwtBlacklistNotInstalled(SIMPLEJWT_BLACKLIST_APP)
    config = next(c for c in apps.get_app_configs() if c.name == SIMPLEJWT_BLACKLIST_APP)
    return config.get_model("OutstandingToken"), config.get_model("BlacklistedToken")


def _batches(queryset: Any, fields: tuple[str, ...], size: int) -> Iterator[list[tuple]]:
    """``queryset``'s rows (``fields``, the primary key first) in primary-key batches."""
    last = None
    while True:
        batch = queryset.order_by("pk")
        if last is not None:
            batch = batch.filter(pk__gt=last)
        rows = list(batch.values_list("pk", *fields)[:size])
        if not rows:
            return
        last = rows[-1][0]
        yield rows


def import_blacklist(
    *,
    batch_size: int = 1000,
    dry_run: bool = False,
    progress: Callable[[ImportCounts], None] | None = None,
) -> ImportCounts:
    """Copy simplejwt's outstanding and blacklisted tokens into our models.

    Only tokens that have not expired (``LEEWAY`` included): an expired
    token is refused anyway. Outstanding tokens whose user was deleted
    (simplejwt keeps them with no user) are skipped: they authenticate no
    one. Each outstanding token becomes an ``OutstandingToken`` with its
    own ``TokenSession`` (the user's current generations); each blacklisted
    one a ``BlacklistedToken`` (reason ``revoked``), and its session, if it
    has one, is revoked. In primary-key batches of ``batch_size``, each in
    its own transaction; rows already imported (or already recorded by a
    refresh) are left as they are, so a second run imports nothing.
    ``dry_run`` counts without writing. ``progress`` is called after each
    batch with the running counts.
    """
    sj_outstanding, sj_blacklisted = simplejwt_models()
    using = jwt_revoke_settings.database_alias(TokenSession)
    cutoff = purge_cutoff()
    counts = ImportCounts()
    _no_user, epoch = current_generations(None, using)
    outstanding = sj_outstanding._default_manager.filter(expires_at__gte=cutoff, user__isnull=False)
    fields = ("jti", "user_id", "created_at", "expires_at")
    for rows in _batches(outstanding, fields, batch_size):
        counts.outstanding += _import_outstanding(rows, using, epoch, dry_run)
        if progress is not None:
            progress(counts)
    blacklisted = sj_blacklisted._default_manager.filter(token__expires_at__gte=cutoff)
    fields = ("token__jti", "token__user_id", "token__expires_at", "blacklisted_at")
    for rows in _batches(blacklisted, fields, batch_size):
        added, revoked = _import_blacklisted(rows, using, dry_run)
        counts.blacklisted += added
        counts.sessions_revoked += revoked
        if progress is not None:
            progress(counts)
    return counts


def _not_imported(rows: list[tuple], model: type[models.Model], using: str) -> list[tuple]:
    """The ``rows`` (``pk, jti, ...``) whose jti ``model`` has no row for yet."""
    jtis = [row[1] for row in rows]
    known = set(
        model._default_manager.using(using).filter(jti__in=jtis).values_list("jti", flat=True)
    )
    return [row for row in rows if row[1] not in known]


def _user_keys(rows: list[tuple], using: str) -> dict[Any, str]:
    """The user id claim (as text) of each existing user of ``rows`` (``pk, jti, user_pk, ...``).

    The user's revocation state is keyed by its id claim, not its primary key.
    """
    claims = (
        get_user_model()
        ._default_manager.db_manager(using)
        .filter(pk__in={row[2] for row in rows})
        .values_list("pk", jwt_revoke_settings.USER_ID_FIELD)
    )
    return {pk: str(value) for pk, value in claims}


def _import_outstanding(rows: list[tuple], using: str, epoch: int, dry_run: bool) -> int:
    new = _not_imported(rows, OutstandingToken, using)
    if not new:
        return 0
    keys = _user_keys(new, using)
    new = [row for row in new if row[2] in keys]
    if dry_run or not new:
        return len(new)
    generations = dict(
        UserRevocation.objects.using(using)
        .of_each(set(keys.values()))
        .values_list("user_key", "generation")
    )
    now = timezone.now()
    with transaction.atomic(using=using):
        TokenSession.objects.using(using).bulk_create(
            [
                TokenSession(
                    sid=legacy_sid(jti),
                    user_id=user_pk,
                    generation=generations.get(keys[user_pk], 0),
                    epoch=epoch,
                    created_at=created_at or now,
                    expires_at=expires_at,
                )
                for _pk, jti, user_pk, created_at, expires_at in new
            ],
            ignore_conflicts=True,
        )
        _create_outstanding(new, using, now)
    return len(new)


def _create_outstanding(rows: list[tuple], using: str, now: datetime) -> None:
    """An ``OutstandingToken`` for each of ``rows``, in the session just created for it."""
    sessions = dict(
        TokenSession.objects.using(using)
        .filter(sid__in=[legacy_sid(row[1]) for row in rows])
        .values_list("sid", "pk")
    )
    OutstandingToken.objects.using(using).bulk_create(
        [
            OutstandingToken(
                jti=jti,
                user_id=user_pk,
                session_id=sessions[legacy_sid(jti)],
                created_at=created_at or now,
                expires_at=expires_at,
            )
            for _pk, jti, user_pk, created_at, expires_at in rows
        ],
        ignore_conflicts=True,
    )


def _import_blacklisted(rows: list[tuple], using: str, dry_run: bool) -> tuple[int, int]:
    new = _not_imported(rows, BlacklistedToken, using)
    # Tokens with a user have a session once their outstanding row is imported.
    sids = [legacy_sid(jti) for _pk, jti, user_pk, *_rest in rows if user_pk is not None]
    sessions = TokenSession.objects.using(using).filter(sid__in=sids)
    if dry_run:
        already = set(sessions.filter(revoked_at__isnull=False).values_list("sid", flat=True))
        return len(new), len([sid for sid in sids if sid not in already])
    now = timezone.now()
    with transaction.atomic(using=using):
        BlacklistedToken.objects.using(using).bulk_create(
            [
                BlacklistedToken(
                    jti=jti,
                    token_type=TokenType.REFRESH,
                    user_id=user_pk,
                    sid=legacy_sid(jti) if user_pk is not None else "",
                    reason=Reason.REVOKED,
                    blacklisted_at=blacklisted_at or now,
                    expires_at=expires_at,
                )
                for _pk, jti, user_pk, expires_at, blacklisted_at in new
            ],
            ignore_conflicts=True,
        )
        revoked = _revoke_sessions(sessions, using, now)
    return len(new), revoked


def _revoke_sessions(sessions: models.QuerySet[TokenSession], using: str, now: datetime) -> int:
    """Revoke those of ``sessions`` not revoked yet and tell the store; return how many."""
    live = list(
        sessions.filter(revoked_at__isnull=True).select_for_update().values_list("sid", flat=True)
    )
    revoked = (
        TokenSession.objects.using(using)
        .filter(sid__in=live, revoked_at__isnull=True)
        .update(revoked_at=now, revoke_reason=Reason.REVOKED)
    )
    facts = session_facts(TokenSession.objects.using(using).filter(sid__in=live))
    announce(facts, Reason.REVOKED, using)
    return revoked
