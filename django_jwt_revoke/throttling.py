"""Rate limits for the endpoints, switched on by settings alone.

Each view names a scope (``jwt_revoke_obtain``, ``jwt_revoke_refresh``, ...).
``ConfiguredScopeRateThrottle`` limits a view only when the project gives its
scope a rate::

    REST_FRAMEWORK = {
        "DEFAULT_THROTTLE_RATES": {"jwt_revoke_obtain": "5/min", "jwt_revoke_refresh": "30/min"},
        "NUM_PROXIES": 0,  # or the number of proxies in front of Django
    }

A scope without a rate is simply not limited. That is why the views do not
use DRF's ``throttle_scope`` attribute: a project that lists DRF's
``ScopedRateThrottle`` in ``DEFAULT_THROTTLE_CLASSES`` would get
``ImproperlyConfigured`` on every request to a view whose scope it gave no
rate. The project's own ``DEFAULT_THROTTLE_CLASSES`` (``AnonRateThrottle``,
...) still apply as usual, on top of this one.

Those limits count per client address, as DRF identifies it: from
``X-Forwarded-For`` as sent unless ``NUM_PROXIES`` says which entry to trust,
so that a client choosing a new value on each request escapes them (check
``django_jwt_revoke.W004``). ``UsernameRateThrottle`` adds the login's limit
counted per username tried, which no header changes.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.crypto import salted_hmac
from django.views.decorators.debug import sensitive_variables
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

#: Added to a view's scope to name the rate of its per-username limit; a
#: project that does not set it gets the view's own rate for it.
USERNAME_SCOPE_SUFFIX = "_username"


def _rates() -> dict[str, Any]:
    # Read on every call, not DRF's class attribute frozen at import time,
    # so rates set later (override_settings) are honoured.
    return api_settings.DEFAULT_THROTTLE_RATES or {}


class ConfiguredScopeRateThrottle(ScopedRateThrottle):
    """``ScopedRateThrottle`` on ``view.jwt_revoke_throttle_scope``, a no-op without a rate."""

    scope_attr = "jwt_revoke_throttle_scope"

    def get_rate(self) -> str | None:
        return _rates().get(self.scope) if self.scope else None

    def allow_request(self, request: Any, view: Any) -> bool:
        scope = getattr(view, self.scope_attr, None)
        if not scope or not _rates().get(scope):
            return True
        return super().allow_request(request, view)


def username_rate(scope: str) -> str | None:
    """The rate of ``scope``'s per-username limit: its own if set, else ``scope``'s.

    So that a project that sets only ``jwt_revoke_obtain`` gets both limits at
    that rate; ``"jwt_revoke_obtain_username": None`` turns this one off.
    """
    rates = _rates()
    own = scope + USERNAME_SCOPE_SUFFIX
    rate = rates[own] if own in rates else rates.get(scope)
    return rate or None


@sensitive_variables("data")
def username_tried(request: Any) -> str | None:
    """The username a login request names, as ``TokenObtainSerializer`` reads it; None if none.

    A body that does not parse raises DRF's ``ParseError`` (or
    ``UnsupportedMediaType``), the 400 (415) the view itself would answer.
    """
    data = request.data
    if not hasattr(data, "get"):
        return None
    field = get_user_model().USERNAME_FIELD
    value = data.get(field) or data.get("username")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value).strip() or None


def username_key(username: str) -> str:
    """What stands for ``username`` in the cache: a keyed hash, never the name itself.

    Normalised first (NFKC, case-folded), so that spellings a backend or a
    database collation may treat as one account share one count. Keyed with
    ``SECRET_KEY``: a plain hash of a guessable name could be reversed by
    hashing candidates.
    """
    normal = unicodedata.normalize("NFKC", username).casefold()
    digest = salted_hmac("django_jwt_revoke.throttling.username", normal, algorithm="sha256")
    return digest.hexdigest()


class UsernameRateThrottle(SimpleRateThrottle):
    """The view's limit counted per username tried, whatever address it comes from.

    Rate: ``<scope>_username`` if the project sets it, else the view's scope's
    (``username_rate``); no rate, no limit. Every attempt counts, right or
    wrong. A request naming no username is left to the serializer (400).
    """

    def __init__(self) -> None:
        # The rate depends on the view; it is read in allow_request.
        pass

    def allow_request(self, request: Any, view: Any) -> bool:
        scope = getattr(view, ConfiguredScopeRateThrottle.scope_attr, None)
        rate = username_rate(scope) if scope else None
        if not scope or rate is None:
            return True
        self.scope = scope + USERNAME_SCOPE_SUFFIX
        self.rate = rate
        self.num_requests, self.duration = self.parse_rate(rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        username = username_tried(request)
        if username is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": username_key(username)}
