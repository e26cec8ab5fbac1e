"""Every operation that changes revocation state lives here.

Views, the admin, signal receivers and management commands call these
functions and nothing else writes revocation state. Each operation is a
constant number of writes whatever the number of tokens involved, and each is
idempotent: revoking twice changes nothing the second time and sends no
second signal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Subquery
from django.http import HttpRequest
from django.utils import timezone

from .conf import jwt_revoke_settings
from .exceptions import InvalidToken
from .models import BlacklistedToken, OutstandingToken, Reason, TokenSession, UserRevocation
from .signals import refresh_token_reused, token_revoked, user_tokens_revoked
from .tokens import (
    REFRESH,
    TokenPair,
    ValidatedToken,
    decode_token,
    mint_access,
    mint_pair,
    user_key,
)

__all__ = [
    "is_token_revoked",
    "revoke_session",
    "revoke_token",
    "revoke_user_tokens",
    "rotate_refresh_token",
]


def _alias() -> str:
    return jwt_revoke_settings.database_alias(TokenSession)


def _blacklist(
    token: ValidatedToken, reason: str, *, using: str, user_pk: Any = None
) -> bool:
    """Record ``token``'s jti as revoked; False if it already was."""
    try:
        with transaction.atomic(using=using):
            BlacklistedToken.objects.using(using).create(
                jti=token.jti,
                token_type=token.token_type,
                user_id=user_pk,
                sid=token.sid,
                reason=reason,
                expires_at=token.expires_at,
            )
    except IntegrityError:
        return False
    return True


def _session_owner_pk(sid: str, using: str) -> Any:
    return TokenSession.objects.using(using).filter(sid=sid).values_list("user_id", flat=True).first()


def revoke_session(sid: str, reason: str = Reason.LOGOUT) -> bool:
    """Revoke every token of one login: its access tokens and its refresh tokens.

    Returns True if the session was live and is now revoked, False if it was
    already revoked or is unknown.
    """
    using = _alias()
    now = timezone.now()
    with transaction.atomic(using=using):
        changed = (
            TokenSession.objects.using(using)
            .filter(sid=sid, revoked_at__isnull=True)
            .update(revoked_at=now, revoke_reason=reason)
        )
        if changed:
            user_pk = _session_owner_pk(sid, using)
            transaction.on_commit(
                lambda: token_revoked.send(
                    sender=TokenSession,
                    jti=None,
                    sid=sid,
                    token_type=None,
                    user_id=user_pk,
                    reason=str(reason),
                ),
                using=using,
            )
    return bool(changed)


def revoke_token(token: str | ValidatedToken, reason: str = Reason.LOGOUT) -> bool:
    """Revoke one token, given encoded or already validated.

    An access token is revoked alone. A refresh token takes its whole session
    with it (RFC 7009 section 2.1): the access tokens minted beside it would
    otherwise outlive the logout. An expired token needs no revocation and
    returns False; a token that does not verify raises ``InvalidToken``.
    Returns True if anything changed.
    """
    if not isinstance(token, ValidatedToken):
        try:
            token = decode_token(token, token_type=None)
        except InvalidToken as exc:
            if exc.code == "token_expired":
                return False
            raise
    using = _alias()
    with transaction.atomic(using=using):
        user_pk = _session_owner_pk(token.sid, using)
        changed = _blacklist(token, reason, using=using, user_pk=user_pk)
        if changed:
            transaction.on_commit(
                lambda: token_revoked.send(
                    sender=BlacklistedToken,
                    jti=token.jti,
                    sid=token.sid,
                    token_type=token.token_type,
                    user_id=user_pk,
                    reason=str(reason),
                ),
                using=using,
            )
        if token.token_type == REFRESH:
            changed = revoke_session(token.sid, reason) or changed
    return changed


