"""deploy/k8s without a cluster: every overlay renders, passes the Kubernetes schemas strictly,
and keeps what docker-compose.yml runs (images, argv, environment), with the probes, stop
delays, grace periods, budgets and placement a rolling update or a lost node needs. The live
test (test_k8s_live.py) applies the same files to a real cluster."""

import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from api.main import DRAINING_MARK
from shared.backends.due import DUE_AT, MAX_RUN_S

from .deployfiles import REPO_ROOT, interpolate
from .k8sfiles import (
    K8S_DIR,
    OVERLAYS,
    SECRETS_FILE,
    by_kind,
    copy_tree,
    kubectl_problem,
    kustomize,
    pod_spec,
    read_env_file,
    resolved_env,
)

pytestmark = pytest.mark.skipif(kubectl_problem() is not None, reason=str(kubectl_problem()))

# The Kubernetes the base is written for (the machine's kubectl); local-1.20 is checked
# against dev instead (no schema of 1.20 is published), and applied to 1.20 by the live test.
SCHEMA_VERSION = "1.32.0"
GATEWAY = ("api", "payment-worker", "refund-worker", "webhook-dispatcher")
WORKERS = GATEWAY[1:]
WEB = ("checkout", "checkout-demo", "dashboard")
DATASTORES = ("postgres", "redis")
# Compose services that are not long-running Deployments of the base.
JOBS = ("migrate",)
API_PRESTOP_S = 5
# A dead node's pods must move in well under Kubernetes' default 300 s.
MAX_TOLERATION_S = 30
SCHEMA_CHECK = ["python", "-m", "shared.backends.migrations", "--check"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_tree(tmp_path_factory.mktemp("k8s"))


@pytest.fixture(scope="module")
def rendered(tree: Path) -> dict[str, list[dict[str, Any]]]:
    return {overlay: kustomize(tree / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def dev(rendered: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return rendered["dev"]


def _container(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    workloads = by_kind(objects, "Deployment") | by_kind(objects, "Job")
    [container] = pod_spec(workloads[name])["containers"]
    return container


def _replicas(objects: list[dict[str, Any]], name: str) -> int:
    """How many replicas Deployment `name` runs at least: its autoscaler's minimum where one
    targets it (the Deployment then sets none), else its own count."""
    for hpa in by_kind(objects, "HorizontalPodAutoscaler").values():
        if hpa["spec"]["scaleTargetRef"]["name"] == name:
            return int(hpa["spec"].get("minReplicas", 1))
    return int(by_kind(objects, "Deployment")[name]["spec"]["replicas"])


def _quantity(value: str | int) -> float:
    """CPU in cores ("250m" -> 0.25) or memory in bytes ("96Mi")."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text.removesuffix(suffix)) * factor
    return float(text)


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_overlay_passes_the_kubernetes_schema_strictly(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    for obj in rendered[overlay]:
        try:
            kubernetes_validate.validate(obj, SCHEMA_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {exc.path}")


def test_base_uses_current_api_versions(dev: list[dict[str, Any]]) -> None:
    versions = {o["kind"]: o["apiVersion"] for o in dev}
    assert versions["PodDisruptionBudget"] == "policy/v1"
    assert versions["HorizontalPodAutoscaler"] == "autoscaling/v2"


def test_local_overlay_is_dev_with_the_1_20_api_versions_and_local_images(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """What local-1.20 changes, and only that: 1.20 serves PodDisruptionBudget as
    policy/v1beta1 and HPA as autoscaling/v2beta2, and has no registry to pull from."""
    old = {
        "PodDisruptionBudget": "policy/v1beta1",
        "HorizontalPodAutoscaler": "autoscaling/v2beta2",
    }
    local = rendered["local-1.20"]
    for obj in local:
        if obj["kind"] in old:
            assert obj["apiVersion"] == old[obj["kind"]]
        if obj["kind"] in ("Deployment", "Job"):
            spec = pod_spec(obj)
            for container in spec["containers"] + spec.get("initContainers", []):
                assert container["imagePullPolicy"] == "Never", obj["metadata"]["name"]
    normalised = [_pull_policy_dropped(o) for o in local]
    restored = [
        {**o, "apiVersion": "policy/v1"} if o["kind"] == "PodDisruptionBudget"
        else {**o, "apiVersion": "autoscaling/v2"} if o["kind"] == "HorizontalPodAutoscaler"
        else o
        for o in normalised
    ]  # fmt: skip
    assert restored == [_pull_policy_dropped(o) for o in rendered["dev"]]


def _pull_policy_dropped(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] not in ("Deployment", "Job"):
        return obj
    template = obj["spec"]["template"]
    spec = dict(template["spec"])
    for part in ("containers", "initContainers"):
        if part in spec:
            spec[part] = [
                {k: v for k, v in c.items() if k != "imagePullPolicy"} for c in spec[part]
            ]
    return {**obj, "spec": {**obj["spec"], "template": {**template, "spec": spec}}}


def test_every_compose_service_runs_with_the_same_image_and_argv(
    compose: dict[str, Any], dev: list[dict[str, Any]]
) -> None:
    workloads = by_kind(dev, "Deployment") | by_kind(dev, "Job")
    assert set(workloads) == set(compose["services"])
    for name, service in compose["services"].items():
        container = _container(dev, name)
        assert container["image"] == interpolate(service["image"]), name
        # compose's `command` replaces the image's CMD, as a container's `command` does; where
        # compose keeps the image's CMD, so does the manifest.
        assert container.get("command") == service.get("command"), name
        assert "args" not in container, name


def test_environment_is_composes(
    compose: dict[str, Any], tree: Path, dev: list[dict[str, Any]]
) -> None:
    """Same variables with compose's default values; the two URLs with credentials come from
    the generated Secret, whose committed example names exactly the keys referenced."""
    secret_keys = set(read_env_file(tree / "overlays" / "dev" / f"{SECRETS_FILE}.example"))
    for name, service in compose["services"].items():
        want = {
            key: interpolate(str(value)) for key, value in service.get("environment", {}).items()
        }
        got = resolved_env(_container(dev, name), dev)
        assert set(got) == set(want), name
        for key, value in got.items():
            if value.startswith("secret:"):
                assert value.removeprefix("secret:") in secret_keys, (name, key)
                assert key in (
                    "DATABASE_URL",
                    "REDIS_URL",
                    "POSTGRES_PASSWORD",
                    "SERVICE_SECRET",
                ), (name, key)
            else:
                assert value == want[key], (name, key)


def test_services_answer_at_composes_names_and_ports(
    compose: dict[str, Any], dev: list[dict[str, Any]]
) -> None:
    """API_URL is http://api:8000 inside the cluster as inside compose's network."""
    services = by_kind(dev, "Service")
    for name in ("api", *WEB, *DATASTORES):
        ports = {p["port"] for p in services[name]["spec"]["ports"]}
        published = {
            int(str(p).rsplit(":", 1)[1]) for p in compose["services"][name].get("ports", [])
        }
        assert published <= ports, name
        container_ports = {p["containerPort"] for p in _container(dev, name)["ports"]}
        assert ports <= container_ports, name


@pytest.mark.parametrize("name", GATEWAY + WEB)
def test_every_deployment_has_both_probes_on_its_endpoints(
    dev: list[dict[str, Any]], name: str
) -> None:
    container = _container(dev, name)
    ready, live = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    expected = {
        "api": ("/readyz", "/livez"),
        "dashboard": ("/readyz", "/livez"),
        # A worker serves /livez beside /metrics; the static sites only /health.
        **{worker: ("/livez", "/livez") for worker in WORKERS},
        "checkout": ("/health", "/health"),
        "checkout-demo": ("/health", "/health"),
    }[name]
    assert (ready["path"], live["path"]) == expected
    # A slow answer on a busy node is not a dead process: a restart only after a minute.
    probe = container["livenessProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 60


@pytest.mark.parametrize("name", WORKERS)
def test_a_worker_waiting_for_its_dependencies_is_not_restarted(
    dev: list[dict[str, Any]], name: str
) -> None:
    """A worker serves /livez only once PostgreSQL, Redis and the API's readiness answer
    (shared.backends.worker.run_worker). Its liveness probe killed the replacements of a dead
    node's workers every 90 s while Redis was away, into a growing back-off that outlasted
    Redis's return (seen on the live cluster): a startup probe holds liveness off as long as
    the schema wait of its init container."""
    deployment = by_kind(dev, "Deployment")[name]
    container = _container(dev, name)
    startup = container["startupProbe"]
    assert startup["httpGet"] == container["livenessProbe"]["httpGet"]
    [init] = pod_spec(deployment)["initContainers"]
    schema_wait_s = int(init["command"][init["command"].index("--timeout") + 1])
    assert startup["periodSeconds"] * startup["failureThreshold"] >= schema_wait_s


def test_no_pod_gets_service_link_variables(dev: list[dict[str, Any]]) -> None:
    """Kubernetes gives every pod {SERVICE}_PORT=tcp://... for each Service of its namespace
    unless told not to: the dashboard read DASHBOARD_PORT, its own setting, from its Service's
    and exited (found on the live cluster)."""
    for workload in [*by_kind(dev, "Deployment").values(), *by_kind(dev, "Job").values()]:
        assert pod_spec(workload).get("enableServiceLinks") is False, workload["metadata"]["name"]


@pytest.mark.parametrize("name", GATEWAY + WEB + JOBS)
def test_every_gateway_container_meets_the_restricted_pod_security_profile(
    dev: list[dict[str, Any]], name: str
) -> None:
    """What Pod Security's `restricted` profile (the one a hardened namespace enforces) asks of
    every container, init containers too: not root, no privilege escalation, no capability,
    the runtime's seccomp profile. No emptyDir: `kubectl drain` refuses a pod with one unless
    told --delete-emptydir-data (a read-only root with a /tmp emptyDir failed the live test's
    drain), and the cluster autoscaler keeps its node."""
    workloads = by_kind(dev, "Deployment") | by_kind(dev, "Job")
    spec = pod_spec(workloads[name])
    pod = spec.get("securityContext", {})
    assert pod.get("runAsNonRoot") is True, name
    assert pod.get("runAsUser", 0) != 0, name
    assert not [v for v in spec.get("volumes", []) if "emptyDir" in v], name
    for container in spec["containers"] + spec.get("initContainers", []):
        where = (name, container["name"])
        context = container.get("securityContext", {})
        assert context.get("allowPrivilegeEscalation") is False, where
        assert context.get("capabilities", {}).get("drop") == ["ALL"], where
        assert not context.get("capabilities", {}).get("add"), where
        assert "privileged" not in context and "runAsUser" not in context, where
        seccomp = context.get("seccompProfile", pod.get("seccompProfile", {}))
        assert seccomp.get("type") == "RuntimeDefault", where


def test_datastores_of_dev_have_both_probes(dev: list[dict[str, Any]]) -> None:
    for name in DATASTORES:
        container = _container(dev, name)
        assert container["readinessProbe"] and container["livenessProbe"], name


def test_api_keeps_serving_through_a_rolling_update(dev: list[dict[str, Any]]) -> None:
    api = by_kind(dev, "Deployment")["api"]
    container = _container(dev, "api")
    # The mark the API reads (responses close their connections), then the delay.
    assert container["lifecycle"]["preStop"]["exec"]["command"] == [
        "sh", "-c", f"touch /tmp/{DRAINING_MARK.name} && sleep {API_PRESTOP_S}"
    ]  # fmt: skip
    assert pod_spec(api)["terminationGracePeriodSeconds"] > API_PRESTOP_S + 10
    # One pod per node leaves a surge pod no node on a cluster of as many nodes as replicas:
    # one pod at a time goes, the others serve (the budget below holds a drain the same way).
    assert api["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    assert api["spec"]["minReadySeconds"] >= API_PRESTOP_S
    assert _replicas(dev, "api") >= 2


def test_api_and_workers_have_disruption_budgets(dev: list[dict[str, Any]]) -> None:
    budgets = by_kind(dev, "PodDisruptionBudget")
    deployments = by_kind(dev, "Deployment")
    for name in GATEWAY:
        budget = budgets[name]["spec"]
        assert (
            budget["selector"]["matchLabels"]
            == deployments[name]["spec"]["selector"]["matchLabels"]
        )
        replicas = _replicas(dev, name)
        # Lets a drain proceed one pod at a time, never to zero.
        allowed_down = budget.get("maxUnavailable", replicas - budget.get("minAvailable", 0))
        assert 1 <= allowed_down < replicas, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_an_autoscaled_deployment_leaves_its_replicas_to_the_autoscaler(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    """A Deployment's own `replicas` is applied again by every `kubectl apply -k` (a new image
    tag, a configuration change), undoing what its autoscaler chose: an API scaled out under
    load lost the pods beyond the count in the file at the start of the rollout, all at once
    and unhindered by its disruption budget. Kubernetes' advice: with an HPA, set no
    replicas; the HPA's minReplicas is the count (production's 3 API replicas too)."""
    objects = rendered[overlay]
    deployments = by_kind(objects, "Deployment")
    targets = [
        h["spec"]["scaleTargetRef"] for h in by_kind(objects, "HorizontalPodAutoscaler").values()
    ]
    assert targets, overlay
    for target in targets:
        assert "replicas" not in deployments[target["name"]]["spec"], (overlay, target["name"])


@pytest.mark.parametrize("name", WORKERS)
def test_worker_grace_period_outlasts_its_tick(dev: list[dict[str, Any]], name: str) -> None:
    """SIGTERM ends a tick between batches; a tick is bounded at shared.backends.due.MAX_RUN_S."""
    grace = pod_spec(by_kind(dev, "Deployment")[name])["terminationGracePeriodSeconds"]
    assert grace >= 2 * MAX_RUN_S


@pytest.mark.parametrize("name", GATEWAY)
def test_schema_users_wait_for_the_migration(dev: list[dict[str, Any]], name: str) -> None:
    [init] = pod_spec(by_kind(dev, "Deployment")[name])["initContainers"]
    assert init["command"][: len(SCHEMA_CHECK)] == SCHEMA_CHECK
    assert init["image"] == _container(dev, name)["image"]
    assert set(resolved_env(init, dev)) == {"DATABASE_URL"}


def test_migration_job_runs_composes_migrate(
    compose: dict[str, Any], dev: list[dict[str, Any]]
) -> None:
    job = by_kind(dev, "Job")["migrate"]
    assert _container(dev, "migrate")["command"] == compose["services"]["migrate"]["command"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 3


@pytest.mark.parametrize("name", GATEWAY + WEB + JOBS + DATASTORES)
def test_a_dead_nodes_pods_move_soon(dev: list[dict[str, Any]], name: str) -> None:
    """dev's PostgreSQL and Redis too: Redis left on a dead node for Kubernetes' default 300 s
    took every API replica out of its Service meanwhile (their readiness includes Redis), and
    the workers that replaced the dead node's waited for it (seen on the live cluster)."""
    workloads = by_kind(dev, "Deployment") | by_kind(dev, "Job")
    tolerations = {
        t["key"]: t for t in pod_spec(workloads[name]).get("tolerations", [])
        if t.get("effect") == "NoExecute"
    }  # fmt: skip
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        assert tolerations[key]["tolerationSeconds"] <= MAX_TOLERATION_S, (name, key)


def test_api_replicas_never_share_a_node(dev: list[dict[str, Any]]) -> None:
    """Losing any one node leaves an API pod serving: a preferred rule let a rolling restart
    place both replicas on one node (measured on the live cluster), whose loss took the API away
    for about 100 s."""
    deployment = by_kind(dev, "Deployment")["api"]
    anti = pod_spec(deployment)["affinity"]["podAntiAffinity"]
    [term] = anti["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert "preferredDuringSchedulingIgnoredDuringExecution" not in anti


@pytest.mark.parametrize("name", WORKERS + WEB)
def test_workers_prefer_different_nodes_without_requiring_it(
    dev: list[dict[str, Any]], name: str
) -> None:
    """A worker replica may share a node rather than wait Pending after a node died (the
    workers take due rows from PostgreSQL: any one of them does all the work, more only
    sooner)."""
    deployment = by_kind(dev, "Deployment")[name]
    spec = pod_spec(deployment)
    anti = spec["affinity"]["podAntiAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in anti
    [term] = anti["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert (
        term["podAffinityTerm"]["labelSelector"]["matchLabels"]
        == deployment["spec"]["selector"]["matchLabels"]
    )
    assert not any(
        c.get("whenUnsatisfiable") == "DoNotSchedule"
        for c in spec.get("topologySpreadConstraints", [])
    )


@pytest.mark.parametrize("name", ("checkout", "dashboard"))
def test_the_pages_replicas_spread_and_a_drain_takes_one_at_a_time(
    rendered: dict[str, list[dict[str, Any]]], name: str
) -> None:
    """Production runs two replicas of the checkout page and the dashboard: with no
    anti-affinity both could share a node, and with no budget a drain of that node evicted
    both at once, the shoppers' payment page gone until a replacement was ready."""
    for overlay in ("dev", "production"):
        objects = rendered[overlay]
        deployment = by_kind(objects, "Deployment")[name]
        anti = pod_spec(deployment)["affinity"]["podAntiAffinity"]
        [term] = anti["preferredDuringSchedulingIgnoredDuringExecution"]
        assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
        labels = deployment["spec"]["selector"]["matchLabels"]
        assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == labels
        budget = by_kind(objects, "PodDisruptionBudget")[name]["spec"]
        assert budget["selector"]["matchLabels"] == labels
        # One at a time, and never a drain held up by a single replica (dev's).
        assert budget == {"maxUnavailable": 1, "selector": budget["selector"]}, overlay
    assert _replicas(rendered["production"], name) >= 2


def test_every_container_has_requests_and_limits_and_workers_yield_to_the_api(
    dev: list[dict[str, Any]],
) -> None:
    for workload in [*by_kind(dev, "Deployment").values(), *by_kind(dev, "Job").values()]:
        spec = pod_spec(workload)
        for container in spec["containers"] + spec.get("initContainers", []):
            resources = container["resources"]
            for kind in ("cpu", "memory"):
                request, limit = resources["requests"][kind], resources["limits"][kind]
                assert _quantity(request) <= _quantity(limit), (container["name"], kind)
    api_cpu = _quantity(_container(dev, "api")["resources"]["requests"]["cpu"])
    for worker in WORKERS:
        assert _quantity(_container(dev, worker)["resources"]["requests"]["cpu"]) < api_cpu / 2


def test_no_secret_is_committed() -> None:
    """Secrets come from secretGenerator files that git ignores; only their examples are in
    the repository, and no committed manifest is a Secret or carries a credential."""
    tracked = subprocess.run(
        ["git", "ls-files", "deploy/k8s"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [path for path in tracked if Path(path).name == SECRETS_FILE]
    for overlay in ("dev", "production"):
        path = f"deploy/k8s/overlays/{overlay}/{SECRETS_FILE}"
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO_ROOT, check=False)
        assert ignored.returncode == 0, f"{path} is not ignored by git"
    assert any(path.endswith("kustomization.yaml") for path in tracked)
    for path in (REPO_ROOT / p for p in tracked if p.endswith((".yaml", ".env"))):
        text = path.read_text()
        assert "kind: Secret" not in text, path
        # No password given a literal value (dev's PostgreSQL reads its own from the Secret).
        assert not re.search(r"PASSWORD[\"']?\s*[:=]\s*[\"']?(?!\$)\w", text), path
        # No URL with credentials (user:password@host) outside comments.
        code = "\n".join(line.split("#")[0] for line in text.splitlines())
        assert not re.search(r"://[^/\s]*@", code), path


def test_every_secret_generator_reads_only_an_ignored_file(tree: Path) -> None:
    import yaml

    for kustomization in tree.rglob("kustomization.yaml"):
        for generator in yaml.safe_load(kustomization.read_text()).get("secretGenerator", []):
            assert generator.get("envs") == [SECRETS_FILE], kustomization
            assert "literals" not in generator and "files" not in generator, kustomization
            relative = kustomization.parent.relative_to(tree)
            assert (K8S_DIR / relative / f"{SECRETS_FILE}.example").exists(), relative


def test_a_changed_secret_rolls_the_gateway_and_leaves_devs_datastores_in_place(
    tmp_path: Path,
) -> None:
    """dev's PostgreSQL keeps its data in an emptyDir, which goes with its pod: when its pod
    named the hashed gateway-secrets, any change of secrets.env (a new SERVICE_SECRET, another
    REDIS_URL) replaced the pod and every payment with it (seen on the live cluster)."""
    tree = copy_tree(tmp_path)
    secrets = tree / "overlays" / "dev" / SECRETS_FILE
    before = by_kind(kustomize(tree / "overlays" / "dev"), "Deployment")
    secrets.write_text(secrets.read_text().replace("SERVICE_SECRET=", "SERVICE_SECRET=rotated-"))
    after = by_kind(kustomize(tree / "overlays" / "dev"), "Deployment")
    for name in DATASTORES:
        assert after[name] == before[name], f"a new SERVICE_SECRET replaces the {name} pod"
    for name in ("api", "dashboard"):
        assert after[name] != before[name], f"a new SERVICE_SECRET does not reach {name}"


def test_keda_scales_workers_on_due_rows_in_postgresql(tree: Path) -> None:
    """Never on RQ list length: the lists hold wake-ups, not work."""
    overlay = tree / "overlays" / "with-keda"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "resources: [../dev]\ncomponents: [../../components/keda]\n"
    )
    objects = kustomize(overlay)
    scaled = by_kind(objects, "ScaledObject")
    queues = {
        "payment-worker": "payments",
        "refund-worker": "refunds",
        "webhook-dispatcher": "webhooks",
    }
    assert set(scaled) == set(queues)
    for name, queue in queues.items():
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        assert spec["minReplicaCount"] >= 1  # its sweep is what wakes the queue
        [trigger] = spec["triggers"]
        assert trigger["type"] == "postgresql"
        assert trigger["metadata"]["connectionFromEnv"] == "DATABASE_URL"
        table, column = DUE_AT[queue]
        query = trigger["metadata"]["query"]
        assert f"FROM {table} WHERE status = 'pending' AND {column} <= now()" in query
    assert not by_kind(objects, "HorizontalPodAutoscaler").keys() & set(queues)
    # KEDA's HPA owns their count: a `replicas` of their own would undo it at every apply.
    deployments = by_kind(objects, "Deployment")
    for name in queues:
        assert "replicas" not in deployments[name]["spec"], name


def test_production_overlay_uses_managed_datastores_and_its_own_images(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    production = rendered["production"]
    deployments = by_kind(production, "Deployment")
    assert not set(DATASTORES) & set(deployments)
    assert by_kind(production, "Namespace")
    for deployment in deployments.values():
        for container in pod_spec(deployment)["containers"]:
            assert container["image"].startswith("registry.example.com/")
            assert not container["image"].endswith(":latest")
    backend = resolved_env(_container(production, "api"), production)
    assert backend["TEST_MODE"] == "false"
    assert backend["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] == "false"
    assert backend["CHECKOUT_URL"].startswith("https://")
