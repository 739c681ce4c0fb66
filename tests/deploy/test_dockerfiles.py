"""The images: one per Python service, built from the repository root with
`uv sync --frozen --package <workspace member>`, running unprivileged from a copied venv."""

import subprocess
import sys
from pathlib import Path

import pytest

from .deployfiles import (
    DOCKER_DIR,
    REPO_ROOT,
    is_locked,
    locked_closure,
    parse_dockerfile,
    service_project,
    workspace_members,
)

PYTHON_SERVICES = {
    "api", "payment-worker", "refund-worker", "webhook-dispatcher", "checkout", "dashboard",
}  # fmt: skip
WORKERS = ("payment-worker", "refund-worker", "webhook-dispatcher")
WEB_STACK = {"fastapi", "starlette", "uvicorn", "jinja2"}
# shared[backend]: what the API and the workers need and the front ends never use.
DATABASE_AND_QUEUES = {"psycopg", "psycopg-binary", "psycopg-pool", "rq"}
# Front end -> what its image must not install: neither opens the database; the dashboard keeps
# its sessions in Redis, the checkout keeps nothing.
FRONT_ENDS = {
    "dashboard": DATABASE_AND_QUEUES,
    "checkout": DATABASE_AND_QUEUES | {"redis"},
}
# What each front end's processes import at start.
FRONT_END_MODULES = {
    "dashboard": ["dashboard.__main__", "dashboard.main"],
    "checkout": ["checkout.__main__", "checkout.app", "checkout.demo"],
}
DOCKERFILES = sorted(DOCKER_DIR.glob("*.Dockerfile"))


def _package_of(path: Path) -> str:
    [package] = parse_dockerfile(path).packages()
    return package


def test_there_is_one_dockerfile_per_python_service() -> None:
    assert {path.name.removesuffix(".Dockerfile") for path in DOCKERFILES} == PYTHON_SERVICES


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda path: path.name)
def test_uv_sync_is_frozen_and_installs_only_its_own_package(path: Path) -> None:
    commands = parse_dockerfile(path).uv_sync_commands()

    assert commands, f"{path.name} never runs `uv sync`"
    for argv in commands:
        assert "--frozen" in argv, f"{path.name}: `{' '.join(argv)}` may re-resolve the lock"
        assert "--no-dev" in argv, f"{path.name}: `{' '.join(argv)}` installs the dev group"
        assert argv.count("--package") == 1, f"{path.name}: `{' '.join(argv)}`"
    assert parse_dockerfile(path).packages() == {path.name.removesuffix(".Dockerfile")}


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda path: path.name)
def test_the_package_is_a_locked_workspace_member(path: Path) -> None:
    package = _package_of(path)

    assert service_project(package) is not None, f"services/ has no `{package}` package"
    assert package in workspace_members() and is_locked(package), (
        f"`{package}` is not a locked workspace member: add its directory to "
        "[tool.uv.workspace] members (and [tool.uv.sources]) in pyproject.toml, then `uv lock`"
    )


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda path: path.name)
def test_every_workspace_package_it_installs_is_copied_in(path: Path) -> None:
    package = _package_of(path)
    members = workspace_members()
    needed = {
        members[name].relative_to(REPO_ROOT).as_posix()
        for name in locked_closure(package)
        if name in members
    }

    copied = parse_dockerfile(path).copied_paths()

    assert {"pyproject.toml", "uv.lock"} <= copied
    assert needed <= copied, f"{path.name} does not COPY {sorted(needed - copied)}"


@pytest.mark.parametrize("worker", WORKERS)
def test_workers_do_not_install_the_web_stack(worker: str) -> None:
    assert is_locked(worker)
    assert not locked_closure(worker) & WEB_STACK


@pytest.mark.parametrize("package", FRONT_ENDS)
def test_front_ends_do_not_install_the_database_or_queue_stack(package: str) -> None:
    assert is_locked(package)
    assert not locked_closure(package) & FRONT_ENDS[package]


@pytest.mark.parametrize("package", FRONT_ENDS)
def test_front_ends_start_without_the_database_or_queue_stack(package: str) -> None:
    # The dev environment has every package: a child interpreter where the ones the image
    # lacks cannot be imported shows that no import of the front end (or of shared) needs them.
    absent = sorted(name.replace("-", "_") for name in FRONT_ENDS[package] | {"psycopg_binary"})
    script = "\n".join(
        [
            "import sys",
            *(f"sys.modules[{name!r}] = None" for name in absent),
            *(f"import {module}" for module in FRONT_END_MODULES[package]),
        ]
    )
    env = {"REDIS_URL": "redis://127.0.0.1:1/0", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda path: path.name)
def test_the_service_runs_unprivileged_unbuffered_from_the_built_venv(path: Path) -> None:
    dockerfile = parse_dockerfile(path)
    user = (dockerfile.user() or "root").partition(":")[0]

    assert user not in ("root", "0"), f"{path.name} runs as root"
    assert dockerfile.env().get("PYTHONUNBUFFERED") == "1"
    assert ("COPY", "--from=builder /app/.venv /app/.venv") in dockerfile.final_stage
    assert dockerfile.cmd()[0] == "python"


def test_every_image_uses_the_same_python_and_uv() -> None:
    def pins(path: Path) -> set[str]:
        return {
            args
            for instruction, args in parse_dockerfile(path).instructions
            if instruction == "ARG" and args.startswith(("PYTHON_IMAGE=", "UV_VERSION="))
        }

    assert len({frozenset(pins(path)) for path in DOCKERFILES}) == 1
    assert len(pins(DOCKERFILES[0])) == 2
