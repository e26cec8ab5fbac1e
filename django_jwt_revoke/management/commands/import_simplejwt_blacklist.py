"""``manage.py import_simplejwt_blacklist``: carry simplejwt's revocations over.

Run it once, before the switch, with ``rest_framework_simplejwt.token_blacklist``
still installed: simplejwt's tokens stay valid here (``ACCEPT_SIMPLEJWT_TOKENS``),
and only the import tells this app which of them simplejwt had blacklisted.
The work is done by ``simplejwt.import_blacklist``, in batches; running it again
imports nothing new.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...models import BlacklistedToken, OutstandingToken, TokenSession
from ...simplejwt import SIMPLEJWT_BLACKLIST_APP, SimplejwtBlacklistNotInstalled, import_blacklist
from ..options import add_batch_arguments, rows


class Command(BaseCommand):
    help = (
        "Copy the outstanding and blacklisted refresh tokens of djangorestframework-simplejwt's "
        "token_blacklist app (jti, user, expiry; never the tokens) into django-jwt-revoke, so "
        "that what simplejwt revoked stays revoked after the switch. Expired tokens are "
        "skipped. Safe to run again: rows already imported are left as they are."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_batch_arguments(
            parser,
            dry_run="Count what would be imported; write nothing.",
            batch_size="simplejwt rows read per query and written per transaction",
        )

    def handle(self, *args: Any, dry_run: bool, batch_size: int, **options: Any) -> None:
        try:
            counts = import_blacklist(batch_size=batch_size, dry_run=dry_run)
        except SimplejwtBlacklistNotInstalled:
            raise CommandError(
                f"{SIMPLEJWT_BLACKLIST_APP} is not in INSTALLED_APPS, so there is no simplejwt "
                "blacklist to import. Keep it installed (with djangorestframework-simplejwt) "
                "until this command has run."
            ) from None
        if options["verbosity"] < 1:
            return
        verb, revoke = ("Would import", "Would revoke") if dry_run else ("Imported", "Revoked")
        self.stdout.write(f"{verb} {rows(OutstandingToken, counts.outstanding)}.")
        self.stdout.write(f"{verb} {rows(BlacklistedToken, counts.blacklisted)}.")
        self.stdout.write(f"{revoke} {rows(TokenSession, counts.sessions_revoked)}.")
        if dry_run:
            self.stdout.write("Dry run: nothing was imported.")
