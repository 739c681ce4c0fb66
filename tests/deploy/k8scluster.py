"""deploy/k8s applied to a live cluster (whatever KUBECONFIG points at) in a namespace of its
own, with the test knobs of the compose tests, the webhook receiver running in the cluster,
and, where ../shared/tools/k8s-cluster exists, the images built here and loaded onto its nodes
and its nodes killed and started again."""

import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .deployfiles import COMPOSE_FILE, REPO_ROOT
from .dockerstack import BUILT_SERVICES, engine_problem, free_port
from .k8sfiles import copy_tree, read_env_file

RECEIVER_SOURCE = REPO_ROOT / "deploy" / "devstack" / "src" / "devstack" / "receiver.py"
DELIVERIES = "/tmp/deliveries.jsonl"  # inside the receiver's container
DATASTORE_IMAGES = ("postgres:16-alpine", "redis:7-alpine")
GATEWAY_DEPLOYMENTS = ("api", "payment-worker", "refund-worker", "webhook-dispatcher")
WORKERS = GATEWAY_DEPLOYMENTS[1:]
# The knobs the compose tests set: payments finalised 0.3 s after they are made, webhook
# retries after seconds rather than minutes.
TEST_KNOBS = ("TEST_MODE=true", "TEST_PROCESSING_DELAY=300", "WEBHOOK_RETRY_INTERVALS_TEST=true")


