"""``ResourceServerAuthentication``: the issuer's access tokens, its revocations enforced.

Per request: the token's header and signature, verified with the issuer's
published key its ``kid`` names (``keys.py``); its claims (``exp``, ``iat``,
``nbf`` with ``LEEWAY``, ``iss`` and ``aud`` per the settings, ``token_type``
``access``, ``jti``, ``sid`` and the user id claim); then its revocation, read
from this process's ``RevocationCopy`` (a few dict lookups: no network, no
database, no lock) when the copy is current within ``MAX_STALENESS``. When it
is not, the request is refused with a 503 ``revocation_state_stale`` and a
``Retry-After`` (or, with ``INTROSPECT_WHEN_STALE``, the issuer's
``introspect/`` is asked): never answered "not revoked" from a copy that may
be missing revocations.

``request.user`` is a ``TokenUser`` built from the claims (no user row: there
is no user database here), ``request.auth`` the ``ResourceToken``.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from django.views.decorators.debug import sensitive_variables
from rest_framework import HTTP_HEADER_ENCODING, authentication, exceptions, status
from rest_framework.request import Request

from ..exceptions import InvalidAuthorizationHeader, InvalidToken, RevocationStateUnavailable
from ..jose import VERIFIED_KEPT, time_claims_error
from ..secevents import RECEIPT_TYPE, SET_TYPE, SNAPSHOT_TYPE
from . import transport
from .conf import Config, config, per_settings
from .copy import user_key
from .follower import Follower, get_follower
from .keys import KeysUnavailable, VerificationError, verify

ACCESS = "access"
#: A feed JWT is signed with the same key as the tokens: never one of them.
FEED_TYPES = frozenset({SET_TYPE, RECEIPT_TYPE, SNAPSHOT_TYPE})
INTROSPECTION_LIMIT = 1 << 16
_ERROR_ATTR = "_jwt_revoke_error"
_INT64 = 2**63


class RevocationStateStale(exceptions.APIException):
    """503: the copy of the issuer's revocations is not known to be current."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "revocation_state_stale"
    default_detail = RevocationStateUnavailable.default_detail

    def __init__(self, wait: int = 1) -> None:
        self.wait = max(1, wait)  # DRF's exception handler sends it as Retry-After
        super().__init__(
            {"detail": str(self.default_detail), "code": self.default_code}, self.default_code
        )


class IssuerKeysUnavailable(RevocationStateStale):
    """503: the issuer's keys could not be fetched, so the token cannot be judged."""

    default_code = "issuer_keys_unavailable"


class ResourceToken(Mapping):
    """A verified access token's claims, read-only; ``request.auth``.

    ``.jti``, ``.sid``, ``.user_id``, ``.user_key``, ``.token_type``,
    ``.generation``, ``.epoch``, ``.header`` and ``token["any claim"]``.
    """

    __slots__ = ("header", "payload", "user_id")

    def __init__(self, header: dict[str, Any], payload: dict[str, Any], user_id: Any) -> None:
        self.header = header
        self.payload = payload
        self.user_id = user_id

    def __getitem__(self, key: str) -> Any:
        return self.payload[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.payload)

    def __len__(self) -> int:
        return len(self.payload)

    def __repr__(self) -> str:
        return f"<ResourceToken jti={self.jti}>"

    @property
    def jti(self) -> str:
        return self.payload["jti"]

    @property
    def sid(self) -> str | None:
        return self.payload.get("sid")

    @property
    def token_type(self) -> str:
        return self.payload["token_type"]

    @property
    def generation(self) -> int:
        return self.payload.get("gen", 0)

    @property
    def epoch(self) -> int:
        return self.payload.get("epoch", 0)

    @property
    def user_key(self) -> str:
        return user_key(self.user_id)


