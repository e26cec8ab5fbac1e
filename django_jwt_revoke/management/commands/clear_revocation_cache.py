"""``manage.py clear_revocation_cache``: drop every cached revocation entry.

For after the revocation cache was restored from a snapshot or failed over,
or to be sure: every check then reads the database once and fills the cache
again. Nothing is revoked or un-revoked; the database holds the state.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...conf import jwt_revoke_settings
from ...stores import get_store
from ...stores.cache import CacheStore
from ...stores.redis import RedisStore


class Command(BaseCommand):
    help = (
        "Drop every cached revocation entry (JWT_REVOKE['CACHE_ALIAS']). Checks read the "
        "database until the cache fills again; nothing is revoked or un-revoked."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--all",
            action="store_true",
            dest="whole_cache",
            help=(
                "For a backend that cannot delete by prefix (anything but Django's "
                "RedisCache): clear the whole cache alias, other entries included."
            ),
        )

    def handle(self, *args: Any, whole_cache: bool, **options: Any) -> None:
        store = get_store()
        alias = jwt_revoke_settings.CACHE_ALIAS
        if not isinstance(store, CacheStore):
            raise CommandError("No CACHE_ALIAS is set: revocation state is not cached.")
        if isinstance(store, RedisStore):
            dropped = store.clear()
            self.stdout.write(f"Dropped {dropped} cached revocation entries from {alias!r}.")
            return
        if not whole_cache:
            raise CommandError(
                f"The cache {alias!r} cannot delete our entries alone (Django's cache API has "
                "no delete by prefix). Run with --all to clear the whole alias."
            )
        store.clear()
        self.stdout.write(f"Cleared the whole cache {alias!r}.")
