"""Errors with stable codes, shaped for DRF and RFC 6750.

Every refusal of a token is an ``InvalidToken`` carrying a stable ``code``;
its JSON body is ``{"detail": ..., "code": ...}`` through DRF's default
exception handler. A failure to read revocation state is a 503 instead:
clients must not throw away a good token because our database blinked.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status

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

    def __init__(self, code: str, detail: str | None = None) -> None:
        if code not in MESSAGES:
            raise ValueError(f"unknown error code {code!r}")
        self.code = code
        self.description = str(detail or MESSAGES[code])
        super().__init__({"detail": self.description, "code": code}, code=code)


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
