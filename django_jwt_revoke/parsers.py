"""Request body parsers.

DRF's ``JSONParser`` answers malformed JSON with a 400 but lets a
``RecursionError`` out of ``json.load``: a body of a few kilobytes of
``[[[[...`` or ``{"a":{"a":...`` nests deeper than the interpreter lets the
parser go, and the view answers 500. How deep that is depends on the Python
version, so ``JSONParser`` here refuses JSON nested deeper than
``max_depth`` levels whatever the interpreter, like any other malformed
JSON, and gives every parse error the stable code the app's other errors
carry: 400 ``{"detail": "JSON parse error - ...", "code": "parse_error"}``.

Our views use it in place of DRF's (``JWTRevokeAPIView.get_parsers``); a
project can protect its own views the same way::

    REST_FRAMEWORK = {
        "DEFAULT_PARSER_CLASSES": [
            "django_jwt_revoke.parsers.JSONParser",
            "rest_framework.parsers.FormParser",
            "rest_framework.parsers.MultiPartParser",
        ],
    }
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

PARSE_ERROR = "parse_error"


def nested_deeper_than(data: Any, limit: int) -> bool:
    """Whether ``data`` has lists or dicts more than ``limit`` levels deep (no recursion)."""
    level, depth = [data], 0
    while level:
        containers = [value for value in level if isinstance(value, (dict, list))]
        if not containers:
            return False
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for container in containers
            for child in (container.values() if isinstance(container, dict) else container)
        ]
    return False


class JSONParser(parsers.JSONParser):
    """DRF's ``JSONParser``; JSON nested too deeply is a 400 ``parse_error``, not a 500."""

    #: Deeper JSON is refused. Far below what any interpreter parses, far
    #: above what any request body of this app (or most APIs) needs.
    max_depth = 512

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise self.too_deep() from None
        except ParseError as exc:
            raise self.error(exc.detail) from None
        if nested_deeper_than(data, self.max_depth):
            raise self.too_deep()
        return data

    def too_deep(self) -> ParseError:
        message = _("JSON parse error - nested deeper than %(depth)d levels.")
        return self.error(message % {"depth": self.max_depth})

    @staticmethod
    def error(detail: Any) -> ParseError:
        return ParseError({"detail": str(detail), "code": PARSE_ERROR}, code=PARSE_ERROR)
