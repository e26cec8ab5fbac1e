"""Request bodies and response documents of the HTTP endpoints.

No serializer here ever echoes a token back: tokens are write-only fields and
their errors say what is wrong, never what was sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import jwt
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.base_user import BaseUserManager
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from .backends import get_keys, is_hmac
from .claims import REFRESH, ValidatedToken, setting_object, user_key
from .conf import jwt_revoke_settings, per_settings
from .exceptions import InvalidToken
from .models import TokenSession, generations_of_username, is_storable, users_with_id
from .revocation import Generations, read_generations
from .tokens import TokenPair, decode_token, issue_token_pair


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


def default_user_authentication_rule(user: Any) -> bool:
    """The default ``USER_AUTHENTICATION_RULE``: a user, and an active one (simplejwt's)."""
    return user is not None and bool(getattr(user, "is_active", True))


@per_settings
def user_authentication_rule() -> Callable[[Any], Any]:
    """The ``USER_AUTHENTICATION_RULE`` callable, imported once per settings."""
    return setting_object("USER_AUTHENTICATION_RULE")


@per_settings
def obtain_serializer_class() -> type[TokenObtainSerializer]:
    """The ``TOKEN_OBTAIN_SERIALIZER`` class, imported once per settings."""
    return setting_object("TOKEN_OBTAIN_SERIALIZER")


class TokenObtainSerializer(_SecretSerializer):
    """Username (the user model's USERNAME_FIELD) and password; validates to the new pair.

    ``validate`` checks the credentials (and ``USER_AUTHENTICATION_RULE``),
    opens the session and returns the login answer, ``{"access",
    "refresh"}``, leaving ``self.user`` and ``self.token_pair`` set. A
    subclass adds to the answer as with simplejwt: ``data =
    super().validate(attrs)``, then ``data["user"] = {...}``. Refused
    credentials raise ``AuthenticationFailed`` (401 ``invalid_credentials``).
    ``TOKEN_OBTAIN_SERIALIZER`` names the class ``token/`` uses
    (docs/extending.md).

    The context: ``request``, and ``http_request``, Django's request the
    session records the user agent and IP of (default: ``request``).
    """

    password = CredentialField(trim_whitespace=False)
    user: Any
    token_pair: TokenPair

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
        user, generations = self._check_credentials(attrs)
        self.user = user
        request = self.context.get("http_request", self.context.get("request"))
        self.token_pair = issue_token_pair(user, request=request, generations=generations)
        if jwt_revoke_settings.UPDATE_LAST_LOGIN is True:
            from django.contrib.auth.models import update_last_login

            update_last_login(type(user), user)  # its sender: the user model
        return {"access": self.token_pair.access, "refresh": self.token_pair.refresh}

    @sensitive_variables()
    def _check_credentials(self, attrs: dict[str, Any]) -> tuple[Any, Generations]:
        """The user the credentials name, and the generations its pair carries."""
        username = attrs.get(self.username_field) or attrs.get("username")
        if not username:
            raise serializers.ValidationError(
                {self.username_field: [_("This field is required.")]}, code="required"
            )
        if not is_storable(username) or not is_storable(attrs["password"]):
            self.refuse()  # no account has it: never a query (a 503 on PostgreSQL)
        credentials = {self.username_field: username, "password": attrs["password"]}
        # Read before the password is checked (docs/consistency.md, P2): a
        # revocation committing during the check kills the pair issued after it.
        before = _generations_before_check(username)
        user = authenticate(self.context.get("request"), **credentials)
        # authenticate() refuses inactive users with the default backend; an
        # inactive user from a permissive backend is refused just the same,
        # whatever the rule says (the rule can only refuse more).
        if user is None or not getattr(user, "is_active", True):
            self.refuse()
        if not user_authentication_rule()(user):
            self.refuse()
        generations = _generations_of_checked(user, before)
        if generations is None:
            self.refuse()
        return user, generations

    def refuse(self) -> NoReturn:
        """The one answer to every refused login: 401 ``invalid_credentials``."""
        raise AuthenticationFailed(
            {
                "detail": _("No active account found with the given credentials."),
                "code": "invalid_credentials",
            }
        )


def _generations_of_checked(user: Any, before: Generations) -> Generations | None:
    """The generations the pair of ``user``, just authenticated, carries; None: refuse.

    ``before``: what ``_generations_before_check`` read for the username.
    """
    if before.user_key == user_key(user):
        return before
    # The backend authenticated a user the natural key does not name (or
    # that did not exist a moment ago): read that user's generation now, and
    # refuse if the password or the active flag changed since the backend
    # loaded the user (a change that commits after this read is a revocation
    # the pair dies with). A logout-all committing during the check is
    # missed here (docs/consistency.md, P2).
    # The epoch is everyone's: the one read before the check stands.
    after = read_generations(user)
    generations = after._replace(epoch=min(after.epoch, before.epoch))
    return generations if _unchanged_since_loaded(user) else None


def _generations_before_check(username: Any) -> Generations:
    """The generations of the user ``username`` names, as ``ModelBackend`` finds it.

    With the stock ``get_by_natural_key``, the user and its generations are
    read in one query (``generations_of_username``); a manager of its own
    finds the user its own way, and the generations are read after.
    """
    User = get_user_model()
    using = jwt_revoke_settings.database_alias(TokenSession)
    manager = User._default_manager.db_manager(using)
    if type(manager).get_by_natural_key is BaseUserManager.get_by_natural_key:
        try:
            found = generations_of_username(username, using)
        except (ValueError, TypeError, ValidationError):
            found = None
        if found is not None:
            return Generations(user_key(found[0]), found[1], found[2])
        return read_generations(None)
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


@sensitive_variables()
def refuse_by_rule(raw: str) -> None:
    """At refresh: ``InvalidToken`` if ``USER_AUTHENTICATION_RULE`` refuses the token's user.

    Only a rule other than the default costs anything: the rotation refuses
    inactive and deleted users itself. A token that does not verify is left
    to the rotation, which refuses it with its own code.
    """
    rule = user_authentication_rule()
    if rule is default_user_authentication_rule:
        return
    try:
        token = decode_token(raw, token_type=REFRESH)
    except InvalidToken:
        return
    alias = jwt_revoke_settings.database_alias(TokenSession)
    user = users_with_id(token.user_id, alias).first()
    if user is not None and not rule(user):
        raise InvalidToken("user_inactive")


class TokenVerifySerializer(_SecretSerializer):
    """``{"token": "<access or refresh token>"}`` (simplejwt's ``token/verify/``)."""

    token = TokenField()


class TokenBlacklistSerializer(_SecretSerializer):
    """``{"refresh": "<refresh token>"}`` (simplejwt's ``token/blacklist/``)."""

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
    if is_hmac(keys.algorithm):
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
