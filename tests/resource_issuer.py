"""A fake issuer for the resource-server tests: its feed, keys and introspection over HTTP.

It speaks the feed exactly as the issuer does (``secevents``' claims, signed
with an RS256 key from ``tests.keys.pem_pair``, header ``typ`` and ``kid``,
``events/`` with receipts, ``events/snapshot/``, ``jwks/``, ``introspect/``),
keeps its revocations in memory, and lets a test break it: an endpoint down
(503), dropping connections or hanging (``outage``), the next answer of an
endpoint rewritten (``tamper``), its history restored (``restore``, a new
stream) or purged (``purge``), its key rotated (``rotate``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt

from django_jwt_revoke import secevents
from django_jwt_revoke.secevents import Receipt, Revocation, Snapshot
from tests.keys import pem_pair

CREDENTIAL = "resource-test-credential-" + "x" * 16
LIFETIME = 300  # seconds, access tokens

_PEMS: list[tuple[str, str]] = []


def rsa_pem(index: int) -> tuple[str, str]:
    """The ``index``-th RSA test key pair (generated once per process: they are slow)."""
    while len(_PEMS) <= index:
        _PEMS.append(pem_pair("rsa"))
    return _PEMS[index]


@functools.cache
def _loaded(alg: str, private: str) -> Any:
    """A private key, loaded once (loading a PEM RSA key takes tens of milliseconds)."""
    return jwt.get_algorithm_by_name(alg).prepare_key(private)


@dataclass
class Key:
    kid: str
    private: str
    public: str
    alg: str = "RS256"

    @property
    def signer(self) -> Any:
        return _loaded(self.alg, self.private)

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        data = algorithm.to_jwk(algorithm.prepare_key(self.public), as_dict=True)
        data.pop("key_ops", None)
        return {**data, "kid": self.kid, "alg": self.alg, "use": "sig"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)]
    )


def hs256_with(secret: bytes, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A token signed HS256 with ``secret`` (PyJWT refuses a PEM key as a secret: by hand)."""
    signing_input = ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(payload).encode())]
    ).encode()
    return (
        signing_input.decode() + "." + b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a dropped connection (outage "drop"), by design


class FakeIssuer:
    """The issuer side of the feed, in memory, served on 127.0.0.1."""

    def __init__(self, *, issuer: str | None = None, credential: str = CREDENTIAL) -> None:
        private, public = rsa_pem(0)
        self.keys = [Key("key-1", private, public)]
        self.signing = self.keys[0]
        self.issuer = issuer
        self.credential = credential
        self.stream = secrets.token_hex(8)
        self.events: list[Revocation] = []
        self.purged_through = 0
        self.long_poll = 0.3  # how long a poll with returnImmediately false is held
        self.always_409 = False  # a broken issuer: every poll answers resync_required
        self.generations: dict[str, int] = {}
        self.epoch = 0
        self.lock = threading.Lock()
        #: endpoint name ("events", "snapshot", "jwks", "introspect") -> "503", "drop" or "hang"
        self.outage: dict[str, str] = {}
        self.release = threading.Event()  # ends every hang
        #: endpoint name -> a function (answer dict, request body) -> answer dict, used once
        self.tamper: dict[str, Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]] = {}
        self.requests: list[tuple[str, Any]] = []
        self.jwks_fetches = 0
        self.introspections = 0
        self.answered = threading.Condition()
        self.served = 0
        #: None: introspect as the issuer would; else the JSON to answer.
        self.introspect_answer: dict[str, Any] | None = None
        self.server: ThreadingHTTPServer | None = None
        self.url = ""

    # -- the server ----------------------------------------------------------------------

    def start(self) -> FakeIssuer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._serve(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fake._serve(self, self.rfile.read(length))

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/auth/"
        return self

    def down(self, *names: str, how: str = "503") -> None:
        """An outage of ``names`` (all feed endpoints when none): "503", "drop" or "hang"."""
        self.release.clear()
        for name in names or ("events", "snapshot"):
            self.outage[name] = how

    def up(self) -> None:
        self.outage.clear()
        self.release.set()

    def close(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        path = urllib.parse.urlsplit(handler.path).path
        name = {
            "/api/auth/events/": "events",
            "/api/auth/events/snapshot/": "snapshot",
            "/api/auth/jwks/": "jwks",
            "/api/auth/introspect/": "introspect",
        }.get(path)
        how = self.outage.get(name or "")
        if how == "hang":
            self.release.wait(30)
            how = self.outage.get(name or "")
        if how == "drop":
            handler.close_connection = True
            handler.connection.close()
            return
        if name is None:
            status, answer = 404, {"detail": "not found"}
        elif how == "503":
            status, answer = 503, {"detail": "down"}
        else:
            status, answer = self.handle(name, handler.headers.get("Authorization", ""), body)
        data = json.dumps(answer).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass
        with self.answered:
            self.served += 1
            self.answered.notify_all()

    def handle(self, name: str, authorization: str, body: bytes | None) -> tuple[int, Any]:
        if name == "jwks":
            with self.lock:
                self.jwks_fetches += 1
                return 200, {"keys": [key.jwk() for key in self.keys]}
        if authorization != f"Bearer {self.credential}":
            return 401, {"err": "authentication_failed", "description": "no such consumer"}
        if name == "introspect":
            form = urllib.parse.parse_qs((body or b"").decode())
            with self.lock:
                self.introspections += 1
            self.requests.append((name, {k: v[0] for k, v in form.items()}))
            return 200, self.introspection(form.get("token", [""])[0])
        try:
            data = json.loads(body or b"")
        except ValueError:
            return 400, {"err": "invalid_request", "description": "not JSON"}
        self.requests.append((name, data))
        if name == "events" and data.get("returnImmediately") is False:
            # A long poll: held until an event comes, or long_poll seconds.
            deadline = time.monotonic() + self.long_poll
            while self.last_seq <= data.get("after", 0) and time.monotonic() < deadline:
                time.sleep(0.005)
        with self.lock:
            if name == "events":
                status, answer = self.poll(data)
            else:
                status, answer = 200, {"snapshot": self.snapshot(data["nonce"])}
            tamper = self.tamper.pop(name, None)
        if tamper is not None and status == 200:
            answer = tamper(answer, data)
        return status, answer

    # -- what the issuer does ------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        return len(self.events)

    def sign(self, claims: dict[str, Any], typ: str, key: Key | None = None, **header: Any) -> str:
        key = key or self.signing
        return jwt.encode(
            claims, key.signer, algorithm=key.alg, headers={"kid": key.kid, "typ": typ, **header}
        )

    def signed_set(self, rev: Revocation, *, stream: str | None = None, **kwargs: Any) -> str:
        claims = secevents.set_claims(
            rev, issuer=self.issuer, now=int(time.time()), stream=stream or self.stream
        )
        return self.sign(claims, secevents.SET_TYPE, **kwargs)

    def signed_receipt(self, receipt: Receipt, **kwargs: Any) -> str:
        claims = secevents.receipt_claims(receipt, issuer=self.issuer, now=int(time.time()))
        return self.sign(claims, secevents.RECEIPT_TYPE, **kwargs)

    def poll(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        after, nonce = data["after"], data["nonce"]
        limit = data.get("maxEvents", 100)
        if after < self.purged_through or after > self.last_seq or self.always_409:
            return 409, {"err": "resync_required", "description": "resync"}
        events = self.events[after : after + limit]
        last = after + len(events)
        head = self.last_seq
        receipt = Receipt(nonce, self.stream, after, last, head, last < head)
        return 200, {
            "sets": {f"{self.stream}.{rev.seq}": self.signed_set(rev) for rev in events},
            "moreAvailable": last < head,
            "receipt": self.signed_receipt(receipt),
        }

    def state(self) -> Snapshot:
        tokens: dict[str, int] = {}
        sessions: dict[str, int] = {}
        users: dict[str, tuple[int, int]] = {}
        everyone: tuple[int, int] | None = None
        for rev in self.events:
            if rev.kind == secevents.TOKEN:
                tokens[rev.id] = rev.until
            elif rev.kind == secevents.SESSION:
                sessions[rev.id] = rev.until
            elif rev.kind == secevents.USER:
                users[rev.id] = (rev.generation, rev.until)
            else:
                everyone = (rev.generation, rev.until)
        return Snapshot(
            "",
            self.stream,
            self.last_seq,
            sorted(tokens.items()),
            sorted(sessions.items()),
            [(k, g, u) for k, (g, u) in sorted(users.items())],
            everyone,
        )

    def snapshot(self, nonce: str, **kwargs: Any) -> str:
        claims = secevents.snapshot_claims(
            self.state()._replace(nonce=nonce), issuer=self.issuer, now=int(time.time())
        )
        return self.sign(claims, secevents.SNAPSHOT_TYPE, **kwargs)

    def introspection(self, raw: str) -> dict[str, Any]:
        if self.introspect_answer is not None:
            return self.introspect_answer
        try:
            claims = jwt.decode(
                raw,
                self.signing.public,
                algorithms=["RS256"],
                options={"verify_aud": False},
            )
        except jwt.PyJWTError:
            return {"active": False}
        state = self.state()
        user = str(claims.get("user_id"))
        generations = {k: g for k, g, _u in state.users}
        revoked = (
            claims["jti"] in dict(state.tokens)
            or claims.get("sid") in dict(state.sessions)
            or claims.get("gen", 0) < generations.get(user, 0)
            or claims.get("epoch", 0) < (state.everyone or (0, 0))[0]
        )
        return {"active": False} if revoked else {**claims, "active": True}

    # -- revocations (each appends an event, as a commit on the issuer does) -----------

    def _append(self, kind: str, ident: str | None, **fields: Any) -> Revocation:
        with self.lock:
            rev = Revocation(
                self.last_seq + 1,
                kind,
                ident,
                fields.pop("until", int(time.time()) + LIFETIME + 60),
                int(time.time()),
                **fields,
            )
            self.events.append(rev)
            return rev

    def revoke_token(self, jti: str, **fields: Any) -> Revocation:
        return self._append(secevents.TOKEN, jti, reason="logout", **fields)

    def revoke_session(self, sid: str, user: str = "1") -> Revocation:
        return self._append(secevents.SESSION, sid, user=user, reason="logout")

    def revoke_user(self, key: str) -> Revocation:
        generation = self.generations.get(key, 0) + 1
        self.generations[key] = generation
        return self._append(secevents.USER, key, generation=generation, reason="logout_all")

    def revoke_all(self) -> Revocation:
        self.epoch += 1
        return self._append(secevents.ALL, None, generation=self.epoch, reason="admin")

    def restore(self, keep: int) -> None:
        """The issuer's database restored from a backup holding the first ``keep`` events:
        a new stream."""
        with self.lock:
            self.events = self.events[:keep]
            self.stream = secrets.token_hex(8)

    def purge(self, through: int) -> None:
        with self.lock:
            self.purged_through = through

    def rotate(self, *, keep_old: bool = True) -> Key:
        """Sign with a new key from now on; publish it (and the old one, ``keep_old``)."""
        private, public = rsa_pem(len(self.keys))
        new = Key(f"key-{len(self.keys) + 1}", private, public)
        with self.lock:
            self.keys = [new, *self.keys] if keep_old else [new]
            self.signing = new
        return new

    # -- tokens --------------------------------------------------------------------------

    def token(
        self,
        user_id: Any = 1,
        *,
        key: Key | None = None,
        header: dict[str, Any] | None = None,
        lifetime: int = LIFETIME,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "token_type": "access",
            "exp": now + lifetime,
            "iat": now,
            "jti": secrets.token_hex(16),
            "sid": secrets.token_hex(16),
            "user_id": user_id,
            "gen": self.generations.get(str(user_id), 0),
            "epoch": self.epoch,
        }
        if self.issuer is not None:
            payload["iss"] = self.issuer
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        key = key or self.signing
        return jwt.encode(
            payload, key.signer, algorithm=key.alg, headers={"kid": key.kid, **(header or {})}
        )
