"""The issuer's public keys, from its ``jwks/``, and the signature checks made with them.

``JWKSClient`` fetches ``ISSUER_URL + "jwks/"`` and keeps a ``kid`` -> key
map; a request reads it with one dict lookup. A ``kid`` it does not know
refetches the set, at most once per ``JWKS_MIN_REFRESH`` whatever the number
of requests (tokens with random kids must not turn into a fetch each), which
is how a new key appears after a rotation; the follower also refetches every
``max_age`` seconds, which is how a removed key disappears.

``verify`` checks a JWT's header (only ``alg``, ``typ``, ``kid``; the ``alg``
that of the key the ``kid`` names, and one of ``ALGORITHMS``) and signature,
and hands back header and claims. PyJWT does the cryptography (the
``cryptography`` package, imported by PyJWT when an RSA, EC or Ed25519 key is
first used).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import jwt

from ..jose import CODED_ERRORS, PYJWT_ERRORS, decode_header
from . import transport

logger = logging.getLogger("django_jwt_revoke.resource")

#: The only header parameters a JWT may carry (a "jku", "x5u", "jwk" or "x5c"
#: asks the verifier to trust a key the token chooses; "crit" names
#: extensions we do not implement).
ALLOWED_HEADER_PARAMETERS = frozenset({"alg", "typ", "kid"})
#: The largest JWK Set read.
JWKS_LIMIT = 1 << 20


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched: a token cannot be judged (503, not 401)."""


