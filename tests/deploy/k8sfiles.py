"""Readers for deploy/k8s: each overlay rendered by `kubectl kustomize` (the machine's kubectl,
Kustomize built in) from a copy of the tree whose secrets.env files are their committed
examples, so a developer's real secrets.env is never read. Nothing here needs a cluster."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .deployfiles import REPO_ROOT

K8S_DIR = REPO_ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "local-1.20", "production")
SECRETS_FILE = "secrets.env"


def kubectl_problem() -> str | None:
    """Why `kubectl kustomize` cannot run here, or None when it can."""
    if shutil.which("kubectl") is None:
        return "no `kubectl` on PATH (Kustomize is built into it; CI has /usr/bin/kubectl)"
    return None


def copy_tree(destination: Path) -> Path:
    """deploy/k8s copied to `destination`, each secrets.env written from its .example."""
    target = destination / "k8s"
    shutil.copytree(K8S_DIR, target, ignore=shutil.ignore_patterns(SECRETS_FILE))
    for example in target.rglob(f"{SECRETS_FILE}.example"):
        shutil.copy(example, example.with_name(SECRETS_FILE))
    return target


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize directory` renders, in its order."""
    result = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(f"`kubectl kustomize {directory}` failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def resolved_env(container: dict[str, Any], objects: list[dict[str, Any]]) -> dict[str, str]:
    """A container's environment, name -> value: ConfigMap values looked up in the rendering,
    a Secret's as `secret:<key>` (the overlay's secrets.env says what it holds)."""
    config_maps = by_kind(objects, "ConfigMap")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]]["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "configMapKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["configMapKeyRef"]
            env[item["name"]] = config_maps[ref["name"]]["data"][ref["key"]]
        else:
            env[item["name"]] = f"secret:{item['valueFrom']['secretKeyRef']['key']}"
    return env


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines, as Kustomize's `envs:` reads them (comments and blank lines skipped)."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value
    return pairs
