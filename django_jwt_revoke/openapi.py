"""The OpenAPI 3 description of this app, for drf-spectacular (the ``[openapi]`` extra).

``AppConfig.ready()`` imports this module only when drf-spectacular is
installed, which is where drf-spectacular's documentation asks apps to load
their extensions; nothing else in the package imports drf-spectacular.
Importing it registers:

* the ``jwtAuth`` security scheme (HTTP bearer, ``bearerFormat: JWT``) for
  ``JWTAuthentication``, ``JWTTokenUserAuthentication`` and their subclasses,
  so that any view protected by them shows it; with cookie transport on
  (``AUTH_COOKIE``), the ``jwtCookieAuth`` scheme (an ``apiKey`` in that
  cookie) as the alternative;
* the ``feedConsumerAuth`` scheme (HTTP bearer: a credential of
  ``FEED_CONSUMERS``) of the revocation event feed and of introspection;
* a description of every endpoint of ``views.py``: request body, and the
  answer of each status code. ``views.py`` carries no schema code: each view
  extension hands drf-spectacular an annotated subclass of the view, used
  for the schema only.

Component names avoid the generic ones (``Session``, ``TokenRefresh``) that
a project or djangorestframework-simplejwt may already use in the same schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.drainage import set_override
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
    OpenApiViewExtension,
)
from drf_spectacular.plumbing import build_bearer_security_scheme_object, force_instance
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from . import feed, secevents
from .conf import jwt_revoke_settings
from .serializers import (
    LogoutSerializer,
    SessionSerializer,
    TokenBlacklistSerializer,
    TokenField,
    TokenObtainSerializer,
    TokenRefreshSerializer,
    TokenVerifySerializer,
    obtain_serializer_class,
)

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

SECURITY_SCHEME_NAME = "jwtAuth"
COOKIE_SCHEME_NAME = "jwtCookieAuth"
FEED_SCHEME_NAME = "feedConsumerAuth"


def _retry_after(status: int) -> OpenApiParameter:
    """The ``Retry-After`` header of a ``status`` answer (429, 503)."""
    return OpenApiParameter(
        "Retry-After",
        int,
        OpenApiParameter.HEADER,
        required=True,
        description=_("Seconds to wait before retrying."),
        response=[status],
    )

def _cookie_mode() -> bool:
    return bool(jwt_revoke_settings.AUTH_COOKIE)


# Authentication ------------------------------------------------------------


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <access token>``.

    One scheme whichever class checks the token: a client holds one access
    token for all of them (and Swagger UI asks for it once).
    """

    target_class = "django_jwt_revoke.authentication.JWTAuthentication"
    match_subclasses = True

    @property
    def name(self) -> str | list[str]:  # type: ignore[override]  # read at generation time, like the settings
        if _cookie_mode():
            return [SECURITY_SCHEME_NAME, COOKIE_SCHEME_NAME]
        return SECURITY_SCHEME_NAME

    def get_security_requirement(self, auto_schema: Any) -> Any:
        if _cookie_mode():
            # Either one: the header, or (from a browser) the cookie.
            return [{SECURITY_SCHEME_NAME: []}, {COOKIE_SCHEME_NAME: []}]
        return {SECURITY_SCHEME_NAME: []}

    def get_security_definition(self, auto_schema: Any) -> Any:
        # drf-spectacular warns when one scheme name comes from two classes
        # (say JWTAuthentication on some views, JWTTokenUserAuthentication on
        # others); here that is intended: they share the header and format.
        set_override(type(self.target), "suppress_collision_warning", True)
        # OpenAPI has room for one prefix: the first accepted header type.
        bearer = build_bearer_security_scheme_object(
            header_name="HTTP_AUTHORIZATION",
            token_prefix=jwt_revoke_settings.AUTH_HEADER_TYPES[0],
            bearer_format="JWT",
        )
        if not _cookie_mode():
            return bearer
        cookie = {
            "type": "apiKey",
            "in": "cookie",
            "name": jwt_revoke_settings.AUTH_COOKIE,
            "description": str(
                _(
                    "The access token in its HttpOnly cookie, set by token/ and token/refresh/. "
                    "Unsafe methods also need the X-CSRFToken header (Django's CSRF token)."
                )
            ),
        }
        return [bearer, cookie]


