"""Run in a subprocess under tests.settings_resource (tests/test_resource.py).

``run()``: a request end to end against a fake issuer, in a process that
never installed the issuer's app. ``fork()``: after ``os.fork`` the child
starts a follower of its own and applies a revocation made after the fork.
"""

from __future__ import annotations

import os
import time

import jwt
from django.test import override_settings
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from django_jwt_revoke.resource import follower as follower_module
from tests.resource_issuer import CREDENTIAL, FakeIssuer

urlpatterns: list = []


class Protected(APIView):
    permission_classes = [IsAuthenticated]  # authentication: the settings' default

    def get(self, request):
        return Response({"id": request.user.pk})


def _status(token: str) -> int:
    response = Protected.as_view()(
        APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}")
    )
    return response.status_code


def _settings(issuer: FakeIssuer) -> dict:
    return {
        "ISSUER_URL": issuer.url,
        "FEED_CREDENTIAL": CREDENTIAL,
        "POLL_INTERVAL": 0.05,
        "MAX_STALENESS": 2,
        "HTTP_TIMEOUT": 1,
    }


def _wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def run() -> None:
    issuer = FakeIssuer().start()
    try:
        with override_settings(JWT_REVOKE_RESOURCE=_settings(issuer)):
            token = issuer.token(1)
            first = _status(token)
            issuer.revoke_token(jwt.decode(token, options={"verify_signature": False})["jti"])
            _wait_for(lambda: _status(token) == 401)
            print(
                "end to end:", first, _status(token), _status(issuer.token(1, token_type="refresh"))
            )
            follower_module.stop()
    finally:
        issuer.close()


def fork() -> None:
    issuer = FakeIssuer().start()
    with override_settings(JWT_REVOKE_RESOURCE=_settings(issuer)):
        token = issuer.token(1)
        assert _status(token) == 200
        parent = follower_module.get_follower()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                os.close(write_end)
                child = follower_module.get_follower()
                own = (
                    child is not parent
                    and child.pid == os.getpid()
                    and child.alive
                    and child._thread is not parent._thread
                    and child.copy is parent.copy  # inherited, followed on from
                )
                os.read(read_end, 1)  # the parent has revoked the token
                applied = _wait_for(lambda: _status(token) == 401)
                if own and applied:
                    os.write(1, b"child: own follower, new thread, revocation applied\n")
                    code = 0
                else:
                    os.write(1, f"child: own={own} applied={applied}\n".encode())
            finally:
                os._exit(code)
        os.close(read_end)
        follower_module.stop()  # the parent's own follower stops: only the child's can apply it
        issuer.revoke_token(jwt.decode(token, options={"verify_signature": False})["jti"])
        os.write(write_end, b"x")
        _pid, status = os.waitpid(pid, 0)
        issuer.close()
        raise SystemExit(os.waitstatus_to_exitcode(status))
