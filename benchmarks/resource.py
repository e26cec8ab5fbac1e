"""Time one request through ``ResourceServerAuthentication``, beside simplejwt's stateless class.

Not a test. Needs the test extra (simplejwt, httpx, cryptography). From the
repository root::

    python benchmarks/resource.py                  # per-request rows, then the copy at 10^6
    python benchmarks/resource.py --tokens 0       # per-request rows only

It starts the example project's issuer (``tests/example_servers.py``: an RSA
key made for the run, the feed open to one credential, SQLite) and, in this
process, one project holding three ways to accept an RS256 access token
(benchmarks/resource_settings.py): simplejwt's
``JWTStatelessUserAuthentication`` (the target's reference), our
``JWTTokenUserAuthentication`` (local-memory cache) and
``ResourceServerAuthentication``, whose follower thread polls the issuer
as it would in a server. That class keeps the tokens it has verified and
checks only their time claims when they come back: its row "first sight"
empties that store before each request, so that every request pays for the
signature, as a token's first request does. Requests go through Django's full handler
(``benchmarks/auth.py``'s ``Client``), rows in interleaved rounds; each
figure is the median over rounds of the microseconds one request took.
Then, for each row: database queries and HTTP requests made on the request
path, and the status of the same token once revoked (at the issuer for the
resource server: how long it took to be refused).

Last, the revocation copy holding ``--tokens`` revoked tokens (10^6 by
default): the memory it keeps (tracemalloc), the peak while it is loaded
from a snapshot's JSON, and the time of one lookup beside an empty copy's.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESOURCE_RATIO = 1.1  # x simplejwt JWTStatelessUserAuthentication


@contextmanager
def counting():
    """Database queries and HTTP requests made by this thread (the request path)."""
    from django.db import connection

    from django_jwt_revoke.resource import transport

    counts = {"queries": 0, "http": 0}
    here = threading.get_ident()
    original = transport.request

    def request(*args, **kwargs):
        if threading.get_ident() == here:
            counts["http"] += 1
        return original(*args, **kwargs)

    def execute(execute, sql, params, many, context):
        counts["queries"] += 1
        return execute(sql, params, many, context)

    transport.request = request
    try:
        with connection.execute_wrapper(execute):
            yield counts
    finally:
        transport.request = original


def per_request(args, cluster, http) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import RefreshToken

    from benchmarks.auth import Client
    from django_jwt_revoke import revocation
    from django_jwt_revoke.tokens import issue_token_pair

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(f"bench-{os.getpid()}")
    ours = issue_token_pair(user)
    issued = cluster.login(http, "bench")

    def revoke_at_issuer():
        answer = cluster.issuer_post(http, "logout/", issued["access"])
        assert answer.status_code == 204, answer.text

    rows = [
        {"name": "no authentication (floor)", "path": "/none/", "header": ""},
        {
            "name": "simplejwt JWTStatelessUserAuthentication",
            "path": "/simplejwt-stateless/",
            "header": f"Bearer {RefreshToken.for_user(user).access_token}",
        },
        {
            "name": "jwt-revoke JWTTokenUserAuthentication, local cache",
            "path": "/ours-token-user/",
            "header": f"Bearer {ours.access}",
            "revoke": lambda: revocation.revoke_session(ours.sid),
        },
        {
            "name": "jwt-revoke ResourceServerAuthentication, first sight",
            "path": "/resource-first-sight/",
            "header": f"Bearer {issued['access']}",
        },
        {
            "name": "jwt-revoke ResourceServerAuthentication",
            "path": "/resource/",
            "header": f"Bearer {issued['access']}",
            "revoke": revoke_at_issuer,
        },
    ]
    client = Client()
    deadline = time.monotonic() + 15  # the follower's first snapshot
    for row in rows:
        while (status := client.get(row["path"], row["header"])) != 200:
            assert time.monotonic() < deadline, (row["name"], status)
            time.sleep(0.1)
        row["times"] = []
    started = time.perf_counter()
    for _round in range(args.rounds):
        for row in rows:
            client.get(row["path"], row["header"])
            gc.collect()
            start = time.perf_counter()
            for _ in range(args.requests):
                client.get(row["path"], row["header"])
            row["times"].append((time.perf_counter() - start) / args.requests * 1e6)
    elapsed = time.perf_counter() - started
    for row in rows:
        with counting() as counts:
            row["status"] = client.get(row["path"], row["header"])
        row.update(counts)
        row["median"] = statistics.median(row["times"])
        row["after"] = "-"
        if "revoke" in row:
            row["revoke"]()
            revoked = time.monotonic()
            while (status := client.get(row["path"], row["header"])) == 200:
                if time.monotonic() - revoked > 30:
                    break
                time.sleep(0.005)
            row["after"] = str(status)
            row["refused_after"] = time.monotonic() - revoked
    from django_jwt_revoke.resource import follower

    follower.stop()  # before the issuer goes: no outage to log
    spread = max(statistics.stdev(r["times"]) / r["median"] for r in rows)
    print(
        f"{args.rounds} interleaved rounds x {args.requests} requests per row in {elapsed:.0f} s; "
        f"largest relative stdev over rounds {spread:.1%}\n"
    )
    return rows


def copy_memory(size: int, lookups: int = 200_000) -> dict:
    """The copy holding ``size`` revoked tokens: memory kept, load peak, lookup time."""
    from django_jwt_revoke import secevents
    from django_jwt_revoke.resource.copy import RevocationCopy

    now = int(time.time())
    # A day of expiries, as access (minutes) and refresh (a day) tokens have.
    tokens = [(secrets.token_hex(16), now + 300 + i % 86_400) for i in range(size)]
    hits = [jti for jti, _ in tokens[:: max(1, size // 1000)]]
    claims = secevents.snapshot_claims(
        secevents.Snapshot("bench", "bench-stream", size, tokens, [], [], None),
        issuer=None,
        now=now,
    )
    text = json.dumps(claims, separators=(",", ":"))
    del tokens, claims
    gc.collect()

    tracemalloc.start()
    copy = RevocationCopy()
    snapshot = secevents.parse_snapshot(json.loads(text), issuer=None, nonce="bench")
    copy.load(snapshot, confirmed_at=time.monotonic())
    peak = tracemalloc.get_traced_memory()[1]
    del snapshot
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(copy) == size

    def lookup_ns(target: RevocationCopy, jtis: list[str]) -> float:
        n = len(jtis)
        rounds = max(1, lookups // n)
        start = time.perf_counter()
        for _ in range(rounds):
            for jti in jtis:
                target.is_revoked(jti, "some-session", "42", 0, 0)
        return (time.perf_counter() - start) / (rounds * n) * 1e9

    misses = [secrets.token_hex(16) for _ in range(1000)]
    assert all(copy.is_revoked(j, None, "42", 0, 0) for j in hits)
    assert not any(copy.is_revoked(j, None, "42", 0, 0) for j in misses)
    empty = RevocationCopy()
    empty.load(secevents.Snapshot("b", "bench-stream", 0, [], [], [], None))
    return {
        "size": size,
        "json_mib": len(text) / 2**20,
        "kept_mib": kept / 2**20,
        "peak_mib": peak / 2**20,
        "hit_ns": lookup_ns(copy, hits),
        "miss_ns": lookup_ns(copy, misses),
        "empty_ns": lookup_ns(empty, misses),
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=300, help="per row per round")
    parser.add_argument(
        "--tokens", type=int, default=1_000_000, help="revoked tokens in the copy (0: skip)"
    )
    args = parser.parse_args()

    from tests.example_servers import TwoRoles, http_client

    with tempfile.TemporaryDirectory() as tmp:
        cluster = TwoRoles(Path(tmp))
        try:
            cluster.start(users=("bench",), resource=False)
            os.environ.update(
                DJANGO_SETTINGS_MODULE="benchmarks.resource_settings",
                BENCH_SIGNING_KEY_FILE=str(Path(tmp) / "signing-key.pem"),
                BENCH_ISSUER_URL=f"{cluster.issuer.url}/api/auth/",
                BENCH_FEED_CREDENTIAL=cluster.credential,
                BENCH_SQLITE_PATH=str(Path(tmp) / "bench.sqlite3"),
            )
            import django

            django.setup()
            import jwt as pyjwt
            import rest_framework
            import rest_framework_simplejwt

            print(
                f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; "
                f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
            )
            print(
                f"Python {platform.python_version()}, Django {django.get_version()}, "
                f"DRF {rest_framework.VERSION}, PyJWT {pyjwt.__version__}, simplejwt "
                f"{getattr(rest_framework_simplejwt, '__version__', '?')}; RS256, one 2048-bit "
                "key for every row; the issuer: the example project under runserver, SQLite"
            )
            with http_client() as http:
                rows = per_request(args, cluster, http)
        finally:
            cluster.close()

    stateless = rows[1]["median"]
    header = (
        f"{'authentication':<52}{'µs/req':>8}{'x stateless':>13}{'queries':>9}"
        f"{'HTTP':>6}{'after revoke':>14}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['name']:<52}{row['median']:>8.0f}{row['median'] / stateless:>12.2f}x"
            f"{row['queries']:>9}{row['http']:>6}{row['after']:>14}"
        )
    resource, first_sight = rows[-1], rows[-2]
    print(
        "(first sight: the signature checked on every request, as for a token's first one; "
        "the last row keeps\n the tokens it verified and checks only their time claims when "
        "they come back. The resource\n server refused the token "
        f"{resource['refused_after'] * 1000:.0f} ms after the issuer's logout returned)\n"
    )

    memory = copy_memory(args.tokens) if args.tokens else None
    if memory:
        print(f"revocation copy holding {memory['size']:,} revoked tokens")
        print(f"  snapshot JSON                     {memory['json_mib']:8.1f} MiB")
        print(
            f"  kept by the copy                  {memory['kept_mib']:8.1f} MiB "
            f"({memory['kept_mib'] * 2**20 / memory['size']:.0f} bytes a token)"
        )
        print(f"  peak while loading it             {memory['peak_mib']:8.1f} MiB (parse + load)")
        print(
            f"  one lookup: revoked {memory['hit_ns']:.0f} ns, not revoked "
            f"{memory['miss_ns']:.0f} ns (empty copy: {memory['empty_ns']:.0f} ns)\n"
        )

    print("targets")
    ratio = resource["median"] / stateless
    ok = ratio <= RESOURCE_RATIO and resource["queries"] == 0 and resource["http"] == 0
    print(
        f"  {verdict(ok)}  ResourceServerAuthentication: {ratio:.3f}x simplejwt "
        f"JWTStatelessUserAuthentication, {resource['queries']} queries, {resource['http']} "
        f"HTTP requests on the request path (≤ {RESOURCE_RATIO}x, none, none)"
    )
    ratio = first_sight["median"] / stateless
    print(
        f"  {verdict(ratio <= RESOURCE_RATIO)}  ResourceServerAuthentication, first sight of "
        f"each token: {ratio:.3f}x simplejwt JWTStatelessUserAuthentication (≤ {RESOURCE_RATIO}x)"
    )
    for row in rows[2:]:
        if "revoke" in row and row["after"] != "401":
            print(f"  FAIL  {row['name']}: a revoked token answered {row['after']}")
    if memory:
        print(
            f"  info  copy of {memory['size']:,} revoked tokens: {memory['kept_mib']:.0f} MiB "
            f"kept, lookups {memory['miss_ns']:.0f} ns vs {memory['empty_ns']:.0f} ns empty"
        )


if __name__ == "__main__":
    main()
