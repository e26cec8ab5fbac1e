"""``manage.py purge_expired_tokens``: delete the rows of tokens that expired.

Safe to run from cron while the site serves logins and revocations: the work
is done by ``ExpiringQuerySet.purge_expired`` in short batches by primary key,
and for the event feed by ``RevocationEventQuerySet.purge_old``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from ...conf import jwt_revoke_settings
from ...models import PURGE_ORDER, RevocationEvent, TokenSession, event_lifetime, purge_cutoff
from ..options import add_batch_arguments, rows


class Command(BaseCommand):
    help = (
        "Delete the outstanding tokens, sessions and blacklisted tokens whose tokens "
        "expired (LEEWAY included), and the revocation events older than any token "
        "they concern, in batches. Revoked tokens that could still be accepted stay "
        "revoked. Run it regularly (cron)."
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
            self._done(model, count, dry_run, verbose)
        # The feed's oldest events: those older than the longest a token they
        # concern lives. Where revocations write them (revocation._alias).
        events = RevocationEvent.objects.using(jwt_revoke_settings.database_alias(TokenSession))
        count = events.purge_old(
            cutoff=timezone.now() - event_lifetime(),
            batch_size=batch_size,
            dry_run=dry_run,
            progress=self._progress(RevocationEvent) if verbose else None,
        )
        self._done(RevocationEvent, count, dry_run, verbose)
        if dry_run and verbose:
            self.stdout.write("Dry run: nothing was deleted.")

    def _done(self, model: Any, count: int, dry_run: bool, verbose: bool) -> None:
        if verbose:
            verb = "Would delete" if dry_run else "Deleted"
            self.stdout.write(f"{verb} {rows(model, count)}.")

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
