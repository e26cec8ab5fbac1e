"""Whether the per-request cost stays level with simplejwt's as the tables grow.

Not a test. PostgreSQL only (libpq ``PG*`` variables; the database is
created if missing, and the tables below are emptied first: give it one of
its own), Redis for the token-user row (``BENCH_REDIS_URL``, default
redis://127.0.0.1:6379/14, flushed at the end). Needs
``pip install -r benchmarks/requirements.txt``. From the repository root::

    python benchmarks/scale.py                                  # 10^6 rows, 10^5 sessions
    python benchmarks/scale.py --rows 20000 --user-sessions 2000 --rounds 5   # a quick look

Four rows, timed as benchmarks/auth.py times them (its client, rows and
interleaved rounds, through Django's full request handler): our
``JWTAuthentication`` (user mode, no cache) beside simplejwt's
``JWTAuthentication``, and our ``JWTTokenUserAuthentication`` (Redis) beside
simplejwt's ``JWTStatelessUserAuthentication``. In three phases, each with
fresh tokens and statistics taken (``ANALYZE``) after its fill:

(a) every table of ours (outstanding tokens, sessions, blacklisted tokens,
    user revocations) and ``auth_user`` at ``--small`` rows (10^3);
(b) the same tables at ``--rows`` rows each (10^6), filled with
    ``generate_series`` (benchmarks/purge.py's ``insert_series``);
(c) the benchmark user given ``--user-sessions`` sessions (10^5), each with
    its refresh token.

For each phase: microseconds per request and our ratio to the peer, and for
(b) and (c) PASS when that ratio is within 10 % of phase (a)'s. Then the
``EXPLAIN (ANALYZE, BUFFERS)`` of the queries our rows run in phase (c),
with planning and execution time, so that a plan that reads more rows as
the tables grow (a "Rows Removed by Filter" in the thousands) shows.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this directory comes first on the path, where
# benchmarks/resource.py would shadow the standard library's resource.
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "benchmarks":
    sys.path.pop(0)
sys.path.insert(0, str(ROOT))
os.environ["BENCH_DB"] = "postgres"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.auth_settings")

from benchmarks import auth  # noqa: E402  (after the path and settings above)

TOLERANCE = 0.10  # of phase (a)'s ratio
MODES = (
    # (label, our row, the peer's row)
    ("user mode, no cache", "ours", "simplejwt"),
    ("token-user mode, Redis", "ours-token-user", "simplejwt-stateless"),
)
OUR_TABLES = ("outstanding tokens", "sessions", "blacklisted tokens", "user revocations")


def rows_for(user: Any) -> dict[str, auth.Row]:
    """The four rows, with tokens issued now (a phase can outlast an access token)."""
    from rest_framework_simplejwt.tokens import RefreshToken

    from django_jwt_revoke.tokens import issue_token_pair

    with auth.our_cache(None):
        ours = issue_token_pair(user)
    with auth.our_cache("redis"):
        ours_redis = issue_token_pair(user)
    return {
        "simplejwt": auth.Row(
            "simplejwt JWTAuthentication",
            "/simplejwt/",
            f"Bearer {RefreshToken.for_user(user).access_token}",
        ),
        "ours": auth.Row(
            "jwt-revoke JWTAuthentication, no cache", "/ours/", f"Bearer {ours.access}"
        ),
        "simplejwt-stateless": auth.Row(
            "simplejwt JWTStatelessUserAuthentication",
            "/simplejwt-stateless/",
            f"Bearer {RefreshToken.for_user(user).access_token}",
        ),
        "ours-token-user": auth.Row(
            "jwt-revoke JWTTokenUserAuthentication, Redis",
            "/ours-token-user/",
            f"Bearer {ours_redis.access}",
            cache="redis",
        ),
    }


# -- filling the tables ---------------------------------------------------------------


def empty_tables() -> None:
    """Start from empty tables (``auth_user`` and everything that points at it)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from django_jwt_revoke import models as ours

    tables = [
        get_user_model()._meta.db_table,
        ours.OutstandingToken._meta.db_table,
        ours.TokenSession._meta.db_table,
        ours.BlacklistedToken._meta.db_table,
        ours.UserRevocation._meta.db_table,
    ]
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def first_pk(model: Any, **lookup: Any) -> int:
    return model._base_manager.filter(**lookup).order_by("pk").values_list("pk", flat=True)[0]


