"""A second checkout to measure against: `make bench BASELINE=<commit>`.

The commit is checked out in a temporary git worktree with its own virtualenv (`uv sync`, as
`make install` does), and its services are started with its own `devstack.services` commands,
so a baseline that starts its processes differently is measured as it would run.
"""

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bench.system import ServiceList
from devstack.services import Service

# Run by the baseline's own interpreter: its service list, as JSON.
LIST_SERVICES = """
import json, os, sys
from devstack.services import local_services
json.dump([{"name": s.name, "argv": list(s.argv), "port": s.port, "env": s.env,
            "nice": getattr(s, "nice", 0)} for s in local_services(os.environ)], sys.stdout)
"""


def find_uv() -> str:
    """The uv that `make` uses (passed as $UV), else the one on PATH."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if not uv:
        raise SystemExit("bench: uv not found; run it through `make bench`")
    return str(Path(uv).resolve()) if os.sep in uv else uv


def resolve(commit: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--verify", f"{commit}^{{commit}}"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


@contextmanager
def checkout(commit: str) -> Iterator[tuple[str, ServiceList]]:
    """Yield (full commit id, its service list); the worktree is removed afterwards."""
    sha = resolve(commit)
    folder = Path(tempfile.mkdtemp(prefix=f"bench-baseline-{sha[:7]}-"))
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--force", str(folder), sha],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        print(f"baseline {sha[:7]}: installing in {folder} ...", flush=True)
        environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        subprocess.run(
            [find_uv(), "sync", "--all-packages", "--locked", "--quiet"],
            cwd=folder, env=environment, check=True,
        )  # fmt: skip
        python = folder / ".venv" / "bin" / "python"
        listings: dict[tuple[tuple[str, str], ...], str] = {}

        def services(environ: Mapping[str, str]) -> list[Service]:
            key = tuple(sorted(environ.items()))
            if key not in listings:
                listings[key] = subprocess.run(
                    [str(python), "-c", LIST_SERVICES],
                    env=dict(environ), cwd=folder, check=True, capture_output=True, text=True,
                ).stdout  # fmt: skip
            return [
                Service(s["name"], tuple(s["argv"]), s["port"], s["env"], nice=s["nice"])
                for s in json.loads(listings[key])
            ]

        yield sha, services
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(folder)], check=False, capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)
