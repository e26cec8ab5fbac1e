"""A cache backend whose server is unreachable: every operation raises."""

from django.core.cache.backends.base import BaseCache


class UnreachableCache(BaseCache):
    def __init__(self, location, params):
        super().__init__(params)

    def _fail(self, *args, **kwargs):
        raise ConnectionError("cache server unreachable")

    add = get = set = touch = delete = clear = has_key = incr = decr = _fail
    get_many = set_many = delete_many = _fail
