"""Rate limits for the endpoints, switched on by settings alone.

Each view names a scope (``jwt_revoke_obtain``, ``jwt_revoke_refresh``, ...).
``ConfiguredScopeRateThrottle`` limits a view only when the project gives its
scope a rate::

    REST_FRAMEWORK = {
        "DEFAULT_THROTTLE_RATES": {"jwt_revoke_obtain": "5/min", "jwt_revoke_refresh": "30/min"},
    }

A scope without a rate is simply not limited. That is why the views do not
use DRF's ``throttle_scope`` attribute: a project that lists DRF's
``ScopedRateThrottle`` in ``DEFAULT_THROTTLE_CLASSES`` would get
``ImproperlyConfigured`` on every request to a view whose scope it gave no
rate. The project's own ``DEFAULT_THROTTLE_CLASSES`` (``AnonRateThrottle``,
...) still apply as usual, on top of this one.
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle


class ConfiguredScopeRateThrottle(ScopedRateThrottle):
    """``ScopedRateThrottle`` on ``view.jwt_revoke_throttle_scope``, a no-op without a rate."""

    scope_attr = "jwt_revoke_throttle_scope"

    def get_rate(self) -> str | None:
        # Read on every call, not DRF's class attribute frozen at import time,
        # so rates set later (override_settings) are honoured.
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES or {}
        return rates.get(self.scope) if self.scope else None

    def allow_request(self, request: Any, view: Any) -> bool:
        scope = getattr(view, self.scope_attr, None)
        if not scope or not (api_settings.DEFAULT_THROTTLE_RATES or {}).get(scope):
            return True
        return super().allow_request(request, view)
