"""HTTP endpoints. Views stay thin: each calls one function of revocation.py.

Every view:

* names a throttle scope (``jwt_revoke_<name>``) that is rate-limited as soon
  as the project gives it a rate in ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``
  (see ``throttling.py``), on top of the project's default throttles;
* answers a database failure with 503 and ``Retry-After`` (the revocation
  state could not be read or written: nothing was issued, retry later);
* never echoes a token back, in an answer or an error, and keeps tokens out
  of error reports (``debug.py``);
* parses JSON with ``parsers.JSONParser``: deeply nested JSON is a 400
  ``parse_error``, not a 500.

With cookie transport on (``JWT_REVOKE["AUTH_COOKIE"]``, see ``cookies.py``)
obtain and refresh answer the tokens in HttpOnly cookies rather than in the
body, refresh also reads its token from the refresh cookie, and the logouts
clear both cookies.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, transaction
from django.http import HttpRequest
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from rest_framework import parsers as drf_parsers
from rest_framework import status
from rest_framework.exceptions import (
    APIException,
    AuthenticationFailed,
    NotAuthenticated,
    NotFound,
    ParseError,
    UnsupportedMediaType,
)
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import cookies, feed, revocation
from .authentication import JWTAuthentication, remember_refusal
from .exceptions import (
    InsufficientScope,
    InvalidToken,
    RevocationStateUnavailable,
    database_error_hint,
)
from .models import Reason
from .parsers import JSONParser
from .serializers import (
    LogoutSerializer,
    SessionSerializer,
    TokenBlacklistSerializer,
    TokenObtainSerializer,
    TokenRefreshSerializer,
    TokenVerifySerializer,
    introspection_response,
    jwk_set,
    oauth_token_parameter,
    obtain_serializer_class,
    refuse_by_rule,
)
from .throttling import ConfiguredScopeRateThrottle, UsernameRateThrottle
from .tokens import REFRESH, TokenPair, ValidatedToken, decode_token

logger = logging.getLogger("django_jwt_revoke")

# Hidden in error reports, with the local variables of every function that
# holds a token (``sensitive_variables``). ``client_secret``: RFC 7009/7662
# clients may send their credentials, which we ignore but must not show.
_sensitive = method_decorator(
    sensitive_post_parameters("password", "refresh", "token", "client_secret"), "dispatch"
)

# Answers that carry tokens or claims must not be stored by caches (RFC 6749 section 5.1).
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class JWTRevokeAPIView(APIView):
    """What every endpoint of this app shares (see the module docstring)."""

    #: The throttle scope; limited only when the project configures a rate for it.
    jwt_revoke_throttle_scope: str | None = None

    #: The Django ``HttpRequest`` that DRF's ``Request`` wraps: what the
    #: operations record (user agent, IP) and what signals carry.
    http_request: HttpRequest

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        self.http_request = request
        return super().initialize_request(request, *args, **kwargs)

    def get_throttles(self) -> list[Any]:
        return [*super().get_throttles(), ConfiguredScopeRateThrottle()]

    def get_parsers(self) -> list[Any]:
        # The project's parsers, with ours for DRF's JSONParser: deeply nested
        # JSON is a 400 "parse_error", not a RecursionError and a 500.
        return [
            JSONParser() if type(parser) is drf_parsers.JSONParser else parser
            for parser in super().get_parsers()
        ]

    def get_authenticate_header(self, request: Request) -> str:
        # Views that take the token in the body have no authenticator, and DRF
        # would turn their 401 into a 403 without a challenge (RFC 7235).
        return super().get_authenticate_header(request) or JWTAuthentication().authenticate_header(
            request
        )

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DatabaseError):
            note = f"; {hint}" if (hint := database_error_hint(exc)) else ""  # migrate forgotten
            name = type(self).__name__
            logger.error("Database error in %s: answered 503%s.", name, note, exc_info=exc)
            exc = RevocationStateUnavailable()
        elif isinstance(exc, (InvalidToken, InsufficientScope)):
            # Lets the challenge name the error (RFC 6750 3.1) with its description.
            remember_refusal(self.request, exc)
        return super().handle_exception(exc)


def _validated(request: Request) -> ValidatedToken:
    """``request.auth`` of a view that only ``JWTAuthentication`` authenticates."""
    token = request.auth
    if not isinstance(token, ValidatedToken):  # a subclass returned something else
        raise AuthenticationFailed(
            {"detail": _("This endpoint needs a JWT access token."), "code": "token_required"}
        )
    return token


@sensitive_variables()
def _oauth_token(request: Request) -> str | None:
    """The ``token`` of an RFC 7009/7662 request; None when the request is malformed."""
    try:
        data = request.data
    except (ParseError, UnsupportedMediaType):
        return None
    return oauth_token_parameter(data)


@sensitive_variables()
def _sends(request: Request, field: str) -> bool:
    """Whether the request body has ``field`` (a malformed body: left to the serializer)."""
    try:
        data = request.data
    except (ParseError, UnsupportedMediaType):
        return True
    return not hasattr(data, "__contains__") or field in data


@sensitive_variables()
def _pair_response(
    request: Request, pair: TokenPair, use_cookies: bool, body: dict[str, Any] | None = None
) -> Response:
    """The pair in the body, or with cookie transport in cookies and only expiries in the body.

    ``body``: the answer when it is more than the pair (a login's, with what
    the obtain serializer added); with cookie transport its ``access`` and
    ``refresh`` are left out, the rest kept beside the expiries.
    """
    if body is None:
        body = {"access": pair.access, "refresh": pair.refresh}
    if not use_cookies:
        return Response(body, headers=_NO_STORE)
    response = Response(headers=_NO_STORE)
    rest = {name: value for name, value in body.items() if name not in ("access", "refresh")}
    response.data = {**rest, **cookies.set_token_cookies(response, pair, request)}
    return response


def _logged_out(request: Request) -> Response:
    """204; with cookie transport, the browser is told to drop both cookies."""
    response = Response(status=status.HTTP_204_NO_CONTENT)
    if cookies.enabled():
        cookies.delete_token_cookies(response, request)
    return response


def _invalid_request() -> Response:
    return Response(
        {"error": "invalid_request"}, status=status.HTTP_400_BAD_REQUEST, headers=_NO_STORE
    )


@_sensitive
class TokenObtainView(JWTRevokeAPIView):
    """POST username and password; answers a new session's token pair.

    Its rate limit counts per client address and, as a client can forge its
    address (``NUM_PROXIES``), also per username tried (``UsernameRateThrottle``).
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    jwt_revoke_throttle_scope = "jwt_revoke_obtain"
    #: False answers the tokens in the body even with cookie transport on,
    #: e.g. ``TokenObtainView.as_view(cookie_transport=False)`` for native apps.
    cookie_transport = True
    #: The serializer (a ``TokenObtainSerializer`` subclass); None: the one
    #: ``TOKEN_OBTAIN_SERIALIZER`` names.
    serializer_class: type[TokenObtainSerializer] | None = None

    def get_throttles(self) -> list[Any]:
        return [*super().get_throttles(), UsernameRateThrottle()]

    def get_serializer_class(self) -> type[TokenObtainSerializer]:
        return self.serializer_class or obtain_serializer_class()

    @sensitive_variables()
    def post(self, request: Request) -> Response:
        context = {"request": request, "view": self, "http_request": self.http_request}
        serializer = self.get_serializer_class()(data=request.data, context=context)
        serializer.is_valid(raise_exception=True)
        pair = getattr(serializer, "token_pair", None)
        if not isinstance(pair, TokenPair):
            raise ImproperlyConfigured(
                f"{type(serializer).__name__}.validate() must return what "
                "super().validate(attrs) returns, with anything added: that call opens the session."
            )
        use_cookies = self.cookie_transport and cookies.enabled()
        if use_cookies:
            cookies.new_csrf_token(self.http_request)
        return _pair_response(request, pair, use_cookies, dict(serializer.validated_data))


