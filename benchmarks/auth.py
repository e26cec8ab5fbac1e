"""Time one authenticated request under each authentication scheme, side by side.

Not a test. Needs ``pip install -r benchmarks/requirements.txt`` (simplejwt
and knox, only here) and, for the cached rows, Redis. From the repository
root::

    python benchmarks/auth.py                     # SQLite (a file) + Redis
    python benchmarks/auth.py --db postgres       # PostgreSQL (PG* variables) + Redis

One process, one user, one DRF view served through Django's full request
handler (``WSGIHandler``: middleware, URL resolution, DRF, JSON rendering),
one URL per scheme. Rows run in interleaved rounds (A B C D ... A B C D ...)
so that machine drift hits every row alike; each figure is the median over
rounds of the microseconds one request took. Then, for every row: database
queries and Redis round trips per request, and the HTTP status of the same
access token after its session was logged out. Then revoke-all at 10 / 1 000 /
10 000 outstanding tokens, the queries of obtain and refresh beside
simplejwt's, with ``--hit-rate`` the token-user cache hit rate against
``CACHE_MAX_STALENESS`` (benchmarks/hit_rate.py, a few minutes), and
PASS/FAIL for each target (docs/performance.md).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.auth_settings")

USER_MODE_RATIO = 0.75  # x simplejwt JWTAuthentication
TOKEN_USER_LOCAL_RATIO = 1.1  # x simplejwt JWTStatelessUserAuthentication
TOKEN_USER_REDIS_RATIO = 1.3
LOGIN_RATIO = 1.2  # obtain, x simplejwt's TokenObtainPairView
REVOKE_ALL_FLAT = 1.5  # slowest / fastest of the three sizes
PURGE_RATIO = 0.5  # x simplejwt flushexpiredtokens
PURGE_MEMORY_MIB = 100


def setup(db: str) -> None:
    os.environ["BENCH_DB"] = db
    import django

    django.setup()


# -- counting what a request costs ----------------------------------------------


class Counter:
    """Database queries (every cursor execution) and Redis round trips."""

    def __init__(self) -> None:
        self.queries = 0
        self.redis = 0
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        self.sql.append(sql)
        return execute(sql, params, many, context)


@contextmanager
def counting():
    from django.db import connection
    from redis.connection import AbstractConnection

    counter = Counter()
    original = AbstractConnection.send_packed_command

    def send(self, command, check_health=True):
        counter.redis += 1
        return original(self, command, check_health)

    AbstractConnection.send_packed_command = send
    try:
        with connection.execute_wrapper(counter):
            yield counter
    finally:
        AbstractConnection.send_packed_command = original


# -- the rows ---------------------------------------------------------------------


@dataclass
class Row:
    name: str
    path: str
    header: str = ""  # the Authorization header
    cache: str | None = None  # our CACHE_ALIAS for this row
    logout: Callable[[], None] | None = None
    times: list[float] = field(default_factory=list)
    queries: int = 0
    redis: int = 0
    status: int = 0
    revoked_status: int | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.times)


class Client:
    """Requests through Django's full handler, with as little around it as can be."""

    def __init__(self) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.handler = WSGIHandler()
        self.base = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "testserver",
            "HTTP_ACCEPT": "application/json",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        self.status = ""

    def _start(self, status: str, headers: list, exc_info: Any = None) -> None:
        self.status = status

    def request(self, path: str, header: str = "", method: str = "GET", body: Any = None) -> tuple:
        environ = dict(self.base, PATH_INFO=path, REQUEST_METHOD=method)
        if header:
            environ["HTTP_AUTHORIZATION"] = header
        data = json.dumps(body).encode() if body is not None else b""
        environ["wsgi.input"] = io.BytesIO(data)
        if data:
            environ["CONTENT_TYPE"] = "application/json"
            environ["CONTENT_LENGTH"] = str(len(data))
        response = self.handler(environ, self._start)
        content = b"".join(response)
        response.close()
        return int(self.status.split()[0]), content

    def get(self, path: str, header: str = "") -> int:
        return self.request(path, header)[0]


@contextmanager
def our_cache(alias: str | None):
    """Our settings with ``CACHE_ALIAS`` = alias (None: the database alone)."""
    from django.conf import settings
    from django.test import override_settings

    with override_settings(JWT_REVOKE={**settings.JWT_REVOKE, "CACHE_ALIAS": alias}):
        yield