def fill(count: int, tag: str) -> None:
    """``count`` more rows in each table: users, and for each user a live session
    with its refresh token, a blacklisted token and a user revocation row."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from benchmarks.purge import SQL, insert_series
    from django_jwt_revoke import models as ours

    User = get_user_model()
    now = timezone.now()
    future = now + timedelta(days=1)

    def text(prefix: str) -> SQL:
        return SQL(f"'{prefix}{tag}-' || CAST(x AS varchar(20))")

    insert_series(
        User, count, {"username": text("u"), "password": "!", "is_active": True, "date_joined": now}
    )
    users = first_pk(User, username=f"u{tag}-1")
    user = SQL(f"{users} + x - 1")
    insert_series(
        ours.TokenSession,
        count,
        {"sid": text("s"), "user": user, "created_at": now, "expires_at": future},
    )
    sessions = first_pk(ours.TokenSession, sid=f"s{tag}-1")
    insert_series(
        ours.OutstandingToken,
        count,
        {
            "jti": text("o"),
            "user": user,
            "session": SQL(f"{sessions} + x - 1"),
            "created_at": now,
            "expires_at": future,
        },
    )
    insert_series(
        ours.BlacklistedToken,
        count,
        {
            "jti": text("b"),
            "token_type": "access",
            "user": user,
            "sid": text("s"),
            "reason": "logout",
            "blacklisted_at": now,
            "expires_at": future,
        },
    )
    insert_series(
        ours.UserRevocation,
        count,
        {
            "user_key": SQL(f"CAST({users} + x - 1 AS varchar(20))"),
            "generation": 1,
            "revoked_at": now,
            "reason": "logout_all",
        },
    )


def give_sessions(user: Any, count: int) -> None:
    """``count`` live sessions of ``user``, each with its refresh token."""
    from django.utils import timezone

    from benchmarks.purge import SQL, insert_series
    from django_jwt_revoke import models as ours

    now = timezone.now()
    future = now + timedelta(days=1)
    insert_series(
        ours.TokenSession,
        count,
        {
            "sid": SQL("'mine-' || CAST(x AS varchar(20))"),
            "user": user.pk,
            "created_at": now,
            "expires_at": future,
        },
    )
    sessions = first_pk(ours.TokenSession, sid="mine-1")
    insert_series(
        ours.OutstandingToken,
        count,
        {
            "jti": SQL("'mine-' || CAST(x AS varchar(20))"),
            "user": user.pk,
            "session": SQL(f"{sessions} + x - 1"),
            "created_at": now,
            "expires_at": future,
        },
    )


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def table_sizes(user: Any) -> str:
    from django.contrib.auth import get_user_model

    from django_jwt_revoke import models as ours

    counts = [
        ("auth_user", get_user_model().objects.count()),
        ("outstanding", ours.OutstandingToken.objects.count()),
        ("sessions", ours.TokenSession.objects.count()),
        ("blacklisted", ours.BlacklistedToken.objects.count()),
        ("user revocations", ours.UserRevocation.objects.count()),
        ("the user's sessions", ours.TokenSession.objects.filter(user=user).count()),
    ]
    return ", ".join(f"{name} {count:,}" for name, count in counts)


# -- measuring ----------------------------------------------------------------------------


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(client: auth.Client, user: Any, rounds: int, requests: int) -> dict[str, auth.Row]:
    """The rows timed in interleaved rounds (``Row.median``: µs per request)."""
    rows = rows_for(user)
    auth.run_rounds(client, list(rows.values()), rounds, requests)
    spread = max(statistics.stdev(r.times) / r.median for r in rows.values() if len(r.times) > 1)
    print(f"  (largest relative stdev over rounds {spread:.1%}; load average {load()})")
    return rows


def ratio(rows: dict[str, auth.Row], ours: str, peer: str) -> float:
    return rows[ours].median / rows[peer].median


def print_phase(rows: dict[str, auth.Row]) -> None:
    print(f"  {'authentication':<48}{'µs/req':>8}{'ratio':>9}")
    for _label, ours, peer in MODES:
        print(f"  {rows[peer].name:<48}{rows[peer].median:>8.0f}")
        print(f"  {rows[ours].name:<48}{rows[ours].median:>8.0f}{ratio(rows, ours, peer):>8.3f}x")


def explain(user: Any) -> list[str]:
    """Our two per-request queries for a fresh token of ``user``, run under EXPLAIN ANALYZE.

    "user": what ``JWTAuthentication`` runs on every request; "state": what
    ``JWTTokenUserAuthentication`` runs on a cache miss. Both with the
    parameters the store would pass, as tests/test_query_plans.py reads them.
    """
    from django.db import connection

    from django_jwt_revoke.stores.database import DatabaseStore
    from django_jwt_revoke.tokens import decode_token, issue_token_pair

    token = decode_token(issue_token_pair(user).access)
    store = DatabaseStore()
    lines = []
    store.user_and_state(token)  # compiles the query, as the first request does
    store.token_state(token)
    for which in ("user", "state"):
        prepared = store._prepared(which)
        assert prepared is not None, "the query is compiled on PostgreSQL"
        params = prepared.params_for(**store._slot_values(token))
        with connection.cursor() as cursor:
            cursor.execute(prepared.sql, params)  # warm, as a request after the first
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + prepared.sql, params)
            plan = [row[0] for row in cursor.fetchall()]
        lines.append(f"-- {which!r} query ({len(prepared.sql)} characters of SQL):")
        lines.extend(plan)
        removed = [int(line.split(":")[1]) for line in plan if "Rows Removed by Filter" in line]
        worst = max(removed, default=0)
        lines.append(
            f"-- most rows removed by a filter: {worst} "
            f"({'a scan, not a lookup' if worst > 1 else 'index lookups only'})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000, help="rows per table, phase (a)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per table, phase (b)")
    parser.add_argument(
        "--user-sessions", type=int, default=100_000, help="the user's sessions, phase (c)"
    )
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=300, help="per row per round")
    args = parser.parse_args()
    if args.rows < args.small:
        parser.error("--rows must be at least --small")
    auth.setup("postgres")

    import django
    from django.contrib.auth import get_user_model
    from django.core.cache import caches
    from django.core.management import call_command
    from django.db import connection

    from benchmarks.purge import create_database

    create_database()
    call_command("migrate", verbosity=0)
    empty_tables()
    caches["redis"].clear()
    user = get_user_model().objects.create_user(f"bench-{os.getpid()}", password="unused")
    client = auth.Client()
    with connection.cursor() as cur:
        cur.execute("SELECT version()")
        db_version = cur.fetchone()[0].split(" on ")[0]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs; Python "
        f"{platform.python_version()}, Django {django.get_version()}; {db_version}"
    )
    print(f"{args.rounds} interleaved rounds x {args.requests} requests per row and phase\n")

    phases: list[tuple[str, dict[str, auth.Row]]] = []
    steps = (
        (f"(a) {args.small:,} rows per table", lambda: fill(args.small - 1, "a")),
        (f"(b) {args.rows:,} rows per table", lambda: fill(args.rows - args.small, "b")),
        (
            f"(c) and {args.user_sessions:,} sessions of the benchmark user",
            lambda: give_sessions(user, args.user_sessions),
        ),
    )
    for name, step in steps:
        start = time.perf_counter()
        step()
        analyze()
        print(f"phase {name}: filled and analyzed in {time.perf_counter() - start:.1f} s")
        print(f"  {table_sizes(user)}")
        rows = measure(client, user, args.rounds, args.requests)
        print_phase(rows)
        phases.append((name, rows))
        print()

    print("EXPLAIN (ANALYZE, BUFFERS) in phase (c), a fresh token of the benchmark user:")
    for line in explain(user):
        print(f"  {line}")
    print()

    print("targets: our ratio to the peer within 10 % of phase (a)'s")
    for label, ours, peer in MODES:
        reference = ratio(phases[0][1], ours, peer)
        for name, rows in phases[1:]:
            now = ratio(rows, ours, peer)
            change = now / reference - 1
            print(
                f"  {auth.verdict(abs(change) <= TOLERANCE)}  {label}, phase {name[:3]}: "
                f"{now:.3f}x the peer against {reference:.3f}x in (a) ({change:+.1%})"
            )
    print(f"load average at the end: {load()}")
    caches["redis"].clear()


if __name__ == "__main__":
    main()