@_sensitive
@method_decorator(transaction.non_atomic_requests, "dispatch")
class TokenRefreshView(JWTRevokeAPIView):
    """POST a refresh token; answers the next pair of its session.

    The old refresh token is retired. Presenting it again (or losing a race
    for it) is a reuse: 401, and with ``REUSE_DETECTION`` its session ends.
    Outside ``ATOMIC_REQUESTS``: a reuse revokes the session and then answers
    401, and the error answer must not roll that revocation back.

    With cookie transport the answer sets cookies, so every refresh with a
    token (from the refresh cookie or the body alike) must pass Django's CSRF
    check, as a request authenticated by a cookie does.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    jwt_revoke_throttle_scope = "jwt_revoke_refresh"
    #: False: the refresh token in the body only, the pair answered in the body.
    cookie_transport = True
    #: Set when the refresh token came from the refresh cookie.
    _by_cookie = False

    @sensitive_variables()
    def post(self, request: Request) -> Response:
        use_cookies = self.cookie_transport and cookies.enabled()
        raw = cookies.refresh_token(request) if use_cookies else None
        by_cookie = raw is not None and not _sends(request, "refresh")
        if raw is None or not by_cookie:  # the body's token wins over the cookie
            serializer = TokenRefreshSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            raw = serializer.validated_data["refresh"]
        if use_cookies:
            # CSRF-checked whatever the token's source: the answer sets the
            # cookies of the browser that sent it. A cross-site form posting
            # the attacker's own refresh token would sign the victim's browser
            # in as the attacker (login CSRF); the cookie is ambient besides.
            cookies.enforce_csrf(request)
            self._by_cookie = by_cookie
        refuse_by_rule(raw)
        pair = revocation.rotate_refresh_token(raw, request=self.http_request)
        return _pair_response(request, pair, use_cookies)

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if self._by_cookie and isinstance(exc, InvalidToken):
            # A refused refresh cookie will never work again: drop both.
            cookies.delete_token_cookies(response, self.request)
        return response


@_sensitive
class LogoutView(JWTRevokeAPIView):
    """POST with a Bearer access token: ends the caller's session (this login only)."""

    authentication_classes = [JWTAuthentication]
    permission_classes = [IsAuthenticated]
    jwt_revoke_throttle_scope = "jwt_revoke_logout"

    @sensitive_variables()
    def post(self, request: Request) -> Response:
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        revocation.logout(_validated(request), serializer.validated_data.get("refresh"))
        return _logged_out(request)


