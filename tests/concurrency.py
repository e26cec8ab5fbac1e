"""Concurrent requests for race tests (PostgreSQL: SQLite serializes writers)."""

import threading

from django.db import connection
from django.test import Client


def refresh_race(url: str, refresh: str, n: int = 8) -> list:
    """POST ``refresh`` to ``url`` from ``n`` threads released together by a barrier.

    Returns each thread's ``(status, json body)``; every thread closes its own
    database connection.
    """
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def race(i: int) -> None:
        client = Client()
        try:
            barrier.wait(timeout=10)
            response = client.post(url, {"refresh": refresh}, content_type="application/json")
            results[i] = (response.status_code, response.json())
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results
