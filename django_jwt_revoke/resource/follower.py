"""The follower: one thread per process that keeps the ``RevocationCopy`` current.

It loads a snapshot of the issuer's revocations (``events/snapshot/``), then
polls the event feed (``events/``) for what comes after, every
``POLL_INTERVAL`` (or holding a long poll, ``LONG_POLL``). Every answer is
verified before anything of it is applied: each JWT's signature with the
issuer's keys, its header ``typ``, the request's fresh ``nonce`` in the
receipt (an old answer replayed is refused), the receipt's ``after``, and the
events' seqs exactly ``after + 1`` .. ``last`` of the copy's stream. Anything
else is rejected whole and the copy resyncs from a snapshot; a ``409
resync_required`` or another stream does the same. ``RevocationCopy.confirm``
is called with the moment a request was sent when its answer shows every
committed event applied (``last == head``): that is the copy's freshness.

Network errors and 5xx answers are logged once per outage (never a token,
never the credential) and retried with a backoff capped at ``POLL_INTERVAL``.

The thread starts lazily (``get_follower()``, from the authentication class)
and again in a child after ``os.fork`` (a thread does not survive a fork; the
child keeps the copy it inherited and follows on from it), and a new one
replaces it when the settings change.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from typing import Any

from django.views.decorators.debug import sensitive_variables

from ..secevents import (
    RECEIPT_TYPE,
    SET_TYPE,
    SNAPSHOT_TYPE,
    FeedError,
    Revocation,
    parse_receipt,
    parse_snapshot,
    revocation_from_set,
)
from . import transport
from .conf import Config, config, resource_settings
from .copy import RevocationCopy
from .keys import JWKSClient, KeysUnavailable, VerificationError, header, verify

logger = logging.getLogger("django_jwt_revoke.resource")

#: Events asked for per poll.
MAX_EVENTS = 500
#: The largest answers read: a poll of MAX_EVENTS SETs; a snapshot of
#: millions of revocations (about 40 bytes each).
POLL_LIMIT = 16 << 20
SNAPSHOT_LIMIT = 1 << 30
#: An unknown kid in a feed answer refetches the keys at most this often (seconds).
FEED_KEY_REFRESH = 1.0
#: The first retry after a failure waits this long (seconds), doubling up to
#: POLL_INTERVAL.
FIRST_BACKOFF = 0.05

#: What PyJWT checks of a feed JWT: the signature. Its freshness is the
#: request's nonce, not its iat (a clock ahead on the issuer must not stop
#: the feed); its iss is checked by ``secevents``.
_FEED_OPTIONS = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "require": [],
}


class Unreachable(Exception):
    """No usable answer from the issuer: no connection, a timeout, a 5xx, a 429."""


class Refused(Exception):
    """The issuer refused the request (401, 403, 400, 404): the credential or the URL."""


class ResyncRequired(Exception):
    """409 ``resync_required``: the events after the copy's seq are not there."""


