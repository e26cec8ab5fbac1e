"""Errors with stable codes, shaped for DRF and RFC 6750.

Every refusal of a token is an ``InvalidToken`` carrying a stable ``code``;
its JSON body is ``{"detail": ..., "code": ...}`` through DRF's default
exception handler. The RFC 6750 section 3.1 error of the ``WWW-Authenticate``
challenge is each class's ``oauth_error``: ``invalid_token`` (401) for a token
we refuse, ``invalid_request`` (400) for a malformed ``Authorization`` header,
``insufficient_scope`` for a good token without the rights the endpoint
needs. A failure to read revocation state is a 503 instead: clients must not
throw away a good token because our database blinked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

# code -> default message. The codes are part of the public API.
MESSAGES = {
    "authorization_header_invalid": _(
        "Authorization header must contain two space-delimited values: the scheme and the token."
    ),
    "token_too_large": _("Token is too large."),
    "token_invalid": _("Token is invalid."),
    "token_expired": _("Token has expired."),
    "token_not_yet_valid": _("Token is not valid yet."),
    "token_claims_invalid": _("Token has missing or invalid claims."),
    "token_wrong_type": _("Token has the wrong type."),
    "token_revoked": _("Token has been revoked."),
    "user_not_found": _("User not found."),
    "user_inactive": _("User is inactive."),
}


class InvalidToken(exceptions.AuthenticationFailed):
    """A token we refuse: 401, ``WWW-Authenticate: Bearer error="invalid_token"``."""

    oauth_error = "invalid_token"

    def __init__(self, code: str, detail: str | None = None) -> None:
        if code not in MESSAGES:
            raise ValueError(f"unknown error code {code!r}")
        self.code = code
        self.description = str(detail or MESSAGES[code])
        super().__init__({"detail": self.description, "code": code}, code=code)


class InvalidAuthorizationHeader(exceptions.ParseError):
    """A malformed ``Authorization`` header: 400, ``error="invalid_request"`` (RFC 6750 3.1).

    Not a 401: the request is malformed, not its token. DRF's exception
    handler sends ``auth_header`` as the ``WWW-Authenticate`` header (it does
    so for any exception carrying one), in every view that authenticates
    with our classes; the authentication class sets it.
    """

    oauth_error = "invalid_request"
    default_code = "authorization_header_invalid"

    def __init__(self) -> None:
        self.code = self.default_code
        self.description = str(MESSAGES[self.code])
        self.auth_header: str | None = None
        super().__init__({"detail": self.description, "code": self.code}, self.code)


class InsufficientScope(exceptions.AuthenticationFailed):
    """A good token without the rights the endpoint needs: ``error="insufficient_scope"``.

    A 401 at the introspection endpoint, as RFC 7662 section 2.3 asks of a
    Bearer-protected one (RFC 6750's 403 is for resource servers).
    """

    oauth_error = "insufficient_scope"
    default_code = "insufficient_scope"
    default_detail = _("This token does not grant access to this endpoint.")

    def __init__(self, detail: _StrOrPromise | None = None) -> None:
        self.code = self.default_code
        self.description = str(detail or self.default_detail)
        super().__init__({"detail": self.description, "code": self.code}, self.code)


class CSRFFailed(exceptions.PermissionDenied):
    """A cookie-authenticated unsafe request failed Django's CSRF check: 403."""

    default_code = "csrf_failed"

    def __init__(self, reason: str) -> None:
        detail = _("CSRF Failed: %(reason)s") % {"reason": reason}
        super().__init__({"detail": str(detail), "code": self.default_code}, self.default_code)


class RevocationStateUnavailable(exceptions.APIException):
    """The revocation state could not be read: refuse, but do not say 'invalid'."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "revocation_state_unavailable"
    default_detail = _("Token revocation state is unavailable; try again shortly.")
    # DRF's exception handler turns ``wait`` into a Retry-After header.
    wait = 1

    def __init__(self) -> None:
        super().__init__(
            {"detail": str(self.default_detail), "code": self.default_code}, self.default_code
        )
