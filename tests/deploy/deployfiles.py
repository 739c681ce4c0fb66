"""Readers for the deployment files: deploy/docker/*.Dockerfile, the uv workspace and its lock.
Nothing here needs Docker; the files are checked as text."""

import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO_ROOT / "deploy" / "docker"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"


@dataclass(frozen=True)
class Dockerfile:
    path: Path
    instructions: tuple[tuple[str, str], ...]  # (INSTRUCTION, arguments), continuations joined
    final_stage: tuple[tuple[str, str], ...]

    def uv_sync_commands(self) -> list[list[str]]:
        return [
            shlex.split(args[args.index("uv sync") :])
            for instruction, args in self.instructions
            if instruction == "RUN" and "uv sync" in args
        ]

    def packages(self) -> set[str]:
        """Every `--package` named by a `uv sync`."""
        return {
            argv[i + 1]
            for argv in self.uv_sync_commands()
            for i, arg in enumerate(argv)
            if arg == "--package"
        }

    def copied_paths(self) -> set[str]:
        """Sources of COPY instructions taken from the build context (not from another stage)."""
        sources: set[str] = set()
        for instruction, args in self.instructions:
            if instruction == "COPY" and "--from=" not in args:
                sources.update(path.rstrip("/") for path in shlex.split(args)[:-1])
        return sources

    def cmd(self) -> list[str]:
        [args] = [args for instruction, args in self.final_stage if instruction == "CMD"]
        return json.loads(args)  # exec form only: a shell form would not parse

    def env(self) -> dict[str, str]:
        """ENV of the final stage, `KEY=value` pairs only."""
        env: dict[str, str] = {}
        for instruction, args in self.final_stage:
            if instruction == "ENV":
                for pair in shlex.split(args):
                    key, _, value = pair.partition("=")
                    env[key] = value
        return env

    def user(self) -> str | None:
        users = [args for instruction, args in self.final_stage if instruction == "USER"]
        return users[-1] if users else None


def parse_dockerfile(path: Path) -> Dockerfile:
    text = re.sub(r"\\\n", " ", path.read_text())
    instructions: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            instructions.append((instruction.upper(), " ".join(args.split())))
    last_from = max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM")
    return Dockerfile(path, tuple(instructions), tuple(instructions[last_from:]))


def _read_toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


@cache
def workspace_members() -> dict[str, Path]:
    """Package name -> directory, for every member of the root pyproject's uv workspace."""
    members = _read_toml(REPO_ROOT / "pyproject.toml")["tool"]["uv"]["workspace"]["members"]
    return {
        _read_toml(REPO_ROOT / member / "pyproject.toml")["project"]["name"]: REPO_ROOT / member
        for member in members
    }


def service_project(package: str) -> Path | None:
    """The directory of a package under services/, member or not; None if nobody wrote it yet."""
    for pyproject in REPO_ROOT.glob("services/*/pyproject.toml"):
        if _read_toml(pyproject)["project"]["name"] == package:
            return pyproject.parent
    return None


@cache
def _locked_packages() -> dict[str, dict[str, Any]]:
    lock = _read_toml(REPO_ROOT / "uv.lock")
    return {package["name"]: package for package in lock["package"]}


def locked_closure(package: str) -> set[str]:
    """Every package `uv sync --no-dev --package <package>` installs, by uv.lock (markers ignored,
    so the answer errs towards more)."""
    locked = _locked_packages()
    seen: set[tuple[str, str | None]] = set()
    # (package, one of its extras or None): an extra's own dependencies may name extras too,
    # as shared[backend] needs psycopg[binary].
    pending: list[tuple[str, str | None]] = [(package, None)]
    while pending:
        name, extra = pending.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        if extra is None:
            dependencies = locked[name].get("dependencies", [])
        else:
            dependencies = locked[name].get("optional-dependencies", {})[extra]
        for dependency in dependencies:
            pending.append((dependency["name"], None))
            pending.extend((dependency["name"], e) for e in dependency.get("extra", []))
    return {name for name, _ in seen}


def is_locked(package: str) -> bool:
    return package in _locked_packages()


_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::-(?P<default>[^}]*))?\}")


def interpolate(value: str, environ: dict[str, str] | None = None) -> str:
    """`${NAME:-default}` and `${NAME}` as compose substitutes them, from `environ` (default:
    an empty environment, i.e. what a fresh shell gets)."""
    environ = environ or {}
    return _VARIABLE.sub(
        lambda m: environ.get(m["name"]) or (m["default"] if m["default"] is not None else ""),
        value,
    )
