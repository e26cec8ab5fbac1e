"""The revocation feed's wire format, shared by the issuer and resource servers.

Pure data: no Django model, no setting, no network. The issuer builds these
claim sets and signs them with its token signing key; a resource server
verifies them with the issuer's ``jwks/`` keys and parses them back here. The
protocol is written up in ``docs/feed.md`` so that a service in another
language can consume the feed.

Three kinds of signed JWT travel on the feed:

* a **Security Event Token** (RFC 8417, header ``typ: secevent+jwt``) per
  revocation event, in the ``sets`` map of a poll answer (RFC 8936). Its
  ``events`` claim holds the CAEP / RISC event that fits (for receivers that
  speak the Shared Signals Framework) and ours, ``STATE_EVENT``, which says
  exactly what is revoked and which a resource server applies;
* a **receipt** (``typ: feed-receipt+jwt``) in each poll answer: it binds the
  answer to the request (the consumer's ``nonce``) and says which events it
  holds (``after`` + 1 through ``last``) and the newest event committed when
  it was read (``head``). RFC 8936 has no such member: without it a replayed
  or truncated answer could make a consumer believe it is current;
* a **snapshot** (``typ: feed-snapshot+jwt``): every revocation that still
  matters, as of event ``head``, for a consumer that starts or fell behind
  the retained history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, TypeGuard

SET_TYPE = "secevent+jwt"
RECEIPT_TYPE = "feed-receipt+jwt"
SNAPSHOT_TYPE = "feed-snapshot+jwt"

#: Our event type: its payload is a ``Revocation`` (``Revocation.payload()``).
STATE_EVENT = "urn:django-jwt-revoke:secevent:revocation"

_CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
_RISC = "https://schemas.openid.net/secevent/risc/event-type/"
SESSION_REVOKED = _CAEP + "session-revoked"
CREDENTIAL_CHANGE = _CAEP + "credential-change"
TOKENS_REVOKED = _RISC + "tokens-revoked"
ACCOUNT_DISABLED = _RISC + "account-disabled"
ACCOUNT_PURGED = _RISC + "account-purged"
#: No standard event names one revoked token, or every token of a service.
TOKEN_REVOKED = "urn:django-jwt-revoke:secevent:token-revoked"
ALL_TOKENS_REVOKED = "urn:django-jwt-revoke:secevent:all-tokens-revoked"

#: What is revoked, in ``Revocation.kind``.
TOKEN, SESSION, USER, ALL = "token", "session", "user", "all"
KINDS = frozenset({TOKEN, SESSION, USER, ALL})

#: Largest integer any member may hold (JSON numbers other languages read exactly).
MAX_INT = 2**53 - 1


class FeedError(Exception):
    """A feed answer that must not be applied; ``code`` says why (stable)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class Revocation(NamedTuple):
    """One revocation event: what is revoked, never a raw token.

    * ``TOKEN``: the token with jti ``id``;
    * ``SESSION``: every token with sid ``id`` (its owner's key in ``user``);
    * ``USER``: every token of the user with key ``id`` whose ``gen`` claim is
      below ``generation``;
    * ``ALL``: every token whose ``epoch`` claim is below ``generation``.

    ``until``: after this instant (seconds since the epoch, leeway included)
    no token the event concerns can be accepted, so a copy may drop it.
    ``seq``: its place in the feed, from 1, with no gap.
    """

    seq: int
    kind: str
    id: str | None
    until: int
    at: int = 0  # when it was committed (seconds since the epoch)
    user: str | None = None
    generation: int | None = None
    reason: str = ""

    def payload(self) -> dict[str, Any]:
        """The ``STATE_EVENT`` payload of this event."""
        data: dict[str, Any] = {"seq": self.seq, "kind": self.kind, "until": self.until}
        if self.id is not None:
            data["id"] = self.id
        if self.user is not None:
            data["user"] = self.user
        if self.generation is not None:
            data["generation"] = self.generation
        if self.reason:
            data["reason"] = self.reason
        return data

    @classmethod
    def from_payload(cls, data: Any, *, at: int = 0) -> Revocation:
        """A ``Revocation`` from a ``STATE_EVENT`` payload, or ``FeedError``."""
        if not isinstance(data, Mapping):
            raise FeedError("event_invalid", "the event payload is not an object")
        seq, kind, until = data.get("seq"), data.get("kind"), data.get("until")
        if not _is_count(seq) or seq < 1 or kind not in KINDS or not _is_count(until):
            raise FeedError("event_invalid", "seq, kind or until is missing or invalid")
        ident, user, generation = data.get("id"), data.get("user"), data.get("generation")
        reason = data.get("reason", "")
        if kind == ALL:
            ok = ident is None and user is None and _is_count(generation)
        elif kind == USER:
            ok = _is_key(ident) and user is None and _is_count(generation)
        elif kind == SESSION:
            ok = _is_key(ident) and (user is None or _is_key(user)) and generation is None
        else:
            ok = _is_key(ident) and (user is None or _is_key(user)) and generation is None
        if not ok or not isinstance(reason, str) or len(reason) > 64:
            raise FeedError("event_invalid", f"members do not fit a {kind} event")
        return cls(seq, kind, ident, until, at, user, generation, reason)


