"""How long a revocation takes to reach a resource server, short poll and long poll.

Not a test. Needs the test extra (httpx, cryptography; psycopg and Redis for
``--db postgres``). From the repository root::

    python benchmarks/propagation.py                      # 200 revocations per mode, SQLite
    python benchmarks/propagation.py --db postgres        # PG* variables, Redis at the issuer

For each mode (``LONG_POLL`` False, the default, then True) it starts the
example project's issuer and a resource server following it
(``tests/example_servers.py``, each ``runserver`` with a database of its
own), issues tokens at the issuer and, ``--revocations`` times: waits a
random part of ``POLL_INTERVAL`` (so that revocations fall anywhere in the
follower's cycle), logs one session out at the issuer (``logout/``), and
asks the resource server for ``/api/me/`` with that session's access token
until it is refused. The figure is the time from the logout's answer to
the first refusal; printed: p50, p90, p99 and the largest, against
``MAX_STALENESS``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCH = 50  # tokens issued at a time: each batch is used well within its lifetime


def issue(cluster, count: int) -> list[str]:
    """``count`` new sessions of user bench at the issuer: their access tokens."""
    output = cluster.issuer.shell(
        "import json\n"
        "from django.contrib.auth import get_user_model\n"
        "from django_jwt_revoke.tokens import issue_token_pair\n"
        "user = get_user_model().objects.get(username='bench')\n"
        f"print(json.dumps([issue_token_pair(user).access for _ in range({count})]))\n"
    )
    return json.loads(output.strip().splitlines()[-1])


def run_mode(args, long_poll: bool, poll_interval: float) -> list[float]:
    from tests.example_servers import TwoRoles, http_client

    os.environ["BENCH_LONG_POLL"] = "1" if long_poll else "0"
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    with tempfile.TemporaryDirectory() as tmp:
        cluster = TwoRoles(
            Path(tmp),
            backend=args.db,
            redis_url=redis_url,
            resource_settings="benchmarks.propagation_settings",
        )
        cluster.resource.env["BENCH_LONG_POLL"] = os.environ["BENCH_LONG_POLL"]
        try:
            cluster.start(users=("bench",))
            times: list[float] = []
            with http_client() as http:
                while len(times) < args.revocations:
                    batch = issue(cluster, min(BATCH, args.revocations - len(times)))
                    for access in batch:
                        answer = cluster.me(http, access)
                        assert answer.status_code == 200, answer.text
                        time.sleep(random.uniform(0, poll_interval))  # noqa: S311
                        answer = cluster.issuer_post(http, "logout/", access)
                        assert answer.status_code == 204, answer.text
                        returned = time.monotonic()
                        while True:
                            answer = cluster.me(http, access)
                            if answer.status_code == 401:
                                break
                            assert answer.status_code == 200, answer.text
                            assert time.monotonic() - returned < 30, "never refused"
                            time.sleep(0.002)
                        times.append(time.monotonic() - returned)
        finally:
            cluster.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--revocations", type=int, default=200, help="per mode")
    parser.add_argument("--modes", default="short,long", help="short, long or both (default)")
    args = parser.parse_args()

    from django_jwt_revoke.resource.conf import DEFAULTS

    poll = DEFAULTS["POLL_INTERVAL"].total_seconds()
    bound = DEFAULTS["MAX_STALENESS"].total_seconds()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; "
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"Python {platform.python_version()}; issuer and resource server: the example project "
        f"under runserver, {args.db}; POLL_INTERVAL {poll:g} s, MAX_STALENESS {bound:g} s; "
        f"{args.revocations} logouts per mode\n"
    )
    results = {}
    for mode in args.modes.split(","):
        started = time.monotonic()
        times = run_mode(args, mode == "long", poll)
        results[mode] = times
        print(f"  {mode} poll: {len(times)} revocations in {time.monotonic() - started:.0f} s")
    print()
    header = f"{'mode':<28}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
    print(header)
    print("-" * len(header))
    for mode, times in results.items():
        cuts = statistics.quantiles(times, n=100, method="inclusive")
        name = "LONG_POLL=True" if mode == "long" else f"short poll ({poll:g} s)"
        print(
            f"{name:<28}{cuts[49] * 1000:>9.0f}{cuts[89] * 1000:>9.0f}{cuts[98] * 1000:>9.0f}"
            f"{max(times) * 1000:>9.0f}"
        )
    print("\ntargets")
    for mode, times in results.items():
        worst = max(times)
        ok = worst < bound
        print(
            f"  {'PASS' if ok else 'FAIL'}  {mode} poll: every revocation refused within "
            f"{worst * 1000:.0f} ms (< MAX_STALENESS, {bound:g} s)"
        )


if __name__ == "__main__":
    main()
