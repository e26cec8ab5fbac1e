"""The example project's two roles as real processes, for tests and benchmarks.

An issuer (``EXAMPLE_ROLE=issuer``, signing with an RSA key made here, its
event feed open to one credential) and a resource server
(``EXAMPLE_ROLE=resource``) following it, each ``manage.py runserver
--noreload`` on a free port with a database of its own: SQLite files in a
temporary directory, or two PostgreSQL databases made for the run (and
dropped after it) when ``backend="postgres"``, the issuer then with a Redis
cache. Used by ``tests/test_two_roles.py`` and ``benchmarks/propagation.py``.

Every process is started by ``Server.start`` and ended by ``Server.kill``
(SIGKILL to its pid); ``TwoRoles.close`` kills both and drops the databases,
whatever state the test left them in.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.keys import pem_pair
from tests.ports import free_port  # also for tests/test_two_roles.py

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "example_project" / "manage.py"
PASSWORD = "two-roles-password-8c1e"

# Variables of the environment that would change the servers' settings.
_OURS = ("DJANGO_", "EXAMPLE_", "PGDATABASE")


def http_client() -> httpx.Client:
    """HTTP to the servers, never through a proxy the environment names.

    A new connection for each request: runserver writes a response's headers
    and body apart, and on a kept-alive connection Nagle's algorithm then
    waits for the client's delayed ACK, 40 ms a request.
    """
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(timeout=10, trust_env=False, limits=no_keepalive)


class Server:
    """One role of the example project: its ``manage.py`` commands and its server."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.env = env
        self.port = free_port()
        self.log = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, timeout: float = 60) -> str:
        """Run ``manage.py args`` with this role's settings; its output (stdout + stderr)."""
        done = subprocess.run(
            [sys.executable, str(MANAGE), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = done.stdout + done.stderr
        if done.returncode != 0:
            raise RuntimeError(f"{self.name}: manage.py {' '.join(args)}:\n{output}")
        return output

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code)

    def start(self, timeout: float = 30) -> None:
        """Serve, and return once the server answers HTTP."""
        assert self.proc is None, f"{self.name} is already running"
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(MANAGE), "runserver", "--noreload", f"127.0.0.1:{self.port}"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        with http_client() as client:
            while True:
                try:
                    client.get(self.url + "/api/me/", timeout=1)
                    return
                except httpx.TransportError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        log = self.log_text()
                        self.kill()
                        raise RuntimeError(f"{self.name} did not serve:\n{log[-3000:]}") from None
                    time.sleep(0.1)

    def kill(self) -> None:
        """End the server at once (SIGKILL to its pid), as a crash would."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)  # a stopped process dies too
        self.proc.wait(timeout=10)
        self.proc = None
        self.paused = False

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): it neither serves nor follows the feed."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class TwoRoles:
    """An issuer and a resource server following its event feed.

    ``resource_settings``: a settings module for the resource server in place
    of ``example_project.settings`` (on ``extra_path``), for a benchmark that
    changes a setting the example project does not expose.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        backend: str = "sqlite",
        redis_url: str | None = None,
        resource_settings: str | None = None,
        extra_path: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.backend = backend
        self.databases: list[str] = []
        key_file = workdir / "signing-key.pem"
        key_file.write_text(pem_pair("rsa")[0])
        self.credential = secrets.token_urlsafe(32)
        base = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
        base.update(PYTHONUNBUFFERED="1", DJANGO_DEBUG="1", EXAMPLE_DB=backend)
        issuer_env = dict(
            base,
            EXAMPLE_SIGNING_KEY_FILE=str(key_file),
            EXAMPLE_FEED_CREDENTIAL=self.credential,
        )
        resource_env = dict(base, EXAMPLE_ROLE="resource", EXAMPLE_FEED_CREDENTIAL=self.credential)
        if backend == "postgres":
            prefix = f"{os.environ.get('PGDATABASE', 'test')}_roles_{os.getpid()}"
            self.databases = [f"{prefix}_issuer", f"{prefix}_resource"]
            self._create_databases()
            issuer_env["PGDATABASE"], resource_env["PGDATABASE"] = self.databases
            if redis_url:
                issuer_env["EXAMPLE_REDIS_URL"] = redis_url
        else:
            issuer_env["EXAMPLE_SQLITE_PATH"] = str(workdir / "issuer.sqlite3")
            resource_env["EXAMPLE_SQLITE_PATH"] = str(workdir / "resource.sqlite3")
        if resource_settings:
            resource_env["DJANGO_SETTINGS_MODULE"] = resource_settings
            resource_env["PYTHONPATH"] = os.pathsep.join(
                str(p) for p in (extra_path, ROOT, ROOT / "example_project") if p
            )
        self.issuer = Server("issuer", issuer_env, workdir)
        resource_env["EXAMPLE_ISSUER_URL"] = f"{self.issuer.url}/api/auth/"
        self.resource = Server("resource", resource_env, workdir)

    # -- databases ----------------------------------------------------------------

    def _admin_connection(self) -> Any:
        import psycopg

        return psycopg.connect(
            host=os.environ.get("PGHOST", "127.0.0.1"),
            port=os.environ.get("PGPORT", "5432"),
            user=os.environ.get("PGUSER", "postgres"),
            password=os.environ.get("PGPASSWORD", ""),
            dbname="postgres",
            autocommit=True,
        )

    def _create_databases(self) -> None:
        with self._admin_connection() as conn:
            for name in self.databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                conn.execute(f'CREATE DATABASE "{name}"')

    def _drop_databases(self) -> None:
        if not self.databases:
            return
        with self._admin_connection() as conn:
            for name in self.databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # -- life cycle ---------------------------------------------------------------

    def start(self, users: tuple[str, ...] = (), *, resource: bool = True) -> None:
        """Migrate the databases, create ``users`` at the issuer, serve both roles
        (the issuer alone unless ``resource``)."""
        self.issuer.manage("migrate", "--noinput")
        if resource:
            self.resource.manage("migrate", "--noinput")
        if self.issuer.env.get("EXAMPLE_REDIS_URL"):
            # A fresh database numbers users from 1 again: entries an earlier
            # run left in the shared Redis would not be about these users.
            self.issuer.manage("clear_revocation_cache")
        if users:
            self.create_users(*users)
        self.issuer.start()
        if resource:
            self.resource.start()

    def close(self) -> None:
        for server in (self.resource, self.issuer):
            server.kill()
        self._drop_databases()

    # -- the issuer's users and tokens --------------------------------------------

    def create_users(self, *names: str) -> None:
        self.issuer.shell(
            "from django.contrib.auth import get_user_model\n"
            f"for name in {list(names)!r}:\n"
            f"    get_user_model().objects.create_user(name, password={PASSWORD!r})\n"
        )

    def login(self, client: httpx.Client, username: str) -> dict[str, str]:
        """A new session at the issuer: ``{"access", "refresh"}``."""
        answer = client.post(
            f"{self.issuer.url}/api/auth/token/",
            json={"username": username, "password": PASSWORD},
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def me(self, client: httpx.Client, access: str) -> httpx.Response:
        """GET /api/me/ at the resource server with ``access``."""
        return client.get(
            f"{self.resource.url}/api/me/", headers={"Authorization": f"Bearer {access}"}
        )

    def issuer_post(self, client: httpx.Client, path: str, access: str | None = None,
                    **kwargs: Any) -> httpx.Response:  # fmt: skip
        headers = {"Authorization": f"Bearer {access}"} if access else {}
        return client.post(f"{self.issuer.url}/api/auth/{path}", headers=headers, **kwargs)

    def feed(self, client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
        """POST events/ at the issuer with the feed credential."""
        return client.post(
            f"{self.issuer.url}/api/auth/events/",
            json=body,
            headers={"Authorization": f"Bearer {self.credential}"},
        )
