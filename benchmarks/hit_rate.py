"""Measure the token-user cache hit rate against ``CACHE_MAX_STALENESS``.

Not a test. The numbers the default of ``CACHE_MAX_STALENESS`` is chosen
from: for each bound and request rate, the share of token-user checks the
cache answers and the database reads per second that 1 000 active clients
cost. From the repository root::

    python benchmarks/hit_rate.py                  # SQLite (a file)
    python benchmarks/hit_rate.py --db postgres    # PostgreSQL (PG* variables)
    python benchmarks/auth.py --hit-rate           # after the per-request rows

What runs is the real store: ``JWTTokenUserAuthentication.get_user`` on
``CacheStore`` over Django's local-memory cache (alias ``hitrate``, no
entry limit), every miss a real query, counted with
``connection.execute_wrapper``. The clock is simulated with ``time_machine``
(``LocMemCache`` expires entries by ``time.time()``, PyJWT and the store read
``datetime.now()``), so minutes of traffic run in seconds; a shared cache
(Redis) keeps the same entries under the same rules, and ``--redis-check``
runs a short cell on ``RedisStore`` in real time to compare.

The workload: ``--clients`` sessions, one per user, each sending requests as
a Poisson process of the cell's rate. Each holds an access token living
``ACCESS_TOKEN_LIFETIME``; the first request after it expires refreshes it
first (a new access token: new ``jti``, same session, user and
generations, as ``rotate_refresh_token`` mints). Tokens start at random ages,
the cache empty; nothing is counted during the warm-up (one token lifetime
plus the largest bound), then over ``--window`` seconds every request is
counted: a hit when it ran no query. High rates simulate fewer clients
(``--max-events``): clients share nothing but the global epoch key, so
reads per 1 000 clients are the per-client reads scaled, plus the epoch
key's own reads as counted.

"theory": one database read per token per bound, as if every key of a token
expired together: per token, one miss at its first request and then one at
the first request after each expiry, exactly (Poisson arrivals, intervals
of the bound plus an exponential wait), plus one read per bound for the
epoch key. "reads/token/bound": measured database reads per client per
bound (1.00 would be the design's "one read per bound").
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.auth_settings")

BOUNDS = (1, 5, 10, 30, 60)
RATES = (0.2, 1.0, 10.0)
LIFETIME = 300.0  # ACCESS_TOKEN_LIFETIME, seconds
PER = 1000  # figures per this many active clients


# -- theory ---------------------------------------------------------------------------


def _poisson_at_least(mean: float, k: int) -> float:
    """P(Poisson(mean) >= k)."""
    if k <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    log_mean = math.log(mean)
    below = sum(math.exp(i * log_mean - mean - math.lgamma(i + 1)) for i in range(k))
    return max(0.0, 1.0 - below)


def theory(rate: float, bound: float, lifetime: float) -> tuple[float, float]:
    """(hit rate, database reads per second per client) of one read per token per bound.

    A token's first request misses; each later miss is the first request
    after the entries expire, ``bound`` plus an exponential wait after the
    one before: the k-th later miss falls within the lifetime when
    ``k * bound + Gamma(k, rate) <= lifetime``. A token's cycle is its
    lifetime plus the wait for the request that refreshes it.
    """
    later = 0.0
    k = 1
    while k * bound < lifetime:
        later += _poisson_at_least(rate * (lifetime - k * bound), k)
        k += 1
    misses = 1 + later
    requests = 1 + rate * lifetime
    return 1 - misses / requests, misses / (lifetime + 1 / rate)


# -- clocks -------------------------------------------------------------------------------


class SimulatedClock:
    """``time.time()`` and ``datetime.now()`` moved by ``time_machine``, never ticking."""

    def __init__(self, start: float) -> None:
        import time_machine

        self.start = start
        self._travel = time_machine.travel(start, tick=False)
        self._traveller: Any = None

    def __enter__(self) -> SimulatedClock:
        self._traveller = self._travel.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._travel.__exit__(*exc)

    def at(self, t: float) -> None:
        """Make it ``start + t`` (t only grows)."""
        self._traveller.move_to(self.start + t)


class RealClock:
    """Real time: sleeps until each event is due (for Redis, which expires in real time)."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.late = 0.0  # the most an event ran behind its time

    def __enter__(self) -> RealClock:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def at(self, t: float) -> None:
        wait = self.start + t - time.time()
        if wait > 0:
            time.sleep(wait)
        else:
            self.late = max(self.late, -wait)


