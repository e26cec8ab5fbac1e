"""The issuer's revocation event feed, which resource servers follow.

Every revocation appends its events here, in its own transaction
(``record``, called by ``revocation.announce``): numbered from 1 with no gap,
in the order they commit. A resource server (``django_jwt_revoke.resource``,
or any program that speaks ``docs/feed.md``) keeps a copy of the revocation
state without access to this database: it loads a ``snapshot`` once, then
``poll``s for the events after the last one it applied (RFC 8936 poll
delivery). Every answer is signed with the token signing key, which must be
asymmetric, so that the consumer checks it with the keys ``jwks/`` publishes;
the wire format is ``secevents.py``'s.

Consumers are named in ``JWT_REVOKE["FEED_CONSUMERS"]`` and present their
credential as a Bearer token (``FeedConsumerAuthentication``); a user's JWT is
never one. The credential is never logged.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from rest_framework import authentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from . import secevents
from .backends import get_keys, is_hmac, sign
from .conf import jwt_revoke_settings
from .models import (
    BlacklistedToken,
    EventStream,
    GlobalRevocation,
    RevocationEvent,
    TokenSession,
    UserRevocation,
    event_lifetime,
)

if TYPE_CHECKING:
    from .stores import Fact

#: The shortest credential a consumer may have (checked by E037).
MIN_CREDENTIAL_LENGTH = 32
MAX_NONCE_LENGTH = 128
MAX_EVENTS = 1000
DEFAULT_MAX_EVENTS = 100
#: How often a long poll looks for a new event, in seconds.
LONG_POLL_STEP = 0.1

#: Fact kinds (``stores.Fact``) -> event kinds.
KINDS = {
    "jti": secevents.TOKEN,
    "session": secevents.SESSION,
    "user": secevents.USER,
    "epoch": secevents.ALL,
}


def _alias() -> str:
    # Where revocations write (``revocation._alias``): their events are there too.
    return jwt_revoke_settings.database_alias(TokenSession)


# -- recording -------------------------------------------------------------------------


def record(facts: Iterable[Fact], reason: str, using: str) -> None:
    """Append one event per fact to the feed, in the transaction that revokes them.

    One ``UPDATE`` adds their number to ``EventStream.last_seq`` and so
    locks its row until the transaction ends: revocations that record
    events commit one after the other, in the order of their numbers, and a
    reader that asks for the events after the last it saw never skips one
    that commits later. A rollback takes the numbers back with the events:
    no gap. The lock is taken last in every revoking transaction (after
    their own rows), so no two of them wait for each other in a circle.
    """
    facts = list(facts)
    if not facts:
        return
    leeway = jwt_revoke_settings.LEEWAY
    # No savepoint of its own: an error here fails the revocation's transaction.
    with transaction.atomic(using=using, savepoint=False):
        last = _take_numbers(len(facts), using)
        now = timezone.now()
        RevocationEvent.objects.using(using).bulk_create(
            [
                _event(seq, fact, str(reason)[:32], now, fact.until + leeway)
                for seq, fact in zip(range(last - len(facts) + 1, last + 1), facts, strict=True)
            ]
        )


def _take_numbers(count: int, using: str) -> int:
    """Add ``count`` to the stream's ``last_seq`` (row locked to commit); the new value."""
    streams = EventStream.objects.using(using).filter(pk=EventStream.SINGLETON_PK)
    if not streams.update(last_seq=F("last_seq") + count):
        EventStream.objects.using(using).get_or_create(pk=EventStream.SINGLETON_PK)
        streams.update(last_seq=F("last_seq") + count)
    return streams.values_list("last_seq", flat=True).get()


