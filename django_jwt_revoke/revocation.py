"""Every operation that changes token state lives here.

Opening a session (a login: ``open_session``, public as
``tokens.issue_token_pair``), rotating a refresh token, and revoking one
token, one session, one user's tokens or everyone's. Views, the admin,
signal receivers and management commands call these functions and nothing
else writes token state; the queries they run are the models' (``models.py``). Each operation is a
constant number of writes whatever the number of tokens involved, and each is
idempotent: revoking twice changes nothing the second time and sends no
second signal.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from . import feed
from .claims import LEGACY_SID_PREFIX, REFRESH, ValidatedToken, expiry, legacy_sid, new_id, user_key
from .conf import is_session_limit, jwt_revoke_settings
from .exceptions import InvalidToken
from .models import (
    BlacklistedToken,
    GlobalRevocation,
    OutstandingToken,
    Reason,
    TokenSession,
    UserRevocation,
    current_generations,
    is_storable,
    revocation_state,
    storable,
    users_with_id,
)
from .signals import (
    all_tokens_revoked,
    refresh_token_reused,
    token_revoked,
    user_tokens_revoked,
)
from .stores import Fact, TokenState, get_store
from .tokens import TokenPair, decode_token, mint_access, mint_refresh

__all__ = [
    "active_token",
    "is_token_revoked",
    "live_sessions",
    "logout",
    "open_session",
    "revoke_all_tokens",
    "revoke_session",
    "revoke_token",
    "revoke_user_session",
    "revoke_user_tokens",
    "rotate_refresh_token",
]


def _alias() -> str:
    return jwt_revoke_settings.database_alias(TokenSession)


def announce(facts: Iterable[Fact], reason: str, using: str) -> None:
    """Record ``facts`` in the event feed now, and tell the store once they commit.

    Every revocation is recorded but a rotation's (``Reason.ROTATED``).

    Call it inside the transaction that writes them, after its last write
    of revocation state (``feed.record`` locks the feed's one row until the
    commit: taken last everywhere, that lock cannot wait in a circle with
    another revocation's rows). The events are part of the transaction: a
    rollback takes them back with the revocation, and a committed
    revocation always has them.

    The store hears after the commit, never before: the database is the
    only store a revocation must succeed in, and a cache that cannot be
    written does not fail it (``RevocationStore.revoked`` never raises).
    Discarded with the transaction if it rolls back.
    """
    facts = list(facts)
    if reason != Reason.ROTATED:
        # A refresh token retired by its rotation matters here alone (a
        # resource server never accepts a refresh token), and recording it
        # would queue every refresh behind the feed's lock.
        feed.record(facts, reason, using)
    transaction.on_commit(partial(get_store().revoked, facts), using=using)


def _generation_superseded(kind: str, ident: tuple[Any, ...]) -> Fact:
    """The fact that tokens carrying ``ident``'s generation are revoked.

    Such tokens were all issued before now, so none outlives the longest
    lifetime from now (a login that read the generation just before the bump
    may still issue one; its check then reads the database).
    """
    return Fact(kind, ident, timezone.now() + jwt_revoke_settings.REFRESH_TOKEN_LIFETIME)


def _blacklist(
    token: ValidatedToken,
    reason: str,
    *,
    using: str,
    user_pk: Any = None,
    sid: str | None = None,
) -> bool:
    """Record ``token``'s jti as revoked; False if it already was.

    ``sid``: the session recorded with it (default: the token's own; a
    legacy token has none, or the one derived from its jti).
    """
    with transaction.atomic(using=using, savepoint=False):  # the row and its event
        try:
            with transaction.atomic(using=using):
                BlacklistedToken.objects.using(using).create(
                    jti=token.jti,
                    token_type=token.token_type,
                    user_id=user_pk,
                    sid=sid or token.sid or "",
                    reason=reason,
                    expires_at=token.expires_at,
                )
        except IntegrityError:
            return False
        announce([Fact("jti", (token.jti,), token.expires_at)], reason, using)
    return True


def _session_owner_pk(sid: str, using: str) -> Any:
    sessions = TokenSession.objects.using(using).filter(sid=sid)
    return sessions.values_list("user_id", flat=True).first()


def _owner_key_lookup() -> str:
    """The lookup of a session owner's USER_ID_FIELD, from ``TokenSession``."""
    return f"user__{jwt_revoke_settings.USER_ID_FIELD}"


def session_facts(sessions: Any) -> list[Fact]:
    """The facts of revoking ``sessions`` (a ``TokenSession`` queryset)."""
    return [
        Fact("session", (sid, user_key(key)), expires_at)
        for sid, key, expires_at in sessions.values_list("sid", _owner_key_lookup(), "expires_at")
    ]


def revoke_session(sid: str, reason: str = Reason.LOGOUT) -> bool:
    """Revoke every token of one login: its access tokens and its refresh tokens.

    Returns True if the session was live and is now revoked, False if it was
    already revoked or is unknown (a ``sid`` no database can store included).
    """
    if not is_storable(sid):
        return False
    using = _alias()
    now = timezone.now()
    with transaction.atomic(using=using):
        changed = (
            TokenSession.objects.using(using)
            .filter(sid=sid, revoked_at__isnull=True)
            .update(revoked_at=now, revoke_reason=reason)
        )
        if changed:
            revoked = TokenSession.objects.using(using).filter(sid=sid)
            _sessions_revoked([revoked.values_list(*_revoked_fields()).get()], reason, using)
    return bool(changed)


def _revoked_fields() -> tuple[str, ...]:
    """What ``_sessions_revoked`` reads of each session, as ``values_list`` names."""
    return ("sid", "user_id", _owner_key_lookup(), "expires_at")


def _sessions_revoked(rows: list[tuple[Any, ...]], reason: str, using: str) -> None:
    """Announce the sessions this transaction has just revoked; signal each once it commits.

    ``rows``: one ``_revoked_fields()`` tuple per session. One ``announce``
    for them all, after their rows are written: the feed is locked once, last.
    """
    facts = [Fact("session", (sid, user_key(owner)), expires) for sid, _, owner, expires in rows]
    announce(facts, reason, using)
    for sid, user_pk, _owner, _expires in rows:
        transaction.on_commit(
            partial(
                token_revoked.send,
                sender=TokenSession,
                jti=None,
                sid=sid,
                token_type=None,
                user_id=user_pk,
                reason=str(reason),
            ),
            using=using,
        )


@sensitive_variables()
def revoke_token(token: str | ValidatedToken, reason: str = Reason.LOGOUT) -> bool:
    """Revoke one token, given encoded or already validated.

    An access token is revoked alone. A refresh token takes its whole session
    with it (RFC 7009 section 2.1): the access tokens minted beside it would
    otherwise outlive the logout. An expired token needs no revocation and
    returns False; a token that does not verify raises ``InvalidToken``.
    Returns True if anything changed.

    A legacy (simplejwt) refresh token's session is the one derived from its
    jti (``legacy_sid``), which its first refresh or the import opened; if
    neither has yet, it is recorded here already revoked, so that a refresh
    racing this revocation can only find it revoked.
    """
    if not isinstance(token, ValidatedToken):
        try:
            token = decode_token(token, token_type=None)
        except InvalidToken as exc:
            if exc.code == "token_expired":
                return False
            raise
    using = _alias()
    refresh = token.token_type == REFRESH
    with transaction.atomic(using=using):
        if token.legacy:
            sid = legacy_sid(token.jti) if refresh else None
            user_pk = users_with_id(token.user_id, using).values_list("pk", flat=True).first()
            if sid is not None and user_pk is not None:
                now = timezone.now()
                TokenSession.objects.using(using).bulk_create(
                    [
                        TokenSession(
                            sid=sid,
                            user_id=user_pk,
                            created_at=token.issued_at,
                            expires_at=token.expires_at,
                            revoked_at=now,
                            revoke_reason=reason,
                        )
                    ],
                    ignore_conflicts=True,
                )
        else:
            sid = token.sid
            user_pk = _session_owner_pk(sid, using) if sid is not None else None
        if refresh and sid is not None:
            # The session row is written below, after the jti's event has
            # locked the feed: lock it first, as every other writer of it
            # does before the feed (a rotation, revoke_session), or the two
            # could wait for each other.
            sessions = TokenSession.objects.using(using).filter(sid=sid)
            list(sessions.select_for_update().values_list("pk", flat=True))
        changed = _blacklist(token, reason, using=using, user_pk=user_pk, sid=sid)
        if changed:
            transaction.on_commit(
                lambda: token_revoked.send(
                    sender=BlacklistedToken,
                    jti=token.jti,
                    sid=sid,
                    token_type=token.token_type,
                    user_id=user_pk,
                    reason=str(reason),
                ),
                using=using,
            )
        if refresh and sid is not None:
            changed = revoke_session(sid, reason) or changed
    return changed


def _bump_generation(model: Any, lookup: dict[str, Any], reason: str, *, using: str) -> int:
    """Add one to the generation of ``model``'s row at ``lookup`` (created at 1).

    One ``UPDATE`` whatever the number of tokens; returns the new generation.
    Must run inside a transaction.
    """
    rows = model.objects.using(using).filter(**lookup)
    bump = {"generation": F("generation") + 1, "revoked_at": timezone.now(), "reason": reason}
    if not rows.update(**bump):
        try:
            with transaction.atomic(using=using):
                model.objects.using(using).create(
                    **lookup, generation=1, revoked_at=bump["revoked_at"], reason=reason
                )
        except IntegrityError:  # created concurrently: bump that row instead
            rows.update(**bump)
    return rows.values_list("generation", flat=True).get()


def revoke_user_tokens(user: Any, reason: str = Reason.LOGOUT_ALL) -> int:
    """Revoke every token ``user`` holds, access tokens included, in one write.

    The user's revocation generation goes up by one; every token issued so far
    carries a lower one. Tokens issued afterwards carry the new generation and
    work. Returns the new generation.
    """
    return _revoke_user(user, reason, signal=True)


def _revoke_user(user: Any, reason: str, *, signal: bool) -> int:
    """``revoke_user_tokens``; ``signal`` False sends no ``user_tokens_revoked``."""
    using = _alias()
    key = user_key(user)
    with transaction.atomic(using=using):
        generation = _bump_generation(UserRevocation, {"user_key": key}, reason, using=using)
        announce([_generation_superseded("user", (key, generation - 1))], reason, using)
        if signal:
            transaction.on_commit(
                lambda: user_tokens_revoked.send(
                    sender=UserRevocation, user=user, reason=str(reason), generation=generation
                ),
                using=using,
            )
    return generation


def revoke_all_tokens(reason: str = Reason.INCIDENT) -> int:
    """Revoke every token of every user issued up to now, in one write.

    For the day a signing key or a database dump leaks: the global
    generation goes up by one and every token carries an older one. Tokens
    issued afterwards work. Returns the new global generation.
    """
    using = _alias()
    pk = GlobalRevocation.SINGLETON_PK
    with transaction.atomic(using=using):
        epoch = _bump_generation(GlobalRevocation, {"pk": pk}, reason, using=using)
        announce([_generation_superseded("epoch", (epoch - 1,))], reason, using)
        transaction.on_commit(
            lambda: all_tokens_revoked.send(
                sender=GlobalRevocation, reason=str(reason), generation=epoch
            ),
            using=using,
        )
    return epoch


# -- opening a session (a login) -------------------------------------------------


class Generations(NamedTuple):
    """The revocation generations a new session's tokens carry.

    Read *before* the check that justifies issuing them (the password check
    of a login), so that a revocation committing during that check (a
    password change, a deactivation, a logout-all, ``revoke_all_tokens``)
    kills the tokens of the login it raced (docs/consistency.md, P2).
    """

    user_key: str | None  # whose generation was read; None: no user was found
    generation: int
    epoch: int


def read_generations(user: Any = None) -> Generations:
    """The current generations of ``user`` (None: the global one alone)."""
    key = None if user is None else user_key(user)
    generation, epoch = current_generations(key, _alias())
    return Generations(key, generation, epoch)


def client_metadata(request: HttpRequest | None) -> dict[str, Any]:
    """The user agent and IP address recorded with a session, when a request is given.

    The IP is ``REMOTE_ADDR``: behind a proxy, have the proxy (or a middleware
    you trust) set it; a client-supplied ``X-Forwarded-For`` is not trusted.
    The user agent is the client's to write: what no database text column
    can hold (a NUL) is replaced by U+FFFD, so that it cannot fail the login.
    """
    if request is None:
        return {"user_agent": "", "ip": None}
    meta = getattr(request, "META", {})
    ip = meta.get("REMOTE_ADDR") or None
    if ip is not None:
        try:
            validate_ipv46_address(ip)
        except ValidationError:
            ip = None
    return {"user_agent": storable(str(meta.get("HTTP_USER_AGENT", "")))[:256], "ip": ip}


def mint_pair(
    user: Any,
    session: TokenSession,
    *,
    now: datetime,
    using: str,
    request: HttpRequest | None = None,
    new_session: bool = False,
) -> TokenPair:
    """Sign an access and a refresh token for ``session`` and record the refresh one.

    Both are signed before anything is written, so a login or a rotation
    that cannot sign (an ``EXTRA_CLAIMS`` hook raising) writes nothing.
    ``new_session``: ``session`` is a login's, not saved yet; it is inserted
    first.
    """
    jti, refresh = mint_refresh(user, session, now=now)
    access = mint_access(user, session, now=now)
    if new_session:
        session.save(force_insert=True, using=using)
    refresh_expires = expiry(now, jwt_revoke_settings.REFRESH_TOKEN_LIFETIME)
    OutstandingToken.objects.using(using).create(
        jti=jti,
        user=user,
        session=session,
        created_at=now,
        expires_at=refresh_expires,
        **client_metadata(request),
    )
    if session.expires_at != refresh_expires:
        # A rotation: the session now lives as long as its newest refresh token.
        session.expires_at = refresh_expires
        TokenSession.objects.using(using).filter(pk=session.pk).update(expires_at=refresh_expires)
    return TokenPair(access=access, refresh=refresh, sid=session.sid)


def open_session(
    user: Any, request: HttpRequest | None = None, *, generations: Generations | None = None
) -> TokenPair:
    """Open a new session for ``user`` (a login) and return its first token pair.

    Records the session (with the client's user agent and IP when ``request``
    is given) and the refresh token's ``jti``; never the tokens themselves.

    ``generations``: what ``read_generations(user)`` answered *before* you
    checked the user's credentials. Then a password change, deactivation or
    logout-all that commits while the check runs kills this pair too. Left
    out, they are read now: right when nothing was checked (an admin signing
    a user in, a test). Generations read for another user are not used.

    With ``MAX_SESSIONS_PER_USER``, the user's oldest live sessions beyond
    it are revoked in the same transaction (reason ``session_limit``), the
    logins of one user taking their turn on its row's lock.

    Without a limit the two rows are written without a transaction of their
    own (two statements instead of four): no guarantee needs them to commit
    together. Both tokens are signed before the first write; they carry the
    generations read before the credentials were checked, so a revocation
    committing between the two writes kills them all the same. Only the
    database failing between the two leaves a session no token was issued
    for (listed until it is revoked or expires).
    """
    limit = session_limit()
    if limit is None:
        return _open_session(user, request, generations, limit)
    with transaction.atomic(using=_alias()):
        return _open_session(user, request, generations, limit)


def _open_session(
    user: Any, request: HttpRequest | None, generations: Generations | None, limit: int | None
) -> TokenPair:
    using = _alias()
    key = user_key(user)
    if limit is not None:
        _lock_logins_of(user, using)
    # After the lock: the sessions of one user are dated in the order of their logins.
    now = timezone.now()
    if generations is not None and generations.user_key == key:
        generation, epoch = generations.generation, generations.epoch
    else:
        generation, epoch = current_generations(key, using)
        if generations is not None:
            epoch = min(epoch, generations.epoch)
    session = TokenSession(
        sid=new_id(),
        user=user,
        generation=generation,
        epoch=epoch,
        created_at=now,
        expires_at=expiry(now, jwt_revoke_settings.REFRESH_TOKEN_LIFETIME),
        **client_metadata(request),
    )
    pair = mint_pair(user, session, now=now, using=using, request=request, new_session=True)
    if limit is not None:
        _revoke_sessions_beyond(limit, session, key, now=now, using=using)
    return pair


def session_limit() -> int | None:
    """``MAX_SESSIONS_PER_USER`` as logins apply it: None (no limit) or N >= 1.

    A value the ``E040`` check refuses reads as 1, the strictest limit: a
    mistyped setting never lifts the limit it meant to set.
    """
    limit = jwt_revoke_settings.MAX_SESSIONS_PER_USER
    if limit is None:
        return None
    if is_session_limit(limit):
        return limit
    return 1


def _lock_logins_of(user: Any, using: str) -> None:
    """Lock ``user``'s row until this login commits (``MAX_SESSIONS_PER_USER``).

    The logins of one user then count its live sessions one after the other,
    each seeing the sessions of those before it; logins of other users never
    wait. ``FOR NO KEY UPDATE`` where the database has it: rows that merely
    reference the user (a refresh of one of its sessions) do not wait for
    it, while a login, a password change or a deactivation of the user does.
    A database without row locks (SQLite) lets one writer at a time through:
    this login's first write holds its lock until the commit, before the
    sessions are counted.
    """
    features = transaction.get_connection(using).features
    if not features.has_select_for_update:
        return
    users = type(user)._base_manager.db_manager(using).filter(pk=user.pk)
    locked = users.select_for_update(no_key=features.has_select_for_no_key_update)
    list(locked.values_list("pk", flat=True))


def _revoke_sessions_beyond(
    limit: int, session: TokenSession, owner_key: str, *, now: datetime, using: str
) -> None:
    """Revoke the oldest live sessions of ``session``'s user beyond ``limit``, it kept.

    Oldest by ``created_at``, then by primary key. Run under the user's lock
    (``_lock_logins_of``), in the login's transaction: the sessions' rows are
    locked, then revoked as ``revoke_session`` revokes (reason
    ``session_limit``): the cache, the signals and the event feed hear of
    each, and the feed is locked last.
    """
    features = transaction.get_connection(using).features
    lock: dict[str, Any] = {}
    if features.has_select_for_update_of:
        lock["of"] = ("self",)  # not the user row a non-pk USER_ID_FIELD joins
    if features.has_select_for_no_key_update:
        lock["no_key"] = True
    others = (
        TokenSession.objects.using(using)
        .filter(user_id=session.user_id)
        .live(owner_key)
        .exclude(pk=session.pk)
        .order_by("-created_at", "-pk")
    )
    rows = list(others.select_for_update(**lock).values_list(*_revoked_fields())[limit - 1 :])
    if not rows:
        return
    reason = Reason.SESSION_LIMIT
    TokenSession.objects.using(using).filter(
        sid__in=[row[0] for row in rows], revoked_at__isnull=True
    ).update(revoked_at=now, revoke_reason=reason)
    _sessions_revoked(rows, reason, using)


# -- rotating a refresh token -----------------------------------------------------


def _reuse_detected(
    token: ValidatedToken, session: TokenSession, request: HttpRequest | None
) -> None:
    """A retired refresh token came back: its session ends (``REUSE_DETECTION``).

    A session opened for a legacy (simplejwt) refresh token also had the
    legacy access tokens simplejwt minted beside it, which carry no ``sid``:
    revoking the session cannot reach them. While they are accepted
    (``ACCEPT_SIMPLEJWT_TOKENS``), every token of the user is revoked as
    well, which does reach them: the thief's legacy access tokens die with
    the rest, at the price of the user's other sessions.
    """
    if not jwt_revoke_settings.REUSE_DETECTION:
        return
    if revoke_session(session.sid, Reason.REUSE_DETECTED):
        # Committed on its own first: should this write fail, the session
        # (and the thief's refresh token) is over all the same.
        if jwt_revoke_settings.ACCEPT_SIMPLEJWT_TOKENS is True and session.sid.startswith(
            LEGACY_SID_PREFIX
        ):
            _revoke_user(session.user, Reason.REUSE_DETECTED, signal=True)
        refresh_token_reused.send(
            sender=OutstandingToken,
            jti=token.jti,
            sid=session.sid,
            user_id=session.user_id,
            request=request,
        )


@sensitive_variables()
def rotate_refresh_token(raw: str, request: HttpRequest | None = None) -> TokenPair:
    """Exchange a refresh token for a new pair (the refresh endpoint).

    The old refresh token is retired with one compare-and-swap ``UPDATE ...
    WHERE rotated_at IS NULL`` inside the transaction that mints its
    successor: of N concurrent callers exactly one wins. Every other caller,
    and anyone presenting a retired token later, is a reuse: with
    ``REUSE_DETECTION`` the whole session is revoked, since one of the two
    holders is a thief. Raises ``InvalidToken`` when the token is refused.
    With ``ROTATE_REFRESH_TOKENS`` off, the same refresh token is returned.

    A legacy (simplejwt) refresh token is first given the session and the
    outstanding row the import would have given it (``_adopt_legacy``), then
    goes the same way: exchanged for our pair, and retired by the same
    compare-and-swap.
    """
    token = decode_token(raw, token_type=REFRESH)
    using = _alias()
    s = jwt_revoke_settings
    sid = _adopt_legacy(token, using, request) if token.legacy else token.sid
    session = (
        TokenSession.objects.using(using)
        .select_related("user")
        .filter(sid=sid)
        .annotate(**revocation_state(jti=token.jti, user_key=token.user_key))
        .first()
    )
    if session is None or user_key(session.user) != token.user_key:
        raise InvalidToken("token_revoked")
    generation = session._jwtr_generation or 0
    epoch = session._jwtr_epoch or 0
    # The jti is left to the compare-and-swap below: a blacklisted one was
    # retired by an earlier rotation, which makes this call a reuse.
    state = TokenState(session.is_live(generation, epoch), False, generation, epoch)
    if state.revokes(token):
        raise InvalidToken("token_revoked")
    if not session.user.is_active:
        raise InvalidToken("user_inactive")
    user = session.user
    now: datetime = timezone.now()
    if not s.ROTATE_REFRESH_TOKENS:
        if session._jwtr_jti_revoked:
            raise InvalidToken("token_revoked")
        return TokenPair(access=mint_access(user, session, now=now), refresh=raw, sid=session.sid)
    with transaction.atomic(using=using):
        won = (
            OutstandingToken.objects.using(using)
            .filter(jti=token.jti, session=session, rotated_at__isnull=True)
            .update(rotated_at=now)
        )
        if won:
            pair = mint_pair(user, session, now=now, using=using, request=request)
            # Last: its event locks the feed (``announce``), after the session row.
            _blacklist(token, Reason.ROTATED, using=using, user_pk=user.pk, sid=session.sid)
            return pair
    _reuse_detected(token, session, request)
    raise InvalidToken("token_revoked")


def _adopt_legacy(token: ValidatedToken, using: str, request: HttpRequest | None) -> str:
    """The sid of a legacy refresh token's session, recording it on its first refresh.

    The import command records every legacy refresh token that was
    outstanding in simplejwt's blacklist app; one it did not (the app was
    not installed, or the token is newer than the import) is recorded here
    the same way: a ``TokenSession`` with the sid derived from its jti and
    an ``OutstandingToken`` for it, so that the rotation that follows is
    our own compare-and-swap. Concurrent first refreshes insert the same
    rows (``ignore_conflicts``: the unique sid and jti keep one) and then
    race on that compare-and-swap like any others. Raises ``InvalidToken``
    before writing anything for a token that would be refused anyway.
    """
    found = (
        OutstandingToken.objects.using(using)
        .filter(jti=token.jti)
        .values_list("session__sid", flat=True)
        .first()
    )
    if found is not None:
        return found
    user = users_with_id(token.user_id, using).first()
    if user is None:
        raise InvalidToken("token_revoked")
    generation, epoch = current_generations(user_key(user), using)
    if token.generation < generation or token.epoch < epoch:
        raise InvalidToken("token_revoked")
    if not getattr(user, "is_active", True):
        raise InvalidToken("user_inactive")
    sid = legacy_sid(token.jti)
    metadata = client_metadata(request)
    with transaction.atomic(using=using):
        TokenSession.objects.using(using).bulk_create(
            [
                TokenSession(
                    sid=sid,
                    user=user,
                    generation=generation,
                    epoch=epoch,
                    created_at=token.issued_at,
                    expires_at=token.expires_at,
                    **metadata,
                )
            ],
            ignore_conflicts=True,
        )
        session_pk = (
            TokenSession.objects.using(using).filter(sid=sid).values_list("pk", flat=True).get()
        )
        OutstandingToken.objects.using(using).bulk_create(
            [
                OutstandingToken(
                    jti=token.jti,
                    user=user,
                    session_id=session_pk,
                    created_at=token.issued_at,
                    expires_at=token.expires_at,
                    **metadata,
                )
            ],
            ignore_conflicts=True,
        )
    return sid


def is_token_revoked(token: ValidatedToken) -> bool:
    """Whether ``token`` is revoked, as the database says (never a cached copy)."""
    return get_store().database.token_state(token).revokes(token)


# -- used by the HTTP endpoints (views.py) ---------------------------------------


@sensitive_variables()
def logout(access: ValidatedToken, refresh: str | None = None) -> bool:
    """End the login ``access`` belongs to (its access and refresh tokens).

    ``refresh``, when given (clients written for simplejwt send it), is revoked
    with its session too if it is a valid refresh token of the same user; any
    other value is ignored, so a logout never fails and never touches another
    user's tokens. Returns True if anything changed. A legacy (simplejwt)
    access token has no session: it is revoked alone.
    """
    sid = access.sid
    if sid is None:  # legacy
        changed = revoke_token(access, Reason.LOGOUT)
    else:
        changed = revoke_session(sid, Reason.LOGOUT)
    if refresh:
        try:
            token = decode_token(refresh, token_type=REFRESH)
        except InvalidToken:
            return changed
        if token.user_key == access.user_key:
            changed = revoke_token(token, Reason.LOGOUT) or changed
    return changed


def live_sessions(user: Any) -> Any:
    """The user's sessions whose tokens can still be used, newest first.

    Live: not revoked, not expired (leeway included, as verification allows),
    and opened at or after the user's last "revoke every token".
    """
    return TokenSession.objects.using(_alias()).filter(user=user).live(user_key(user))


def revoke_user_session(user: Any, sid: str, reason: str = Reason.LOGOUT) -> bool:
    """Revoke the session ``sid`` if it is one of ``user``'s.

    Returns False when ``user`` has no such session (unknown, or another
    user's: the caller answers both alike), True otherwise, whether it was
    live until now or already revoked (revoking is idempotent). ``sid`` is
    the client's text (a URL path): one no database can store (a NUL) is
    unknown, never a query that fails.
    """
    if not is_storable(sid):
        return False
    using = _alias()
    if not TokenSession.objects.using(using).filter(sid=sid, user=user).exists():
        return False
    revoke_session(sid, reason)
    return True


@sensitive_variables()
def active_token(raw: Any) -> tuple[ValidatedToken, Any] | None:
    """The token and its user if ``raw`` would be accepted now, else None (RFC 7662).

    Accepted: it verifies, has not expired, is not revoked (nor its session,
    nor its user's tokens; a rotated refresh token is revoked), and its user
    exists and is active. Either token type. State is read as authentication
    reads it.
    """
    try:
        token = decode_token(raw, token_type=None)
    except InvalidToken:
        return None
    if is_token_revoked(token):
        return None
    user = users_with_id(token.user_id, _alias()).first()
    if user is None or not getattr(user, "is_active", True):
        return None
    return token, user
