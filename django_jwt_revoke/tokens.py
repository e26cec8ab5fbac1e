"""Minting and verifying tokens.

Claims follow djangorestframework-simplejwt (``token_type``, ``jti``, ``exp``,
``iat``, the user id claim) plus ``sid`` (the session every rotated token of
one login shares), ``gen`` (the user's revocation generation at issue) and
``epoch`` (the global one). A token with none of ``sid``, ``gen`` and
``epoch`` is a *legacy* token, one that simplejwt issued with the same key:
accepted while ``ACCEPT_SIMPLEJWT_TOKENS`` is on (see ``legacy_sid``).
"""

from __future__ import annotations

import binascii
import dataclasses
import hashlib
import json
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any, NamedTuple

import jwt
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Subquery
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from jwt.utils import base64url_decode

from .conf import jwt_revoke_settings
from .exceptions import InvalidToken
from .models import (
    GlobalRevocation,
    OutstandingToken,
    TokenSession,
    TokenType,
    UserRevocation,
    is_storable,
    storable,
)

ACCESS = TokenType.ACCESS.value
REFRESH = TokenType.REFRESH.value

_INT_FIELD_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
    }
)
_INT64 = 2**63
ALLOWED_HEADER_PARAMETERS = frozenset({"alg", "typ", "kid"})


def _is_int_field(field: Any) -> bool:
    return field.get_internal_type() in _INT_FIELD_TYPES


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


# -- keys ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Keys:
    algorithm: str
    # Left out of the repr: under HMAC both are the secret itself.
    signing_key: Any = dataclasses.field(repr=False)
    signing_kid: str
    put_kid: bool
    verifying: dict[str, Any] = dataclasses.field(repr=False)
    algorithms: tuple[str, ...] = ()


_keys_cache: dict[int, _Keys] = {}


def _is_hmac(algorithm: str) -> bool:
    return algorithm.upper().startswith("HS")


def _prepare(algorithm: str, key: Any) -> Any:
    if _is_hmac(algorithm):
        return key.encode() if isinstance(key, str) else key
    return jwt.get_algorithm_by_name(algorithm).prepare_key(key)


def _public(algorithm: str, prepared: Any) -> Any:
    """The verifying half of a prepared key (the key itself for HMAC)."""
    if not _is_hmac(algorithm) and hasattr(prepared, "public_key"):
        return prepared.public_key()
    return prepared


def _derived_kid(algorithm: str, verifying: Any) -> str:
    if _is_hmac(algorithm):
        material = b"hmac:" + verifying
    else:
        from cryptography.hazmat.primitives import serialization

        material = verifying.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return hashlib.sha256(material).hexdigest()[:16]


@sensitive_variables()
def get_keys() -> _Keys:
    """Prepared keys for the current settings (recomputed when they change)."""
    gen = jwt_revoke_settings.generation
    keys = _keys_cache.get(gen)
    if keys is None:
        s = jwt_revoke_settings
        algorithm = s.ALGORITHM
        signing = _prepare(algorithm, s.SIGNING_KEY)
        verifying_signing = _public(algorithm, signing)
        kid = s.SIGNING_KEY_ID or _derived_kid(algorithm, verifying_signing)
        verifying = {
            str(k): _public(algorithm, _prepare(algorithm, v)) for k, v in s.VERIFYING_KEYS.items()
        }
        verifying[kid] = verifying_signing
        # The kid goes in every token signed with an asymmetric key (the one
        # jwks/ publishes: JWKS clients look keys up by it) or when there is
        # more than one key to pick from. A lone HMAC secret is published
        # nowhere, and its tokens stay exactly as simplejwt's.
        put_kid = not _is_hmac(algorithm) or bool(s.VERIFYING_KEYS)
        keys = _Keys(algorithm, signing, kid, put_kid, verifying, (algorithm,))
        _keys_cache.clear()
        _keys_cache[gen] = keys
    return keys


# -- user ids ------------------------------------------------------------------


_id_field_cache: dict[int, Any] = {}


def _user_id_field():
    """The user model's id field for the current settings (looked up once per settings)."""
    gen = jwt_revoke_settings.generation
    field = _id_field_cache.get(gen)
    if field is None:
        field = get_user_model()._meta.get_field(jwt_revoke_settings.USER_ID_FIELD)
        _id_field_cache.clear()
        _id_field_cache[gen] = field
    return field


# The one spelling of an integer as text: no sign but "-", no leading zero,
# no space, no "_" (which int() would all accept).
_DECIMAL = re.compile(r"(?:0|-?[1-9][0-9]{0,18})")


