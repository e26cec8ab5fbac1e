"""Cookie transport for browser front ends (opt-in: ``JWT_REVOKE["AUTH_COOKIE"]``).

With a cookie name in ``AUTH_COOKIE``, the obtain and refresh endpoints put
the tokens in ``HttpOnly`` cookies instead of the answer's body, so the
page's JavaScript never holds them; ``JWTAuthentication`` reads the access
cookie when no ``Authorization`` header is sent. A cookie is an ambient
credential (the browser attaches it to requests other sites make), so every
unsafe request authenticated by a cookie passes Django's own CSRF check,
exactly as DRF's ``SessionAuthentication`` does.

Everything here is HTTP transport; what a login, a refresh or a logout does
to the revocation state stays in ``revocation.py``.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import jwt
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import rotate_token
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables
from rest_framework.authentication import CSRFCheck

from .conf import jwt_revoke_settings
from .exceptions import CSRFFailed

if TYPE_CHECKING:
    from .tokens import TokenPair

#: The URL name that REFRESH_COOKIE_PATH = None stands for.
REFRESH_URL_NAME = "django_jwt_revoke:token_refresh"


def enabled() -> bool:
    """Whether cookie transport is on (``AUTH_COOKIE`` names a cookie)."""
    return bool(jwt_revoke_settings.AUTH_COOKIE)


def access_token(request: Any) -> str | None:
    """The access cookie's value; None when cookie transport is off or it was not sent."""
    name = jwt_revoke_settings.AUTH_COOKIE
    if not name:
        return None
    return request.COOKIES.get(name) or None


def refresh_token(request: Any) -> str | None:
    """The refresh cookie's value; None when cookie transport is off or it was not sent."""
    if not enabled():
        return None
    return request.COOKIES.get(jwt_revoke_settings.REFRESH_COOKIE) or None


def refresh_cookie_path(request: Any = None) -> str:
    """``REFRESH_COOKIE_PATH``, or the refresh endpoint's path in the URLconf.

    The browser then sends the refresh token to that endpoint only, never with
    the API calls that the access token is for. The reverse uses the namespace
    of the current request, should the app be included more than once.
    """
    path = jwt_revoke_settings.REFRESH_COOKIE_PATH
    if path:
        return str(path)
    match = getattr(request, "resolver_match", None)
    return reverse(REFRESH_URL_NAME, current_app=match.namespace if match else None)


def _attributes() -> dict[str, Any]:
    return {
        "domain": jwt_revoke_settings.AUTH_COOKIE_DOMAIN,
        "secure": bool(jwt_revoke_settings.AUTH_COOKIE_SECURE),
        "samesite": jwt_revoke_settings.AUTH_COOKIE_SAMESITE,
    }


@sensitive_variables()
def _expiry(raw: str) -> int:
    # Our own freshly minted token: its signature was made a moment ago.
    exp = jwt.decode(raw, options={"verify_signature": False})["exp"]
    return int(exp)


@sensitive_variables()
def set_token_cookies(response: HttpResponse, pair: TokenPair, request: Any) -> dict[str, Any]:
    """Puts the pair in its two cookies; returns the answer's body, without the tokens.

    Each cookie lives as long as its token (``Max-Age``), so the browser drops
    an expired token by itself. The body says when each one expires, which is
    what a front end needs to plan its refresh.
    """
    settings = jwt_revoke_settings
    now = int(time.time())
    body = {}
    cookies = (
        ("access", settings.AUTH_COOKIE, pair.access, settings.AUTH_COOKIE_PATH),
        ("refresh", settings.REFRESH_COOKIE, pair.refresh, refresh_cookie_path(request)),
    )
    for kind, name, raw, path in cookies:
        exp = _expiry(raw)
        response.set_cookie(
            name, raw, max_age=max(0, exp - now), path=path, httponly=True, **_attributes()
        )
        body[f"{kind}_expires_at"] = datetime.fromtimestamp(exp, tz=timezone.utc)
    return body


def delete_token_cookies(response: HttpResponse, request: Any) -> None:
    """Tells the browser to drop both cookies: same name, path and domain as when set."""
    attributes = _attributes()
    for name, path in (
        (jwt_revoke_settings.AUTH_COOKIE, jwt_revoke_settings.AUTH_COOKIE_PATH),
        (jwt_revoke_settings.REFRESH_COOKIE, refresh_cookie_path(request)),
    ):
        response.delete_cookie(
            name, path=path, domain=attributes["domain"], samesite=attributes["samesite"]
        )


def new_csrf_token(request: HttpRequest) -> None:
    """A fresh CSRF secret at login, sent as Django's CSRF cookie by ``CsrfViewMiddleware``.

    Rotated as ``django.contrib.auth.login`` does, so a CSRF token planted
    before the login (from a sibling subdomain, say) does not survive it.
    """
    rotate_token(request)


def _no_response(request: HttpRequest) -> None:
    return None


def enforce_csrf(request: Any) -> None:
    """Django's CSRF check on a cookie-authenticated request; ``CSRFFailed`` (403) if it fails.

    The same check ``CsrfViewMiddleware`` makes (token from the ``X-CSRFToken``
    header or the form, ``Origin``/``Referer`` against ``CSRF_TRUSTED_ORIGINS``),
    through DRF's ``CSRFCheck`` as in ``SessionAuthentication.enforce_csrf``.
    Safe methods pass.
    """
    check = CSRFCheck(_no_response)  # type: ignore[arg-type]
    # Populates request.META["CSRF_COOKIE"] from the request's CSRF cookie.
    check.process_request(request)
    reason = check.process_view(request, None, (), {})  # type: ignore[arg-type]
    if reason:
        # DRF's CSRFCheck answers the reason text where Django answers a response.
        raise CSRFFailed(str(reason))
