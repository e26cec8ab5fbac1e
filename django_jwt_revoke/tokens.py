"""Tokens as the rest of the app sees them: verify one, mint one, issue a pair.

``decode_token`` verifies a token (signature: ``backends.py``; claims:
``claims.py``) and returns a ``ValidatedToken``; ``mint_access`` and
``mint_refresh`` sign the tokens of a session. Nothing here writes: opening a
session (a login) is ``revocation.open_session``, which ``issue_token_pair``,
the public name, calls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

from . import backends
from .claims import (
    ACCESS,
    REFRESH,
    ValidatedToken,
    add_extra_claims,
    build,
    canonical_user_id,
    check_claims,
    expiry,
    extra_claims,
    legacy_sid,
    new_id,
    rules,
    user_id_claim_value,
    user_key,
)
from .conf import per_settings
from .exceptions import InvalidToken
from .jose import VERIFIED_KEPT, time_claims_error

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .models import TokenSession
    from .revocation import Generations

__all__ = [
    "ACCESS",
    "REFRESH",
    "TokenPair",
    "ValidatedToken",
    "decode_token",
    "expiry",
    "issue_token_pair",
    "legacy_sid",
    "mint_access",
    "mint_refresh",
    "new_id",
    "user_key",
]


@dataclass(frozen=True)
class TokenPair:
    """What a login or a refresh hands to the client.

    Its repr leaves the tokens out: a pair in a log line or in a local
    variable of an error report must not hand them to whoever reads it.
    """

    access: str
    refresh: str
    sid: str

    def __repr__(self) -> str:
        return f"TokenPair(access='********', refresh='********', sid={self.sid!r})"


def _text(raw: Any) -> str:
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidToken("token_invalid") from None
    if not isinstance(raw, str) or not raw:
        raise InvalidToken("token_invalid")
    return raw


#: Tokens verified before, by (text, expected type): what ``decode_token``
#: found, for as long as the settings (keys, claims rules) stay the same.
_Kept = dict[tuple[str, "str | None"], ValidatedToken]


@per_settings
def _verified() -> _Kept:
    return {}


@sensitive_variables()
def decode_token(
    raw: Any, *, token_type: str | None = ACCESS, verify_exp: bool = True
) -> ValidatedToken:
    """Verify ``raw`` and return its claims, or raise ``InvalidToken``.

    The signature must verify with the one pinned algorithm and a known key;
    ``exp``, ``iat``, ``jti``, ``sid``, ``token_type`` and the user id claim
    must be present and well-typed; ``iss``/``aud`` must match when
    configured, and with no ``AUDIENCE`` a token must have no ``aud``.
    ``token_type=None`` accepts either type (revocation, RFC 7009).
    Without ``sid``, ``gen`` and ``epoch`` it is a legacy (simplejwt) token,
    accepted only with ``ACCEPT_SIMPLEJWT_TOKENS``, every other check alike.

    A token that passed all of this before, under the same settings, has
    only its time claims checked again (``jose.time_claims_error``): a
    client presents one access token with each request of its lifetime, and
    its signature and claims cannot have changed. Up to ``VERIFIED_KEPT``
    are kept, by their whole text (a token differing in one byte is
    verified afresh); revocation is checked on every request all the same.
    """
    raw = _text(raw)
    current = rules()
    if len(raw) > current.max_bytes:
        raise InvalidToken("token_too_large")
    verified = _verified()
    if verify_exp:
        kept = verified.get((raw, token_type))
        if kept is not None:
            error = time_claims_error(kept.payload, current.leeway_seconds, time.time())
            if error is not None:
                raise InvalidToken(error)
            # Copies: what a view does to request.auth stays in that request.
            return ValidatedToken(dict(kept.header), dict(kept.payload), kept.user_id)
    header, payload = backends.verify(raw, **current.pyjwt(verify_exp=verify_exp))
    legacy = check_claims(payload, current, token_type)
    user_id = canonical_user_id(payload[current.claim], legacy=legacy)
    token = ValidatedToken(header, payload, user_id)
    if verify_exp:
        if len(verified) >= VERIFIED_KEPT:
            verified.clear()
        verified[raw, token_type] = ValidatedToken(dict(header), dict(payload), user_id)
    return token


def _mint(user: Any, session: TokenSession, token_type: str, now: datetime) -> dict[str, Any]:
    return build(
        user_id_claim_value(user), token_type, session.sid, session.generation, session.epoch, now
    )


def mint_access(user: Any, session: TokenSession, *, now: datetime) -> str:
    """Sign an access token of ``session`` (nothing is recorded for access tokens).

    With ``EXTRA_CLAIMS``, the claims it returns for ``user`` now are added:
    access tokens only, at every login and refresh (docs/extending.md).
    """
    claims = _mint(user, session, ACCESS, now)
    extra = extra_claims()
    if extra is None:
        return backends.sign(claims)
    token = backends.sign(add_extra_claims(claims, extra(user)))
    if len(token) > rules().max_bytes:
        # A token every check of ours would refuse (token_too_large).
        raise ImproperlyConfigured(
            f"EXTRA_CLAIMS makes an access token of {len(token)} bytes, more than "
            f"MAX_TOKEN_BYTES ({rules().max_bytes}): it would be refused."
        )
    return token


def mint_refresh(user: Any, session: TokenSession, *, now: datetime) -> tuple[str, str]:
    """Sign a refresh token of ``session``: its ``jti`` (to record) and the token."""
    claims = _mint(user, session, REFRESH, now)
    return claims["jti"], backends.sign(claims)


def issue_token_pair(
    user: Any, request: HttpRequest | None = None, *, generations: Generations | None = None
) -> TokenPair:
    """Open a new session for ``user`` (a login) and return its first token pair.

    The public name of ``revocation.open_session``, which says more.
    """
    from .revocation import open_session

    return open_session(user, request, generations=generations)