class VerificationError(Exception):
    """A JWT that does not verify; ``code`` says why (an ``InvalidToken`` code)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class JWKSClient:
    """``kid`` -> key of the issuer's JWK Set, refetched when a ``kid`` is unknown.

    ``get`` is the request path: a dict lookup, no lock, no network, unless
    the ``kid`` is unknown. Then one caller at a time refetches, and not more
    than once per ``min_refresh`` seconds.
    """

    #: The follower refetches the set this often (seconds), so that a key the
    #: issuer no longer publishes stops verifying.
    max_age = 300.0

    def __init__(
        self,
        url: str | None,
        *,
        algorithms: Iterable[str],
        timeout: float = 3.0,
        min_refresh: float = 10.0,
        keys: dict[str, jwt.PyJWK] | None = None,
    ) -> None:
        self.url = url
        self.algorithms = frozenset(algorithms)
        self.timeout = timeout
        self.min_refresh = min_refresh
        self._keys: dict[str, jwt.PyJWK] = dict(keys or {})
        self._lock = threading.Lock()
        self._attempted_at: float | None = None  # time.monotonic() of the last fetch
        self.fetched_at: float | None = None  # ... of the last one that succeeded
        #: The last fetch succeeded (False before the first).
        self.ok = bool(keys)
        #: How many fetches were made (for tests and logs).
        self.fetches = 0

    def clone(self) -> JWKSClient:
        """A client with the same keys and a lock of its own (after ``os.fork``)."""
        other = JWKSClient(
            self.url, algorithms=self.algorithms, timeout=self.timeout,
            min_refresh=self.min_refresh, keys=self._keys,
        )  # fmt: skip
        other.ok, other.fetched_at = self.ok, self.fetched_at
        return other

    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def known(self, kid: str) -> jwt.PyJWK | None:
        """The key ``kid`` names among those fetched, with no refetch."""
        return self._keys.get(kid)

    def get(self, kid: str) -> jwt.PyJWK | None:
        """The key ``kid`` names, refetching the set (rate-limited) if it is unknown.

        None when the issuer does not publish it; ``KeysUnavailable`` when the
        set could not be fetched, so that no verdict can be given.
        """
        key = self._keys.get(kid)
        if key is not None:
            return key
        self.refresh(for_kid=kid)
        key = self._keys.get(kid)
        if key is None and not self.ok:
            raise KeysUnavailable
        return key

    def refresh(self, *, for_kid: str | None = None, min_interval: float | None = None) -> bool:
        """Refetch the set; False when it was not (too soon, or it failed).

        ``for_kid``: the unknown ``kid`` that asks (nothing is fetched if a
        concurrent refetch brought it). ``min_interval``: the least time since
        the last fetch, ``min_refresh`` unless given (the follower's own
        refetches, paced by its polls, give less: 0 for the periodic one).
        """
        with self._lock:
            if for_kid is not None and for_kid in self._keys:
                return True
            now = time.monotonic()
            last = self._attempted_at
            least = self.min_refresh if min_interval is None else min_interval
            if last is not None and now - last < least:
                return False
            self._attempted_at = now
            self.fetches += 1
            try:
                keys = self._fetch()
            except (transport.TransportError, ValueError, jwt.PyJWTError) as exc:
                # The keys known stay in use; an unknown kid cannot be judged
                # until a fetch succeeds (KeysUnavailable, a 503).
                if self.ok:
                    logger.warning(
                        "The issuer's keys could not be fetched from %s (%s); the keys "
                        "fetched before stay in use.",
                        transport.display_url(self.url or ""),
                        exc,
                    )
                self.ok = False
                return False
            self._keys = keys  # one assignment: readers see the old map or the new
            self.ok = True
            self.fetched_at = now
            return True

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        if self.url is None:
            raise ValueError("no ISSUER_URL")
        answer = transport.request(self.url, timeout=self.timeout, limit=JWKS_LIMIT)
        if answer.status != 200:
            raise ValueError(f"HTTP {answer.status}")
        data = json.loads(answer.body)
        return self.parse(data)

    def parse(self, data: Any) -> dict[str, jwt.PyJWK]:
        """The usable keys of a JWK Set: each with a ``kid``, for signatures, of one of
        ``algorithms`` (never a shared secret)."""
        if not isinstance(data, dict):
            raise ValueError("the JWK Set is not an object")
        members = data.get("keys")
        wanted = [
            k
            for k in (members if isinstance(members, list) else [])
            if isinstance(k, dict)
            and isinstance(k.get("kid"), str)
            and k.get("use", "sig") == "sig"
            and k.get("kty") != "oct"
        ]
        if not wanted:
            raise ValueError("the JWK Set holds no signature key with a kid")
        found: dict[str, jwt.PyJWK] = {}
        for key in jwt.PyJWKSet.from_dict({"keys": wanted}).keys:
            if key.key_id and key.algorithm_name in self.algorithms and key.key_id not in found:
                found[key.key_id] = key
        if not found:
            raise ValueError("the JWK Set holds no key for the accepted algorithms")
        return found


#: A token's JOSE header decoded alone, or None (shared: never change it).
header = decode_header



def verify(
    raw: str,
    client: JWKSClient,
    *,
    typ: str | None = None,
    refused_types: frozenset[str] = frozenset(),
    **options: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of ``raw`` once its signature verifies, or ``VerificationError``.

    ``typ``: the header ``typ`` it must carry (a feed JWT), or None for any
    but ``refused_types`` (an access token: never a feed JWT). ``options``:
    PyJWT's ``audience``, ``issuer``, ``leeway``, ``options``.
    ``KeysUnavailable`` when the key cannot be known.
    """
    head = header(raw)
    if head is None or not ALLOWED_HEADER_PARAMETERS.issuperset(head):
        raise VerificationError("token_invalid")
    kid, alg, kind = head.get("kid"), head.get("alg"), head.get("typ")
    if typ is not None and kind != typ:
        raise VerificationError("token_invalid")
    if kind in refused_types or not isinstance(kid, str) or alg not in client.algorithms:
        raise VerificationError("token_invalid")
    key = client.get(kid)
    if key is None or key.algorithm_name != alg:
        raise VerificationError("token_invalid")
    try:
        decoded = jwt.decode_complete(raw, key.key, algorithms=[alg], **options)
    except CODED_ERRORS as exc:
        code = next(c for err, c in PYJWT_ERRORS if isinstance(exc, err))
        raise VerificationError(code) from None
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError, RecursionError):
        raise VerificationError("token_invalid") from None
    if decoded.get("header") != head:
        raise VerificationError("token_invalid")  # PyJWT read another header than we checked
    payload = decoded.get("payload")
    if not isinstance(payload, dict):
        raise VerificationError("token_invalid")
    return decoded["header"], payload
