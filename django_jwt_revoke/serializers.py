"""Request bodies and response documents of the HTTP endpoints.

No serializer here ever echoes a token back: tokens are write-only fields and
their errors say what is wrong, never what was sent.
"""

from __future__ import annotations

from typing import Any

import jwt
from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from .conf import jwt_revoke_settings
from .models import TokenSession, is_storable
from .tokens import Generations, ValidatedToken, get_keys, read_generations, user_key


class _SecretSerializer(serializers.Serializer):
    """A serializer of secrets (tokens, passwords), kept out of error reports.

    Its repr leaves out the data it was given (DRF's shows it:
    ``TokenRefreshSerializer(data={'refresh': 'eyJ...'})``), and validation
    hides its local variables, and those of DRF's frames below it, that hold
    the data.
    """

    def __repr__(self) -> str:
        data = "data='********'" if hasattr(self, "initial_data") else ""
        return f"{type(self).__name__}({data})"

    @sensitive_variables()
    def is_valid(self, *, raise_exception: bool = False) -> bool:
        return super().is_valid(raise_exception=raise_exception)


class CredentialField(serializers.CharField):
    """A username or password: any string, NUL and lone surrogates included.

    DRF's ``CharField`` refuses those with a 400; a credential that has one
    is a credential no account can have (Django's forms refuse them too, and
    PostgreSQL cannot compare a NUL), and the login answers it as any other
    wrong credential: 401 ``invalid_credentials``, before any query.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("write_only", True)
        super().__init__(**kwargs)
        self.validators = [
            v
            for v in self.validators
            if not isinstance(
                v, (ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator)
            )
        ]


class TokenObtainSerializer(_SecretSerializer):
    """Username (the user model's USERNAME_FIELD) and password."""

    password = CredentialField(trim_whitespace=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.username_field = get_user_model().USERNAME_FIELD
        self.fields[self.username_field] = CredentialField()
        if self.username_field != "username":
            # Accept "username" too, as the SPEC's endpoint table names it.
            self.fields[self.username_field].required = False
            self.fields["username"] = CredentialField(required=False)

    @sensitive_variables()
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        username = attrs.get(self.username_field) or attrs.get("username")
        if not username:
            raise serializers.ValidationError(
                {self.username_field: [_("This field is required.")]}, code="required"
            )
        if not is_storable(username) or not is_storable(attrs["password"]):
            return {"user": None}  # no account has it: never a query (a 503 on PostgreSQL)
        request = self.context.get("request")
        credentials = {self.username_field: username, "password": attrs["password"]}
        # Read before the password is checked (docs/consistency.md, P2): a
        # revocation committing during the check kills the pair issued after it.
        before = _generations_before_check(username)
        # authenticate() refuses inactive users with the default backend; an
        # inactive user from a permissive backend is refused just the same.
        user = authenticate(request, **credentials)
        if user is None or not getattr(user, "is_active", True):
            return {"user": None}
        if before.user_key != user_key(user):
            # The backend authenticated a user the natural key does not name
            # (or that did not exist a moment ago): read that user's
            # generation now, and refuse if the password or the active flag
            # changed since the backend loaded the user (a change that
            # commits after this read is a revocation the pair dies with).
            # A logout-all committing during the check is missed here
            # (docs/consistency.md, P2).
            # The epoch is everyone's: the one read before the check stands.
            after = read_generations(user)
            before = after._replace(epoch=min(after.epoch, before.epoch))
            if not _unchanged_since_loaded(user):
                return {"user": None}
        return {"user": user, "generations": before}


def _generations_before_check(username: Any) -> Generations:
    """The generations of the user ``username`` names, as ``ModelBackend`` finds it."""
    User = get_user_model()
    manager = User._default_manager.db_manager(jwt_revoke_settings.database_alias(TokenSession))
    try:
        user = manager.get_by_natural_key(username)
    except (User.DoesNotExist, User.MultipleObjectsReturned, ValueError, TypeError):
        user = None
    except ValidationError:  # a value the field cannot hold (a UUID field, say)
        user = None
    return read_generations(user)


def _unchanged_since_loaded(user: Any) -> bool:
    """Whether ``user``'s stored password hash and active flag are still as loaded."""
    model = type(user)
    lookup: dict[str, Any] = {"pk": user.pk}
    for name in ("password", "is_active"):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if getattr(field, "concrete", False):
            lookup[field.attname] = getattr(user, field.attname)
    manager = model._base_manager.db_manager(jwt_revoke_settings.database_alias(TokenSession))
    return manager.filter(**lookup).exists()


class TokenField(serializers.CharField):
    """A token in a request body: a string, taken as sent.

    DRF's ``CharField`` turns a JSON number into its digits; a number is never
    a token, so it is a malformed request (400), as the schema says.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class TokenRefreshSerializer(_SecretSerializer):
    """``{"refresh": "<refresh token>"}``."""

    refresh = TokenField()


class LogoutSerializer(_SecretSerializer):
    """An optional ``refresh`` (simplejwt clients send it); the session goes anyway."""

    refresh = TokenField(required=False, allow_blank=True)


class SessionSerializer(serializers.ModelSerializer):
    """One login as its owner sees it; ``current`` marks the caller's own."""

    id = serializers.CharField(source="sid", read_only=True)
    current = serializers.SerializerMethodField()

    class Meta:
        model = TokenSession
        fields = ("id", "created_at", "expires_at", "user_agent", "ip", "current")
        read_only_fields = fields

    def get_current(self, session: TokenSession) -> bool:
        return session.sid == self.context.get("current_sid")


def oauth_token_parameter(data: Any) -> str | None:
    """The ``token`` parameter of an RFC 7009/7662 request, or None if malformed.

    Malformed: missing, empty, not a string, or sent more than once (RFC 6749
    section 3.1). Client credentials and other parameters are not looked at.
    """
    if hasattr(data, "getlist"):
        values = data.getlist("token")
        if len(values) != 1:
            return None
        value = values[0]
    elif isinstance(data, dict):
        value = data.get("token")
    else:
        return None
    if not isinstance(value, str) or not value:
        return None
    return value


def introspection_response(token: ValidatedToken, user: Any) -> dict[str, Any]:
    """An RFC 7662 section 2.2 answer for an active token: its claims plus members.

    ``token_type`` is the OAuth token type (RFC 6749 section 5.1) the RFC
    defines it as: ``Bearer``, how our tokens are presented. The token's own
    ``token_type`` claim (``access`` or ``refresh``), which would otherwise
    stand there, is ``jwt_token_type``. ``sub`` is the user id claim as a
    string when the token has no ``sub``.
    """
    answer: dict[str, Any] = dict(token.payload)
    answer["jwt_token_type"] = token.token_type
    answer["token_type"] = "Bearer"
    answer.setdefault("sub", str(token.payload[jwt_revoke_settings.USER_ID_CLAIM]))
    answer["username"] = user.get_username()
    answer["active"] = True
    return answer


# JWK members left out: those that would disclose private or secret key
# material (RFC 7518), and "key_ops", which PyJWT writes for RSA keys beside
# the "use" we set (RFC 7517 section 4.3: the two SHOULD NOT be used together).
_LEFT_OUT_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k", "key_ops"})


def jwk_set() -> dict[str, Any] | None:
    """The public verifying keys as an RFC 7517 JWK Set; None under HMAC.

    The signing key comes first, then the ``VERIFYING_KEYS`` kept for
    rotation, each with its ``kid`` (the one tokens signed with it carry in
    their header), ``alg`` and ``"use": "sig"``.
    """
    keys = get_keys()
    if keys.algorithm.upper().startswith("HS"):
        return None
    algorithm = jwt.get_algorithm_by_name(keys.algorithm)
    ordered = sorted(keys.verifying.items(), key=lambda item: item[0] != keys.signing_kid)
    jwks = []
    for kid, key in ordered:
        jwk = {
            name: value
            for name, value in algorithm.to_jwk(key, as_dict=True).items()
            if name not in _LEFT_OUT_JWK_MEMBERS
        }
        jwk.update(kid=kid, alg=keys.algorithm, use="sig")
        jwks.append(jwk)
    return {"keys": jwks}
