"""A free TCP port on 127.0.0.1 for a server a test starts (``runserver``, ``redis-server``).

The port is probed (bound to 0, closed) and the server binds it a moment
later. Under pytest-xdist two workers probing at once could be handed the
same port, and the second server would fail to start, or worse, the test
would talk to the other worker's server. So each worker only takes ports of
its own class, ``(port // 2) % workers == index`` (halved: Linux hands out
odd ports first to ``bind(0)``); without xdist any free port does.
"""

from __future__ import annotations

import os
import socket


def xdist_worker() -> tuple[int, int]:
    """``(index, count)`` of this xdist worker, ``(0, 1)`` outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or count < 2:
        return 0, 1
    return int(worker[2:]), count


def free_port() -> int:
    index, count = xdist_worker()
    for _ in range(1000):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if (port // 2) % count == index:
            return port
    raise RuntimeError(f"no free port of xdist worker {index} of {count} in 1000 tries")