FLOOR_QUERY = "floor: no authentication + one SELECT 1"
FLOOR_REDIS = "floor: no authentication + one Redis GET"


def prepare_rows(user: Any) -> list[Row]:
    from knox.models import AuthToken
    from rest_framework_simplejwt.tokens import RefreshToken

    from django_jwt_revoke import revocation
    from django_jwt_revoke.tokens import issue_token_pair

    simple = RefreshToken.for_user(user)
    simple_stateless = RefreshToken.for_user(user)
    knox_instance, knox_token = AuthToken.objects.create(user)

    rows = [
        Row("no authentication (floor)", "/none/"),
        Row(
            "simplejwt JWTStatelessUserAuthentication",
            "/simplejwt-stateless/",
            f"Bearer {simple_stateless.access_token}",
            logout=simple_stateless.blacklist,
        ),
        Row(
            "simplejwt JWTAuthentication",
            "/simplejwt/",
            f"Bearer {simple.access_token}",
            logout=simple.blacklist,
        ),
        Row(
            "knox TokenAuthentication",
            "/knox/",
            f"Token {knox_token}",
            logout=knox_instance.delete,
        ),
        # What no scheme that checks shared state on each request can go below,
        # however little it spends on the token: the request and one round trip
        # that does nothing.
        Row(FLOOR_QUERY, "/floor-query/"),
        Row(FLOOR_REDIS, "/floor-redis/"),
    ]
    for name, path, cache in (
        ("jwt-revoke JWTAuthentication, no cache", "/ours/", None),
        ("jwt-revoke JWTAuthentication, local cache", "/ours/", "local"),
        ("jwt-revoke JWTAuthentication, Redis", "/ours/", "redis"),
        ("jwt-revoke JWTTokenUserAuthentication, local cache", "/ours-token-user/", "local"),
        ("jwt-revoke JWTTokenUserAuthentication, Redis", "/ours-token-user/", "redis"),
    ):
        with our_cache(cache):
            pair = issue_token_pair(user)
        rows.append(
            Row(
                name,
                path,
                f"Bearer {pair.access}",
                cache=cache,
                logout=lambda sid=pair.sid: revocation.revoke_session(sid),
            )
        )
    return rows


@contextmanager
def row_settings(row: Row):
    if row.path.startswith("/ours"):
        with our_cache(row.cache):
            yield
    else:
        yield


def run_rounds(client: Client, rows: list[Row], rounds: int, requests: int) -> None:
    for _round in range(rounds):
        for row in rows:
            with row_settings(row):
                status = client.get(row.path, row.header)  # warm: settings just changed
                assert status == 200, (row.name, status)
                gc.collect()
                start = time.perf_counter()
                for _ in range(requests):
                    client.get(row.path, row.header)
                row.times.append((time.perf_counter() - start) / requests * 1e6)


def measure_costs(client: Client, rows: list[Row]) -> None:
    for row in rows:
        with row_settings(row):
            client.get(row.path, row.header)
            with counting() as counter:
                row.status = client.get(row.path, row.header)
            row.queries, row.redis = counter.queries, counter.redis
    for row in rows:
        if row.logout is None:
            continue
        with row_settings(row):
            row.logout()
            row.revoked_status = client.get(row.path, row.header)


# -- revoke-all, obtain, refresh ------------------------------------------------------


def revoke_all(user_model: Any, sizes: tuple[int, ...], repeat: int) -> list[tuple]:
    """(tokens, queries, median µs) of revoke_user_tokens for a user holding ``tokens``."""
    from datetime import timedelta

    from django.utils import timezone

    from django_jwt_revoke import revocation
    from django_jwt_revoke.models import OutstandingToken, TokenSession
    from django_jwt_revoke.tokens import expiry, new_id

    now = timezone.now()
    expires = expiry(now, timedelta(days=1))
    users = {}
    for size in sizes:
        user = user_model.objects.create_user(f"bench-revoke-{size}-{os.getpid()}")
        sessions = TokenSession.objects.bulk_create(
            TokenSession(sid=new_id(), user=user, created_at=now, expires_at=expires)
            for _ in range(size)
        )
        OutstandingToken.objects.bulk_create(
            OutstandingToken(jti=new_id(), user=user, session=s, created_at=now, expires_at=expires)
            for s in sessions
        )
        revocation.revoke_user_tokens(user)  # the first one creates the user's row
        users[size] = user
    times: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(repeat):  # interleaved, as the request rows are: drift hits each size alike
        for size, user in users.items():
            start = time.perf_counter()
            revocation.revoke_user_tokens(user)
            times[size].append((time.perf_counter() - start) * 1e6)
    result = []
    for size, user in users.items():
        with counting() as counter:
            revocation.revoke_user_tokens(user)
        result.append((size, counter.queries, statistics.median(times[size])))
    return result


