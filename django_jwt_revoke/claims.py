"""What a token says: its claims, how they are built and what they must be.

Claims follow djangorestframework-simplejwt (``token_type``, ``jti``, ``exp``,
``iat``, the user id claim) plus ``sid`` (the session every rotated token of
one login shares), ``gen`` (the user's revocation generation at issue) and
``epoch`` (the global one). A token with none of ``sid``, ``gen`` and
``epoch`` is a *legacy* token, one that simplejwt issued with the same key:
accepted while ``ACCEPT_SIMPLEJWT_TOKENS`` is on (see ``legacy_sid``).

User ids are canonicalised here: the claim's value becomes the user id
field's Python value (``canonical_user_id``) and the text key of the user's
revocation state (``user_key``). Nothing here reads the database or a key.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.module_loading import import_string

from .conf import SETTINGS_NAME, jwt_revoke_settings, per_settings
from .exceptions import InvalidToken
from .models import TokenType, is_storable

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


# -- user ids ------------------------------------------------------------------


def is_int_field(field: Any) -> bool:
    return field.get_internal_type() in _INT_FIELD_TYPES


@per_settings
def user_id_field() -> Any:
    """The user model's ``USER_ID_FIELD`` field."""
    return get_user_model()._meta.get_field(jwt_revoke_settings.USER_ID_FIELD)


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
    field = user_id_field()
    if is_int_field(field):
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


# -- what verification requires --------------------------------------------------


def _max_lifetime(token_type: str) -> float:
    longest = lifetime(token_type) + jwt_revoke_settings.LEEWAY
    return longest.total_seconds() + 1  # +1: exp and iat are rounded down


@dataclass(frozen=True)
class Rules:
    """What verification reads of the settings, read once per settings."""

    max_bytes: int
    claim: str
    audience: Any
    issuer: Any
    leeway: timedelta
    leeway_seconds: float
    options: Any  # PyJWT's Options (a TypedDict)
    options_without_exp: Any
    max_lifetime: dict[str, float]
    accept_legacy: bool

    def pyjwt(self, *, verify_exp: bool) -> dict[str, Any]:
        """What ``backends.verify`` passes to PyJWT."""
        return {
            "audience": self.audience,
            "issuer": self.issuer,
            "leeway": self.leeway,
            "options": self.options if verify_exp else self.options_without_exp,
        }


@per_settings
def rules() -> Rules:
    s = jwt_revoke_settings
    options = {
        "require": ["exp", "iat", "jti"],
        "verify_exp": True,
        # Also without AUDIENCE: then a token with an "aud" is refused.
        "verify_aud": True,
    }
    return Rules(
        max_bytes=s.MAX_TOKEN_BYTES,
        claim=s.USER_ID_CLAIM,
        audience=s.AUDIENCE,
        issuer=s.ISSUER,
        leeway=s.LEEWAY,
        leeway_seconds=s.LEEWAY.total_seconds(),
        options=options,
        options_without_exp={**options, "verify_exp": False},
        max_lifetime={kind: _max_lifetime(kind) for kind in (ACCESS, REFRESH)},
        accept_legacy=s.ACCEPT_SIMPLEJWT_TOKENS is True,
    )


def _is_identifier(value: Any, limit: int) -> bool:
    # A NUL or a lone surrogate names nothing we store, and would make the
    # revocation check's query fail (a 503) rather than refuse the token.
    return isinstance(value, str) and 0 < len(value) <= limit and is_storable(value)


def _is_generation(value: Any) -> bool:
    return type(value) is int and 0 <= value < _INT64


def _well_formed(payload: dict[str, Any], claim: str, legacy: bool) -> bool:
    return (
        _is_identifier(payload.get("jti"), 255)
        and (legacy or _is_identifier(payload.get("sid"), 64))
        and payload.get("token_type") in (ACCESS, REFRESH)
        and all(type(payload[name]) in (int, float) for name in ("exp", "iat"))
        and all(_is_generation(payload.get(name, 0)) for name in ("gen", "epoch"))
        and claim in payload
    )


