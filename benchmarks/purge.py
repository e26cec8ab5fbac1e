"""Time ``purge_expired_tokens`` on a large table, next to simplejwt's
``flushexpiredtokens`` on an equal one, in the same run and database.

Not a test. Needs ``pip install -r benchmarks/requirements.txt`` (simplejwt,
only here). From the repository root::

    python benchmarks/purge.py --rows 1000000            # PostgreSQL (PG* variables)
    BENCH_DB=sqlite python benchmarks/purge.py --rows 200000

Each side gets ``--rows`` expired refresh-token rows (ours: in sessions of 10
rotations, so rows/10 sessions; simplejwt: the raw token text it stores),
rows/10 expired blacklisted tokens, and rows/100 live rows that must survive.
Each purge runs in its own child process: its wall time, rows/s and peak
resident memory (``ru_maxrss`` of that process, and above an idle child that
only set Django up) are printed.
"""

# ruff: noqa: S608, S603  (SQL built from model metadata and integers; our own script)
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def fill(rows: int) -> None:
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
    for prefix, count, expires in (("o", rows, gone), ("lo", live, future)):
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
        cur.execute(
            f"INSERT INTO {simplejwt.BlacklistedToken._meta.db_table} (token_id, blacklisted_at)"
            f" SELECT id, %s FROM {table}"
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


def phase(name: str, batch_size: int) -> None:
    """Runs in a child process; prints one JSON line."""
    setup()
    from io import StringIO

    from django.core.management import call_command
    from django.db import connection

    connection.ensure_connection()
    before = counts()
    out = StringIO()
    start = time.perf_counter()
    if name == "ours":
        call_command("purge_expired_tokens", batch_size=batch_size, stdout=out)
    elif name == "simplejwt":
        call_command("flushexpiredtokens", stdout=out)
    seconds = time.perf_counter() - start
    after = counts()
    deleted = {table: before[table] - after[table] for table in before}
    result = {"seconds": seconds, "deleted": deleted, "after": after, "output": out.getvalue()}
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
    parser.add_argument("--phase", choices=["idle", "ours", "simplejwt"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args.phase, args.batch_size)
        return
    setup()
    from django.db import connection

    create_database()
    start = time.perf_counter()
    fill(args.rows)
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
    for name, label in (
        ("ours", f"purge_expired_tokens (batch {args.batch_size})"),
        ("simplejwt", "simplejwt flushexpiredtokens"),
    ):
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


if __name__ == "__main__":
    main()
