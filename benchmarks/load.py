"""Requests per second and latency under load: a real WSGI server, several workers.

Not a test. Needs ``pip install -r benchmarks/requirements.txt`` (simplejwt,
knox and gunicorn, only here), PostgreSQL and Redis, and preferably ``wrk``
(Debian: ``apt-get install wrk``; without it a bounded Python driver in its
own process stands in). From the repository root::

    python benchmarks/load.py                      # PG* variables, Redis DB 14
    python benchmarks/load.py --workers 4 --connections 32 --duration 10
    BENCH_PG_PREPARE=1 python benchmarks/load.py   # psycopg 3 prepared statements

The protected view of ``benchmarks/auth_urls.py`` is served by gunicorn
(sync workers, ``--workers``) on PostgreSQL, one server without a cache and
one whose ``CACHE_ALIAS`` is Redis (``BENCH_CACHE_ALIAS``). The driver keeps
``--connections`` requests in flight for ``--duration`` seconds per row; rows
run in interleaved rounds (A B C ... A B C ...) so that drift hits each
alike, and each figure is the median over rounds. Then the targets (issue
16): our user mode's requests/s at least simplejwt ``JWTAuthentication``'s,
its p99 no worse, printed PASS/FAIL from this one run.
"""

# ruff: noqa: S603, S607, S310  (our own script: fixed commands, local URLs)
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.auth_settings")
os.environ["BENCH_DB"] = "postgres"


@dataclass
class Row:
    name: str
    server: str  # "plain" or "redis"
    path: str
    header: str
    rps: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    errors: int = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving the benchmark project, killed (with its workers) on exit."""

    def __init__(self, workers: int, cache_alias: str | None) -> None:
        self.port = free_port()
        env = dict(os.environ, BENCH_DB="postgres", PYTHONPATH=str(ROOT))
        if cache_alias:
            env["BENCH_CACHE_ALIAS"] = cache_alias
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "--backlog",
                "2048",
                "django.core.wsgi:get_wsgi_application()",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait(self, path: str, header: str) -> None:
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited; see its output above")
            try:
                headers = {"Authorization": header} if header else {}
                request = urllib.request.Request(self.url + path, headers=headers)
                with urllib.request.urlopen(request, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer {path} with 200 in 30 s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


# -- drivers -------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


Result = tuple[float, float, float, int]


def run_wrk(url: str, header: str, connections: int, duration: float) -> Result:
    """(requests/s, p50 ms, p99 ms, non-2xx + socket errors) from one wrk run."""
    headers = ["--header", f"Authorization: {header}"] if header else []
    out = subprocess.run(
        [
            "wrk",
            "--threads",
            "1",
            "--connections",
            str(connections),
            "--duration",
            f"{max(1, round(duration))}s",
            "--latency",
            *headers,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return rps, p50, p99, errors


_PY_DRIVER = r"""
import http.client, json, sys, threading, time
host, port, path, header, connections, duration = sys.argv[1:7]
connections, duration = int(connections), float(duration)
latencies, errors, lock = [], [0], threading.Lock()
stop = time.monotonic() + duration
def worker():
    mine, bad = [], 0
    while time.monotonic() < stop:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        t = time.perf_counter()
        try:
            conn.request("GET", path, headers={"Authorization": header})
            answer = conn.getresponse(); answer.read()
            if answer.status != 200: bad += 1
        except OSError:
            bad += 1
        mine.append((time.perf_counter() - t) * 1e3)
        conn.close()
    with lock:
        latencies.extend(mine); errors[0] += bad
