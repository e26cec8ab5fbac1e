"""Revocation state stores (see ``base.py`` for the interface).

``get_store()`` picks one for the current settings: the database alone
without ``CACHE_ALIAS``; with it, ``RedisStore`` for Django's ``RedisCache``
and ``CacheStore`` for any other backend.
"""

from __future__ import annotations

from ..conf import jwt_revoke_settings, per_settings
from .base import Fact, RevocationStore, TokenState

__all__ = ["Fact", "RevocationStore", "TokenState", "get_store"]


def _build() -> RevocationStore:
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    alias = jwt_revoke_settings.CACHE_ALIAS
    if not alias:
        from .database import DatabaseStore

        return DatabaseStore()
    if type(caches[alias]) is RedisCache:
        from .redis import RedisStore

        return RedisStore(alias)
    from .cache import CacheStore

    return CacheStore(alias)


@per_settings
def get_store() -> RevocationStore:
    """The store for the current settings (rebuilt when they change)."""
    return _build()
