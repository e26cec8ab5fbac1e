"""DRF authentication classes that refuse revoked tokens on the next request.

``JWTAuthentication`` loads the user and reads the token's revocation state in
the same single query a JWT package that checks nothing pays for the user
row. ``JWTTokenUserAuthentication`` builds the user from the token's claims
and reads only revocation state (from the cache when ``CACHE_ALIAS`` is set).
Neither ever writes.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import cached_property
from django.views.decorators.debug import sensitive_variables
from rest_framework import authentication
from rest_framework.request import Request

from . import cookies
from .conf import jwt_revoke_settings, per_settings
from .exceptions import InvalidAuthorizationHeader, InvalidToken
from .stores import get_store
from .tokens import ACCESS, ValidatedToken, decode_token

# Where a refusal's description waits for ``authenticate_header`` (RFC 6750).
_ERROR_ATTR = "_jwt_revoke_error"


def remember_refusal(request: Any, error: Exception) -> None:
    """Keep ``error`` for the challenge of this request's 401 (``authenticate_header``)."""
    setattr(request, _ERROR_ATTR, error)

@per_settings
def _header_types() -> frozenset[bytes]:
    """``AUTH_HEADER_TYPES`` as lower-case bytes."""
    return frozenset(t.encode().lower() for t in jwt_revoke_settings.AUTH_HEADER_TYPES)


class JWTAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <access token>`` of an existing, active user.

    With cookie transport on (``AUTH_COOKIE``), the access cookie when no
    Bearer header is sent; unsafe methods then need the CSRF token too.
    """

    www_authenticate_realm = "api"

    @sensitive_variables()
    def authenticate(self, request: Request) -> tuple[Any, ValidatedToken] | None:
        raw = self.get_raw_token(request)
        by_cookie = False
        if raw is None:
            # The header wins; the access cookie only counts with cookie
            # transport on (cookies.py) and no Bearer header sent.
            raw = cookies.access_token(request)
            by_cookie = raw is not None
        if raw is None:
            return None
        try:
            token = decode_token(raw, token_type=ACCESS)
            user = self.get_user(token)
        except InvalidToken as exc:
            remember_refusal(request, exc)
            raise
        if by_cookie:
            # A cookie is sent by the browser whoever made the page: unsafe
            # methods need Django's CSRF token too (403 csrf_failed).
            cookies.enforce_csrf(request)
        return user, token

    @sensitive_variables()
    def get_raw_token(self, request: Request) -> str | None:
        """The token from the Authorization header; None for other schemes."""
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        parts = header.split()
        if not parts:
            return None
        if parts[0].lower() not in _header_types():
            return None
        if len(parts) != 2:
            # The scheme without a token, or with more than one value: a
            # malformed request (RFC 6750 3.1), 400 invalid_request.
            header_error = InvalidAuthorizationHeader()
            remember_refusal(request, header_error)
            header_error.auth_header = self.authenticate_header(request)
            raise header_error
        try:
            return parts[1].decode("ascii")
        except UnicodeDecodeError:
            # One value, but not a token (RFC 6750 2.1 b64token): the token
            # is malformed, which is invalid_token (401), not the request.
            error = InvalidToken("token_invalid")
            remember_refusal(request, error)
            raise error from None

    def get_user(self, token: ValidatedToken) -> Any:
        user, state = get_store().user_and_state(token)
        if user is None or state is None:
            raise InvalidToken("user_not_found")
        if state.revokes(token):
            raise InvalidToken("token_revoked")
        if not getattr(user, "is_active", True):
            raise InvalidToken("user_inactive")
        return user

    def authenticate_header(self, request: Request) -> str:
        """The RFC 6750 challenge; with the error of this request's refusal, if any."""
        scheme = jwt_revoke_settings.AUTH_HEADER_TYPES[0]
        error = getattr(request, _ERROR_ATTR, None)
        if error is None:
            return f'{scheme} realm="{self.www_authenticate_realm}"'
        description = error.challenge.replace("\\", "\\\\").replace('"', '\\"')
        return (
            f'{scheme} realm="{self.www_authenticate_realm}", '
            f'error="{error.oauth_error}", error_description="{description}"'
        )


class TokenUser:
    """A user built from a token's claims, for services that need no user row.

    Revocation, deactivation and deletion are still enforced: they revoke the
    user's tokens, and that state is checked on every request.
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, token: ValidatedToken) -> None:
        self.token = token

    @cached_property
    def id(self) -> Any:
        return self.token.user_id

    @property
    def pk(self) -> Any:
        return self.id

    @property
    def username(self) -> str:
        return str(self.id)

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


class JWTTokenUserAuthentication(JWTAuthentication):
    """Like ``JWTAuthentication`` but ``request.user`` is a ``TokenUser``: no user query."""

    def get_user(self, token: ValidatedToken) -> TokenUser:
        if get_store().token_state(token).revokes(token):
            raise InvalidToken("token_revoked")
        return TokenUser(token)