class JWTTokenUserAuthenticationScheme(JWTAuthenticationScheme):
    """The same header and scheme; named on its own should it stop being a subclass."""

    target_class = "django_jwt_revoke.authentication.JWTTokenUserAuthentication"
    priority = 1  # before the JWTAuthentication one, which matches it as a subclass


class FeedConsumerScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <credential>`` of a consumer named in ``FEED_CONSUMERS``."""

    target_class = "django_jwt_revoke.feed.FeedConsumerAuthentication"
    name = FEED_SCHEME_NAME

    def get_security_definition(self, auto_schema: Any) -> Any:
        scheme = build_bearer_security_scheme_object(
            header_name="HTTP_AUTHORIZATION", token_prefix="Bearer"
        )
        scheme["description"] = str(
            _(
                "The credential of a consumer of the revocation event feed "
                "(FEED_CONSUMERS), not a JWT."
            )
        )
        return scheme


# Documents that only the schema needs -----------------------------------


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text=_("Access token: send it as a Bearer token."))
    refresh = serializers.CharField(
        help_text=_("Refresh token: send it to token/refresh/ for the next pair.")
    )


class TokenCookiesSerializer(serializers.Serializer):
    """Cookie transport: the tokens went into cookies; the body says when they expire."""

    access_expires_at = serializers.DateTimeField(
        help_text=_("When the access token (and its cookie) expires.")
    )
    refresh_expires_at = serializers.DateTimeField(
        help_text=_("When the refresh token (and its cookie) expires.")
    )


class CookieTokenRefreshSerializer(serializers.Serializer):
    """Cookie transport: the refresh token in the body, or else from its cookie."""

    refresh = TokenField(
        required=False,
        help_text=_("Without it, the refresh cookie is used (and the X-CSRFToken header needed)."),
    )


class TokenErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text=_("A human-readable message."))
    code = serializers.CharField(
        required=False,
        help_text=_(
            "A stable error code (token_revoked, token_expired, invalid_credentials, "
            "authorization_header_invalid, insufficient_scope, revocation_state_unavailable, "
            "csrf_failed, ...); absent from DRF's own refusals (no credentials sent, a "
            "throttled request, an unsupported media type)."
        ),
    )


class OAuthErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text=_('"invalid_request" (RFC 6749 section 5.2).'))


class _OAuthTokenSerializer(serializers.Serializer):
    token = serializers.CharField(min_length=1, help_text=_("The token, sent once."))
    # Any value: the server may ignore the hint (RFC 7009 section 2.1, RFC 7662
    # section 2.1), and this one does, whatever it is.
    token_type_hint = serializers.JSONField(
        required=False,
        help_text=_('"access_token" or "refresh_token"; accepted, ignored and not needed.'),
    )


class TokenRevocationSerializer(_OAuthTokenSerializer):
    """An RFC 7009 revocation request."""


class TokenIntrospectionSerializer(_OAuthTokenSerializer):
    """An RFC 7662 introspection request."""


class TokenIntrospectionResultSerializer(serializers.Serializer):
    """RFC 7662 section 2.2: active alone when the token would be refused.

    An active token's answer also carries every other claim of the token,
    such as the user id claim.
    """

    active = serializers.BooleanField()
    token_type = serializers.CharField(
        required=False, help_text=_('"Bearer": how the token is used (RFC 6749 section 7.1).')
    )
    jwt_token_type = serializers.CharField(
        required=False, help_text=_('The token\'s own token_type claim: "access" or "refresh".')
    )
    sub = serializers.CharField(required=False)
    username = serializers.CharField(required=False)
    jti = serializers.CharField(required=False)
    sid = serializers.CharField(required=False, help_text=_("The session of the token."))
    iat = serializers.IntegerField(required=False)
    exp = serializers.IntegerField(required=False)
    iss = serializers.CharField(required=False)
    aud = serializers.JSONField(required=False, help_text=_("A string or a list of strings."))


class JWKSetSerializer(serializers.Serializer):
    keys = serializers.ListField(
        child=serializers.DictField(), help_text=_("Public JWKs (RFC 7517), signing key first.")
    )


class RevocationFeedPollSerializer(serializers.Serializer):
    """A poll of the revocation event feed (RFC 8936 section 2.4)."""

    after = serializers.IntegerField(
        min_value=0,
        max_value=secevents.MAX_INT,
        help_text=_("The number of the last event applied; 0 for none."),
    )
    nonce = serializers.CharField(
        min_length=1,
        max_length=feed.MAX_NONCE_LENGTH,
        trim_whitespace=False,
        help_text=_("A new random string per request, echoed in the signed receipt."),
    )
    maxEvents = serializers.IntegerField(  # the RFC's names
        required=False,
        min_value=1,
        max_value=feed.MAX_EVENTS,
        default=feed.DEFAULT_MAX_EVENTS,
        help_text=_("The most events answered at once."),
    )
    returnImmediately = serializers.BooleanField(
        required=False,
        default=True,
        help_text=_("False: without a new event, wait for one up to FEED_LONG_POLL."),
    )
    ack = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        help_text=_("The jti of the SETs applied (RFC 8936); accepted and ignored."),
    )


class RevocationFeedAnswerSerializer(serializers.Serializer):
    sets = serializers.DictField(
        child=serializers.CharField(),
        help_text=_(
            "Each event after the one asked for, in order: its SET's jti (stream.number) "
            "to the signed SET (RFC 8417, typ secevent+jwt)."
        ),
    )
    moreAvailable = serializers.BooleanField(
        help_text=_("More events are there: poll again at once.")
    )
    receipt = serializers.CharField(
        help_text=_(
            "A signed JWT (typ feed-receipt+jwt): the nonce, the stream, the events the "
            "answer holds and the newest one committed."
        )
    )


class RevocationFeedSnapshotRequestSerializer(serializers.Serializer):
    nonce = serializers.CharField(
        min_length=1,
        max_length=feed.MAX_NONCE_LENGTH,
        trim_whitespace=False,
        help_text=_("A new random string per request, echoed in the signed snapshot."),
    )


class RevocationFeedSnapshotSerializer(serializers.Serializer):
    snapshot = serializers.CharField(
        help_text=_(
            "A signed JWT (typ feed-snapshot+jwt): every revocation that still matters, as "
            "of event head of the stream."
        )
    )


class RevocationFeedErrorSerializer(serializers.Serializer):
    """An error of the feed (RFC 8935 section 2.4)."""

    err = serializers.CharField(
        help_text=_(
            "A stable code: invalid_request, authentication_failed, resync_required, "
            "feed_unavailable or temporarily_unavailable."
        )
    )
    description = serializers.CharField(help_text=_("A human-readable message, in English."))


# What str.strip() removes, and so what CharField(trim_whitespace=True) trims
# (tests/test_openapi.py checks it against Python's own notion of whitespace).
WHITESPACE = r"\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def string_rules(field: serializers.CharField) -> dict[str, Any]:
    """What a request's ``CharField`` refuses with a 400, as JSON Schema keywords.

    Unless ``allow_blank``: an empty string, and if the field trims, one of
    whitespace alone. A NUL character anywhere if the field keeps DRF's
    validator against it (the login's credential fields drop it: a NUL there
    is a 401, as any wrong credential).
    """
    refuses_nul = any(isinstance(v, ProhibitNullCharactersValidator) for v in field.validators)
    if field.allow_blank:
        return {"pattern": r"^[^\x00]*$"} if refuses_nul else {}
    if not field.trim_whitespace:
        return {"minLength": 1, "pattern": r"^[^\x00]+$"} if refuses_nul else {"minLength": 1}
    if not refuses_nul:
        return {"minLength": 1, "pattern": rf"[^{WHITESPACE}]"}
    return {"minLength": 1, "pattern": rf"^[^\x00]*[^\x00{WHITESPACE}][^\x00]*$"}


class _Described(OpenApiSerializerExtension):
    """A request/response serializer of the app: the schema's name and description for it.

    The name avoids the generic ones a project may already have; the
    description replaces the docstring, which is written for developers. A
    request's text fields say what the server refuses (``string_rules``).
    """

    component_name: str
    description: Any

    def get_name(self, auto_schema: Any, direction: Literal["request", "response"]) -> str:
        return self.component_name

    def map_serializer(
        self, auto_schema: Any, direction: Literal["request", "response"]
    ) -> dict[str, Any]:
        # The serializer itself, not target_class: a subclass's own fields too.
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["description"] = str(self.description)
        if direction == "request":
            for name, field in force_instance(self.target).fields.items():
                if isinstance(field, serializers.CharField) and name in schema["properties"]:
                    schema["properties"][name].update(string_rules(field))
        return schema


class TokenObtainDescription(_Described):
    target_class = TokenObtainSerializer
    match_subclasses = True  # TOKEN_OBTAIN_SERIALIZER's, with the fields it adds
    component_name = "TokenObtain"
    description = _("The user's username (its USERNAME_FIELD) and password.")

    def map_serializer(
        self, auto_schema: Any, direction: Literal["request", "response"]
    ) -> dict[str, Any]:
        schema = super().map_serializer(auto_schema, direction)
        login = get_user_model().USERNAME_FIELD
        if direction == "request" and login != "username":
            # Both are optional fields, but one of them must be sent (a 400 otherwise).
            schema["anyOf"] = [{"required": [login]}, {"required": ["username"]}]
        return schema


class CookieTokenRefreshDescription(_Described):
    target_class = CookieTokenRefreshSerializer
    component_name = "CookieTokenRotation"
    description = _(
        "Cookie transport: a refresh token, or nothing to use the refresh cookie (then with "
        "the X-CSRFToken header)."
    )


class TokenRefreshDescription(_Described):
    target_class = TokenRefreshSerializer
    component_name = "TokenRotation"
    description = _("A refresh token, exchanged for the next pair of its session.")


class LogoutDescription(_Described):
    target_class = LogoutSerializer
    component_name = "Logout"
    description = _(
        "Optional: the session's refresh token. The session ends whether or not it is sent."
    )


def _described(target: type, component_name: str, description: _StrOrPromise) -> type:
    """A ``_Described`` for ``target`` (defining it registers it with drf-spectacular)."""
    attributes = {
        "target_class": target,
        "component_name": component_name,
        "description": description,
        "__module__": __name__,
    }
    return type(f"{component_name}Description", (_Described,), attributes)


TokenVerifyDescription = _described(
    TokenVerifySerializer, "TokenVerification", _("An access or a refresh token, to check.")
)
TokenBlacklistDescription = _described(
    TokenBlacklistSerializer, "TokenBlacklist", _("A refresh token: its session is revoked.")
)


class SessionDescription(_Described):
    target_class = SessionSerializer
    component_name = "TokenSession"
    description = _("One login and every token rotated from it; current marks the caller's own.")


# Endpoints -------------------------------------------------------------------


def _error(description: _StrOrPromise) -> OpenApiResponse:
    return OpenApiResponse(TokenErrorSerializer, description=description)


def _invalid_body() -> OpenApiResponse:
    return OpenApiResponse(
        OpenApiTypes.OBJECT,
        description=_("Missing or malformed fields: each field name maps to its errors."),
    )


def _unsupported_media_type() -> OpenApiResponse:
    return _error(_("A body in none of the documented media types (or without a Content-Type)."))


def _unavailable() -> OpenApiResponse:
    return _error(
        _(
            "The revocation state could not be read or written (database down): "
            "nothing was issued or revoked; retry after Retry-After seconds."
        )
    )


def _csrf_failed() -> OpenApiResponse:
    return _error(
        _(
            "Cookie transport: the request was authenticated by a cookie and failed Django's "
            "CSRF check (code csrf_failed); send the X-CSRFToken header."
        )
    )


def _malformed_header() -> OpenApiResponse:
    return _error(
        _(
            "A malformed Authorization header (the scheme alone, or more than one value after "
            'it): WWW-Authenticate says error="invalid_request".'
        )
    )


def _throttled() -> OpenApiResponse:
    return _error(_("Too many requests (a rate limit): retry after Retry-After seconds."))


def _may_throttle(view_class: type) -> bool:
    """Whether a throttle of the view has a rate, so that it can answer 429.

    A scoped throttle (DRF's ``ScopedRateThrottle``, our
    ``ConfiguredScopeRateThrottle``) limits only a scope given a rate; a rate
    throttle with its rate set (``AnonRateThrottle``...) always; one that picks
    its rate per request (the login's per-username limit), whenever a rate is
    configured; any other throttle may limit anything.
    """
    view = view_class()
    rates = api_settings.DEFAULT_THROTTLE_RATES or {}
    for throttle in view.get_throttles():
        if isinstance(throttle, ScopedRateThrottle):
            throttle.scope = getattr(view, throttle.scope_attr, None)
            try:
                if not throttle.scope or not throttle.get_rate():
                    continue
            except ImproperlyConfigured:  # DRF's: no rate for the scope
                continue
        elif isinstance(throttle, SimpleRateThrottle):
            if not getattr(throttle, "rate", None) and not any(rates.values()):
                continue
        return True
    return False


def _with_throttling(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Adds the 429 of a rate-limited request, and its Retry-After header."""
    parameters = list(kwargs.get("parameters", []))
    for parameter in parameters:
        if (parameter.name, parameter.location) == ("Retry-After", OpenApiParameter.HEADER):
            parameter.response = [*parameter.response, 429]
            break
    else:
        parameters.append(_retry_after(429))
    responses = dict(sorted({**kwargs["responses"], 429: _throttled()}.items()))
    return {**kwargs, "responses": responses, "parameters": parameters}


def _with_csrf(responses: dict[int, Any]) -> dict[int, Any]:
    """Adds the 403 of a failed CSRF check when cookie transport is on."""
    if _cookie_mode() and 403 not in responses:
        responses = {**responses, 403: _csrf_failed()}
    return dict(sorted(responses.items()))


def _pair_answer(description: Any) -> OpenApiResponse:
    if _cookie_mode():
        return OpenApiResponse(
            TokenCookiesSerializer,
            description=_(
                "%(what)s The tokens are in HttpOnly cookies (Set-Cookie), not in the body."
            )
            % {"what": description},
        )
    return OpenApiResponse(TokenPairSerializer, description=description)


def _set_cookie(codes: list[int], description: Any) -> list[OpenApiParameter]:
    if not _cookie_mode():
        return []
    return [
        OpenApiParameter(
            "Set-Cookie", str, OpenApiParameter.HEADER, description=description, response=codes
        )
    ]


def _headers(unauthorized: bool = True, unavailable: bool = True) -> list[OpenApiParameter]:
    """Response headers: the 401 challenge and the 503 retry delay."""
    headers = []
    if unauthorized:
        headers.append(
            OpenApiParameter(
                "WWW-Authenticate",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description=_(
                    'The RFC 6750 Bearer challenge, with error="invalid_token" when a '
                    "token was refused."
                ),
                response=[401],
            )
        )
    if unavailable:
        headers.append(_retry_after(503))
    return headers


class _DocumentedView(OpenApiViewExtension):
    """Describes one view of ``views.py`` through a subclass used for the schema only."""

    def schemas(self) -> dict[str, dict[str, Any]]:
        """``extend_schema`` arguments per view method; built at generation time."""
        raise NotImplementedError

    def view_replacement(self) -> type:
        view = type(self.target.__name__, (self.target,), {"__module__": self.target.__module__})
        throttled = _may_throttle(self.target)
        decorators = {
            method: extend_schema(**(_with_throttling(kw) if throttled else kw))
            for method, kw in self.schemas().items()
        }
        return extend_schema_view(**decorators)(view)


class TokenObtainViewSchema(_DocumentedView):
    target_class = "django_jwt_revoke.views.TokenObtainView"

    def schemas(self) -> dict[str, dict[str, Any]]:
        return {
            "post": {
                "summary": _("Log in"),
                "description": _(
                    "Checks the credentials and opens a new session: its access token and "
                    "refresh token."
                ),
                "request": self.target.serializer_class or obtain_serializer_class(),
                "responses": {
                    200: _pair_answer(_("A new session.")),
                    400: _invalid_body(),
                    401: _error(_("Bad credentials or an inactive user (one answer for both).")),
                    415: _unsupported_media_type(),
                    503: _unavailable(),
                },
                "parameters": [
                    *_headers(),
                    *_set_cookie(
                        [200],
                        _(
                            "The access and refresh cookies (HttpOnly), and a new CSRF cookie "
                            "for the X-CSRFToken header."
                        ),
                    ),
                ],
            }
        }


class TokenRefreshViewSchema(_DocumentedView):
    target_class = "django_jwt_revoke.views.TokenRefreshView"

    def schemas(self) -> dict[str, dict[str, Any]]:
        return {
            "post": {
                "summary": _("Refresh"),
                "description": _(
                    "Exchanges a refresh token for the next pair of its session. With "
                    "ROTATE_REFRESH_TOKENS the refresh token sent is retired: sending it again "
                    "is a reuse, refused, and with REUSE_DETECTION its whole session is revoked."
                ),
                "request": (
                    CookieTokenRefreshSerializer if _cookie_mode() else TokenRefreshSerializer
                ),
                "responses": _with_csrf(
                    {
                        200: _pair_answer(_("The next pair of the session.")),
                        400: _invalid_body(),
                        401: _error(
                            _(
                                "The refresh token is invalid, expired, revoked or already used, "
                                "or its user is inactive or deleted."
                            )
                        ),
                        415: _unsupported_media_type(),
                        503: _unavailable(),
                    }
                ),
                "parameters": [
                    *_headers(),
                    *_set_cookie(
                        [200, 401],
                        _(
                            "200: the next pair's cookies. 401 after a refused refresh cookie: "
                            "both cookies deleted."
                        ),
                    ),
                ],
            }
        }


class LogoutViewSchema(_DocumentedView):
    target_class = "django_jwt_revoke.views.LogoutView"

    def schemas(self) -> dict[str, dict[str, Any]]:
        return {
            "post": {
                "summary": _("Log out"),
                "description": _(
                    "Revokes the caller's session: the access token sent and every token "
                    "of the same login. Other logins of the user stay signed in."
                ),
                "request": LogoutSerializer,
                "responses": _with_csrf(
                    {
                        204: OpenApiResponse(description=_("The session is revoked.")),
                        400: OpenApiResponse(
                            OpenApiTypes.OBJECT,
                            description=_(
                                "A malformed refresh field (each field name maps to its "
                                "errors), or a malformed Authorization header "
                                '({"detail", "code"}; WWW-Authenticate says '
                                'error="invalid_request").'
                            ),
                        ),
                        401: _error(_("No valid access token.")),
                        415: _unsupported_media_type(),
                        503: _unavailable(),
                    }
                ),
                "parameters": [
                    *_headers(),
                    *_set_cookie([204], _("Both token cookies deleted.")),
                ],
            }
        }


class LogoutAllViewSchema(_DocumentedView):
    target_class = "django_jwt_revoke.views.LogoutAllView"

    def schemas(self) -> dict[str, dict[str, Any]]:
        return {
            "post": {
                "summary": _("Log out everywhere"),
                "description": _("Revokes every token of the caller, in every session."),
                "request": None,
                "responses": _with_csrf(
                    {
                        204: OpenApiResponse(
                            description=_("Every token of the caller is revoked.")
                        ),
                        400: _malformed_header(),
                        401: _error(_("No valid access token.")),
                        503: _unavailable(),
                    }
                ),
                "parameters": [
                    *_headers(),
                    *_set_cookie([204], _("Both token cookies deleted.")),
                ],
            }
        }


class SessionListViewSchema(_DocumentedView):
    target_class = "django_jwt_revoke.views.SessionListView"

    def schemas(self) -> dict[str, dict[str, Any]]:
        return {
            "get": {
                "summary": _("List my sessions"),
                "description": _("The caller's live sessions, newest first (not paginated)."),
                "responses": {
                    200: OpenApiResponse(
                        SessionSerializer(many=True), description=_("The live sessions.")
                    ),
                    400: _malformed_header(),
                    401: _error(_("No valid access token.")),
                    503: _unavailable(),
                },
                "parameters": _headers(),
            }
        }


class SessionDetailViewSchema(_DocumentedView):
    target_class = "django_jwt_revoke.views.SessionDetailView"

    def schemas(self) -> dict[str, dict[str, Any]]:
        return {
            "delete": {
                "summary": _("Revoke one of my sessions"),
                "description": _(
                    "Revokes one session of the caller and every token of it. Another "
                    "user's session is not found."
                ),
                "parameters": [
                    OpenApiParameter(
                        "sid",
                        str,
                        OpenApiParameter.PATH,
                        description=_("The id of the session, as listed."),
                    ),
                    *_headers(),
                ],
                "responses": _with_csrf(
                    {
                        204: OpenApiResponse(description=_("The session is revoked.")),
                        400: _malformed_header(),
                        401: _error(_("No valid access token.")),
                        404: _error(_("No such session of the caller (code session_not_found).")),
                        503: _unavailable(),
                    }
                ),
            }
        }


def _oauth_invalid_request() -> OpenApiResponse:
    return OpenApiResponse(
        OAuthErrorSerializer,
        description=_("No token, the token sent more than once, or an unreadable body."),
    )


class TokenRevokeViewSchema(_DocumentedView):
    target_class = "django_jwt_revoke.views.TokenRevokeView"

    def schemas(self) -> dict[str, dict[str, Any]]:
        return {
            "post": {
                "summary": _("Revoke a token (RFC 7009)"),
                "description": _(
                    "The token is its own credential: a refresh token revokes its whole "
                    "session, an access token itself. Client credentials, if sent, are ignored."
                ),
                "request": TokenRevocationSerializer,
                "responses": {
                    200: OpenApiResponse(
                        description=_(
                            "Any well-formed request, whether or not the token was valid, known "
                            "or already revoked (RFC 7009 section 2.2)."
                        )
                    ),
                    400: _oauth_invalid_request(),
                    503: _unavailable(),
                },
                "parameters": _headers(unauthorized=False),
            }
        }


class TokenIntrospectViewSchema(_DocumentedView):
    target_class = "django_jwt_revoke.views.TokenIntrospectView"

    def schemas(self) -> dict[str, dict[str, Any]]:
        return {
            "post": {
                "summary": _("Introspect a token (RFC 7662)"),
                "description": _(
                    "For staff users. Says whether the token would be accepted now and, if "
                    "so, what it claims."
                ),
                "request": TokenIntrospectionSerializer,
                "responses": _with_csrf(
                    {
                        200: OpenApiResponse(
                            TokenIntrospectionResultSerializer,
                            description=_('{"active": false}, or the claims of an active token.'),
                        ),
                        400: OpenApiResponse(
                            PolymorphicProxySerializer(
                                component_name="TokenIntrospectionError",
                                serializers=[OAuthErrorSerializer, TokenErrorSerializer],
                                resource_type_field_name=None,
                            ),
                            description=_(
                                'A malformed request: {"error": "invalid_request"} for the body '
                                "(no token, the token sent more than once, an unreadable body); "
                                '{"detail", "code"} for a malformed Authorization header.'
                            ),
                        ),
                        401: _error(
                            _(
                                "No valid access token, or the token of a user who is not staff "
                                '(code insufficient_scope, error="insufficient_scope"): RFC 7662 '
                                "section 2.3 asks for a 401, not a 403."
                            )
                        ),
                        503: _unavailable(),
                    }
                ),
                "parameters": _headers(),
            }
        }


class _SimpleJWTViewSchema(_DocumentedView):
    """simplejwt's verify or blacklist endpoint: a token in the body, 200 ``{}`` or 401."""

    summary: _StrOrPromise
    description: _StrOrPromise
    request: type
    done: _StrOrPromise
    refused: _StrOrPromise

    def schemas(self) -> dict[str, dict[str, Any]]:
        empty = {"type": "object", "maxProperties": 0}  # {}
        responses = {
            200: OpenApiResponse(empty, description=self.done),
            400: _invalid_body(),
            401: _error(self.refused),
            415: _unsupported_media_type(),
            503: _unavailable(),
        }
        return {
            "post": {
                "summary": self.summary,
                "description": self.description,
                "request": self.request,
                "responses": responses,
                "parameters": _headers(),
            }
        }


class TokenVerifyViewSchema(_SimpleJWTViewSchema):
    target_class = "django_jwt_revoke.views.TokenVerifyView"
    summary = _("Verify a token (simplejwt)")
    description = _(
        "djangorestframework-simplejwt's token/verify/: 200 when the token, access or refresh, "
        "would be accepted now (it verifies, has not expired, is not revoked at any level, and "
        "its user exists and is active), as read from the database."
    )
    request = TokenVerifySerializer
    done = _("The token would be accepted.")
    refused = _(
        "The token would be refused; the code says why (token_revoked, token_expired, "
        "token_invalid, user_inactive, ...)."
    )


class TokenBlacklistViewSchema(_SimpleJWTViewSchema):
    target_class = "django_jwt_revoke.views.TokenBlacklistView"
    summary = _("Blacklist a refresh token (simplejwt)")
    description = _(
        "djangorestframework-simplejwt's token/blacklist/: revokes the refresh token's session, "
        "its access tokens included."
    )
    request = TokenBlacklistSerializer
    done = _("The session is revoked.")
    refused = _(
        "Not a valid refresh token: invalid, expired, an access token (token_wrong_type), or "
        "already revoked (token_revoked; its session is revoked all the same)."
    )


class JWKSViewSchema(_DocumentedView):
    target_class = "django_jwt_revoke.views.JWKSView"

    def schemas(self) -> dict[str, dict[str, Any]]:
        return {
            "get": {
                "summary": _("Public keys (JWK Set)"),
                "description": _(
                    "The public halves of the signing key and of the verifying keys, for "
                    "services that verify tokens themselves. Only with an asymmetric ALGORITHM."
                ),
                "responses": {
                    200: OpenApiResponse(JWKSetSerializer, description=_("The JWK Set.")),
                    404: _error(
                        _(
                            "Tokens are signed with a shared secret: no public keys "
                            "(code jwks_unavailable)."
                        )
                    ),
                },
            }
        }


# The revocation event feed ----------------------------------------------------


def _feed_error(description: _StrOrPromise) -> OpenApiResponse:
    return OpenApiResponse(RevocationFeedErrorSerializer, description=description)


def _feed_headers() -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            "WWW-Authenticate",
            str,
            OpenApiParameter.HEADER,
            required=True,
            description=_("Bearer: the feed consumer's credential is needed."),
            response=[401],
        ),
        _retry_after(503),
    ]


