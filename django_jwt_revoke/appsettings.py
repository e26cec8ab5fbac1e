"""One settings dict behind one object, for each role (``conf``, ``resource/conf``).

``AppSettings("JWT_REVOKE", DEFAULTS, normalise).LEEWAY`` reads the project's
value or the default, normalised; nothing is read at import time, and
``reload()`` (each role connects it to Django's ``setting_changed``) drops
what was read. ``per_settings`` keeps a value derived from the settings until
the next reload. Pure: no model, no setting of either role, so a resource
server, which installs no issuer app, imports it too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings

T = TypeVar("T")


class AppSettings:
    """Attribute access to ``settings.<name>`` with defaults.

    Unknown attribute names raise ``AttributeError`` (a typo in our own code
    must not silently read ``None``); unknown keys in the project's dict are
    reported by the role's checks.
    """

    def __init__(
        self, name: str, defaults: dict[str, Any], normalise: Callable[[str, Any], Any]
    ) -> None:
        self._name = name
        self._defaults = defaults
        self._normalise = normalise
        self._cached: dict[str, Any] = {}
        # Bumped on every reload so that values derived from the settings
        # elsewhere (``per_settings``) know when to recompute.
        self.generation = 0

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, self._name, None)
        return value if isinstance(value, dict) else {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._defaults:
            raise AttributeError(f"Invalid {self._name} setting: {name!r}")
        try:
            return self._cached[name]
        except KeyError:
            pass
        value = self._normalise(name, self.user_settings.get(name, self._defaults[name]))
        self._cached[name] = value
        return value

    def reload(self) -> None:
        self._cached.clear()
        self.generation += 1

    def per_settings(self, build: Callable[[], T]) -> Callable[[], T]:
        """``build()``, computed once per settings and again after they change.

        For what is derived from the settings and read on every request
        (prepared keys, verification rules, the revocation store): the first
        call after a reload rebuilds it. Holds one value.
        """
        kept: dict[int, T] = {}

        @functools.wraps(build)
        def current() -> T:
            generation = self.generation
            try:
                return kept[generation]
            except KeyError:
                value = build()
                kept.clear()
                kept[generation] = value
                return value

        return current
