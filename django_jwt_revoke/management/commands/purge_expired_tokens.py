"""``manage.py purge_expired_tokens``: delete the rows of tokens that expired.

Safe to run from cron while the site serves logins and revocations: the work
is done by ``ExpiringQuerySet.purge_expired`` in short batches by primary key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...conf import jwt_revoke_settings
from ...models import PURGE_ORDER, purge_cutoff
from ..options import add_batch_arguments, rows


class Command(BaseCommand):
    help = (
        "Delete the outstanding tokens, sessions and blacklisted tokens whose tokens "
        "expired (LEEWAY included), in batches. Revoked tokens that could still be "
        "accepted stay revoked. Run it regularly (cron)."
    )

    # A progress line each time this many more rows of one model are gone.
    progress_every = 100_000

    def add_arguments(self, parser: CommandParser) -> None:
        add_batch_arguments(
            parser,
            dry_run="Count what would be deleted; delete nothing.",
            batch_size="Rows deleted per statement and transaction",
        )

    def handle(self, *args: Any, dry_run: bool, batch_size: int, **options: Any) -> None:
        cutoff = purge_cutoff()
        verbose = options["verbosity"] >= 1
        for model in PURGE_ORDER:
            using = jwt_revoke_settings.database_alias(model)
            count = model.objects.using(using).purge_expired(
                cutoff=cutoff,
                batch_size=batch_size,
                dry_run=dry_run,
                progress=self._progress(model) if verbose else None,
            )
            if verbose:
                verb = "Would delete" if dry_run else "Deleted"
                self.stdout.write(f"{verb} {rows(model, count)}.")
        if dry_run and verbose:
            self.stdout.write("Dry run: nothing was deleted.")

    def _progress(self, model: Any) -> Callable[[int], None]:
        """A callback printing a line each time ``progress_every`` more rows are gone."""
        step = self.progress_every
        shown = 0

        def progress(total: int) -> None:
            nonlocal shown
            if total // step > shown // step:
                shown = total
                self.stdout.write(f"  ... {rows(model, total)} deleted so far")

        return progress