def _feed_responses(answer: OpenApiResponse, **more: OpenApiResponse) -> dict[int, Any]:
    responses = {
        200: answer,
        400: _feed_error(_("A missing or malformed member (code invalid_request).")),
        401: _feed_error(
            _(
                "No credential, or not one of FEED_CONSUMERS (code authentication_failed); "
                "a JWT is never one."
            )
        ),
        415: _feed_error(_("The body is not application/json (code invalid_request).")),
        503: _feed_error(
            _(
                "The revocation state could not be read (code temporarily_unavailable), or "
                "ALGORITHM is HMAC (code feed_unavailable): retry after Retry-After seconds."
            )
        ),
    }
    responses.update({int(code[1:]): value for code, value in more.items()})
    return dict(sorted(responses.items()))


class EventFeedViewSchema(_DocumentedView):
    target_class = "django_jwt_revoke.views.EventFeedView"

    def schemas(self) -> dict[str, dict[str, Any]]:
        return {
            "post": {
                "summary": _("Poll the revocation event feed (RFC 8936)"),
                "description": _(
                    "For resource servers (a consumer credential of FEED_CONSUMERS): the "
                    "revocation events after the last one applied, each a signed SET, with a "
                    "signed receipt. Every JWT is signed with the token signing key that "
                    "jwks/ publishes."
                ),
                "request": RevocationFeedPollSerializer,
                "responses": _feed_responses(
                    OpenApiResponse(
                        RevocationFeedAnswerSerializer,
                        description=_("The events after the one asked for (maybe none)."),
                    ),
                    s409=_feed_error(
                        _(
                            "The events after the one asked for were purged, or the feed "
                            "ends before it (code resync_required): load a snapshot."
                        )
                    ),
                ),
                "parameters": _feed_headers(),
            }
        }


class EventSnapshotViewSchema(_DocumentedView):
    target_class = "django_jwt_revoke.views.EventSnapshotView"

    def schemas(self) -> dict[str, dict[str, Any]]:
        return {
            "post": {
                "summary": _("Snapshot of the revocation state"),
                "description": _(
                    "For resource servers (a consumer credential of FEED_CONSUMERS): every "
                    "revocation that still matters, signed, as of the newest event; then poll "
                    "events/ for those after it."
                ),
                "request": RevocationFeedSnapshotRequestSerializer,
                "responses": _feed_responses(
                    OpenApiResponse(
                        RevocationFeedSnapshotSerializer, description=_("The snapshot.")
                    )
                ),
                "parameters": _feed_headers(),
            }
        }
