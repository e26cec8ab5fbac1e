"""What the management commands share: batch options and how counts are printed."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import CommandParser


def positive(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def add_batch_arguments(parser: CommandParser, *, dry_run: str, batch_size: str) -> None:
    """``--dry-run`` and ``--batch-size N`` (default 1000), with their help texts."""
    parser.add_argument("--dry-run", action="store_true", help=dry_run)
    parser.add_argument(
        "--batch-size",
        type=positive,
        default=1000,
        metavar="N",
        help=f"{batch_size} (default: 1000).",
    )


def rows(model: Any, count: int) -> str:
    """``count`` rows of ``model``, by its verbose name: "1 token session", "2 token sessions"."""
    name = model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural
    return f"{count} {name}"