# -- the simulation -------------------------------------------------------------------


@dataclass
class Cell:
    rate: float  # requests per second per client
    bound: float  # CACHE_MAX_STALENESS, seconds
    clients: int
    warmup: float
    window: float
    lifetime: float = LIFETIME
    early: float = 0.0  # clients refresh this long before their token expires
    requests: int = 0
    misses: int = 0  # requests that read the database
    reads: int = 0  # queries those requests ran
    epoch_only: int = 0  # misses on the shared epoch key alone
    missing: Counter = field(default_factory=Counter)  # which keys each miss lacked
    seconds: float = 0.0  # wall clock
    late: float = 0.0

    @property
    def hit_rate(self) -> float:
        return 1 - self.misses / self.requests

    @property
    def reads_per_second(self) -> float:
        """Database reads per second per ``PER`` active clients."""
        own = (self.reads - self.epoch_only) / self.window * PER / self.clients
        return own + self.epoch_only / self.window

    @property
    def reads_per_token_bound(self) -> float:
        own = (self.reads - self.epoch_only) / self.window / self.clients
        return own * self.bound


def make_sessions(count: int) -> list[tuple[Any, Any]]:
    """``count`` users, one open session each, in a few bulk inserts."""
    from django.contrib.auth import get_user_model

    from django_jwt_revoke.models import TokenSession
    from django_jwt_revoke.tokens import new_id

    User = get_user_model()
    tag = f"hitrate-{os.getpid()}-{time.monotonic_ns()}"
    users = User.objects.bulk_create(User(username=f"{tag}-{i}") for i in range(count))
    if any(user.pk is None for user in users):  # a backend that returns no ids
        users = list(User.objects.filter(username__startswith=f"{tag}-").order_by("pk"))
    now = datetime.now(dt_timezone.utc)
    sessions = TokenSession.objects.bulk_create(
        TokenSession(sid=new_id(), user=user, created_at=now, expires_at=now + timedelta(days=7))
        for user in users
    )
    return list(zip(users, sessions, strict=True))


@contextmanager
def store_settings(alias: str, cell: Cell) -> Iterator[Any]:
    from django.conf import settings
    from django.test import override_settings

    from django_jwt_revoke.stores import get_store

    ours = {
        **settings.JWT_REVOKE,
        "CACHE_ALIAS": alias,
        "CACHE_MAX_STALENESS": timedelta(seconds=cell.bound),
        "ACCESS_TOKEN_LIFETIME": timedelta(seconds=cell.lifetime),
    }
    with override_settings(JWT_REVOKE=ours):
        yield get_store()


def _letters(keys: tuple[str, ...]) -> str:
    from django_jwt_revoke.stores.cache import KEY_PREFIX

    return "".join(sorted(key[len(KEY_PREFIX)] for key in keys))