def revoke_user_tokens(user: Any, reason: str = Reason.LOGOUT_ALL) -> int:
    """Revoke every token ``user`` holds, access tokens included, in one write.

    The user's revocation generation goes up by one; every token issued so far
    carries a lower one. Tokens issued afterwards carry the new generation and
    work. Returns the new generation.
    """
    using = _alias()
    key = user_key(user)
    now = timezone.now()
    with transaction.atomic(using=using):
        rows = UserRevocation.objects.using(using).filter(user_key=key)
        if not rows.update(generation=F("generation") + 1, revoked_at=now, reason=reason):
            try:
                with transaction.atomic(using=using):
                    UserRevocation.objects.using(using).create(
                        user_key=key, generation=1, revoked_at=now, reason=reason
                    )
            except IntegrityError:  # created concurrently: bump that row instead
                rows.update(generation=F("generation") + 1, revoked_at=now, reason=reason)
        generation = rows.values_list("generation", flat=True).get()
        transaction.on_commit(
            lambda: user_tokens_revoked.send(
                sender=UserRevocation, user=user, reason=str(reason), generation=generation
            ),
            using=using,
        )
    return generation


def _reuse_detected(token: ValidatedToken, session: TokenSession, request: HttpRequest | None) -> None:
    if not jwt_revoke_settings.REUSE_DETECTION:
        return
    if revoke_session(token.sid, Reason.REUSE_DETECTED):
        refresh_token_reused.send(
            sender=OutstandingToken,
            jti=token.jti,
            sid=token.sid,
            user_id=session.user_id,
            request=request,
        )


def rotate_refresh_token(raw: str, request: HttpRequest | None = None) -> TokenPair:
    """Exchange a refresh token for a new pair (the refresh endpoint).

    The old refresh token is retired with one compare-and-swap ``UPDATE ...
    WHERE rotated_at IS NULL`` inside the transaction that mints its
    successor: of N concurrent callers exactly one wins. Every other caller,
    and anyone presenting a retired token later, is a reuse: with
    ``REUSE_DETECTION`` the whole session is revoked, since one of the two
    holders is a thief. Raises ``InvalidToken`` when the token is refused.
    With ``ROTATE_REFRESH_TOKENS`` off, the same refresh token is returned.
    """
    token = decode_token(raw, token_type=REFRESH)
    using = _alias()
    s = jwt_revoke_settings
    session = (
        TokenSession.objects.using(using)
        .select_related("user")
        .filter(sid=token.sid)
        .annotate(
            _jwtr_generation=Subquery(
                UserRevocation.objects.filter(user_key=token.user_key).values("generation")[:1]
            ),
            _jwtr_jti_revoked=Exists(BlacklistedToken.objects.filter(jti=token.jti)),
        )
        .first()
    )
    if session is None or user_key(session.user) != token.user_key:
        raise InvalidToken("token_revoked")
    generation = session._jwtr_generation or 0
    if (
        session.revoked_at is not None
        or token.generation < generation
        or session.generation < generation
    ):
        raise InvalidToken("token_revoked")
    if not session.user.is_active:
        raise InvalidToken("user_inactive")
    user = session.user
    now: datetime = timezone.now()
    if not s.ROTATE_REFRESH_TOKENS:
        if session._jwtr_jti_revoked:
            raise InvalidToken("token_revoked")
        return TokenPair(access=mint_access(user, session, now=now), refresh=raw, sid=session.sid)
    # A blacklisted jti here was retired by an earlier rotation: the
    # compare-and-swap below finds it rotated and treats it as a reuse.
    with transaction.atomic(using=using):
        won = (
            OutstandingToken.objects.using(using)
            .filter(jti=token.jti, session=session, rotated_at__isnull=True)
            .update(rotated_at=now)
        )
        if won:
            _blacklist(token, Reason.ROTATED, using=using, user_pk=user.pk)
            return mint_pair(user, session, now=now, using=using, request=request)
    _reuse_detected(token, session, request)
    raise InvalidToken("token_revoked")


def is_token_revoked(token: ValidatedToken) -> bool:
    """Whether ``token`` is revoked, read from the database (for introspection)."""
    from .state import DatabaseStore

    return DatabaseStore().token_state(token).revokes(token)

