"""``manage.py revoke_user_tokens``: sign users out everywhere, from a shell."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from ...conf import jwt_revoke_settings
from ...models import Reason
from ...revocation import revoke_user_tokens


def find_user(User: Any, value: str) -> Any:
    """The user whose username (``USERNAME_FIELD``) or primary key is ``value``.

    Raises ``CommandError`` when there is none, or when the username of one
    user is the primary key of another.
    """
    manager = User._default_manager
    found = {}
    by_name = manager.filter(**{User.USERNAME_FIELD: value}).first()
    if by_name is not None:
        found[by_name.pk] = by_name
    try:
        pk = User._meta.pk.to_python(value)
        by_pk = manager.filter(pk=pk).first()
    except (ValidationError, ValueError, TypeError, OverflowError):
        by_pk = None
    if by_pk is not None:
        found[by_pk.pk] = by_pk
    if not found:
        raise CommandError(f"No user with the username or id {value!r}.")
    if len(found) > 1:
        raise CommandError(
            f"{value!r} is the username of one user and the id of another: "
            f"give the other user's username, or the id {by_name.pk}."
        )
    return next(iter(found.values()))


class Command(BaseCommand):
    help = (
        "Revoke every token issued so far to the given users (by username or id). "
        "Tokens issued afterwards work. Nothing is revoked unless every user is found."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("users", nargs="+", metavar="username_or_id")
        parser.add_argument(
            "--reason",
            default=Reason.ADMIN.value,
            choices=Reason.values,
            help="Recorded with the revocation (default: admin).",
        )

    def handle(self, *args: Any, users: list[str], reason: str, **options: Any) -> None:
        User = get_user_model()
        found: dict[Any, Any] = {}
        errors = []
        for value in users:
            try:
                user = find_user(User, value)
            except CommandError as exc:
                errors.append(str(exc))
            else:
                found.setdefault(user.pk, user)
        if errors:
            raise CommandError("\n".join([*errors, "No token was revoked."]))
        with transaction.atomic(using=jwt_revoke_settings.database_alias()):
            for user in found.values():
                revoke_user_tokens(user, reason=reason)
        for user in found.values():
            self.stdout.write(f"Revoked every token of {user.get_username()!r} (id {user.pk}).")
