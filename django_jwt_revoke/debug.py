"""Error reports: keeping tokens out of what Django's ``ExceptionReporter`` writes.

An unexpected error is reported with the local variables of every frame, the
POST parameters, the request headers and the cookies: the mail
``AdminEmailHandler`` sends, and the DEBUG page. What keeps tokens out:

* local variables: every function of ours that holds a raw token, a pair or
  a key is marked with Django's ``sensitive_variables()`` (all its variables,
  and those of everything it calls: PyJWT's frames hold the token and the
  key too);
* POST parameters: our views mark ``password``, ``refresh``, ``token`` and
  ``client_secret`` with ``sensitive_post_parameters``;
* headers: Django hides every ``request.META`` key that matches
  ``SafeExceptionReporterFilter.hidden_settings``, among them
  ``HTTP_COOKIE`` and, from Django 5.0 on, ``HTTP_AUTHORIZATION`` (the
  Bearer token). Django 4.2's pattern has no ``AUTH``: there
  ``ExceptionReporterFilter`` below is needed, and check
  ``django_jwt_revoke.W006`` says so;
* cookies: Django hides a cookie only when its name matches the same
  pattern (``API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE``) or is the session
  cookie. ``access_token`` and ``refresh_token`` do; a token cookie with
  another name needs ``ExceptionReporterFilter`` below, and check
  ``django_jwt_revoke.W005`` says so.

Django applies the first two only when ``DEBUG`` is False (its filter is off
on the DEBUG page, by design); headers and cookies always.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.regex_helper import _lazy_re_compile
from django.views.debug import SafeExceptionReporterFilter

from .conf import jwt_revoke_settings


def token_cookie_names() -> list[str]:
    """The names of the token cookies, with cookie transport on (else none)."""
    if not jwt_revoke_settings.AUTH_COOKIE:
        return []
    names = (jwt_revoke_settings.AUTH_COOKIE, jwt_revoke_settings.REFRESH_COOKIE)
    return [name for name in names if isinstance(name, str) and name]


class TokenCookiesFilterMixin:
    """Hides the token cookies' values in error reports, whatever their names.

    For a project's own ``SafeExceptionReporterFilter`` subclass.
    """

    cleansed_substitute: str

    def get_safe_cookies(self, request: Any) -> dict[str, Any]:
        cookies: dict[str, Any] = super().get_safe_cookies(request)  # type: ignore[misc]
        for name in token_cookie_names():
            if name in cookies:
                cookies[name] = self.cleansed_substitute
        return cookies


class ExceptionReporterFilter(TokenCookiesFilterMixin, SafeExceptionReporterFilter):
    """Django's filter, also hiding the token cookies whatever their names, and
    the ``Authorization`` header on Django 4.2 too (Django 5.0's pattern)::

    DEFAULT_EXCEPTION_REPORTER_FILTER = "django_jwt_revoke.debug.ExceptionReporterFilter"
    """

    hidden_settings = _lazy_re_compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE", flags=re.IGNORECASE
    )


def _project_filter() -> Any:
    """An instance of the project's reporter filter; None if it cannot be made
    (Django reports that itself, at the first error)."""
    try:
        return import_string(settings.DEFAULT_EXCEPTION_REPORTER_FILTER)()
    except Exception:
        return None


def authorization_header_shown() -> bool:
    """Whether the project's reporter filter would show the ``Authorization`` header."""
    reporter_filter = _project_filter()
    try:
        return not reporter_filter.hidden_settings.search("HTTP_AUTHORIZATION")
    except Exception:  # no filter, or no pattern: Django reports that itself
        return False


def token_cookies_shown() -> list[str]:
    """The token cookies whose values the project's reporter filter would show."""
    names = token_cookie_names()
    if not names:
        return []
    reporter_filter = _project_filter()
    if reporter_filter is None:
        return []
    probe = SimpleNamespace(COOKIES=dict.fromkeys(names, "token"))
    try:
        safe = reporter_filter.get_safe_cookies(probe)
    except Exception:
        return []
    return [name for name in names if safe.get(name) == "token"]