def canonical_user_id(value: Any, *, legacy: bool = False) -> Any:
    """The claim value as the user id field's Python value, or ``InvalidToken``.

    Matching is exact: an integer field takes only a JSON integer (not
    ``1.5``, ``true``, ``"1"`` or ``[1]``), any other field only a string,
    normalised by the field (a UUID in any spelling becomes one value).
    ``legacy``: simplejwt 5.5 and later write every id as a string (earlier
    versions an integer as an integer), so for a legacy token an integer
    field also takes the canonical decimal string of its value (``"42"``;
    never ``"042"``, ``"+42"`` or ``" 42"``): the same user, with the same
    revocation state, as the integer.
    """
    field = _user_id_field()
    if _is_int_field(field):
        if legacy and type(value) is str and _DECIMAL.fullmatch(value):
            value = int(value)
        if type(value) is not int or not -_INT64 <= value < _INT64:
            raise InvalidToken("token_claims_invalid")
        return value
    if not isinstance(value, str) or not value or len(value) > 255 or not is_storable(value):
        raise InvalidToken("token_claims_invalid")
    try:
        return field.to_python(value)
    except (ValidationError, ValueError, TypeError):
        raise InvalidToken("token_claims_invalid") from None


def user_id_claim_value(user: Any) -> Any:
    """The value put in tokens for ``user``: an int stays an int, anything else a string."""
    value = getattr(user, jwt_revoke_settings.USER_ID_FIELD)
    return value if type(value) is int else str(value)


def user_key(user_or_id: Any) -> str:
    """The key of a user's revocation state: its canonical id, as text."""
    value = user_or_id
    if hasattr(user_or_id, "_meta"):
        value = getattr(user_or_id, jwt_revoke_settings.USER_ID_FIELD)
    return str(value)


# -- validated tokens ----------------------------------------------------------