class TokenUser:
    """The user a token names, from its claims alone (a resource server has no user rows)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, token: ResourceToken) -> None:
        self.token = token
        self.id = token.user_id

    @property
    def pk(self) -> Any:
        return self.id

    @property
    def username(self) -> str:
        value = self.token.payload.get("username", "")
        return value if isinstance(value, str) else ""

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return f"TokenUser {self.id}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenUser) and self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_perms(self, perm_list: Any, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, module: str) -> bool:
        return False


def _is_identifier(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def _is_generation(value: Any) -> bool:
    return type(value) is int and 0 <= value < _INT64


def _user_id(value: Any) -> bool:
    """An id the issuer puts in tokens: an integer, or a non-empty string."""
    if type(value) is int:
        return -_INT64 <= value < _INT64
    return _is_identifier(value, 255)


@per_settings
def _verified() -> dict[str, tuple[Any, ResourceToken]]:
    """Tokens whose signature and claims verified, by their text (``jose.VERIFIED_KEPT``)."""
    return {}


@sensitive_variables()
def decode(raw: str, cfg: Config, follower: Follower) -> ResourceToken:
    """The verified access token ``raw``, or ``InvalidToken`` (``IssuerKeysUnavailable``).

    A token verified before (``_verified``) by a key the issuer still
    publishes has its time claims checked again, as PyJWT checks them, and
    nothing else: the rest cannot have changed.
    """
    if len(raw) > cfg.max_token_bytes:
        raise InvalidToken("token_too_large")
    verified = _verified()
    hit = verified.get(raw)
    if hit is not None:
        key, token = hit
        if key is not None and follower.keys.known(token.header["kid"]) is key:
            error = time_claims_error(token.payload, cfg.leeway, time.time())
            if error is not None:
                raise InvalidToken(error)
            return ResourceToken(token.header, token.payload, token.user_id)
    token = _decode(raw, cfg, follower)
    key = follower.keys.known(token.header["kid"])
    if key is None:  # refetched meanwhile, without it: verified, but not kept
        return token
    if len(verified) >= VERIFIED_KEPT:
        verified.clear()
    verified[raw] = (key, token)
    return token


@sensitive_variables()
def _decode(raw: str, cfg: Config, follower: Follower) -> ResourceToken:
    try:
        header, payload = verify(
            raw,
            follower.keys,
            refused_types=FEED_TYPES,
            audience=cfg.audience,
            issuer=cfg.issuer,
            leeway=cfg.leeway,
            options={
                "require": ["exp", "iat", "jti"] + (["iss"] if cfg.issuer is not None else []),
                "verify_aud": True,
            },
        )
    except VerificationError as exc:
        raise InvalidToken(exc.code) from None
    except KeysUnavailable:
        raise IssuerKeysUnavailable(cfg.retry_after) from None
    if cfg.audience is None and "aud" in payload:
        # RFC 7519 4.1.3: with no AUDIENCE no "aud" names us (PyJWT lets an empty one by).
        raise InvalidToken("token_claims_invalid")
    claim = cfg.user_id_claim
    if not (
        _is_identifier(payload.get("jti"), 255)
        and _is_identifier(payload.get("sid"), 255)
        and payload.get("token_type") in (ACCESS, "refresh")
        and all(type(payload[name]) in (int, float) for name in ("exp", "iat"))
        and all(_is_generation(payload.get(name, 0)) for name in ("gen", "epoch"))
        and _user_id(payload.get(claim))
    ):
        raise InvalidToken("token_claims_invalid")
    if payload["token_type"] != ACCESS:
        raise InvalidToken("token_wrong_type")
    return ResourceToken(header, payload, payload[claim])


@sensitive_variables()
def introspect(raw: str, token: ResourceToken, cfg: Config) -> bool | None:
    """The issuer's verdict on ``raw`` (RFC 7662): True active, False not, None no answer."""
    if cfg.issuer_url is None or cfg.credential is None:
        return None
    try:
        answer = transport.request(
            cfg.issuer_url + "introspect/",
            data=urllib.parse.urlencode({"token": raw, "token_type_hint": "access_token"}).encode(),
            headers={
                "Authorization": f"Bearer {cfg.credential}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            timeout=cfg.http_timeout,
            limit=INTROSPECTION_LIMIT,
        )
    except transport.TransportError:
        return None
    if answer.status != 200:
        return None
    try:
        data = json.loads(answer.body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("active"), bool):
        return None
    if data["active"] and data.get("jti") != token.jti:
        return None  # an answer about another token
    return data["active"]


def remember_refusal(request: Any, error: Exception) -> None:
    setattr(request, _ERROR_ATTR, error)


class ResourceServerAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <access token>`` issued by the ``ISSUER_URL`` issuer.

    401 ``invalid_token`` for a token that does not verify or is revoked,
    400 ``invalid_request`` for a malformed header, 503
    ``revocation_state_stale`` (with ``Retry-After``) when this process cannot
    tell whether the token was revoked.
    """

    www_authenticate_realm = "api"

    @sensitive_variables()
    def authenticate(self, request: Request) -> tuple[TokenUser, ResourceToken] | None:
        cfg = config()
        raw = self.get_raw_token(request, cfg)
        if raw is None:
            return None
        follower = get_follower()
        try:
            token = decode(raw, cfg, follower)
            self.check_revocation(raw, token, cfg, follower)
        except InvalidToken as exc:
            remember_refusal(request, exc)
            raise
        return TokenUser(token), token

    @sensitive_variables()
    def check_revocation(
        self, raw: str, token: ResourceToken, cfg: Config, follower: Follower
    ) -> None:
        """``InvalidToken("token_revoked")`` if revoked; a 503 when that cannot be told."""
        copy = follower.copy
        if not copy.is_current(cfg.max_staleness):
            follower.wait_loaded()
            if not copy.is_current(cfg.max_staleness):
                if cfg.introspect_when_stale:
                    active = introspect(raw, token, cfg)
                    if active is None:
                        raise RevocationStateStale(cfg.retry_after)
                    if not active:
                        raise InvalidToken("token_revoked")
                    return
                raise RevocationStateStale(cfg.retry_after)
        payload = token.payload
        if copy.is_revoked(
            payload["jti"],
            payload["sid"],
            user_key(token.user_id),
            payload.get("gen", 0),
            payload.get("epoch", 0),
        ):
            raise InvalidToken("token_revoked")

    @sensitive_variables()
    def get_raw_token(self, request: Request, cfg: Config | None = None) -> str | None:
        """The token from the Authorization header; None for other schemes."""
        # META, not request.headers: building HttpHeaders from META on every
        # request costs more than the rest of this method.
        header = request.META.get("HTTP_AUTHORIZATION", b"")
        if isinstance(header, str):
            header = header.encode(HTTP_HEADER_ENCODING)
        if not header:
            return None
        parts = header.split()
        if not parts or parts[0].lower() not in (cfg or config()).header_types:
            return None
        if len(parts) != 2:
            error = InvalidAuthorizationHeader()
            remember_refusal(request, error)
            error.auth_header = self.authenticate_header(request)
            raise error
        try:
            return parts[1].decode("ascii")
        except UnicodeDecodeError:
            invalid = InvalidToken("token_invalid")
            remember_refusal(request, invalid)
            raise invalid from None

    def authenticate_header(self, request: Request) -> str:
        """The RFC 6750 challenge; with the error of this request's refusal, if any."""
        scheme = config().challenge_scheme
        error = getattr(request, _ERROR_ATTR, None)
        if error is None:
            return f'{scheme} realm="{self.www_authenticate_realm}"'
        description = error.challenge.replace("\\", "\\\\").replace('"', '\\"')
        return (
            f'{scheme} realm="{self.www_authenticate_realm}", '
            f'error="{error.oauth_error}", error_description="{description}"'
        )