def obtain_and_refresh(
    client: Client, username: str, password: str, rounds: int, calls: int
) -> list[tuple]:
    """(endpoint, ours: queries, simplejwt: queries, ours µs, simplejwt µs, floor µs) per call.

    Obtain and refresh (with rotation) of both packages in interleaved rounds
    of ``calls`` each; the figure is the median over rounds of the mean call.
    Each refresh presents the refresh token the previous one returned. The
    floor (obtain only): simplejwt's obtain with the two statements our
    guarantees add, as cheap as they get (``auth_urls.ObtainPlusTwoStatements``).
    """
    from django.db import connection

    from benchmarks.auth_urls import FLOOR_TABLE

    key = "bigserial" if connection.vendor == "postgresql" else "integer"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        cursor.execute(f"CREATE TABLE {FLOOR_TABLE} (id {key} PRIMARY KEY, note text)")
    credentials = {"username": username, "password": password}
    urls = {
        "ours": ("/auth/token/", "/auth/token/refresh/"),
        "simplejwt": ("/simplejwt/token/", "/simplejwt/token/refresh/"),
        "floor": ("/floor/token/", None),
    }
    queries: dict[tuple[str, str], int] = {}
    times: dict[tuple[str, str], list[float]] = {}
    refresh: dict[str, str] = {}

    def obtain(name: str) -> None:
        status, content = client.request(urls[name][0], method="POST", body=credentials)
        assert status == 200, (name, status, content)
        refresh[name] = json.loads(content)["refresh"]

    def rotate(name: str) -> None:
        body = {"refresh": refresh[name]}
        status, content = client.request(urls[name][1], method="POST", body=body)
        assert status == 200, (name, status, content)
        refresh[name] = json.loads(content)["refresh"]

    def steps(name: str) -> tuple:
        both = (("obtain", obtain), ("refresh", rotate))
        return both[:1] if urls[name][1] is None else both

    for name in urls:
        for endpoint, call in steps(name):
            call(name)  # warm up
            with counting() as counter:
                call(name)
            queries[endpoint, name] = counter.queries
    for _round in range(rounds):
        for name in urls:
            for endpoint, call in steps(name):
                start = time.perf_counter()
                for _ in range(calls):
                    call(name)
                elapsed = (time.perf_counter() - start) / calls * 1e6
                times.setdefault((endpoint, name), []).append(elapsed)
    return [
        (
            label,
            queries[endpoint, "ours"],
            queries[endpoint, "simplejwt"],
            statistics.median(times[endpoint, "ours"]),
            statistics.median(times[endpoint, "simplejwt"]),
            statistics.median(times[endpoint, "floor"]) if (endpoint, "floor") in times else None,
        )
        for endpoint, label in (("obtain", "obtain (login)"), ("refresh", "refresh (rotate)"))
    ]


def purge(db: str, rows: int) -> tuple[float, float, float] | None:
    """Run benchmarks/purge.py; (ours s, simplejwt s, our peak above idle MiB)."""
    env = dict(os.environ, BENCH_DB=db)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    output = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "benchmarks" / "purge.py"), "--rows", str(rows)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print(output)
    found = {}
    for line in output.splitlines():
        for key, prefix in (("ours", "purge_expired_tokens"), ("simplejwt", "simplejwt flush")):
            if line.startswith(prefix):
                fields = line[44:].split()
                found[key] = (float(fields[1]), float(fields[-2]))
    if len(found) != 2:
        return None
    return found["ours"][0], found["simplejwt"][0], found["ours"][1]


