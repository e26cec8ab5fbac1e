"""Errors with stable codes, shaped for DRF and RFC 6750.

Every refusal of a token is an ``InvalidToken`` carrying a stable ``code``;
its JSON body is ``{"detail": ..., "code": ...}`` through DRF's default
exception handler. The RFC 6750 section 3.1 error of the ``WWW-Authenticate``
challenge is each class's ``oauth_error``: ``invalid_token`` (401) for a token
we refuse, ``invalid_request`` (400) for a malformed ``Authorization`` header,
``insufficient_scope`` for a good token without the rights the endpoint
needs. A failure to read revocation state is a 503 instead: clients must not
throw away a good token because our database blinked. When that failure is a
table of this app that is not there (``migrate`` was forgotten),
``database_error_hint`` says so, for the log line the operator reads.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import TYPE_CHECKING, Any

from django.db import DEFAULT_DB_ALIAS
from django.utils import translation
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


def in_english(text: Any) -> str:
    """``text`` (a lazy translation or a plain string) untranslated, in ASCII.

    For the ``error_description`` of a ``WWW-Authenticate`` challenge: RFC 6750
    section 3 allows only printable ASCII there, and a header value outside
    Latin-1 would be MIME-encoded, losing the challenge. The JSON body's
    ``detail`` carries the translated text.
    """
    with translation.override(None):
        english = str(text)
    return english.encode("ascii", "replace").decode("ascii")


class InvalidToken(exceptions.AuthenticationFailed):
    """A token we refuse: 401, ``WWW-Authenticate: Bearer error="invalid_token"``."""

    oauth_error = "invalid_token"

    def __init__(self, code: str, detail: str | None = None) -> None:
        if code not in MESSAGES:
            raise ValueError(f"unknown error code {code!r}")
        self.code = code
        self.description = str(detail or MESSAGES[code])
        self.challenge = in_english(detail or MESSAGES[code])
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
        self.challenge = in_english(MESSAGES[self.code])
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
        self.challenge = in_english(detail or self.default_detail)
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


# -- A table of ours that is not there -------------------------------------------------

_TABLE = r"(?P<table>django_jwt_revoke_\w+)"
_COLUMN = r"(?P<column>\w+)"
#: What a database says of a table (or a column) that does not exist, when it
#: names the table: SQLite, PostgreSQL, MySQL/MariaDB. Only the names matched
#: here reach the hint, never the rest of the message (which may quote SQL).
_MISSING = [
    re.compile(pattern)
    for pattern in (
        # A column (a partial migrate), first: its messages name the table too.
        rf"no such column: {_TABLE}\.{_COLUMN}",  # SQLite
        rf"table {_TABLE} has no column named {_COLUMN}",  # SQLite, on INSERT
        rf'column "?{_TABLE}"?\."?{_COLUMN}"? does not exist',  # PostgreSQL (UndefinedColumn)
        rf'column "{_COLUMN}" of relation "{_TABLE}" does not exist',  # PostgreSQL, writing
        rf"Unknown column '{_TABLE}\.{_COLUMN}'",  # MySQL (1054)
        # A table.
        rf"no such table: (?:\w+\.)?{_TABLE}",  # SQLite
        rf'relation "(?:\w+\.)?{_TABLE}" does not exist',  # PostgreSQL (UndefinedTable)
        rf"Table '(?:\w+\.)?{_TABLE}' doesn't exist",  # MySQL (1146)
    )
]


def database_error_hint(exc: BaseException, *, alias: str | None = None) -> str | None:
    """What to do about ``exc`` when it says a table (or column) of this app is missing.

    ``"table django_jwt_revoke_tokensession does not exist: run `python manage.py
    migrate`"``; None for any other error. ``alias``: the database the query ran
    on, named in the command when it is not the default one.
    """
    causes = [exc, exc.__cause__] if exc.__cause__ is not None else [exc]
    for cause in causes:
        text = str(cause)
        for pattern in _MISSING:
            found = pattern.search(text)
            if found is None:
                continue
            names = found.groupdict()
            command = "python manage.py migrate"
            if alias is not None and alias != DEFAULT_DB_ALIAS:
                command += f" --database {alias}"
            what = f"table {names['table']}"
            if names.get("column"):
                what = f"column {names['column']} of {what}"
            return f"{what} does not exist: run `{command}`"
    return None


class DatabaseHintLog:
    """Logs the hint of a database error (``database_error_hint``) once per
    ``interval`` seconds for each hint, not once per request.

    For the paths that turn a database error into a 503 without logging it
    (authentication: ``RevocationStateUnavailable``). Only the hint is
    logged, never the error's message (it can quote the query).
    """

    interval = 60.0

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def log(self, exc: BaseException, *, alias: str) -> None:
        hint = database_error_hint(exc, alias=alias)
        if hint is None:
            return
        now = time.monotonic()
        with self._lock:
            last = self._last.get(hint)
            if last is not None and now - last < self.interval:
                return
            self._last[hint] = now
        self.logger.error(
            "Revocation state could not be read from database %r (answered 503): %s.",
            alias,
            hint,
        )

    def reset(self) -> None:
        """Forget what was logged (for tests)."""
        with self._lock:
            self._last.clear()