def standard_event(rev: Revocation) -> tuple[str, dict[str, Any]]:
    """The CAEP / RISC event (type URI, payload) that fits ``rev`` best."""
    subject: dict[str, Any]
    if rev.kind == SESSION:
        uri, subject = SESSION_REVOKED, {"format": "opaque", "id": rev.id}
    elif rev.kind == USER:
        uri = {
            "password_change": CREDENTIAL_CHANGE,
            "deactivated": ACCOUNT_DISABLED,
            "deleted": ACCOUNT_PURGED,
        }.get(rev.reason, TOKENS_REVOKED)
        subject = {"format": "opaque", "id": rev.id}
    elif rev.kind == TOKEN:
        uri, subject = TOKEN_REVOKED, {"format": "opaque", "id": rev.id}
    else:
        uri, subject = ALL_TOKENS_REVOKED, {"format": "opaque", "id": "*"}
    payload: dict[str, Any] = {"subject": subject, "event_timestamp": rev.at}
    if uri == CREDENTIAL_CHANGE:
        payload.update(credential_type="password", change_type="update")
    if rev.reason:
        payload["reason_admin"] = {"en": rev.reason}
    return uri, payload


def set_claims(rev: Revocation, *, issuer: str | None, now: int, stream: str) -> dict[str, Any]:
    """The claims of the Security Event Token for ``rev`` (RFC 8417)."""
    uri, standard = standard_event(rev)
    claims: dict[str, Any] = {
        "jti": f"{stream}.{rev.seq}",
        "iat": now,
        "toe": rev.at,
        "txn": str(rev.seq),
        "events": {uri: standard, STATE_EVENT: rev.payload()},
    }
    if issuer is not None:
        claims["iss"] = issuer
    return claims


def revocation_from_set(claims: Any, *, issuer: str | None, stream: str) -> Revocation:
    """The ``Revocation`` a verified SET's claims carry, or ``FeedError``."""
    if not isinstance(claims, Mapping):
        raise FeedError("event_invalid", "the SET's claims are not an object")
    _check_issuer(claims, issuer)
    events = claims.get("events")
    if not isinstance(events, Mapping) or STATE_EVENT not in events:
        raise FeedError("event_invalid", f"the SET has no {STATE_EVENT} event")
    at = claims.get("toe", 0)
    rev = Revocation.from_payload(events[STATE_EVENT], at=at if _is_count(at) else 0)
    if claims.get("jti") != f"{stream}.{rev.seq}" or claims.get("txn") != str(rev.seq):
        raise FeedError("event_invalid", "the SET's jti or txn does not match its event")
    return rev


class Receipt(NamedTuple):
    """What a poll answer's receipt vouches for."""

    nonce: str
    stream: str
    after: int  # the answer holds events after + 1 ...
    last: int  # ... through last (last == after: none)
    head: int  # the newest event committed when the answer was read
    more: bool  # events after ``last`` were left out (``maxEvents``)


def receipt_claims(receipt: Receipt, *, issuer: str | None, now: int) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iat": now,
        "nonce": receipt.nonce,
        "stream": receipt.stream,
        "after": receipt.after,
        "last": receipt.last,
        "head": receipt.head,
        "moreAvailable": receipt.more,
    }
    if issuer is not None:
        claims["iss"] = issuer
    return claims


