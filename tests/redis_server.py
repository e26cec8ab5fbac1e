"""A ``redis-server`` of the test's own: started on a spare port, killed by its pid.

For the fault tests (outage, restore from a snapshot, replicas): the shared
Redis of the machine is never stopped. The binary must be on PATH (Debian's
``redis-server``); without it the tests are skipped, except under ``CI=true``
where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.ports import free_port


class RedisServer:
    """One ``redis-server`` process with its own port and directory.

    Nothing is saved unless ``save()`` is called: then ``dump.rdb`` in its
    directory is what a restart (``start()`` after ``kill()``) loads.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not on PATH"
        self.process = subprocess.Popen(
            [
                binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no",
                "--dir", str(self.directory), "--dbfilename", "dump.rdb",
                "--logfile", str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if self.client().ping():
                    # Ours, not another one that took the port first (then ours exits).
                    if self.client().info("server")["process_id"] == self.process.pid:
                        return self
            except OSError:
                pass
            except Exception:  # redis.ConnectionError, BusyLoadingError
                pass
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def save(self) -> None:
        """Write a snapshot (RDB), as a periodic save or a backup would."""
        self.client().save()

    def kill(self) -> None:
        """SIGKILL, by pid: nothing is written on the way down."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


def needs_redis_server() -> None:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")


def cache_config(server: RedisServer, *replicas: RedisServer) -> dict:
    """A ``CACHES`` entry for Django's RedisCache on ``server`` (then ``replicas``)."""
    location = [server.url, *(r.url for r in replicas)] if replicas else server.url
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": location,
        # A dead server must fail fast, not hang the request.
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