def _event(seq: int, fact: Fact, reason: str, now: datetime, expires: datetime) -> RevocationEvent:
    kind = KINDS[fact.kind]  # a fact of another kind is a bug: fail the revocation
    event = RevocationEvent(seq=seq, kind=kind, reason=reason, created_at=now, expires_at=expires)
    if kind == secevents.TOKEN:
        event.subject = fact.ident[0]
    elif kind == secevents.SESSION:
        event.subject, owner = fact.ident
        event.user_key = owner or ""
    elif kind == secevents.USER:
        event.subject, superseded = fact.ident
        event.generation = superseded + 1
    else:
        event.generation = fact.ident[0] + 1
    return event


def revocation_of(event: RevocationEvent) -> secevents.Revocation:
    """The wire form of ``event``."""
    kind = event.kind
    return secevents.Revocation(
        seq=event.seq,
        kind=kind,
        id=None if kind == secevents.ALL else event.subject,
        until=_seconds(event.expires_at),
        at=int(event.created_at.timestamp()),
        user=(event.user_key or None) if kind == secevents.SESSION else None,
        generation=event.generation if kind in (secevents.USER, secevents.ALL) else None,
        reason=event.reason,
    )


def _seconds(instant: datetime) -> int:
    """``instant`` in whole seconds since the epoch, rounded up (an ``until``)."""
    return math.ceil(instant.timestamp())


# -- who may read it ---------------------------------------------------------------------


class FeedConsumer:
    """A consumer of the feed named in ``FEED_CONSUMERS``: ``request.user`` for it.

    Not a user: it holds no session and no token, and is staff of nothing;
    ``is_authenticated`` so that DRF's permissions and throttles treat it as
    an authenticated caller (a throttle counts it under ``pk``).
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def pk(self) -> str:
        return f"feed-consumer:{self.name}"

    id = pk

    def get_username(self) -> str:
        return self.name

    def __str__(self) -> str:
        return f"feed consumer {self.name}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeedConsumer) and other.name == self.name

    def __hash__(self) -> int:
        return hash((FeedConsumer, self.name))


@sensitive_variables()
def consumer_with(credential: bytes) -> FeedConsumer | None:
    """The consumer whose credential is ``credential``, or None.

    Compared with every configured one in constant time. A configured
    credential the checks refuse (not a string, too short) matches nothing.
    """
    consumers = jwt_revoke_settings.FEED_CONSUMERS
    if not isinstance(consumers, Mapping):
        return None
    found = None
    for name, expected in consumers.items():
        if not isinstance(expected, str) or len(expected) < MIN_CREDENTIAL_LENGTH:
            continue
        if hmac.compare_digest(expected.encode(), credential) and found is None:
            found = FeedConsumer(str(name))
    return found


class FeedConsumerAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <credential>`` of a consumer in ``FEED_CONSUMERS``.

    Anything else (no header, another scheme, a JWT, an unknown credential)
    is not for this class: None, so that the view's next class may try it, or
    the view refuses the request as unauthenticated.
    """

    @sensitive_variables()
    def authenticate(self, request: Request) -> tuple[FeedConsumer, None] | None:
        parts = authentication.get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            return None
        consumer = consumer_with(parts[1])
        return None if consumer is None else (consumer, None)

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class IsFeedConsumer(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.user, FeedConsumer)


# -- answering ----------------------------------------------------------------------------


class FeedRefusal(Exception):
    """A feed request refused: ``status``, and ``err`` (stable) and ``description``."""

    def __init__(self, status: int, err: str, description: str) -> None:
        super().__init__(f"{err}: {description}")
        self.status = status
        self.err = err
        self.description = description

    def body(self) -> dict[str, str]:
        return {"err": self.err, "description": self.description}


def _invalid(description: str) -> FeedRefusal:
    return FeedRefusal(400, "invalid_request", description)


def _resync(description: str) -> FeedRefusal:
    return FeedRefusal(409, "resync_required", description + "; load a snapshot.")


def _is_int(value: Any) -> bool:
    return type(value) is int


class Poll(NamedTuple):
    """A poll request (RFC 8936 section 2.4, and our ``after`` and ``nonce``)."""

    after: int
    nonce: str
    max_events: int = DEFAULT_MAX_EVENTS
    return_immediately: bool = True
    ack: tuple[str, ...] = ()


