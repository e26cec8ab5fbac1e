"""The example project's resource role, with ``LONG_POLL`` from ``BENCH_LONG_POLL`` (1 or 0).

For benchmarks/propagation.py: the example project does not expose the setting.
"""

import os

from example_project.settings import *  # noqa: F403
from example_project.settings import JWT_REVOKE_RESOURCE

JWT_REVOKE_RESOURCE = {
    **JWT_REVOKE_RESOURCE,
    "LONG_POLL": os.environ.get("BENCH_LONG_POLL", "0") == "1",
}
