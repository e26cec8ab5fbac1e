"""Reading a JWT's JOSE header, and PyJWT's errors as our codes: pure, for both roles.

The issuer (``backends.verify``) and a resource server
(``resource/keys.py``) decode a token's header alone before its signature
is checked (to pick the key its ``kid`` names), and turn the PyJWT error a
token raises into one stable ``code``. Nothing here reads a setting or a
model, so a resource server, which installs neither, imports it too.
"""

from __future__ import annotations

import binascii
import json
from typing import Any

import jwt
from jwt.utils import base64url_decode

# Headers already decoded, by their segment: every token signed with one key
# has the same header, so this holds a handful of entries (bounded all the same).
_headers: dict[str, dict[str, Any] | None] = {}
HEADERS_KEPT = 64


def decode_header(raw: str) -> dict[str, Any] | None:
    """The token's JOSE header, decoded alone, or None if it is not one.

    Only the first segment is decoded (the whole token is parsed once, by
    PyJWT, when the signature is checked; its header must equal this one).
    The dict returned is shared: read it, never change it.
    """
    segment, dot, rest = raw.partition(".")
    if not dot or "." not in rest or len(segment) > 1024:
        return None
    try:
        return _headers[segment]
    except KeyError:
        pass
    try:
        header = json.loads(base64url_decode(segment))
    except (ValueError, TypeError, RecursionError, binascii.Error):
        header = None
    if not isinstance(header, dict):
        header = None
    if len(_headers) >= HEADERS_KEPT:
        _headers.clear()
    _headers[segment] = header
    return header


PYJWT_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "token_expired"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid"),
    (jwt.MissingRequiredClaimError, "token_claims_invalid"),
    (jwt.InvalidAudienceError, "token_claims_invalid"),
    (jwt.InvalidIssuerError, "token_claims_invalid"),
    (jwt.InvalidIssuedAtError, "token_claims_invalid"),
)
CODED_ERRORS = tuple(error for error, _code in PYJWT_ERRORS)


#: How many verified tokens a process keeps by their text, per settings (both
#: roles): a client sends one access token with every request of its
#: lifetime, and its signature need not be checked again. Cleared when full.
VERIFIED_KEPT = 4096


def time_claims_error(payload: dict[str, Any], leeway: float, now: float) -> str | None:
    """The code PyJWT's checks of ``iat``, ``nbf`` and ``exp`` give now; None if they hold.

    For a token verified before, whose other claims cannot have changed:
    the same comparisons, in the same order, as ``jwt.decode`` makes.
    """
    if int(payload["iat"]) > now + leeway:
        return "token_not_yet_valid"
    nbf = payload.get("nbf")
    if nbf is not None and int(nbf) > now + leeway:
        return "token_not_yet_valid"
    if int(payload["exp"]) <= now - leeway:
        return "token_expired"
    return None