def check_claims(payload: dict[str, Any], rules: Rules, token_type: str | None) -> bool:
    """Raise ``InvalidToken`` unless the claims are what we issue; True for a legacy token.

    A legacy token has none of the claims only we put in tokens: one with
    some of them (ours with ``sid`` stripped, say) is neither ours nor
    simplejwt's, and is refused. ``token_type`` None accepts either type.
    """
    if rules.audience is None and "aud" in payload:
        # RFC 7519 4.1.3: configured with no AUDIENCE we identify with no
        # value of any "aud", so a token that has one is not for us. PyJWT
        # (verify_aud) refuses a non-empty one; this, an empty one ("", [], null).
        raise InvalidToken("token_claims_invalid")
    legacy = "sid" not in payload and "gen" not in payload and "epoch" not in payload
    if (legacy and not rules.accept_legacy) or not _well_formed(payload, rules.claim, legacy):
        raise InvalidToken("token_claims_invalid")
    if token_type is not None and payload["token_type"] != token_type:
        raise InvalidToken("token_wrong_type")
    if payload["exp"] - payload["iat"] > rules.max_lifetime[payload["token_type"]]:
        # Signed with our key but longer-lived than we ever issue: refuse.
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


# -- what we issue -------------------------------------------------------------


def new_id() -> str:
    """A random identifier for ``jti`` and ``sid`` (128 bits)."""
    return secrets.token_hex(16)


def lifetime(token_type: str) -> timedelta:
    s = jwt_revoke_settings
    return s.ACCESS_TOKEN_LIFETIME if token_type == ACCESS else s.REFRESH_TOKEN_LIFETIME


def expiry(now: datetime, lifetime: timedelta) -> datetime:
    """``now + lifetime`` in whole seconds, as it will stand in the ``exp`` claim."""
    return datetime.fromtimestamp(int((now + lifetime).timestamp()), tz=dt_timezone.utc)


def build(
    user_id: Any, token_type: str, sid: str, generation: int, epoch: int, now: datetime
) -> dict[str, Any]:
    """The claims of a new token of session ``sid``, issued at ``now``."""
    s = jwt_revoke_settings
    payload: dict[str, Any] = {
        "token_type": token_type,
        "exp": int((now + lifetime(token_type)).timestamp()),
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


# -- claims a project adds (EXTRA_CLAIMS) ------------------------------------------


def setting_object(name: str) -> Any:
    """What the setting ``name`` names: a dotted path imported, or the object given."""
    value = getattr(jwt_revoke_settings, name)
    return import_string(value) if isinstance(value, str) else value


@per_settings
def extra_claims() -> Callable[[Any], Any] | None:
    """The ``EXTRA_CLAIMS`` callable, imported once per settings; None when unset."""
    return setting_object("EXTRA_CLAIMS")


@per_settings
def reserved_claims() -> frozenset[str]:
    """The claims the app sets or verifies, which ``EXTRA_CLAIMS`` may not set."""
    names = {"token_type", "exp", "iat", "nbf", "jti", "sid", "gen", "epoch", "iss", "aud"}
    return frozenset({*names, jwt_revoke_settings.USER_ID_CLAIM})


def add_extra_claims(payload: dict[str, Any], extra: Any) -> dict[str, Any]:
    """``payload`` with the claims an ``EXTRA_CLAIMS`` call returned added to it.

    What it returned must be a dict of JSON values keyed by strings, none of
    them a claim the app sets (``reserved_claims``). Anything else is a
    programming error, raised as ``ImproperlyConfigured``: the login or
    refresh fails (500) rather than issue a token with claims it did not
    mean. The message names claims and types, never values.
    """
    hook = f"{SETTINGS_NAME}['EXTRA_CLAIMS']"
    if not isinstance(extra, dict):
        raise ImproperlyConfigured(f"{hook} must return a dict, not {type(extra).__name__}.")
    names = [name for name in extra if not isinstance(name, str)]
    if names:
        raise ImproperlyConfigured(f"{hook} returned claim names that are not strings: {names!r}.")
    clash = sorted(reserved_claims().intersection(extra))
    if clash:
        raise ImproperlyConfigured(
            f"{hook} may not set the claims the app sets: {', '.join(clash)}."
        )
    try:
        json.dumps(extra, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"{hook} returned claims that are not JSON: {exc}") from None
    payload.update(extra)
    return payload