def _nonce(data: Mapping[str, Any]) -> str:
    nonce = data.get("nonce")
    if not isinstance(nonce, str) or not 0 < len(nonce) <= MAX_NONCE_LENGTH:
        raise _invalid(f"nonce must be a string of 1 to {MAX_NONCE_LENGTH} characters.")
    return nonce


def _body(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise _invalid("The body must be a JSON object.")
    return data


def parse_poll(data: Any) -> Poll:
    """The ``Poll`` a request body asks for, or ``FeedRefusal`` (400) naming the bad member."""
    data = _body(data)
    after = data.get("after")
    if not _is_int(after) or not 0 <= after <= secevents.MAX_INT:
        raise _invalid("after must be the whole number of the last event applied (0: none).")
    nonce = _nonce(data)
    max_events = data.get("maxEvents", DEFAULT_MAX_EVENTS)
    if not _is_int(max_events) or not 1 <= max_events <= MAX_EVENTS:
        raise _invalid(f"maxEvents must be a whole number from 1 to {MAX_EVENTS}.")
    immediately = data.get("returnImmediately", True)
    if not isinstance(immediately, bool):
        raise _invalid("returnImmediately must be true or false.")
    ack = data.get("ack", [])
    if not isinstance(ack, list) or not all(isinstance(jti, str) for jti in ack):
        raise _invalid("ack must be an array of SET jti strings.")
    return Poll(after, nonce, max_events, immediately, tuple(ack))


def parse_snapshot_request(data: Any) -> str:
    """The nonce a snapshot request sends, or ``FeedRefusal`` (400)."""
    return _nonce(_body(data))


def check_signing_key() -> None:
    """``FeedRefusal`` (503) unless the signing key is asymmetric (E038 reports it)."""
    if is_hmac(get_keys().algorithm):
        raise FeedRefusal(
            503,
            "feed_unavailable",
            "The feed is signed with an asymmetric signing key, and ALGORITHM is HMAC.",
        )


def current_stream(using: str | None = None) -> EventStream:
    """The stream's row as committed now (created, with a new id, on first use)."""
    stream, _created = EventStream.objects.using(using or _alias()).get_or_create(
        pk=EventStream.SINGLETON_PK
    )
    return stream


def _head(poll: Poll, using: str) -> EventStream:
    """The stream once it has an event after ``poll.after``, or at the long poll's end."""
    waited = 0.0 if poll.return_immediately else jwt_revoke_settings.FEED_LONG_POLL.total_seconds()
    deadline = time.monotonic() + waited
    while True:
        stream = current_stream(using)
        if poll.after < stream.purged_through:
            raise _resync(f"Events up to {stream.purged_through} were purged")
        if poll.after > stream.last_seq:
            raise _resync(
                f"The feed ends at event {stream.last_seq}, before {poll.after}: "
                "this is not the history you followed (a restored database?)"
            )
        left = deadline - time.monotonic()
        if stream.last_seq > poll.after or left <= 0:
            return stream
        time.sleep(min(LONG_POLL_STEP, left))


def poll(request: Poll) -> dict[str, Any]:
    """The answer to a poll: the signed SETs after ``request.after``, and a receipt.

    ``head`` (the newest event committed) is read first and the events up
    to it then: every event up to it has committed, so the answer holds
    exactly the events ``after + 1`` through ``last`` with no gap, or it is
    a 409 (the purge took some meanwhile).
    """
    check_signing_key()
    using = _alias()
    stream = _head(request, using)
    head = stream.last_seq
    last = min(head, request.after + request.max_events)
    events = list(
        RevocationEvent.objects.using(using)
        .filter(seq__gt=request.after, seq__lte=last)
        .order_by("seq")
    )
    if [e.seq for e in events] != list(range(request.after + 1, last + 1)):
        raise _resync(f"Events after {request.after} were purged meanwhile")
    now = int(time.time())
    issuer = jwt_revoke_settings.ISSUER
    sets = {
        f"{stream.stream}.{event.seq}": _signed_set(revocation_of(event), stream.stream, now)
        for event in events
    }
    receipt = secevents.Receipt(
        request.nonce, stream.stream, request.after, last, head, more=last < head
    )
    return {
        "sets": sets,
        "moreAvailable": receipt.more,
        "receipt": sign(
            secevents.receipt_claims(receipt, issuer=issuer, now=now), typ=secevents.RECEIPT_TYPE
        ),
    }


class _SignedSets:
    """Signed SETs by event, kid and issuer: a SET does not depend on who asks.

    Keyed by the whole event (not its number alone): a database restored
    from a backup numbers new events as old ones were, and must not be
    answered with the old ones. Least recently used entries go first.
    """

    size = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: OrderedDict[tuple[Any, ...], str] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> str | None:
        with self._lock:
            found = self._sets.get(key)
            if found is not None:
                self._sets.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], value: str) -> None:
        with self._lock:
            self._sets[key] = value
            while len(self._sets) > self.size:
                self._sets.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()