class LogoutAllView(JWTRevokeAPIView):
    """POST with a Bearer access token: revokes every token of the caller."""

    authentication_classes = [JWTAuthentication]
    permission_classes = [IsAuthenticated]
    jwt_revoke_throttle_scope = "jwt_revoke_logout"

    def post(self, request: Request) -> Response:
        revocation.revoke_user_tokens(request.user, Reason.LOGOUT_ALL)
        return _logged_out(request)


class SessionListView(JWTRevokeAPIView):
    """GET the caller's live sessions (a plain list, newest first)."""

    authentication_classes = [JWTAuthentication]
    permission_classes = [IsAuthenticated]
    jwt_revoke_throttle_scope = "jwt_revoke_sessions"

    def get(self, request: Request) -> Response:
        sessions = revocation.live_sessions(request.user)
        serializer = SessionSerializer(
            sessions, many=True, context={"current_sid": _validated(request).sid}
        )
        return Response(serializer.data)


class SessionDetailView(JWTRevokeAPIView):
    """DELETE one of the caller's sessions; another user's, or an unknown id, is 404."""

    authentication_classes = [JWTAuthentication]
    permission_classes = [IsAuthenticated]
    jwt_revoke_throttle_scope = "jwt_revoke_sessions"

    def delete(self, request: Request, sid: str) -> Response:
        if not revocation.revoke_user_session(request.user, sid, Reason.LOGOUT):
            raise NotFound({"detail": _("Session not found."), "code": "session_not_found"})
        return Response(status=status.HTTP_204_NO_CONTENT)