def cluster_tool() -> Path | None:
    """The k8s-cluster tool: $K8S_CLUSTER_TOOL, else ../shared/tools/k8s-cluster beside the
    repository, if it is there; None on any other cluster (kind, k3d, a cloud's)."""
    given = os.environ.get("K8S_CLUSTER_TOOL")
    candidate = Path(given) if given else REPO_ROOT.parent / "shared" / "tools" / "k8s-cluster"
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def kubectl(*args: str, timeout: float = 120, check: bool = True) -> str:
    result = subprocess.run(
        ["kubectl", "--request-timeout=20s", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"`kubectl {' '.join(args)}` exited {result.returncode}:\n"
                             f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}")  # fmt: skip
    return result.stdout


def cluster_problem() -> str | None:
    """Why no cluster can be tested here, or None when one answers."""
    if not os.environ.get("KUBECONFIG"):
        return (
            "KUBECONFIG is not set, so there is no cluster to deploy to (.ci/run starts "
            "../shared/tools/k8s-cluster up and exports it where that tool exists)"
        )
    if shutil.which("kubectl") is None:
        return "no `kubectl` on PATH"
    try:
        ready = subprocess.run(
            ["kubectl", "--request-timeout=10s", "get", "--raw", "/readyz"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"the cluster of KUBECONFIG={os.environ['KUBECONFIG']} did not answer in 30 s"
    if ready.returncode != 0 or ready.stdout.strip() != "ok":
        last = (ready.stderr.strip().splitlines() or [ready.stdout.strip() or "no answer"])[-1]
        return f"the cluster of KUBECONFIG={os.environ['KUBECONFIG']} is not ready: {last}"
    return None


def server_minor() -> int:
    version = json.loads(kubectl("version", "-o", "json"))["serverVersion"]
    return int("".join(ch for ch in version["minor"] if ch.isdigit()))


def build_and_load_images(tool: Path) -> list[str]:
    """`docker compose build` (cached layers make a rebuild quick), then `k8s-cluster load`
    of the gateway's images and the datastores' onto every node. Returns the images."""
    problem = engine_problem()
    if problem:
        raise AssertionError(f"cannot build the images: {problem}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")} | {"TAG": "latest"}
    build = subprocess.run(
        ["docker", "compose", "--file", str(COMPOSE_FILE), "build", *BUILT_SERVICES],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert build.returncode == 0, f"docker compose build failed:\n{build.stderr[-3000:]}"
    images = [f"payment-gateway/{name}:latest" for name in BUILT_SERVICES] + list(DATASTORE_IMAGES)
    load = subprocess.run(
        [str(tool), "load", *images], capture_output=True, text=True, timeout=900, check=False
    )
    assert load.returncode == 0, f"k8s-cluster load failed:\n{load.stdout}\n{load.stderr}"
    return images


def tag_and_load_images(tool: Path, tag: str) -> list[str]:
    """The gateway's images built by build_and_load_images, tagged `tag` as a new release
    would be, and loaded onto every node (the local cluster has no registry to push to)."""
    images = []
    for name in BUILT_SERVICES:
        image = f"payment-gateway/{name}:{tag}"
        subprocess.run(["docker", "tag", f"payment-gateway/{name}:latest", image], check=True,
                       capture_output=True, timeout=60)  # fmt: skip
        images.append(image)
    load = subprocess.run(
        [str(tool), "load", *images], capture_output=True, text=True, timeout=900, check=False
    )
    assert load.returncode == 0, f"k8s-cluster load failed:\n{load.stdout}\n{load.stderr}"
    return images


def pod_spec_images(listing: str) -> list[str]:
    """Every image (init containers' too) of the workloads in a `kubectl get -o json`."""
    data = json.loads(listing)
    images = []
    for item in data.get("items", [data]):
        spec = item["spec"]["template"]["spec"]
        images += [c["image"] for c in spec["containers"] + spec.get("initContainers", [])]
    return images


@dataclass
class Node:
    name: str
    address: str


def nodes() -> list[Node]:
    """Every node, by name, with its InternalIP."""
    found = []
    for item in json.loads(kubectl("get", "nodes", "-o", "json"))["items"]:
        [address] = [a["address"] for a in item["status"]["addresses"] if a["type"] == "InternalIP"]
        found.append(Node(item["metadata"]["name"], address))
    return sorted(found, key=lambda n: n.name)


def node_ready(name: str) -> bool:
    item = json.loads(kubectl("get", "node", name, "-o", "json"))
    return any(c["type"] == "Ready" and c["status"] == "True" for c in item["status"]["conditions"])


def receiver_manifest(pull_policy: str, keeper: str) -> str:
    """The test merchant's receiver (devstack's, run from the API image), on the node that is
    never drained or killed, so its record of deliveries survives the test."""
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: receiver
spec:
  replicas: 1
  selector:
    matchLabels: {{app.kubernetes.io/name: receiver}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: receiver}}
    spec:
      nodeSelector: {{kubernetes.io/hostname: {keeper}}}
      enableServiceLinks: false
      containers:
        - name: receiver
          image: payment-gateway/api:latest
          imagePullPolicy: {pull_policy}
          command: ["python", "/opt/receiver/receiver.py", "--host", "0.0.0.0", "--port", "4000",
                    "--record", "{DELIVERIES}", "--quiet"]
          ports: [{{containerPort: 4000}}]
          readinessProbe: {{tcpSocket: {{port: 4000}}, periodSeconds: 2}}
          volumeMounts: [{{name: source, mountPath: /opt/receiver}}]
      volumes:
        - name: source
          configMap: {{name: receiver-source}}
---
apiVersion: v1
kind: Service
metadata:
  name: receiver
spec:
  selector: {{app.kubernetes.io/name: receiver}}
  ports: [{{port: 4000}}]
"""


@dataclass
class Deployment:
    """The gateway in namespace `namespace`, from a copy of deploy/k8s in `directory`."""

    directory: Path
    keeper: Node  # hosts PostgreSQL, Redis and the receiver; never drained or killed
    namespace: str = field(default_factory=lambda: f"gwtest-{uuid.uuid4().hex[:8]}")
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tree = copy_tree(self.directory)
        self.base_overlay = "local-1.20" if server_minor() < 21 else "dev"
        pull_policy = "Never" if self.base_overlay == "local-1.20" else "IfNotPresent"
        overlay = self.tree / "overlays" / "live-test"
        overlay.mkdir()
        shutil.copy(RECEIVER_SOURCE, overlay / "receiver.py")
        (overlay / "receiver.yaml").write_text(receiver_manifest(pull_policy, self.keeper.name))
        pin = f"""- op: add
  path: /spec/template/spec/nodeSelector
  value: {{kubernetes.io/hostname: {self.keeper.name}}}"""
        (overlay / "kustomization.yaml").write_text(f"""namespace: {self.namespace}
resources: [../{self.base_overlay}, receiver.yaml]
configMapGenerator:
  - name: gateway-backend
    behavior: merge
    literals: {list(TEST_KNOBS)}
  - name: receiver-source
    files: [receiver.py]
patches:
  - target: {{kind: Deployment, name: postgres|redis}}
    patch: |-
{chr(10).join("      " + line for line in pin.splitlines())}
""")
        self.overlay = overlay
        self.password = read_env_file(self.tree / "overlays" / "dev" / "secrets.env")[
            "POSTGRES_PASSWORD"
        ]

    def kubectl(self, *args: str, timeout: float = 120, check: bool = True) -> str:
        return kubectl("--namespace", self.namespace, *args, timeout=timeout, check=check)

    def timed(self, name: str, *args: str, timeout: float = 600) -> str:
        started = time.monotonic()
        output = self.kubectl(*args, timeout=timeout)
        self.timings[name] = round(time.monotonic() - started, 1)
        return output

    def apply(self) -> None:
        kubectl("create", "namespace", self.namespace)
        self.timed("dry_run_s", "apply", "--kustomize", str(self.overlay), "--dry-run=server")
        self.timed("apply_s", "apply", "--kustomize", str(self.overlay))

    def set_image_tag(self, tag: str) -> None:
        """Name the gateway's images at `tag`, as an operator's overlay names a new release
        (docs/operations/kubernetes.md#deploying): in an overlay between the base one and the
        test's, so the receiver, which runs the API's image too, stays as it is."""
        release = self.tree / "overlays" / "release"
        release.mkdir(exist_ok=True)
        images = "".join(
            f"\n  - {{name: payment-gateway/{n}, newTag: {tag}}}" for n in BUILT_SERVICES
        )
        (release / "kustomization.yaml").write_text(
            f"resources: [../{self.base_overlay}]\nimages:{images}\n"
        )
        kustomization = self.overlay / "kustomization.yaml"
        text = kustomization.read_text()
        assert f"resources: [../{self.base_overlay}," in text
        kustomization.write_text(
            text.replace(f"resources: [../{self.base_overlay},", "resources: [../release,", 1)
        )

    def upgrade(self) -> None:
        """What the guide says to run for a new release: delete the finished migrate Job (its
        pod template cannot change), apply, wait for the Job, then for every rollout."""
        started = time.monotonic()
        self.kubectl("delete", "job", "migrate", "--ignore-not-found")
        self.kubectl("apply", "--kustomize", str(self.overlay))
        self.wait_for_migration()
        for deployment in self.deployments():
            self.rollout(f"upgrade_{deployment.removeprefix('deployment.apps/')}_s", deployment)
        self.timings["upgrade_s"] = round(time.monotonic() - started, 1)

    def wait_for_migration(self, timeout: int = 600) -> None:
        self.timed("migration_job_s", "wait", "--for=condition=complete", "job/migrate",
                   f"--timeout={timeout}s", timeout=timeout + 30)  # fmt: skip

    def deployments(self) -> list[str]:
        return self.kubectl("get", "deployments", "-o", "name").split()

    def rollout(self, name: str, deployment: str, timeout: int = 600) -> None:
        self.timed(name, "rollout", "status", deployment, f"--timeout={timeout}s",
                   timeout=timeout + 30)  # fmt: skip

    def api_url(self, node: Node) -> str:
        service = json.loads(self.kubectl("get", "service", "api", "-o", "json"))
        [port] = [p["nodePort"] for p in service["spec"]["ports"]]
        return f"http://{node.address}:{port}"

    def pods(self) -> list[dict[str, Any]]:
        return json.loads(self.kubectl("get", "pods", "-o", "json"))["items"]

    def pods_on(self, node: str, prefix: str = "") -> list[str]:
        return [
            p["metadata"]["name"] for p in self.pods()
            if p["spec"].get("nodeName") == node and p["metadata"]["name"].startswith(prefix)
            and p["status"].get("phase") == "Running"
        ]  # fmt: skip

    def pending(self, prefix: str = "") -> list[str]:
        return [
            p["metadata"]["name"] for p in self.pods()
            if p["metadata"]["name"].startswith(prefix) and p["status"].get("phase") == "Pending"
            and not p["metadata"].get("deletionTimestamp")
        ]  # fmt: skip

    def api_nodes(self) -> list[str]:
        """The node of each running API pod (not one that is leaving)."""
        return sorted(
            p["spec"]["nodeName"] for p in self.pods()
            if p["metadata"]["name"].startswith("api-") and p["status"].get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")
        )  # fmt: skip

    def restarts(self) -> list[dict[str, Any]]:
        """Containers of running pods that restarted (a liveness kill, a crash)."""
        found = []
        for pod in self.pods():
            for status in pod["status"].get("containerStatuses", []):
                if status.get("restartCount"):
                    name = pod["metadata"]["name"]
                    last = status.get("lastState", {}).get("terminated", {})
                    logs = self.kubectl("logs", name, "-c", status["name"], "--previous",
                                        "--tail=15", check=False)  # fmt: skip
                    found.append({"service": name, "exit_code": last.get("exitCode"),
                                  "reason": last.get("reason"), "restarts": status["restartCount"],
                                  "last_logs": logs[-3000:]})  # fmt: skip
        return found

    def all_available(self, at_least_one: tuple[str, ...] = ()) -> bool:
        """Every Deployment has all its replicas available; those named in `at_least_one`
        (whose missing replicas wait for a free node) at least one."""
        for item in json.loads(self.kubectl("get", "deployments", "-o", "json"))["items"]:
            want = item["spec"]["replicas"]
            status = item["status"]
            available = status.get("availableReplicas", 0)
            if item["metadata"]["name"] in at_least_one:
                if available < min(1, want):
                    return False
            elif available < want or status.get("unavailableReplicas"):
                return False
        return True

    def deliveries(self) -> list[dict[str, Any]]:
        output = self.kubectl("exec", "deploy/receiver", "--", "sh", "-c",
                              f"cat {DELIVERIES} 2>/dev/null || true", timeout=60)  # fmt: skip
        return [json.loads(line) for line in output.splitlines() if line.strip()]

    def database_url(self, port: int) -> str:
        return f"postgresql://gateway_user:{self.password}@127.0.0.1:{port}/payment_gateway"

    def port_forward(self, target: str, remote: int) -> tuple[subprocess.Popen[bytes], int]:
        """`kubectl port-forward` to `target` on a free local port, once it listens."""
        port = free_port()
        process = subprocess.Popen(
            ["kubectl", "--namespace", self.namespace, "port-forward", target, f"{port}:{remote}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        import socket

        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return process, port
            except OSError:
                time.sleep(0.3)
        process.kill()
        raise AssertionError(f"kubectl port-forward {target} did not listen in 30 s")

    def delete(self) -> None:
        kubectl("delete", "namespace", self.namespace, "--wait=false", check=False)
