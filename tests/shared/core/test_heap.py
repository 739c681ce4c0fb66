"""shared.core.heap: a served process's start-up heap stays out of every later collection."""

import json
import os
import subprocess
import sys

import pytest

# Builds the app a process serves, as its entry point does, and reports what the collector
# sees: objects frozen, and objects a full collection would still walk.
PROBE = """
import gc, json
from {module} import served_app
served_app()
print(json.dumps({{"frozen": gc.get_freeze_count(), "walked": len(gc.get_objects())}}))
"""


@pytest.mark.parametrize("module", ["api.__main__", "dashboard.__main__"])
def test_a_full_collection_walks_a_small_part_of_a_served_apps_heap(module):
    env = {
        **os.environ,
        # Read, never connected to: building the app connects to nothing.
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/unused",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "API_URL": "http://127.0.0.1:1",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])

    assert seen["frozen"] > 20_000  # modules, the app, its routes and schemas
    assert seen["walked"] < seen["frozen"] / 20