class Follower:
    """Keeps one ``RevocationCopy`` current from the issuer's feed.

    ``step()`` does one exchange (a snapshot or a poll) and says how long to
    wait before the next; ``start()`` runs steps in a daemon thread until
    ``stop()``. Tests drive ``step()`` directly.
    """

    def __init__(
        self,
        cfg: Config,
        *,
        copy: RevocationCopy | None = None,
        keys: JWKSClient | None = None,
    ) -> None:
        self.config = cfg
        self.generation = cfg.generation
        self.pid = os.getpid()
        self.copy = copy if copy is not None else RevocationCopy()
        base = cfg.issuer_url
        self.keys = keys if keys is not None else JWKSClient(
            None if base is None else base + "jwks/",
            algorithms=cfg.algorithms,
            timeout=cfg.http_timeout,
            min_refresh=cfg.jwks_min_refresh,
        )  # fmt: skip
        self.needs_snapshot = not self.copy.loaded
        #: Set once a snapshot is loaded (the first requests wait for it).
        self.loaded = threading.Event()
        if self.copy.loaded:
            self.loaded.set()
        self.started_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._resyncs = 0  # resyncs asked for since the last poll that went through
        self._poll_sent = 0.0  # when the last poll that went through was sent
        self._poll_events = 0  # and how many events it brought
        self._logged: set[str] = set()  # what this outage already logged
        # Counters, for tests and the curious.
        self.polls = 0
        self.snapshots = 0
        self.rejected: dict[str, int] = {}
        self.last_error: str | None = None

    # -- the thread ----------------------------------------------------------------------

    def start(self) -> None:
        """Run the steps in a daemon thread (once)."""
        if self._thread is not None:
            return
        self.started_at = time.monotonic()
        self._thread = threading.Thread(
            target=self._run, name="django-jwt-revoke-feed", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to end; wait up to ``timeout`` seconds for it (not at all: None)."""
        self._stop.set()
        thread = self._thread
        if timeout is not None and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.step()
            except Exception:  # never let the thread die: the copy would go stale for good
                logger.exception("The revocation feed follower failed; it goes on.")
                delay = self.config.poll_interval
            if delay > 0:
                self._stop.wait(delay)

    def wait_loaded(self) -> None:
        """Wait for the first snapshot while the process is young (``STARTUP_WAIT``)."""
        if self.loaded.is_set() or self.started_at is None:
            return
        remaining = self.started_at + self.config.startup_wait - time.monotonic()
        if remaining > 0:
            self.loaded.wait(remaining)

    def forked(self) -> Follower:
        """The follower of a child process: the copy it inherited, its own thread and locks."""
        return Follower(self.config, copy=self.copy, keys=self.keys.clone())

    # -- one exchange --------------------------------------------------------------------

    def step(self) -> float:
        """One snapshot or poll; the seconds to wait before the next step."""
        cfg = self.config
        if cfg.issuer_url is None or cfg.credential is None:
            self.last_error = "not_configured"
            self._log_once(
                "not_configured",
                logging.ERROR,
                "JWT_REVOKE_RESOURCE lacks ISSUER_URL or FEED_CREDENTIAL: no revocation is "
                "followed and every request with a token is refused (503).",
            )
            return max(cfg.poll_interval, 1.0)
        keys = self.keys
        if keys.fetched_at is None or time.monotonic() - keys.fetched_at > keys.max_age:
            keys.refresh(min_interval=0.0)
        loading = self.needs_snapshot
        try:
            if loading:
                self._snapshot()
                more = True  # poll at once: events committed since its head
            else:
                more = self._poll()
        except ResyncRequired:
            self.needs_snapshot = True
            self.last_error = "resync_required"
            logger.info("The revocation feed asks for a resync: loading a snapshot.")
            return self._resync_delay()
        except (Unreachable, KeysUnavailable) as exc:
            reason = str(exc) or "the issuer's keys could not be fetched"
            return self._failed("unreachable", reason)
        except Refused as exc:
            return self._failed("refused", str(exc))
        except FeedError as exc:
            self.needs_snapshot = True
            if exc.code == "stream_changed":
                self.last_error = exc.code
                logger.info("The issuer's event stream changed: loading a snapshot.")
                return self._resync_delay()
            self.rejected[exc.code] = self.rejected.get(exc.code, 0) + 1
            return self._failed("rejected", exc.code)
        self._succeeded()
        if not self.needs_snapshot and not loading:
            self._resyncs = 0  # a poll went through
        self.copy.sweep(margin=cfg.leeway)
        if more:
            return 0.0
        if cfg.long_poll:
            # The issuer held the poll until an event came or its FEED_LONG_POLL
            # passed: poll again at once. One that answered empty at once does
            # not hold polls: then at most one per POLL_INTERVAL.
            took = time.monotonic() - self._poll_sent
            return (
                0.0 if self._poll_events or took >= cfg.poll_interval else cfg.poll_interval - took
            )
        return cfg.poll_interval

    def _resync_delay(self) -> float:
        """At once the first time; then, if polls keep asking for resyncs, a backoff."""
        self._resyncs += 1
        if self._resyncs == 1:
            return 0.0
        return min(self.config.poll_interval, FIRST_BACKOFF * 2 ** min(self._resyncs - 2, 30))

    def _failed(self, kind: str, reason: str) -> float:
        self._failures += 1
        cfg = self.config
        url = transport.display_url(cfg.issuer_url or "")
        if kind == "unreachable":
            self._log_once(
                kind,
                logging.WARNING,
                "The revocation feed at %s is unreachable (%s). Requests are served from the "
                "copy until it is %s seconds stale, then refused (503).",
                url,
                reason,
                cfg.max_staleness,
            )
        elif kind == "refused":
            self._log_once(
                kind,
                logging.ERROR,
                "The revocation feed at %s refused this server (%s): check FEED_CREDENTIAL "
                "against the issuer's FEED_CONSUMERS, and ISSUER_URL.",
                url,
                reason,
            )
        else:
            self._log_once(
                f"rejected:{reason}",
                logging.WARNING,
                "An answer of the revocation feed at %s was rejected (%s) and not applied; "
                "resyncing from a snapshot.",
                url,
                reason,
            )
        self.last_error = reason if kind == "unreachable" else f"{kind}: {reason}"
        return min(cfg.poll_interval, FIRST_BACKOFF * 2 ** min(self._failures - 1, 30))

    def _succeeded(self) -> None:
        if "unreachable" in self._logged or "refused" in self._logged:
            logger.warning(
                "The revocation feed at %s answers again.",
                transport.display_url(self.config.issuer_url or ""),
            )
        self._logged.clear()
        self._failures = 0
        self.last_error = None

    def _log_once(self, key: str, level: int, message: str, *args: Any) -> None:
        if key not in self._logged:
            self._logged.add(key)
            logger.log(level, message, *args)

    # -- the exchanges -------------------------------------------------------------------

    def _snapshot(self) -> None:
        nonce = secrets.token_urlsafe(16)
        sent = time.monotonic()
        data = self._post("events/snapshot/", {"nonce": nonce}, limit=SNAPSHOT_LIMIT)
        signed = data.get("snapshot")
        if not isinstance(signed, str):
            raise FeedError("answer_invalid", "no snapshot in the answer")
        claims = self._verify(signed, SNAPSHOT_TYPE, "snapshot_invalid")
        snapshot = parse_snapshot(claims, issuer=self.config.issuer, nonce=nonce)
        # It holds every event committed before it was asked for: current as of then.
        self.copy.load(snapshot, confirmed_at=sent)
        self.snapshots += 1
        self.needs_snapshot = False
        self.loaded.set()

    def _poll(self) -> bool:
        """One poll; whether more events are waiting."""
        cfg, copy = self.config, self.copy
        after, stream = copy.seq, copy.stream
        assert stream is not None  # a snapshot was loaded
        nonce = secrets.token_urlsafe(16)
        body = {
            "after": after,
            "nonce": nonce,
            "maxEvents": MAX_EVENTS,
            "returnImmediately": not cfg.long_poll,
        }
        timeout = cfg.http_timeout + (cfg.max_staleness if cfg.long_poll else 0.0)
        sent = time.monotonic()
        data = self._post("events/", body, limit=POLL_LIMIT, timeout=timeout)
        signed_receipt, sets = data.get("receipt"), data.get("sets")
        if not isinstance(signed_receipt, str) or not isinstance(sets, dict):
            raise FeedError("answer_invalid", "the answer lacks its receipt or sets")
        claims = self._verify(signed_receipt, RECEIPT_TYPE, "receipt_invalid")
        receipt = parse_receipt(claims, issuer=cfg.issuer, nonce=nonce)
        if receipt.stream != stream:
            raise FeedError("stream_changed", "the receipt is of another stream")
        if receipt.after != after:
            raise FeedError("receipt_mismatch", "the receipt is not for the events asked for")
        count = receipt.last - receipt.after
        if count > MAX_EVENTS or len(sets) != count:
            raise FeedError("event_gap", "the answer does not hold the events its receipt names")
        revs = sorted(
            (self._revocation(name, signed, stream) for name, signed in sets.items()),
            key=lambda rev: rev.seq,
        )
        if [rev.seq for rev in revs] != list(range(after + 1, receipt.last + 1)):
            raise FeedError("event_gap", "the events are not those after the copy's")
        copy.apply(revs)
        self.polls += 1
        self._poll_sent, self._poll_events = sent, len(revs)
        if receipt.last == receipt.head:
            copy.confirm(sent)
        return receipt.more

    def _revocation(self, name: Any, signed: Any, stream: str) -> Revocation:
        if not isinstance(signed, str):
            raise FeedError("event_invalid", "a SET is not a string")
        claims = self._verify(signed, SET_TYPE, "event_invalid")
        rev = revocation_from_set(claims, issuer=self.config.issuer, stream=stream)
        if name != f"{stream}.{rev.seq}":
            raise FeedError("event_invalid", "a SET is filed under another jti")
        return rev

    def _verify(self, signed: str, typ: str, code: str) -> dict[str, Any]:
        head = header(signed)
        kid = head.get("kid") if head is not None else None
        if isinstance(kid, str) and kid not in self.keys:
            # The issuer signs with a key it has just started publishing (a
            # rotation): fetch it now rather than after JWKS_MIN_REFRESH, or
            # the copy would go stale meanwhile. Paced by the polls.
            self.keys.refresh(for_kid=kid, min_interval=FEED_KEY_REFRESH)
        try:
            _header, claims = verify(signed, self.keys, typ=typ, options=_FEED_OPTIONS)
        except VerificationError:
            raise FeedError(code, f"a {typ} does not verify with the issuer's keys") from None
        return claims

    @sensitive_variables()
    def _post(
        self, path: str, body: dict[str, Any], *, limit: int, timeout: float | None = None
    ) -> dict[str, Any]:
        cfg = self.config
        assert cfg.issuer_url is not None and cfg.credential is not None
        try:
            answer = transport.request(
                cfg.issuer_url + path,
                data=json.dumps(body).encode(),
                headers={
                    "Authorization": f"Bearer {cfg.credential}",
                    "Content-Type": "application/json",
                },
                timeout=cfg.http_timeout if timeout is None else timeout,
                limit=limit,
            )
        except transport.TransportError as exc:
            raise Unreachable(str(exc)) from None
        if answer.status == 409:
            raise ResyncRequired
        if answer.status >= 500 or answer.status == 429:
            raise Unreachable(f"HTTP {answer.status}")
        if answer.status != 200:
            raise Refused(f"HTTP {answer.status}")
        try:
            data = json.loads(answer.body)
        except (ValueError, RecursionError):
            raise FeedError("answer_invalid", "the answer is not JSON") from None
        if not isinstance(data, dict):
            raise FeedError("answer_invalid", "the answer is not a JSON object")
        return data


# -- one follower per process -------------------------------------------------------------

_lock = threading.Lock()
_current: Follower | None = None


def get_follower() -> Follower:
    """This process's follower, started if need be (after a fork, after a settings change).

    The request path: when the follower is there, two comparisons and no lock.
    """
    follower = _current
    if (
        follower is not None
        and follower.pid == os.getpid()
        and follower.generation == resource_settings.generation
    ):
        return follower
    return _renew()


def _renew() -> Follower:
    global _current
    with _lock:
        cfg = config()
        pid = os.getpid()
        old = _current
        if old is not None and old.pid == pid and old.generation == cfg.generation:
            return old
        if old is not None and old.pid == pid:
            old.stop()  # the settings changed: another issuer, perhaps
        if old is not None and old.pid != pid and old.generation == cfg.generation:
            new = old.forked()
        else:
            new = Follower(cfg)
        new.start()
        _current = new
        return new


def stop(timeout: float | None = 5.0) -> None:
    """Stop this process's follower, if any (tests; a clean shutdown). The next request starts
    another."""
    global _current
    with _lock:
        old, _current = _current, None
    if old is not None and old.pid == os.getpid():
        old.stop(timeout)


def _after_fork_in_child() -> None:
    # A lock held by another thread at the fork stays held in the child: replace it.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