@_sensitive
class TokenRevokeView(JWTRevokeAPIView):
    """RFC 7009 revocation: the token in the body is its own credential.

    200 for every well-formed request, whether or not the token was valid,
    known or already revoked (section 2.2), so the answer tells an attacker
    nothing. Client credentials, if sent, are ignored: a token can only revoke
    itself (and its session, when it is a refresh token).
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, JSONParser]
    jwt_revoke_throttle_scope = "jwt_revoke_revoke"

    @sensitive_variables()
    def post(self, request: Request) -> Response:
        raw = _oauth_token(request)
        if raw is None:
            return _invalid_request()
        try:
            revocation.revoke_token(raw, Reason.REVOKED)
        except InvalidToken:
            pass  # "invalid tokens do not cause an error response" (RFC 7009 section 2.2)
        return Response(status=status.HTTP_200_OK)


@_sensitive
class TokenIntrospectView(JWTRevokeAPIView):
    """RFC 7662 introspection, for staff users (Bearer access token) and feed consumers.

    ``{"active": false}`` and nothing else for a token that would be refused;
    the claims plus ``active``, ``username`` and ``sub`` for one that would
    be accepted. A consumer of the event feed (``FEED_CONSUMERS``) may ask
    too, with its credential as the Bearer token: a resource server whose
    copy of the revocation state is stale asks here.

    A caller whose access token is good but not a staff user's is a 401
    ``error="insufficient_scope"``, not a 403: RFC 7662 section 2.3 asks a
    Bearer-protected introspection endpoint for a 401 when the token "does
    not contain sufficient privileges".
    """

    # The consumer's class first: JWTAuthentication refuses any Bearer value
    # that is not a JWT, and a consumer credential is none.
    authentication_classes = [feed.FeedConsumerAuthentication, JWTAuthentication]
    permission_classes = [feed.IsFeedConsumer | IsAdminUser]
    parser_classes = [FormParser, JSONParser]
    jwt_revoke_throttle_scope = "jwt_revoke_introspect"

    def get_authenticate_header(self, request: Request) -> str:
        # The challenge of the access token a staff user sends.
        return JWTAuthentication().authenticate_header(request)

    def permission_denied(
        self, request: Request, message: Any = None, code: Any = None
    ) -> NoReturn:
        if request.successful_authenticator is None:
            super().permission_denied(request, message, code)  # no token: 401, bare challenge
        raise InsufficientScope(_("Token introspection needs the access token of a staff user."))

    @sensitive_variables()
    def post(self, request: Request) -> Response:
        raw = _oauth_token(request)
        if raw is None:
            return _invalid_request()
        found = revocation.active_token(raw)
        answer = {"active": False} if found is None else introspection_response(*found)
        return Response(answer, headers=_NO_STORE)


class JWKSView(JWTRevokeAPIView):
    """GET the public verifying keys (RFC 7517 JWK Set); 404 under HMAC."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    jwt_revoke_throttle_scope = "jwt_revoke_jwks"

    def get(self, request: Request) -> Response:
        keys = jwk_set()
        if keys is None:
            raise NotFound(
                {
                    "detail": _("No public keys: tokens are signed with a shared secret."),
                    "code": "jwks_unavailable",
                }
            )
        return Response(keys)


# -- simplejwt's endpoints, for clients written for it ------------------------------


class _SimpleJWTTokenView(JWTRevokeAPIView):
    """A POST of one token in the body (simplejwt's shape): 200 ``{}``, or 401 and a code.

    The token is the body's field ``serializer_class`` declares, never a
    cookie: no CSRF check is needed (as with refresh without cookies).
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    serializer_class: type[Any]
    field: str

    @sensitive_variables()
    def post(self, request: Request) -> Response:
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.handle_token(serializer.validated_data[self.field])
        return Response({}, headers=_NO_STORE)

    def handle_token(self, raw: str) -> None:
        """Do the endpoint's work; raise ``InvalidToken`` to refuse (401)."""
        raise NotImplementedError


@_sensitive
class TokenVerifyView(_SimpleJWTTokenView):
    """simplejwt's ``token/verify/``: 200 ``{}`` if the token in the body would be accepted.

    Either token type. Accepted as ``JWTAuthentication`` accepts an access
    token: it verifies and has not expired, neither it nor its session nor
    its user's tokens (nor everyone's) are revoked, and its user exists and
    is active; the state is read from the database, never a cached copy.
    Otherwise 401 with the code saying why (simplejwt's ``token_not_valid``
    is one of ours: ``token_revoked``, ``token_expired``, ...).
    """

    jwt_revoke_throttle_scope = "jwt_revoke_verify"
    serializer_class = TokenVerifySerializer
    field = "token"

    @sensitive_variables()
    def handle_token(self, raw: str) -> None:
        # The user and the state in one query of the database (every store's
        # user_and_state reads it there), with the codes authentication answers.
        JWTAuthentication().get_user(decode_token(raw, token_type=None))


