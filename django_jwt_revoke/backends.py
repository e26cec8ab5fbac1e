"""Keys and signatures: the one module that calls PyJWT.

``get_keys()`` prepares the signing key and every verifying key once per
settings; ``sign()`` signs a payload; ``verify()`` checks a token's header
and signature (and the registered claims PyJWT checks: ``exp``, ``iat``,
``iss``, ``aud``) and hands back its header and payload, or raises
``InvalidToken``. What the claims must say beyond that is ``claims.py``'s.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

import jwt
from django.views.decorators.debug import sensitive_variables

from .conf import jwt_revoke_settings, per_settings
from .exceptions import InvalidToken
from .jose import CODED_ERRORS, PYJWT_ERRORS, decode_header

#: The only header parameters a token may carry. A "jku", "x5u", "jwk" or
#: "x5c" asks the verifier to fetch or trust a key the token chooses, and a
#: "crit" names extensions we do not implement (RFC 7515 4.1.11).
ALLOWED_HEADER_PARAMETERS = frozenset({"alg", "typ", "kid"})


@dataclass(frozen=True)
class Keys:
    algorithm: str
    # Left out of the repr: under HMAC both are the secret itself.
    signing_key: Any = dataclasses.field(repr=False)
    signing_kid: str
    put_kid: bool
    verifying: dict[str, Any] = dataclasses.field(repr=False)
    algorithms: tuple[str, ...] = ()

    def verifying_key(self, header: dict[str, Any]) -> Any:
        """The key that must have signed a token with ``header``, or ``InvalidToken``."""
        if header.get("alg") != self.algorithm or not ALLOWED_HEADER_PARAMETERS.issuperset(header):
            raise InvalidToken("token_invalid")
        kid = header.get("kid")
        if kid is None:
            return self.verifying[self.signing_kid]
        if isinstance(kid, str) and kid in self.verifying:
            return self.verifying[kid]
        raise InvalidToken("token_invalid")


def is_hmac(algorithm: str) -> bool:
    return algorithm.upper().startswith("HS")


def prepare_key(algorithm: str, key: Any) -> Any:
    """``key`` as PyJWT signs or verifies with it for ``algorithm``."""
    if is_hmac(algorithm):
        return key.encode() if isinstance(key, str) else key
    return jwt.get_algorithm_by_name(algorithm).prepare_key(key)


def _public(algorithm: str, prepared: Any) -> Any:
    """The verifying half of a prepared key (the key itself for HMAC)."""
    if not is_hmac(algorithm) and hasattr(prepared, "public_key"):
        return prepared.public_key()
    return prepared


def _derived_kid(algorithm: str, verifying: Any) -> str:
    if is_hmac(algorithm):
        material = b"hmac:" + verifying
    else:
        from cryptography.hazmat.primitives import serialization

        material = verifying.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return hashlib.sha256(material).hexdigest()[:16]


@per_settings
@sensitive_variables()
def get_keys() -> Keys:
    """Prepared keys for the current settings (recomputed when they change)."""
    s = jwt_revoke_settings
    algorithm = s.ALGORITHM
    signing = prepare_key(algorithm, s.SIGNING_KEY)
    verifying_signing = _public(algorithm, signing)
    kid = s.SIGNING_KEY_ID or _derived_kid(algorithm, verifying_signing)
    verifying = {
        str(k): _public(algorithm, prepare_key(algorithm, v)) for k, v in s.VERIFYING_KEYS.items()
    }
    verifying[kid] = verifying_signing
    # The kid goes in every token signed with an asymmetric key (the one
    # jwks/ publishes: JWKS clients look keys up by it) or when there is
    # more than one key to pick from. A lone HMAC secret is published
    # nowhere, and its tokens stay exactly as simplejwt's.
    put_kid = not is_hmac(algorithm) or bool(s.VERIFYING_KEYS)
    return Keys(algorithm, signing, kid, put_kid, verifying, (algorithm,))


@sensitive_variables()
def sign(payload: dict[str, Any], *, typ: str | None = None) -> str:
    """``payload`` as a token signed with the signing key (its ``kid`` in the header).

    ``typ``: the header's ``typ`` (RFC 7515 4.1.9) instead of PyJWT's ``JWT``,
    for the feed's JWTs (``secevents.SET_TYPE``, ...), which must never pass
    for a token.
    """
    keys = get_keys()
    headers: dict[str, Any] = {"kid": keys.signing_kid} if keys.put_kid else {}
    if typ is not None:
        headers["typ"] = typ
    return jwt.encode(payload, keys.signing_key, algorithm=keys.algorithm, headers=headers or None)


@sensitive_variables()
def verify(raw: str, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and payload of ``raw`` once its signature verifies, or ``InvalidToken``.

    ``options``: PyJWT's ``audience``, ``issuer``, ``leeway`` and ``options``.
    The header must name the one pinned algorithm and a known key, and carry
    nothing else we did not put there.
    """
    keys = get_keys()
    header = decode_header(raw)
    if header is None:
        raise InvalidToken("token_invalid")
    key = keys.verifying_key(header)
    try:
        decoded = jwt.decode_complete(raw, key, algorithms=keys.algorithms, **options)
    except CODED_ERRORS as exc:
        raise InvalidToken(next(c for err, c in PYJWT_ERRORS if isinstance(exc, err))) from None
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
        raise InvalidToken("token_invalid") from None
    if decoded.get("header") != header:
        # PyJWT read the header its own way: what it verified must be what we checked.
        raise InvalidToken("token_invalid")
    payload = decoded.get("payload")
    if not isinstance(payload, dict):
        raise InvalidToken("token_invalid")
    return decoded["header"], payload  # the token's own header, not the shared one
