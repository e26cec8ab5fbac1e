"""``manage.py revoke_all_tokens``: incident response, everyone signs in again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...models import Reason
from ...revocation import revoke_all_tokens


class Command(BaseCommand):
    help = (
        "Revoke every token of every user issued up to now, in one write: for the "
        "day a signing key or a database dump leaks. Tokens issued afterwards work."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )
        parser.add_argument(
            "--reason",
            default=Reason.INCIDENT.value,
            choices=Reason.values,
            help="Recorded with the revocation (default: incident).",
        )

    def handle(self, *args: Any, interactive: bool, reason: str, **options: Any) -> None:
        if interactive:
            answer = input(
                "This signs out every user of every device: every access and refresh "
                "token issued so far stops working.\nType 'yes' to continue, or anything "
                "else to cancel: "
            )
            if answer.strip() != "yes":
                raise CommandError("Cancelled: nothing was revoked.")
        generation = revoke_all_tokens(reason=reason)
        self.stdout.write(
            f"Revoked every token issued so far (global generation {generation}, reason {reason})."
        )
