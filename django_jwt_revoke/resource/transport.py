"""HTTP to the issuer over urllib: no dependency, no redirect, bounded answers.

The one place the resource server touches the network (the follower, the
JWKS client and the introspection fallback all call ``request``); tests
replace nothing here, they run a fake issuer on a local port.

A redirect is never followed: the feed credential would travel with it to
wherever the answer pointed. An answer larger than ``limit`` bytes is an
error, not a memory exhaustion.
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, NamedTuple

from django.views.decorators.debug import sensitive_variables

USER_AGENT = "django-jwt-revoke-resource"


class Answer(NamedTuple):
    status: int
    body: bytes


class TransportError(Exception):
    """The issuer could not be reached, or its answer could not be read."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


_opener = urllib.request.build_opener(_NoRedirect)


@sensitive_variables()
def request(
    url: str,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float,
    limit: int,
) -> Answer:
    """GET ``url`` (POST ``data`` when given); the status and body of any HTTP answer.

    ``TransportError`` for anything that is not an HTTP answer: no connection,
    a timeout, a body over ``limit`` bytes.
    """
    sent = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
    req = urllib.request.Request(  # noqa: S310 (the scheme is checked: http or https)
        url, data=data, headers=sent, method="GET" if data is None else "POST"
    )
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise TransportError("not an http(s) URL")
    try:
        with _opener.open(req, timeout=timeout) as response:
            return Answer(response.status, _read(response, limit))
    except urllib.error.HTTPError as error:
        try:
            body = _read(error, limit)
        except TransportError:
            body = b""
        finally:
            error.close()
        return Answer(error.code, body)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise TransportError(_describe(exc)) from None


def _read(response: Any, limit: int) -> bytes:
    try:
        body = response.read(limit + 1)
    except (http.client.HTTPException, OSError, ValueError) as exc:
        raise TransportError(_describe(exc)) from None
    if len(body) > limit:
        raise TransportError(f"the answer is larger than {limit} bytes")
    return bytes(body)


def _describe(exc: BaseException) -> str:
    """What went wrong, for a log line: the kind of failure, never a request's content."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        exc = reason
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    text = getattr(exc, "strerror", None) or type(exc).__name__
    return str(text)


def display_url(url: str) -> str:
    """``url`` without any user information, for logs."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))