def simulate(cell: Cell, sessions: list[tuple[Any, Any]], alias: str, seed: int) -> Cell:
    """Run ``cell``'s workload on the store of cache ``alias``; fills in the counts."""
    from django.db import connection

    from django_jwt_revoke.authentication import JWTTokenUserAuthentication
    from django_jwt_revoke.stores.cache import CacheStore
    from django_jwt_revoke.stores.redis import RedisStore
    from django_jwt_revoke.tokens import ACCESS, decode_token, mint_access

    rng = random.Random(seed)  # noqa: S311 (a workload, not a secret)
    redis = alias == "redis"
    with store_settings(alias, cell) as store:
        assert type(store) is (RedisStore if redis else CacheStore), store
        store.clear()
        # Observe which keys each check found missing (the real ``_get`` answers).
        missing: list[tuple[str, ...]] = [()]
        real_get = store._get

        def observed_get(keys: tuple[str, ...]) -> dict[str, int]:
            found = real_get(keys)
            missing[0] = tuple(key for key in keys if key not in found)
            return found

        store._get = observed_get
        queries = [0]

        def count(execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
            queries[0] += 1
            return execute(sql, params, many, context)

        start = time.time()
        clock = RealClock(start) if redis else SimulatedClock(start)
        wall = time.perf_counter()
        with clock, connection.execute_wrapper(count):
            from django.utils import timezone

            def new_token(user: Any, session: Any, issued: float) -> list[Any]:
                now = datetime.fromtimestamp(issued, dt_timezone.utc)
                token = decode_token(mint_access(user, session, now=now), token_type=ACCESS)
                return [token, token.expires_at.timestamp(), user, session]

            # Tokens of random ages (so refreshes are spread out), issued before the
            # start; each valid a second after it ("exp" is in whole seconds, and
            # real time passes while they are made).
            clients = [
                new_token(user, session, start - rng.uniform(0, cell.lifetime - 2))
                for user, session in sessions[: cell.clients]
            ]
            get_user = JWTTokenUserAuthentication().get_user
            expovariate, randrange, at = rng.expovariate, rng.randrange, clock.at
            total_rate = cell.rate * cell.clients
            warmup, end = cell.warmup, cell.warmup + cell.window
            requests = misses = reads = epoch_only = 0
            kinds: Counter = Counter()
            t = 0.0
            while True:
                t += expovariate(total_rate)
                if t >= end:
                    break
                client = clients[randrange(cell.clients)]
                at(t)
                if start + t >= client[1] - cell.early:  # expired (or about to): refresh
                    client[:] = new_token(client[2], client[3], timezone.now().timestamp())
                before = queries[0]
                get_user(client[0])
                if t < warmup:
                    continue
                requests += 1
                ran = queries[0] - before
                if ran:
                    misses += 1
                    reads += ran
                    letters = _letters(missing[0])
                    kinds[letters] += 1
                    if letters == "e":
                        epoch_only += ran
        store.clear()
    cell.requests, cell.misses, cell.reads, cell.epoch_only = requests, misses, reads, epoch_only
    cell.missing = kinds
    cell.seconds = time.perf_counter() - wall
    cell.late = getattr(clock, "late", 0.0)
    return cell


# -- report -------------------------------------------------------------------------------

KINDS = {  # the keys a miss found missing (s session, j jti, g user, e epoch)
    "egjs": "all four",
    "gjs": "session+jti+user",
    "j": "jti only",
    "gs": "session+user only",
    "e": "epoch only",
}


def describe(missing: Counter) -> str:
    total = sum(missing.values())
    parts = [
        f"{KINDS.get(kind, kind)} {count / total:.0%}"
        for kind, count in missing.most_common()
        if count / total >= 0.005
    ]
    return ", ".join(parts)


def print_table(cells: list[Cell], title: str) -> None:
    print(title)
    header = (
        f"{'req/s/client':>12}{'bound s':>8}{'clients':>8}{'requests':>10}{'hit rate':>10}"
        f"{'theory':>8}{'DB reads/s':>11}{'theory':>8}{'x':>6}{'reads/token/bound':>19}"
        f"  misses lacked"
    )
    print(header)
    print("-" * (len(header) + 40))
    for cell in cells:
        hit, per_client = theory(cell.rate, cell.bound, cell.lifetime - cell.early)
        expected = per_client * PER + 1 / cell.bound
        print(
            f"{cell.rate:>12g}{cell.bound:>8g}{cell.clients:>8}{cell.requests:>10}"
            f"{cell.hit_rate:>10.2%}{hit:>8.1%}{cell.reads_per_second:>11.1f}{expected:>8.1f}"
            f"{cell.reads_per_second / expected:>6.2f}{cell.reads_per_token_bound:>19.2f}"
            f"  {describe(cell.missing)}"
        )


def run(
    *,
    clients: int = 1000,
    rates: tuple[float, ...] = RATES,
    bounds: tuple[float, ...] = BOUNDS,
    window: float = LIFETIME,
    max_events: int = 500_000,
    seed: int = 1,
    early: float = 0.0,
    early_rate: float = 1.0,
    redis_check: float = 0.0,
) -> list[Cell]:
    """Simulate every (rate, bound) cell and print the table; the cells.

    ``early``: also a table at ``early_rate`` for clients that refresh that
    long before expiry. ``redis_check``: also compare with Redis for that long.
    """
    warmup = LIFETIME + max(bounds)
    sessions = make_sessions(clients)

    def table(rates: tuple[float, ...], early: float) -> list[Cell]:
        cells = []
        wall = time.perf_counter()
        for rate in rates:
            n = max(1, min(clients, int(max_events / (rate * (warmup + window)))))
            for bound in bounds:
                cell = Cell(rate, bound, n, warmup, window, early=early)
                cells.append(simulate(cell, sessions, "hitrate", seed))
        refresh = f"refreshed {early:g} s before expiry" if early else "refreshed on expiry"
        print_table(
            cells,
            f"token-user cache hit rate vs CACHE_MAX_STALENESS (LocMemCache, simulated clock; "
            f"access tokens live {LIFETIME:g} s, {refresh}; {warmup:g} s warm-up, then "
            f"{window:g} s counted; DB reads/s per {PER} active clients)",
        )
        print(f"({time.perf_counter() - wall:.0f} s; seed {seed})\n")
        return cells

    cells = table(rates, 0.0)
    if early:
        cells += table((early_rate,), early)
    if redis_check:
        check(sessions, clients, redis_check, seed)
    return cells


def check(sessions: list[tuple[Any, Any]], clients: int, seconds: float, seed: int) -> None:
    """The same cells on ``RedisStore`` in real time and on the simulation, side by side.

    Short tokens (a quarter of the run) so that refreshes happen within it.
    """
    lifetime = max(4.0, seconds / 4)
    cells = []
    for bound in (1, 5):
        for alias in ("redis", "hitrate"):
            cell = Cell(1.0, bound, clients, lifetime + bound, seconds, lifetime=lifetime)
            cells.append(simulate(cell, sessions, alias, seed))
    print_table(
        cells,
        f"check: RedisStore in real time (first of each pair) vs the simulation (second); "
        f"access tokens live {lifetime:g} s, {lifetime + 5:g} s warm-up, {seconds:g} s counted",
    )
    late = max(cell.late for cell in cells)
    print(f"(the real-time runs were at most {late * 1000:.0f} ms behind their schedule)\n")


def add_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The options of the simulation (``prefix``: for auth.py's ``--hit-rate-...``)."""
    parser.add_argument(f"--{prefix}clients", type=int, default=1000)
    parser.add_argument(
        f"--{prefix}window", type=float, default=LIFETIME, help="simulated seconds counted"
    )
    parser.add_argument(
        f"--{prefix}max-events",
        type=int,
        default=500_000,
        help="requests per cell at most (high rates simulate fewer clients)",
    )
    parser.add_argument(f"--{prefix}seed", type=int, default=1)
    parser.add_argument(
        f"--{prefix}early",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also a table at 1 request/s for clients refreshing this long before expiry",
    )
    parser.add_argument(
        f"--{prefix}redis-check",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also run bounds 1 s and 5 s on Redis in real time, counting this long (0: skip)",
    )


def run_from(args: argparse.Namespace, prefix: str = "") -> list[Cell]:
    prefix = prefix.replace("-", "_")
    value = vars(args)
    return run(
        clients=value[f"{prefix}clients"],
        window=value[f"{prefix}window"],
        max_events=value[f"{prefix}max_events"],
        seed=value[f"{prefix}seed"],
        early=value[f"{prefix}early"],
        redis_check=value[f"{prefix}redis_check"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    add_arguments(parser)
    args = parser.parse_args()
    os.environ["BENCH_DB"] = args.db
    if args.db == "sqlite":
        from benchmarks.auth_settings import DATABASES

        Path(DATABASES["default"]["NAME"]).unlink(missing_ok=True)
    import django

    django.setup()
    from django.core.management import call_command

    if args.db == "postgres":
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from purge import create_database

        create_database()
    call_command("migrate", verbosity=0)
    run_from(args)


if __name__ == "__main__":
    main()
