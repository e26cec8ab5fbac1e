"""Time ``purge_expired_tokens`` on a large table, next to simplejwt's
``flushexpiredtokens`` on an equal one, in the same run and database.

Not a test. Needs ``pip install -r benchmarks/requirements.txt`` (simplejwt,
only here). From the repository root::

    python benchmarks/purge.py --rows 1000000            # PostgreSQL (PG* variables)
    python benchmarks/purge.py --rows 10000000 --no-peer # ours alone, at 10^7
    BENCH_DB=sqlite python benchmarks/purge.py --rows 200000

Each side gets ``--rows`` expired refresh-token rows (ours: in sessions of 10
rotations, so rows/10 sessions; simplejwt: the raw token text it stores),
rows/10 expired blacklisted tokens, and rows/100 live rows that must survive.
Each purge runs in its own child process: its wall time, rows/s and peak
resident memory (``ru_maxrss`` of that process, and above an idle child that
only set Django up) are printed; for ours, each table's seconds per 100 000
rows over the whole table, its first tenth and its last tenth (timed from the
command's progress lines), so that a purge whose batches slow down as it goes
shows it. ``--no-peer`` leaves simplejwt out (fill and purge): at 10^7 rows
its purge alone would take the best part of an hour.
"""

# ruff: noqa: S608, S603  (SQL built from model metadata and integers; our own script)
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this directory comes first on the path, where
# benchmarks/resource.py would shadow the standard library's resource
# (which os.wait4 imports): the repository root instead.
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "benchmarks":
    sys.path.pop(0)
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.purge_settings")


def setup() -> None:
    import django

    django.setup()


def series(vendor: str, n: int) -> str:
    """A FROM clause yielding x = 1..n."""
    if vendor == "postgresql":
        return f"generate_series(1, {int(n)}) AS g(x)"
    return (
        f"(WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {int(n)})"
        " SELECT x FROM g) AS g"
    )


def create_database() -> None:
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        return
    import psycopg

    conninfo = dict(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres")
    if db["PASSWORD"]:
        conninfo["password"] = db["PASSWORD"]
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        exists = "SELECT 1 FROM pg_database WHERE datname = %s"
        if not conn.execute(exists, [db["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def insert_series(model, count: int, values: dict) -> None:
    """INSERT ``count`` rows of ``model`` in one statement, x = 1..count.

    ``values`` maps a field name to an SQL expression (a str, which may use
    ``x``) or a Python value; every other field takes its default, so the
    fill keeps working when a field is added.
    """
    from django.db import connection

    columns, exprs, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        value = values.get(field.name, values.get(field.attname, field.get_default()))
        if isinstance(value, SQL):
            exprs.append(value.sql)
        else:
            exprs.append("%s")
            params.append(field.get_db_prep_save(value, connection))
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)})"
        f" SELECT {', '.join(exprs)} FROM {series(connection.vendor, count)}"
    )
    with connection.cursor() as cur:
        cur.execute(sql, params)


class SQL:
    def __init__(self, sql: str) -> None:
        self.sql = sql