@_sensitive
@method_decorator(transaction.non_atomic_requests, "dispatch")
class TokenBlacklistView(_SimpleJWTTokenView):
    """simplejwt's ``token/blacklist/``: revokes the session of the refresh token in the body.

    200 ``{}``. 401 for anything but a valid refresh token: an access token
    (``token_wrong_type``), an expired one, and one already revoked
    (``token_revoked``, simplejwt's "Token is blacklisted"), whose session is
    revoked all the same (a retired refresh token's may still be live).
    Outside ``ATOMIC_REQUESTS``, so that the 401 does not roll that back.
    """

    jwt_revoke_throttle_scope = "jwt_revoke_blacklist"
    serializer_class = TokenBlacklistSerializer
    field = "refresh"

    @sensitive_variables()
    def handle_token(self, raw: str) -> None:
        token = decode_token(raw, token_type=REFRESH)
        revoked_before = revocation.is_token_revoked(token)
        revocation.revoke_token(token, Reason.LOGOUT)
        if revoked_before:
            raise InvalidToken("token_revoked")


# -- the revocation event feed (feed.py), for resource servers ------------------------

_FEED_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (ParseError, 400, "The body is not valid JSON."),
    (UnsupportedMediaType, 415, "The body must be application/json."),
)


@method_decorator(transaction.non_atomic_requests, "dispatch")
class _FeedView(JWTRevokeAPIView):
    """What the feed's endpoints share: a consumer credential, RFC 8935 error bodies.

    Only a consumer named in ``FEED_CONSUMERS`` may read (``Authorization:
    Bearer <credential>``); a user's JWT never is a credential here. Every
    error is ``{"err", "description"}`` with a stable ``err``. Not throttled
    (the credential is the gate: a resource server must never be kept from
    catching up), never cached, outside ``ATOMIC_REQUESTS`` (a long poll
    must not hold a transaction open).
    """

    authentication_classes = [feed.FeedConsumerAuthentication]
    permission_classes = [feed.IsFeedConsumer]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]  # whatever the project's (a browsable API)

    def get_throttles(self) -> list[Any]:
        return []

    def permission_denied(
        self, request: Request, message: Any = None, code: Any = None
    ) -> NoReturn:
        raise feed.FeedRefusal(
            401, "authentication_failed", "Send a feed consumer's credential as a Bearer token."
        )

    def handle_exception(self, exc: Exception) -> Response:
        refusal = self._refusal(exc)
        if refusal is None:
            return super().handle_exception(exc)
        headers = dict(_NO_STORE)
        if refusal.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        elif refusal.status == 503:
            headers["Retry-After"] = "1"
        return Response(refusal.body(), status=refusal.status, headers=headers)

    def _refusal(self, exc: Exception) -> feed.FeedRefusal | None:
        if isinstance(exc, feed.FeedRefusal):
            return exc
        if isinstance(exc, (NotAuthenticated, AuthenticationFailed)):
            return feed.FeedRefusal(401, "authentication_failed", "Unknown or missing credential.")
        for error, status_code, description in _FEED_ERRORS:
            if isinstance(exc, error):
                return feed.FeedRefusal(status_code, "invalid_request", description)
        if isinstance(exc, DatabaseError):
            note = f"; {hint}" if (hint := database_error_hint(exc)) else ""
            name = type(self).__name__
            logger.error("Database error in %s: answered 503%s.", name, note, exc_info=exc)
            return feed.FeedRefusal(
                503, "temporarily_unavailable", "The revocation state could not be read."
            )
        if isinstance(exc, APIException):  # a method not allowed, ...
            return feed.FeedRefusal(exc.status_code, "invalid_request", str(exc.detail))
        return None


class EventFeedView(_FeedView):
    """POST: the revocation events after the last one the consumer applied (RFC 8936 poll).

    ``{"after", "nonce", "maxEvents", "returnImmediately", "ack"}`` ->
    ``{"sets", "moreAvailable", "receipt"}``; 409 ``resync_required`` when
    the consumer must load a snapshot first.
    """

    def post(self, request: Request) -> Response:
        answer = feed.poll(feed.parse_poll(request.data))
        return Response(answer, headers=_NO_STORE)


class EventSnapshotView(_FeedView):
    """POST ``{"nonce"}``: every revocation that still matters, signed, for a consumer's start."""

    def post(self, request: Request) -> Response:
        signed = feed.snapshot(feed.parse_snapshot_request(request.data))
        return Response({"snapshot": signed}, headers=_NO_STORE)
