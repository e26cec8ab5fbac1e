"""The Redis store: Django's built-in ``RedisCache`` as ``CACHE_ALIAS``.

The same entries and rules as ``CacheStore`` (see ``cache.py``), read and
written through one redis-py client of our own, built from the alias's
public configuration (``LOCATION`` and ``OPTIONS``) and connected to the
**primary**: the first server of ``LOCATION``, the one Django's backend
writes to. Django's backend reads from a random replica when ``LOCATION``
names several servers, and a replica may lag behind the primary a
revocation was written to; revocation state is never read there. One client
for the store's life (the backend builds one per call), one ``MGET`` per
check, fills and writes in one pipelined round trip each. Values are the
integers 0 and 1, stored as Redis does for Django (``b"0"``, ``b"1"``).
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from .cache import KEY_PREFIX, CacheStore

# Characters that SCAN's MATCH reads as glob syntax.
_GLOB = re.compile(r"([*?\[\]\\])")


def servers(config: dict[str, Any]) -> list[str]:
    """The server URLs of a ``RedisCache`` configuration, as Django's backend splits them."""
    location = config.get("LOCATION", "")
    if isinstance(location, str):
        return re.split("[;,]", location)
    return list(location)


def primary_client(config: dict[str, Any]) -> Any:
    """A redis-py client on the first server, with the backend's pool and parser options."""
    import redis

    options = dict(config.get("OPTIONS") or {})
    options.pop("serializer", None)  # our values are plain integers
    pool_class = options.pop("pool_class", None) or redis.ConnectionPool
    if isinstance(pool_class, str):
        pool_class = import_string(pool_class)
    parser_class = options.pop("parser_class", None) or redis.connection.DefaultParser
    if isinstance(parser_class, str):
        parser_class = import_string(parser_class)
    pool = pool_class.from_url(servers(config)[0], parser_class=parser_class, **options)
    return redis.Redis(connection_pool=pool)


class RedisStore(CacheStore):
    """``CacheStore`` on Django's ``RedisCache``, through one client on the primary."""

    def __init__(self, alias: str) -> None:
        super().__init__(alias)
        self.client = primary_client(settings.CACHES[alias])
        self.make_key = self.cache.make_key

    def _get(self, keys: tuple[str, ...]) -> dict[str, int]:
        make_key = self.make_key
        values = self.client.mget([make_key(key) for key in keys])
        return {
            key: int(value) for key, value in zip(keys, values, strict=True) if value is not None
        }

    def _add(self, entries: dict[str, tuple[int, float]]) -> None:
        # Milliseconds, rounded down: "not revoked" never outlives its bound.
        with self.client.pipeline(transaction=False) as pipe:
            for key, (value, timeout) in entries.items():
                pipe.set(self.make_key(key), value, px=max(1, int(timeout * 1000)), nx=True)
            pipe.execute()

    def _set(self, entries: dict[str, float]) -> None:
        with self.client.pipeline(transaction=False) as pipe:
            for key, timeout in entries.items():
                pipe.set(self.make_key(key), 1, px=max(1, int(timeout * 1000)))
            pipe.execute()

    def clear(self) -> int:
        """Delete every entry of ours (``SCAN`` by prefix, then ``UNLINK`` in batches)."""
        pattern = _GLOB.sub(r"\\\1", self.make_key(KEY_PREFIX)) + "*"
        dropped = 0
        batch: list[Any] = []
        for name in self.client.scan_iter(match=pattern, count=1000):
            batch.append(name)
            if len(batch) == 1000:
                dropped += self.client.unlink(*batch)
                batch = []
        if batch:
            dropped += self.client.unlink(*batch)
        return dropped