def fill(rows: int, peer: bool = True) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from rest_framework_simplejwt.token_blacklist import models as simplejwt

    from django_jwt_revoke import models as ours

    call_command("migrate", verbosity=0)
    for model in (
        ours.OutstandingToken,
        ours.TokenSession,
        ours.BlacklistedToken,
        simplejwt.BlacklistedToken,
        simplejwt.OutstandingToken,
    ):
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":  # no dead rows left from an earlier run
                cur.execute(f"TRUNCATE {model._meta.db_table} CASCADE")
            else:
                cur.execute(f"DELETE FROM {model._meta.db_table}")
    user, _ = get_user_model().objects.get_or_create(username="bench")
    now = timezone.now()
    old, gone = now - timedelta(days=3), now - timedelta(days=2)
    future = now + timedelta(days=1)
    raw_token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "x" * 200 + ".signature-signature"
    sessions, live = rows // 10, rows // 100
    concat = "||"

    def text(prefix: str) -> SQL:
        return SQL(f"'{prefix}' {concat} CAST(x AS varchar(20))")

    # ours: sessions, their refresh tokens (10 per session), blacklisted tokens
    for prefix, count, expires in (("s", sessions, gone), ("ls", live, future)):
        insert_series(
            ours.TokenSession,
            count,
            {"sid": text(prefix), "user": user.pk, "created_at": old, "expires_at": expires},
        )
    first = {}
    for prefix in ("s", "ls"):
        first[prefix] = (
            ours.TokenSession.objects.filter(sid__startswith=prefix)
            .order_by("pk")
            .values_list("pk", flat=True)[:1]
            .get()
        )
    for prefix, count, expires, session, per in (
        ("o", rows, gone, first["s"], 10),
        ("lo", live, future, first["ls"], 1),
    ):
        insert_series(
            ours.OutstandingToken,
            count,
            {
                "jti": text(prefix),
                "user": user.pk,
                "session": SQL(f"{int(session)} + (x - 1) / {per}"),
                "created_at": old,
                "expires_at": expires,
            },
        )
    for prefix, count, expires in (("b", rows // 10, gone), ("lb", live, future)):
        insert_series(
            ours.BlacklistedToken,
            count,
            {
                "jti": text(prefix),
                "token_type": "access",
                "user": user.pk,
                "sid": text("s"),
                "reason": "logout",
                "blacklisted_at": old,
                "expires_at": expires,
            },
        )
    # simplejwt: outstanding tokens (with the raw token it stores), blacklisted ones
    for prefix, count, expires in (("o", rows, gone), ("lo", live, future)) if peer else ():
        insert_series(
            simplejwt.OutstandingToken,
            count,
            {
                "user": user.pk,
                "jti": text(prefix),
                "token": raw_token,
                "created_at": old,
                "expires_at": expires,
            },
        )
    table = simplejwt.OutstandingToken._meta.db_table
    with connection.cursor() as cur:
        if peer:
            cur.execute(
                f"INSERT INTO {simplejwt.BlacklistedToken._meta.db_table}"
                f" (token_id, blacklisted_at) SELECT id, %s FROM {table}"
                " WHERE (jti LIKE 'o%%' AND id %% 10 = 0) OR jti LIKE 'lo%%'",
                [old],
            )
        cur.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def counts() -> dict[str, int]:
    from django.db import connection

    result = {}
    with connection.cursor() as cur:
        for table in (
            "django_jwt_revoke_outstandingtoken",
            "django_jwt_revoke_tokensession",
            "django_jwt_revoke_blacklistedtoken",
            "token_blacklist_outstandingtoken",
            "token_blacklist_blacklistedtoken",
        ):
            cur.execute(f"SELECT count(*) FROM {table}")
            result[table] = cur.fetchone()[0]
    return result


class Timeline:
    """A stdout for the command that notes when each line was written."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str) -> None:
        now = time.perf_counter()
        self.lines.extend((now, line) for line in text.splitlines() if line)

    def flush(self) -> None:
        pass


# "  ... 120000 token sessions deleted so far" / "Deleted 1000000 outstanding tokens."
PROGRESS = re.compile(r"^\s*\.\.\. (\d+) (.+) deleted so far$")
DONE = re.compile(r"^Deleted (\d+) (.+?)\.$")


def span(marks: list[tuple[float, int]], lo: int, hi: int) -> tuple[float, int]:
    """(seconds, rows) from the last mark at or below ``lo`` rows to the first at or past ``hi``."""
    first = max((m for m in marks if m[1] <= lo), key=lambda m: m[1])
    last = min((m for m in marks if m[1] >= hi), key=lambda m: m[1])
    return last[0] - first[0], last[1] - first[1]


def per_table(start: float, lines: list[tuple[float, str]]) -> list[dict]:
    """Each table's rows and seconds, whole and per 100 000 rows over its first and last tenth.

    From the progress lines (every ``progress_every`` rows) and the final
    "Deleted N ..." line of each table; a table starts when the previous ended.
    """
    tables, marks = [], [(start, 0)]
    for at, line in lines:
        if found := PROGRESS.match(line):
            marks.append((at, int(found[1])))
        elif found := DONE.match(line):
            rows = int(found[1])
            marks.append((at, rows))
            table = {"table": found[2], "rows": rows, "seconds": at - marks[0][0]}
            for key, lo, hi in (("first", 0, rows // 10), ("last", rows - rows // 10, rows)):
                seconds, count = span(marks, lo, hi)
                table[key] = seconds / count * 100_000 if count else None
            tables.append(table)
            marks = [(at, 0)]
    return tables


def phase(name: str, batch_size: int) -> None:
    """Runs in a child process; prints one JSON line."""
    setup()
    from django.core.management import call_command
    from django.db import connection

    from django_jwt_revoke.management.commands.purge_expired_tokens import Command

    connection.ensure_connection()
    before = counts()
    out = Timeline()
    Command.progress_every = 10_000  # a timed line every 10 000 rows of a table
    start = time.perf_counter()
    if name == "ours":
        call_command("purge_expired_tokens", batch_size=batch_size, stdout=out)
    elif name == "simplejwt":
        call_command("flushexpiredtokens", stdout=out)
    seconds = time.perf_counter() - start
    after = counts()
    deleted = {table: before[table] - after[table] for table in before}
    result = {
        "seconds": seconds,
        "deleted": deleted,
        "after": after,
        "tables": per_table(start, out.lines) if name == "ours" else [],
    }
    print(json.dumps(result))


def run_child(name: str, batch_size: int) -> tuple[dict, float]:
    """Run one phase in a fresh process; its result and its peak RSS in MiB."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--phase", name, "--batch-size", str(batch_size)],
        stdout=subprocess.PIPE,
    )
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"phase {name} failed with exit status {child.returncode}")
    return json.loads(output.splitlines()[-1]), usage.ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--no-peer", action="store_true", help="ours alone: no simplejwt fill or purge"
    )
    parser.add_argument("--phase", choices=["idle", "ours", "simplejwt"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args.phase, args.batch_size)
        return
    setup()
    from django.db import connection

    create_database()
    start = time.perf_counter()
    fill(args.rows, peer=not args.no_peer)
    print(f"database: {connection.vendor}; filled in {time.perf_counter() - start:.1f} s")
    for table, count in counts().items():
        print(f"  {table}: {count} rows")
    _idle, idle_rss = run_child("idle", args.batch_size)
    print(f"idle child (Django set up, one query): peak RSS {idle_rss:.1f} MiB\n")
    header = (
        f"{'purge':<44}{'rows':>10}{'seconds':>10}{'rows/s':>12}{'peak RSS':>12}{'above idle':>12}"
    )
    print(header)
    print("-" * len(header))
    purges = [
        ("ours", f"purge_expired_tokens (batch {args.batch_size})"),
        ("simplejwt", "simplejwt flushexpiredtokens"),
    ]
    for name, label in purges[:1] if args.no_peer else purges:
        result, rss = run_child(name, args.batch_size)
        own = "django_jwt" if name == "ours" else "token_"
        tables = [t for t in result["deleted"] if t.startswith(own)]
        rows = sum(result["deleted"][t] for t in tables)
        print(
            f"{label:<44}{rows:>10}{result['seconds']:>10.2f}{rows / result['seconds']:>12,.0f}"
            f"{rss:>9.1f} MiB{rss - idle_rss:>9.1f} MiB"
        )
        for table in tables:
            print(f"    {table}: {result['deleted'][table]} deleted, {result['after'][table]} left")
        if result["tables"]:
            print_tables(result["tables"])


def print_tables(tables: list[dict]) -> None:
    """Seconds per 100 000 rows of each table: flat from first tenth to last if linear."""

    def cell(value: float | None) -> str:
        return f"{value:>14.2f}" if value is not None else f"{'-':>14}"

    header = (
        f"    {'table (command order)':<26}{'rows':>10}{'seconds':>9}{'rows/s':>10}"
        f"{'s/100k':>8}{'first tenth':>14}{'last tenth':>14}"
    )
    print(header)
    for t in tables:
        rate = t["rows"] / t["seconds"] if t["seconds"] else 0
        per = t["seconds"] / t["rows"] * 100_000 if t["rows"] else None
        print(
            f"    {t['table']:<26}{t['rows']:>10}{t['seconds']:>9.2f}{rate:>10,.0f}"
            f"{per if per is not None else 0:>8.2f}{cell(t.get('first'))}{cell(t.get('last'))}"
        )
    print("    (first / last tenth: seconds per 100 000 rows over that part of the table)")


if __name__ == "__main__":
    main()