signed_sets = _SignedSets()


def _signed_set(rev: secevents.Revocation, stream: str, now: int) -> str:
    issuer = jwt_revoke_settings.ISSUER
    key = (stream, rev, get_keys().signing_kid, issuer)
    found = signed_sets.get(key)
    if found is None:
        claims = secevents.set_claims(rev, issuer=issuer, now=now, stream=stream)
        found = sign(claims, typ=secevents.SET_TYPE)
        signed_sets.put(key, found)
    return found


def snapshot(nonce: str) -> str:
    """A signed snapshot: every revocation that still matters, as of the stream's head.

    The head is read first, the state then, so the state holds at least
    every event up to the head (a consumer that applies the events after it
    again changes nothing: each states an absolute, lasting fact). Entries
    whose tokens can no longer be accepted are left out. Rows are streamed
    from the database, never loaded as model instances.
    """
    check_signing_key()
    using = _alias()
    stream = current_stream(using)
    now = timezone.now()
    leeway = jwt_revoke_settings.LEEWAY
    lasting = event_lifetime()
    chunk = 10_000
    tokens = [
        (jti, _seconds(expires_at + leeway))
        for jti, expires_at in BlacklistedToken.objects.using(using)
        .filter(expires_at__gt=now - leeway)
        .order_by()
        .values_list("jti", "expires_at")
        .iterator(chunk_size=chunk)
    ]
    sessions = [
        (sid, _seconds(expires_at + leeway))
        for sid, expires_at in TokenSession.objects.using(using)
        .filter(revoked_at__isnull=False, expires_at__gt=now - leeway)
        .order_by()
        .values_list("sid", "expires_at")
        .iterator(chunk_size=chunk)
    ]
    users = [
        (key, generation, _seconds((revoked_at or now) + lasting))
        for key, generation, revoked_at in UserRevocation.objects.using(using)
        .filter(Q(revoked_at__gt=now - lasting) | Q(revoked_at__isnull=True), generation__gt=0)
        .order_by()
        .values_list("user_key", "generation", "revoked_at")
        .iterator(chunk_size=chunk)
    ]
    everyone = None
    found = (
        GlobalRevocation.objects.using(using)
        .current()
        .filter(generation__gt=0)
        .values_list("generation", "revoked_at")
        .first()
    )
    if found is not None:
        until = (found[1] or now) + lasting
        if until > now:
            everyone = (found[0], _seconds(until))
    state = secevents.Snapshot(
        nonce, stream.stream, stream.last_seq, tokens, sessions, users, everyone
    )
    issuer = jwt_revoke_settings.ISSUER
    claims = secevents.snapshot_claims(state, issuer=issuer, now=int(time.time()))
    return sign(claims, typ=secevents.SNAPSHOT_TYPE)