threads = [threading.Thread(target=worker) for _ in range(connections)]
start = time.monotonic()
[t.start() for t in threads]; [t.join() for t in threads]
elapsed = time.monotonic() - start
latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
print(json.dumps([len(latencies) / elapsed, pick(0.5), pick(0.99), errors[0]]))
"""


def run_python(url: str, header: str, connections: int, duration: float) -> Result:
    import json

    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    counts = [str(connections), str(duration)]
    out = subprocess.run(
        [sys.executable, "-c", _PY_DRIVER, host, port, "/" + path, header, *counts],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps, p50, p99, errors = json.loads(out)
    return rps, p50, p99, errors


# -- the run -------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> list[Row]:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import override_settings
    from knox.models import AuthToken
    from rest_framework_simplejwt.tokens import RefreshToken

    from django_jwt_revoke.tokens import issue_token_pair

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="load-bench")
    _knox, knox_token = AuthToken.objects.create(user)
    ours = issue_token_pair(user).access
    with override_settings(JWT_REVOKE={"CACHE_ALIAS": "redis"}):
        ours_redis = issue_token_pair(user).access
    simple = RefreshToken.for_user(user)
    simple_stateless = RefreshToken.for_user(user)
    return [
        Row("no authentication (floor)", "plain", "/none/", ""),
        Row(
            "simplejwt JWTStatelessUserAuthentication",
            "plain",
            "/simplejwt-stateless/",
            f"Bearer {simple_stateless.access_token}",
        ),
        Row("simplejwt JWTAuthentication", "plain", "/simplejwt/", f"Bearer {simple.access_token}"),
        Row("knox TokenAuthentication", "plain", "/knox/", f"Token {knox_token}"),
        Row("jwt-revoke JWTAuthentication, no cache", "plain", "/ours/", f"Bearer {ours}"),
        Row(
            "jwt-revoke JWTTokenUserAuthentication, no cache",
            "plain",
            "/ours-token-user/",
            f"Bearer {ours}",
        ),
        Row("jwt-revoke JWTAuthentication, Redis", "redis", "/ours/", f"Bearer {ours_redis}"),
        Row(
            "jwt-revoke JWTTokenUserAuthentication, Redis",
            "redis",
            "/ours-token-user/",
            f"Bearer {ours_redis}",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--connections", type=int, default=8, help="requests in flight")
    parser.add_argument("--duration", type=int, default=5, help="seconds per row per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--driver", choices=["auto", "wrk", "python"], default="auto")
    args = parser.parse_args()
    driver = args.driver
    if driver == "auto":
        driver = "wrk" if shutil.which("wrk") else "python"
    run = run_wrk if driver == "wrk" else run_python

    rows = prepare(args)
    servers = {"plain": Server(args.workers, None), "redis": Server(args.workers, "redis")}
    try:
        for row in rows:
            servers[row.server].wait(row.path, row.header)
        for _round in range(args.rounds):
            for row in rows:
                url = servers[row.server].url + row.path
                run(url, row.header, args.connections, 1.0)  # warm every worker
                rps, p50, p99, errors = run(url, row.header, args.connections, args.duration)
                row.rps.append(rps)
                row.p50.append(p50)
                row.p99.append(p99)
                row.errors += errors
    finally:
        for server in servers.values():
            server.stop()

    import django
    from django.db import connection

    print(
        f"\nUnder load: gunicorn {args.workers} sync workers, driver {driver}, "
        f"{args.connections} connections, {args.duration:g} s x {args.rounds} rounds; "
        f"Python {sys.version.split()[0]}, Django {django.get_version()}, "
        f"PostgreSQL {connection.cursor().connection.info.server_version}\n"
    )
    print(f"{'scheme':52s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'errors':>7s}")
    for row in rows:
        print(
            f"{row.name:52s} {statistics.median(row.rps):8.0f} "
            f"{statistics.median(row.p50):8.2f} {statistics.median(row.p99):8.2f} {row.errors:7d}"
        )
    by_name = {row.name: row for row in rows}
    simple = by_name["simplejwt JWTAuthentication"]
    ours = by_name["jwt-revoke JWTAuthentication, no cache"]
    ok_rps = statistics.median(ours.rps) >= statistics.median(simple.rps)
    ok_p99 = statistics.median(ours.p99) <= statistics.median(simple.p99)
    ratio = statistics.median(ours.rps) / statistics.median(simple.rps)
    print("\nTargets (issue 16):")
    verdict = "PASS" if ok_rps else "FAIL"
    print(f"  {verdict}  user mode req/s >= simplejwt JWTAuthentication's ({ratio:.2f}x)")
    print(
        f"  {'PASS' if ok_p99 else 'FAIL'}  user mode p99 <= simplejwt's "
        f"({statistics.median(ours.p99):.2f} ms vs {statistics.median(simple.p99):.2f} ms)"
    )
    if any(row.errors for row in rows):
        print("  FAIL  every request answered 200 (see the errors column)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