class ValidatedToken(Mapping):
    """A token whose signature and claims were checked; read-only claims.

    ``request.auth`` is one of these: ``request.auth.jti``, ``.sid``,
    ``.token_type``, ``.user_id`` and ``request.auth["any claim"]``. A
    legacy (simplejwt) token has no session: ``.legacy`` is True and
    ``.sid`` None, and its generations are 0.
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
        return f"<ValidatedToken {self.token_type} jti={self.jti}>"

    @property
    def jti(self) -> str:
        return self.payload["jti"]

    @property
    def sid(self) -> str | None:
        return self.payload.get("sid")

    @property
    def legacy(self) -> bool:
        """Issued by simplejwt, not by us: no session, generations 0."""
        return "sid" not in self.payload

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

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.payload["exp"], tz=dt_timezone.utc)

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.payload["iat"], tz=dt_timezone.utc)


_PYJWT_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "token_expired"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid"),
    (jwt.MissingRequiredClaimError, "token_claims_invalid"),
    (jwt.InvalidAudienceError, "token_claims_invalid"),
    (jwt.InvalidIssuerError, "token_claims_invalid"),
    (jwt.InvalidIssuedAtError, "token_claims_invalid"),
)


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
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidToken("token_invalid") from None
    if not isinstance(raw, str) or not raw:
        raise InvalidToken("token_invalid")
    rules = _rules()
    if len(raw) > rules.max_bytes:
        raise InvalidToken("token_too_large")
    keys = get_keys()
    header = _header(raw)
    if (
        header is None
        or header.get("alg") != keys.algorithm
        or not ALLOWED_HEADER_PARAMETERS.issuperset(header)
    ):
        # Only what we put there is accepted: a "jku", "x5u", "jwk" or "x5c"
        # asks the verifier to fetch or trust a key the token chooses, and a
        # "crit" names extensions we do not implement (RFC 7515 4.1.11).
        raise InvalidToken("token_invalid")
    kid = header.get("kid")
    if kid is None:
        key = keys.verifying[keys.signing_kid]
    elif isinstance(kid, str) and kid in keys.verifying:
        key = keys.verifying[kid]
    else:
        raise InvalidToken("token_invalid")
    claim = rules.claim
    try:
        decoded = jwt.decode_complete(
            raw,
            key,
            algorithms=keys.algorithms,
            audience=rules.audience,
            issuer=rules.issuer,
            leeway=rules.leeway,
            options=rules.options if verify_exp else rules.options_without_exp,
        )
    except tuple(err for err, _code in _PYJWT_ERRORS) as exc:
        code = next(c for err, c in _PYJWT_ERRORS if isinstance(exc, err))
        raise InvalidToken(code) from None
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
        raise InvalidToken("token_invalid") from None
    if decoded.get("header") != header:
        # PyJWT read the header its own way: what it verified must be what we checked.
        raise InvalidToken("token_invalid")
    header = decoded["header"]  # the token's own copy, not the shared one
    payload = decoded.get("payload")
    if not isinstance(payload, dict):
        raise InvalidToken("token_invalid")
    if rules.audience is None and "aud" in payload:
        # RFC 7519 4.1.3: configured with no AUDIENCE we identify with no
        # value of any "aud", so a token that has one is not for us. PyJWT
        # (verify_aud) refuses a non-empty one; this, an empty one ("", [], null).
        raise InvalidToken("token_claims_invalid")
    legacy = _check_claims(payload, claim, rules.accept_legacy)
    if token_type is not None and payload["token_type"] != token_type:
        raise InvalidToken("token_wrong_type")
    if payload["exp"] - payload["iat"] > rules.max_lifetime[payload["token_type"]]:
        # Signed with our key but longer-lived than we ever issue: refuse.
        raise InvalidToken("token_claims_invalid")
    return ValidatedToken(header, payload, canonical_user_id(payload[claim], legacy=legacy))


# Headers already decoded, by their segment: every token we issue with one key
# has the same header, so this holds a handful of entries (bounded all the same).
_headers: dict[str, dict[str, Any] | None] = {}
_HEADERS_KEPT = 64


def _header(raw: str) -> dict[str, Any] | None:
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
    if len(_headers) >= _HEADERS_KEPT:
        _headers.clear()
    _headers[segment] = header
    return header


def _max_lifetime(token_type: str) -> float:
    s = jwt_revoke_settings
    lifetime = s.ACCESS_TOKEN_LIFETIME if token_type == ACCESS else s.REFRESH_TOKEN_LIFETIME
    return (lifetime + s.LEEWAY).total_seconds() + 1  # +1: exp and iat are rounded down


@dataclass(frozen=True)
class _Rules:
    """What verification reads of the settings, read once per settings."""

    max_bytes: int
    claim: str
    audience: Any
    issuer: Any
    leeway: timedelta
    options: Any  # PyJWT's Options (a TypedDict)
    options_without_exp: Any
    max_lifetime: dict[str, float]
    accept_legacy: bool


_rules_cache: dict[int, _Rules] = {}


def _rules() -> _Rules:
    gen = jwt_revoke_settings.generation
    rules = _rules_cache.get(gen)
    if rules is None:
        s = jwt_revoke_settings
        options = {
            "require": ["exp", "iat", "jti"],
            "verify_exp": True,
            # Also without AUDIENCE: then a token with an "aud" is refused.
            "verify_aud": True,
        }
        rules = _Rules(
            max_bytes=s.MAX_TOKEN_BYTES,
            claim=s.USER_ID_CLAIM,
            audience=s.AUDIENCE,
            issuer=s.ISSUER,
            leeway=s.LEEWAY,
            options=options,
            options_without_exp={**options, "verify_exp": False},
            max_lifetime={kind: _max_lifetime(kind) for kind in (ACCESS, REFRESH)},
            accept_legacy=s.ACCEPT_SIMPLEJWT_TOKENS is True,
        )
        _rules_cache.clear()
        _rules_cache[gen] = rules
    return rules


def _check_claims(payload: dict[str, Any], claim: str, accept_legacy: bool) -> bool:
    """Raise ``InvalidToken`` unless the claims are well-formed; True for a legacy token.

    A legacy token has none of the claims only we put in tokens: one with
    some of them (ours with ``sid`` stripped, say) is neither ours nor
    simplejwt's, and is refused.
    """
    legacy = "sid" not in payload and "gen" not in payload and "epoch" not in payload
    if legacy and not accept_legacy:
        raise InvalidToken("token_claims_invalid")
    for name, limit in (("jti", 255), ("sid", 64)):
        if legacy and name == "sid":
            continue
        value = payload.get(name)
        # A NUL or a lone surrogate names nothing we store, and would make the
        # revocation check's query fail (a 503) rather than refuse the token.
        if not isinstance(value, str) or not value or len(value) > limit or not is_storable(value):
            raise InvalidToken("token_claims_invalid")
    if payload.get("token_type") not in (ACCESS, REFRESH):
        raise InvalidToken("token_claims_invalid")
    for name in ("exp", "iat"):
        if type(payload[name]) not in (int, float):
            raise InvalidToken("token_claims_invalid")
    for name in ("gen", "epoch"):
        value = payload.get(name, 0)
        if type(value) is not int or not 0 <= value < _INT64:
            raise InvalidToken("token_claims_invalid")
    if claim not in payload:
        raise InvalidToken("token_claims_invalid")
    return legacy


#: What starts the sid of a session opened for a legacy refresh token (and
#: every token descending from it); the random sids we issue never have it.
LEGACY_SID_PREFIX = "sjwt-"


def legacy_sid(jti: str) -> str:
    """The session of a legacy (simplejwt) refresh token: derived from its ``jti``.

    The same for the import command and for the refresh endpoint, so that
    both record one session per legacy refresh token, whichever comes first.
    The prefix keeps it apart from the random sids we issue.
    """
    return LEGACY_SID_PREFIX + hashlib.sha256(jti.encode()).hexdigest()[:32]


# -- minting -------------------------------------------------------------------


def new_id() -> str:
    """A random identifier for ``jti`` and ``sid`` (128 bits)."""
    return secrets.token_hex(16)


@sensitive_variables()
def encode(payload: dict[str, Any]) -> str:
    keys = get_keys()
    headers = {"kid": keys.signing_kid} if keys.put_kid else None
    return jwt.encode(payload, keys.signing_key, algorithm=keys.algorithm, headers=headers)


def _claims(
    user_id: Any, token_type: str, sid: str, generation: int, epoch: int, now: datetime
) -> dict:
    s = jwt_revoke_settings
    lifetime = s.ACCESS_TOKEN_LIFETIME if token_type == ACCESS else s.REFRESH_TOKEN_LIFETIME
    payload: dict[str, Any] = {
        "token_type": token_type,
        "exp": int((now + lifetime).timestamp()),
        "iat": int(now.timestamp()),
        "jti": new_id(),
        "sid": sid,
        s.USER_ID_CLAIM: user_id,
        "gen": generation,
        "epoch": epoch,
    }
    if s.ISSUER is not None:
        payload["iss"] = s.ISSUER
    if s.AUDIENCE is not None:
        payload["aud"] = s.AUDIENCE
    return payload


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
        from django.core.validators import validate_ipv46_address

        try:
            validate_ipv46_address(ip)
        except ValidationError:
            ip = None
    return {"user_agent": storable(str(meta.get("HTTP_USER_AGENT", "")))[:256], "ip": ip}


def current_generations(key: str | None, using: str) -> tuple[int, int]:
    """The user's revocation generation and the global one (one query, usually).

    ``key`` None: no user (its generation is 0), the global one alone.
    """
    if key is None:
        epoch = (
            GlobalRevocation.objects.using(using)
            .filter(pk=GlobalRevocation.SINGLETON_PK)
            .values_list("generation", flat=True)
            .first()
        )
        return 0, epoch or 0
    user_generation = Subquery(UserRevocation.objects.filter(user_key=key).values("generation")[:1])
    found = (
        GlobalRevocation.objects.using(using)
        .filter(pk=GlobalRevocation.SINGLETON_PK)
        .annotate(_jwtr_generation=user_generation)
        .values_list("_jwtr_generation", "generation")
        .first()
    )
    if found is None:  # no global row (a flushed database): the epoch is 0
        value = (
            UserRevocation.objects.using(using)
            .filter(user_key=key)
            .values_list("generation", flat=True)
            .first()
        )
        return value or 0, 0
    return found[0] or 0, found[1]


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
    generation, epoch = current_generations(key, jwt_revoke_settings.database_alias(TokenSession))
    return Generations(key, generation, epoch)


def expiry(now: datetime, lifetime: timedelta) -> datetime:
    """``now + lifetime`` in whole seconds, as it will stand in the ``exp`` claim."""
    return datetime.fromtimestamp(int((now + lifetime).timestamp()), tz=dt_timezone.utc)


def mint_pair(
    user: Any,
    session: TokenSession,
    *,
    now: datetime,
    using: str,
    request: HttpRequest | None = None,
) -> TokenPair:
    """Sign an access and a refresh token for ``session`` and record the refresh one."""
    user_id = user_id_claim_value(user)
    refresh = _claims(user_id, REFRESH, session.sid, session.generation, session.epoch, now)
    refresh_expires = expiry(now, jwt_revoke_settings.REFRESH_TOKEN_LIFETIME)
    OutstandingToken.objects.using(using).create(
        jti=refresh["jti"],
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
    return TokenPair(
        access=mint_access(user, session, now=now), refresh=encode(refresh), sid=session.sid
    )


def mint_access(user: Any, session: TokenSession, *, now: datetime) -> str:
    """Sign an access token of ``session`` (nothing is recorded for access tokens)."""
    return encode(
        _claims(
            user_id_claim_value(user), ACCESS, session.sid, session.generation, session.epoch, now
        )
    )


def issue_token_pair(
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
    """
    using = jwt_revoke_settings.database_alias(TokenSession)
    now = timezone.now()
    key = user_key(user)
    with transaction.atomic(using=using):
        if generations is not None and generations.user_key == key:
            generation, epoch = generations.generation, generations.epoch
        else:
            generation, epoch = current_generations(key, using)
            if generations is not None:
                epoch = min(epoch, generations.epoch)
        session = TokenSession.objects.using(using).create(
            sid=new_id(),
            user=user,
            generation=generation,
            epoch=epoch,
            created_at=now,
            expires_at=expiry(now, jwt_revoke_settings.REFRESH_TOKEN_LIFETIME),
            **client_metadata(request),
        )
        return mint_pair(user, session, now=now, using=using, request=request)