def parse_receipt(claims: Any, *, issuer: str | None, nonce: str) -> Receipt:
    """The ``Receipt`` in verified receipt claims, checked against the request's nonce."""
    if not isinstance(claims, Mapping):
        raise FeedError("receipt_invalid", "the receipt's claims are not an object")
    _check_issuer(claims, issuer)
    if claims.get("nonce") != nonce:
        raise FeedError("receipt_replayed", "the receipt is not the answer to this request")
    after, last, head = claims.get("after"), claims.get("last"), claims.get("head")
    stream, more = claims.get("stream"), claims.get("moreAvailable")
    if not (_is_count(after) and _is_count(last) and _is_count(head)):
        raise FeedError("receipt_invalid", "after, last or head is missing or invalid")
    if not (after <= last <= head) or not _is_key(stream) or not isinstance(more, bool):
        raise FeedError("receipt_invalid", "the receipt's members do not fit together")
    return Receipt(nonce, stream, after, last, head, more)


class Snapshot(NamedTuple):
    """Every revocation that still matters, as of event ``head`` of ``stream``.

    ``tokens`` and ``sessions``: ``(id, until)``; ``users``: ``(user key,
    generation, until)``; ``everyone``: ``(generation, until)`` or None.
    """

    nonce: str
    stream: str
    head: int
    tokens: list[tuple[str, int]]
    sessions: list[tuple[str, int]]
    users: list[tuple[str, int, int]]
    everyone: tuple[int, int] | None


def snapshot_claims(snapshot: Snapshot, *, issuer: str | None, now: int) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iat": now,
        "nonce": snapshot.nonce,
        "stream": snapshot.stream,
        "head": snapshot.head,
        "tokens": snapshot.tokens,
        "sessions": snapshot.sessions,
        "users": snapshot.users,
        "all": snapshot.everyone,
    }
    if issuer is not None:
        claims["iss"] = issuer
    return claims


def parse_snapshot(claims: Any, *, issuer: str | None, nonce: str) -> Snapshot:
    """The ``Snapshot`` in verified snapshot claims, or ``FeedError``."""
    if not isinstance(claims, Mapping):
        raise FeedError("snapshot_invalid", "the snapshot's claims are not an object")
    _check_issuer(claims, issuer)
    if claims.get("nonce") != nonce:
        raise FeedError("receipt_replayed", "the snapshot is not the answer to this request")
    head, stream = claims.get("head"), claims.get("stream")
    tokens, sessions, users = claims.get("tokens"), claims.get("sessions"), claims.get("users")
    everyone = claims.get("all")
    if not _is_count(head) or not _is_key(stream):
        raise FeedError("snapshot_invalid", "head or stream is missing or invalid")
    if not all(isinstance(x, list) for x in (tokens, sessions, users)):
        raise FeedError("snapshot_invalid", "tokens, sessions and users must be arrays")
    assert isinstance(tokens, list) and isinstance(sessions, list) and isinstance(users, list)
    pairs = [*tokens, *sessions]
    if not all(
        isinstance(p, list) and len(p) == 2 and _is_key(p[0]) and _is_count(p[1]) for p in pairs
    ) or not all(
        isinstance(u, list)
        and len(u) == 3
        and _is_key(u[0])
        and _is_count(u[1])
        and _is_count(u[2])
        for u in users
    ):
        raise FeedError("snapshot_invalid", "an entry is not of the documented shape")
    if everyone is not None and not (
        isinstance(everyone, list) and len(everyone) == 2 and all(map(_is_count, everyone))
    ):
        raise FeedError("snapshot_invalid", "all must be null or [generation, until]")
    return Snapshot(
        nonce,
        stream,
        head,
        [(t[0], t[1]) for t in tokens],
        [(s[0], s[1]) for s in sessions],
        [(u[0], u[1], u[2]) for u in users],
        None if everyone is None else (everyone[0], everyone[1]),
    )


def _check_issuer(claims: Mapping[str, Any], issuer: str | None) -> None:
    if issuer is not None and claims.get("iss") != issuer:
        raise FeedError("wrong_issuer", "the answer was not issued by the configured issuer")


def _is_count(value: Any) -> TypeGuard[int]:
    return type(value) is int and 0 <= value <= MAX_INT


def _is_key(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= 255