# -- report --------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=300, help="per row per round")
    parser.add_argument(
        "--purge-rows",
        type=int,
        default=0,
        help="also run benchmarks/purge.py with this many rows (0: skip)",
    )
    parser.add_argument(
        "--hit-rate",
        action="store_true",
        help="also the cache hit rate vs CACHE_MAX_STALENESS (benchmarks/hit_rate.py)",
    )
    from benchmarks import hit_rate

    hit_rate.add_arguments(parser, prefix="hit-rate-")
    args = parser.parse_args()
    if args.db == "sqlite":
        from benchmarks.auth_settings import DATABASES

        Path(DATABASES["default"]["NAME"]).unlink(missing_ok=True)  # a fresh file each run
    setup(args.db)

    import django
    import rest_framework
    from django.contrib.auth import get_user_model
    from django.core.cache import caches
    from django.core.management import call_command
    from django.db import connection

    if args.db == "postgres":
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from purge import create_database

        create_database()
    call_command("migrate", verbosity=0)
    caches["redis"].clear()  # our own KEY_PREFIX: nobody else's keys
    User = get_user_model()
    password = "bench-password"
    username = f"bench-{os.getpid()}"
    user = User.objects.create_user(username, password=password)
    client = Client()
    rows = prepare_rows(user)

    with connection.cursor() as cur:
        postgres = connection.vendor == "postgresql"
        cur.execute("SELECT version()" if postgres else "SELECT sqlite_version()")
        db_version = cur.fetchone()[0].split(" on ")[0]
    redis_version = caches["redis"]._cache.get_client().info()["redis_version"]
    import jwt as pyjwt
    import knox
    import rest_framework_simplejwt

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; "
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"DRF {rest_framework.VERSION}, PyJWT {pyjwt.__version__}, "
        f"simplejwt {getattr(rest_framework_simplejwt, '__version__', '?')}, "
        f"knox {getattr(knox, '__version__', '5.1.0')}"
    )
    print(f"database: {connection.vendor} {db_version}; Redis {redis_version}")
    print(f"{args.rounds} interleaved rounds x {args.requests} requests per row\n")

    started = time.perf_counter()
    run_rounds(client, rows, args.rounds, args.requests)
    elapsed = time.perf_counter() - started
    measure_costs(client, rows)

    by_name = {row.name: row for row in rows}
    simple = by_name["simplejwt JWTAuthentication"].median
    stateless = by_name["simplejwt JWTStatelessUserAuthentication"].median
    header = (
        f"{'authentication':<52}{'µs/req':>8}{'x simplejwt':>13}{'queries':>9}"
        f"{'Redis rt':>10}{'after logout':>14}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        after = "-" if row.revoked_status is None else str(row.revoked_status)
        print(
            f"{row.name:<52}{row.median:>8.0f}{row.median / simple:>12.2f}x"
            f"{row.queries:>9}{row.redis:>10}{after:>14}"
        )
    spread = max(statistics.stdev(r.times) / r.median for r in rows if len(r.times) > 1)
    print(
        f"(medians of {args.rounds} rounds in {elapsed:.0f} s; largest relative stdev over "
        f"rounds {spread:.1%}; load average after: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})\n"
    )

    sizes = (10, 1000, 10000)
    revoked = revoke_all(User, sizes, repeat=max(5, args.rounds))
    print(f"{'revoke_user_tokens, outstanding tokens':<40}{'queries':>9}{'µs':>10}")
    for size, queries, micros in revoked:
        print(f"{size:<40}{queries:>9}{micros:>10.0f}")
    print()

    calls = obtain_and_refresh(client, username, password, args.rounds, 20)
    print(
        f"{'endpoint (MD5 hasher)':<24}{'jwt-revoke':>12}{'simplejwt':>11}"
        f"{'jwt-revoke µs':>15}{'simplejwt µs':>14}{'ratio':>8}{'floor µs':>10}{'floor':>8}"
    )
    for name, ours, theirs, ours_us, theirs_us, floor_us in calls:
        floor = ("", "")
        if floor_us is not None:
            floor = (f"{floor_us:.0f}", f"{floor_us / theirs_us:.2f}x")
        print(
            f"{name:<24}{ours:>8} q. {theirs:>7} q.{ours_us:>15.0f}{theirs_us:>14.0f}"
            f"{ours_us / theirs_us:>7.2f}x{floor[0]:>10}{floor[1]:>8}"
        )
    print("(floor: simplejwt's obtain plus one SELECT 1 and one INSERT, the two statements")
    print(" a login needs for our guarantees; auth_urls.ObtainPlusTwoStatements)\n")

    cells = hit_rate.run_from(args, prefix="hit-rate-") if args.hit_rate else []

    purged = purge(args.db, args.purge_rows) if args.purge_rows else None

    floor_query = by_name[FLOOR_QUERY].median
    floor_redis = by_name[FLOOR_REDIS].median
    print("targets")
    for row in rows:
        if "jwt-revoke JWTAuthentication" in row.name:
            ok = row.queries <= 1 and row.redis == 0 and row.median <= USER_MODE_RATIO * simple
            print(
                f"  {verdict(ok)}  {row.name}: {row.queries} query, {row.redis} Redis round "
                f"trips, {row.median / simple:.3f}x simplejwt JWTAuthentication "
                f"(≤ 1 query, no cache round trip, ≤ {USER_MODE_RATIO}x; "
                f"the one-query floor: {floor_query / simple:.3f}x)"
            )
        elif "JWTTokenUserAuthentication" in row.name:
            limit = TOKEN_USER_LOCAL_RATIO if row.cache == "local" else TOKEN_USER_REDIS_RATIO
            ok = row.queries == 0 and row.median <= limit * stateless
            floor = ""
            if row.cache == "redis":
                floor = f"; the one-round-trip floor: {floor_redis / stateless:.3f}x"
            print(
                f"  {verdict(ok)}  {row.name}: {row.queries} queries, "
                f"{row.median / stateless:.3f}x simplejwt JWTStatelessUserAuthentication "
                f"(0 queries, ≤ {limit}x{floor})"
            )
        if row.path.startswith("/ours") and row.revoked_status is not None:
            if row.revoked_status != 401:
                print(f"  FAIL  {row.name}: a logged-out token answered {row.revoked_status}")
    queries = {q for _s, q, _t in revoked}
    micros = [t for _s, _q, t in revoked]
    ok = len(queries) == 1 and max(micros) <= REVOKE_ALL_FLAT * min(micros)
    print(
        f"  {verdict(ok)}  revoke-all at {', '.join(str(s) for s in sizes)} tokens: queries "
        f"{sorted(queries)}, slowest/fastest {max(micros) / min(micros):.2f} "
        f"(same queries, ≤ {REVOKE_ALL_FLAT})"
    )
    if purged is None:
        print("  ----  purge: not run here (--purge-rows N runs benchmarks/purge.py)")
    else:
        ours_s, theirs_s, memory = purged
        ok = ours_s <= PURGE_RATIO * theirs_s and memory < PURGE_MEMORY_MIB
        print(
            f"  {verdict(ok)}  purge of {args.purge_rows} rows: {ours_s / theirs_s:.2f}x "
            f"simplejwt flushexpiredtokens, {memory:.0f} MiB above idle (≤ {PURGE_RATIO}x, "
            f"< {PURGE_MEMORY_MIB} MiB)"
        )
    if cells:
        from django_jwt_revoke.conf import DEFAULTS

        default = DEFAULTS["CACHE_MAX_STALENESS"].total_seconds()
        found = [c for c in cells if c.bound == default and not c.early]
        print(
            f"  info  token-user cache hit rate at the default CACHE_MAX_STALENESS "
            f"({default:g} s): "
            + ", ".join(f"{c.hit_rate:.1%} at {c.rate:g} req/s" for c in found)
            + " per client"
        )
    _name, _ours, _theirs, ours_us, theirs_us, floor_us = calls[0]
    print(
        f"  {verdict(ours_us <= LOGIN_RATIO * theirs_us)}  obtain (login): "
        f"{ours_us / theirs_us:.3f}x simplejwt TokenObtainPairView (≤ {LOGIN_RATIO}x; "
        f"the two-statement floor: {floor_us / theirs_us:.3f}x)"
    )
    print(
        "  info  obtain / refresh queries: "
        + "; ".join(f"{n} {o} vs {t}" for n, o, t, _o, _t, _f in calls)
    )
    caches["redis"].clear()


if __name__ == "__main__":
    main()
