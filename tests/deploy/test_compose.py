"""docker-compose.yml against docs/operations/running.md#processes-and-ports, and against what `make
run` starts: same argv, same ports, same environment apart from the addresses that differ inside a
container."""

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from api.config import ApiSettings
from devstack.run import MIGRATE_ARGV
from devstack.services import BACKGROUND_NICE, Service, local_services
from payment_worker.config import PaymentWorkerSettings
from webhook_dispatcher.config import DispatcherSettings

from .deployfiles import REPO_ROOT, Dockerfile, interpolate, parse_dockerfile

CONTRACT_SERVICES = {
    "postgres", "redis", "migrate", "api", "payment-worker", "refund-worker",
    "webhook-dispatcher", "checkout", "dashboard",
}  # fmt: skip
# Beyond the required services: the demo merchant shop that `make run` serves too.
SERVICES = CONTRACT_SERVICES | {"checkout-demo"}
CONTAINER_NAMES = {
    "postgres": "pg_gateway",
    "redis": "redis_gateway",
    "api": "gateway_api",
    "checkout": "gateway_checkout",
    "dashboard": "gateway_dashboard",
}
PUBLISHED_PORTS = {"api": 8000, "checkout": 3001, "dashboard": 3000}
# How each published port is chosen on the host, and its default.
HOST_PORT_VARIABLES = {"api": "API_HOST_PORT", "checkout": "CHECKOUT_HOST_PORT",
                       "dashboard": "DASHBOARD_HOST_PORT", "checkout-demo": "DEMO_HOST_PORT"}  # fmt: skip
INTERNAL_PORTS = {"postgres": 5432, "redis": 6379}
PUBLISH_DATASTORES = REPO_ROOT / "deploy" / "docker" / "publish-datastores.yml"
WORKER_METRICS_PORT = 9100
# A dispatcher tick is bounded at 10 s (shared.backends.due); Docker's default grace period is 10 s.
LONGEST_TICK_S = 10
WORKERS = ("payment-worker", "refund-worker", "webhook-dispatcher")
PYTHON_SERVICES = ("api", *WORKERS, "checkout", "dashboard")
# The image each compose service runs: its own, except the one-shot migration.
PACKAGES = {name: name for name in PYTHON_SERVICES} | {"migrate": "api"}
ALL_INTERFACES = "0.0.0.0"  # noqa: S104

DATABASE_URL = "postgresql://gateway_user:gateway_pass@postgres:5432/payment_gateway"
REDIS_URL = "redis://redis:6379/0"
SERVER_SIDE_API_URL = "http://api:8000"
BROWSER_API_URL = "http://localhost:8000"
BROWSER_CHECKOUT_URL = "http://localhost:3001"
PASS_THROUGH = ("TEST_MODE", "TEST_PROCESSING_DELAY", "TEST_PAYMENT_SUCCESS", "WEBHOOK_RETRY_INTERVALS_TEST")  # fmt: skip
# The settings of the services that read them.
BACKEND_SETTINGS = (ApiSettings, PaymentWorkerSettings, DispatcherSettings)


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    return compose["services"][name]


def _builder(compose: dict[str, Any], name: str) -> str:
    """The service whose `build:` makes the image `name` runs (itself, or the one sharing it)."""
    image = _service(compose, name)["image"]
    [builder] = [
        n for n, s in compose["services"].items() if s.get("image") == image and "build" in s
    ]
    return builder


def _dockerfile(compose: dict[str, Any], name: str) -> Dockerfile:
    build = _service(compose, _builder(compose, name))["build"]
    return parse_dockerfile(REPO_ROOT / build["context"] / build["dockerfile"])


def _command(compose: dict[str, Any], name: str) -> list[str]:
    """What the container runs: compose's `command`, else the image's CMD."""
    service = _service(compose, name)
    if "command" in service:
        return list(service["command"])
    return _dockerfile(compose, name).cmd()


def _environment(compose: dict[str, Any], name: str) -> dict[str, str]:
    """The container's environment: the image's ENV overlaid with compose's."""
    env = _dockerfile(compose, name).env()
    env.update({key: str(value) for key, value in _service(compose, name)["environment"].items()})
    return env


def _published(service: dict[str, Any], environ: dict[str, str] | None = None) -> dict[int, str]:
    """container port -> the host side of its mapping ("127.0.0.1:8000"), interpolated."""
    mappings = [interpolate(str(port), environ).rsplit(":", 1) for port in service.get("ports", [])]
    return {int(container): host for host, container in mappings}


def _seconds(duration: str) -> float:
    """A compose duration such as `30s`, `1m30s`."""
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([hms])", duration))


def _local(name: str) -> Service:
    """What `make run` starts under that name, with the default environment."""
    services = {service.name: service for service in local_services({})}
    return services[name]


def _without_host_value(argv: list[str]) -> list[str]:
    """The listening address differs by design: loopback or all interfaces on a laptop, all
    interfaces in a container; everything else must match."""
    return ["<host>" if i > 0 and argv[i - 1] == "--host" else arg for i, arg in enumerate(argv)]


def test_services_are_the_contracts(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_container_names(compose: dict[str, Any], name: str) -> None:
    # Workers have none, so `docker compose up --scale webhook-dispatcher=3` works.
    assert _service(compose, name).get("container_name") == CONTAINER_NAMES.get(name)


@pytest.mark.parametrize(("name", "port"), sorted(PUBLISHED_PORTS.items()))
def test_web_services_publish_their_contract_port_on_loopback(
    compose: dict[str, Any], name: str, port: int
) -> None:
    assert _published(_service(compose, name)) == {port: f"127.0.0.1:{port}"}
    assert f"EXPOSE {port}" in {
        f"{instruction} {args}" for instruction, args in _dockerfile(compose, name).final_stage
    }


@pytest.mark.parametrize("name", sorted(HOST_PORT_VARIABLES))
def test_one_variable_widens_publishing_and_host_ports_are_variables(
    compose: dict[str, Any], name: str
) -> None:
    environ = {"PUBLISH_ADDRESS": "0.0.0.0", HOST_PORT_VARIABLES[name]: "18123"}  # noqa: S104

    [host] = _published(_service(compose, name), environ).values()

    assert host == "0.0.0.0:18123"


@pytest.mark.parametrize("name", sorted(INTERNAL_PORTS))
def test_datastores_are_not_published_unless_asked(compose: dict[str, Any], name: str) -> None:
    # A machine that runs PostgreSQL or Redis already would fail `up` with "address in use".
    assert "ports" not in _service(compose, name)
    asked = yaml.safe_load(PUBLISH_DATASTORES.read_text())["services"][name]
    port = INTERNAL_PORTS[name]
    assert _published(asked) == {port: f"127.0.0.1:{port}"}


def test_postgres_and_redis_versions_and_credentials(compose: dict[str, Any]) -> None:
    postgres, redis = _service(compose, "postgres"), _service(compose, "redis")
    url = urlsplit(DATABASE_URL)

    assert int(re.match(r"postgres:(\d+)", postgres["image"]).group(1)) >= 15
    assert redis["image"].startswith("redis:7")
    assert postgres["environment"] == {
        "POSTGRES_DB": url.path.lstrip("/"),
        "POSTGRES_USER": url.username,
        "POSTGRES_PASSWORD": url.password,
    }


def test_redis_keeps_its_data_on_a_volume_across_restarts(compose: dict[str, Any]) -> None:
    # Dashboard sessions live in Redis: a restart must not log every merchant out.
    redis = _service(compose, "redis")
    command = redis["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    # As the image's own command: the services reach it over the compose network.
    assert command[command.index("--protected-mode") + 1] == "no"
    [volume] = redis["volumes"]
    name, _, target = volume.partition(":")
    assert target == "/data" and name in compose["volumes"]


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_command_is_what_make_run_starts(compose: dict[str, Any], name: str) -> None:
    local = _local(name)
    command = _command(compose, name)

    assert command[0] == "python"
    assert _without_host_value(command[1:]) == _without_host_value(list(local.argv[1:]))
    assert PUBLISHED_PORTS.get(name) == local.port


def test_every_service_make_run_starts_is_in_compose(compose: dict[str, Any]) -> None:
    assert {service.name for service in local_services({})} <= set(compose["services"])


def test_migrate_is_the_make_run_migration_on_the_api_image(compose: dict[str, Any]) -> None:
    migrate, api = _service(compose, "migrate"), _service(compose, "api")

    assert _command(compose, "migrate") == ["python", *MIGRATE_ARGV[1:]]
    assert migrate["restart"] == "no"
    # One build, one image: two builds of it gave two image ids, and every later `up`
    # recreated whatever ran the other one (docs/operations/running.md#docker-compose).
    assert migrate["image"] == api["image"]
    assert "build" not in migrate


def test_each_image_is_built_by_one_service_and_never_pulled(compose: dict[str, Any]) -> None:
    ours = {
        name: service
        for name, service in compose["services"].items()
        if service["image"].startswith("payment-gateway/")
    }
    builders = [service["image"] for service in ours.values() if "build" in service]

    assert len(builders) == len(set(builders))
    assert {service["image"] for service in ours.values()} == set(builders)
    # A registry's image of the same name would otherwise be pulled and run (defect 3).
    assert {name: service.get("pull_policy") for name, service in ours.items()} == {
        name: "never" for name in ours
    }


@pytest.mark.parametrize("name", sorted(PUBLISHED_PORTS))
def test_web_services_listen_on_every_interface(compose: dict[str, Any], name: str) -> None:
    command = _command(compose, name)
    if "--host" in command:
        assert command[command.index("--host") + 1] == ALL_INTERFACES
    else:
        # Every web service reads HOST (it defaults to loopback).
        assert _environment(compose, name).get("HOST") == ALL_INTERFACES


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_images_are_built_from_the_repo_root_for_their_package(
    compose: dict[str, Any], name: str
) -> None:
    build = _service(compose, _builder(compose, name))["build"]

    assert build["context"] == "."
    assert (REPO_ROOT / build["dockerfile"]).is_file()
    assert _dockerfile(compose, name).packages() == {PACKAGES[name]}


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("api", "http://127.0.0.1:8000/readyz"),  # the schema is migrated, not only reachable
        ("dashboard", "http://127.0.0.1:3000/readyz"),
        ("checkout", "http://127.0.0.1:3001/health"),
        ("checkout-demo", "http://127.0.0.1:3002/health"),
        *[(worker, f"http://127.0.0.1:{WORKER_METRICS_PORT}/livez") for worker in WORKERS],
    ],
)
def test_every_long_running_service_has_a_healthcheck(
    compose: dict[str, Any], name: str, probe: str
) -> None:
    test = _service(compose, name)["healthcheck"]["test"]

    assert test[0] == "CMD"
    assert f"urlopen('{probe}'" in test[-1]


@pytest.mark.parametrize("worker", WORKERS)
def test_workers_serve_metrics_inside_the_network_only(
    compose: dict[str, Any], worker: str
) -> None:
    env = _service(compose, worker)["environment"]

    assert env["METRICS_PORT"] == str(WORKER_METRICS_PORT)
    assert env["METRICS_HOST"] == ALL_INTERFACES  # inside the container, for scrapers
    assert "ports" not in _service(compose, worker)


def test_workers_yield_the_cpu_to_requests_as_under_make_run(compose: dict[str, Any]) -> None:
    # Linux's CPU weight of a nice value n is 1024 / 1.25**n; a container's default is 1024.
    weight = round(1024 / 1.25**BACKGROUND_NICE)
    nice = {service.name: service.nice for service in local_services({})}

    for worker in WORKERS:
        assert nice[worker] == BACKGROUND_NICE
        assert _service(compose, worker)["cpu_shares"] == weight
    for name in SERVICES - set(WORKERS):
        assert "cpu_shares" not in _service(compose, name)


def test_postgres_is_healthy_only_once_it_answers_over_tcp(compose: dict[str, Any]) -> None:
    # The image's first start runs a temporary server on the Unix socket only (defect 1).
    check = _service(compose, "postgres")["healthcheck"]["test"]

    assert check[0] == "CMD-SHELL"
    assert "pg_isready -q -h 127.0.0.1" in check[1]
    assert "psql -h 127.0.0.1" in check[1] and "SELECT 1" in check[1]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_container_logs_are_bounded(compose: dict[str, Any], name: str) -> None:
    logging = _service(compose, name)["logging"]

    assert logging["driver"] == "json-file"
    assert logging["options"]["max-size"] and int(logging["options"]["max-file"]) >= 1


@pytest.mark.parametrize("name", [*WORKERS, "api", "checkout", "checkout-demo", "dashboard"])
def test_grace_period_outlasts_the_longest_tick(compose: dict[str, Any], name: str) -> None:
    assert _seconds(_service(compose, name)["stop_grace_period"]) > LONGEST_TICK_S + 5


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_depends_on_waits_for_health_or_completion(compose: dict[str, Any], name: str) -> None:
    for dependency, rule in _service(compose, name).get("depends_on", {}).items():
        if rule["condition"] == "service_healthy":
            assert "healthcheck" in _service(compose, dependency), dependency
        else:
            assert rule["condition"] == "service_completed_successfully"
            assert _service(compose, dependency)["restart"] == "no", dependency


@pytest.mark.parametrize(
    ("name", "dependencies"),
    [
        ("migrate", {"postgres": "service_healthy"}),
        (
            "api",
            {
                "postgres": "service_healthy",
                "redis": "service_healthy",
                "migrate": "service_completed_successfully",
            },
        ),
        *[
            (
                worker,
                {
                    "postgres": "service_healthy",
                    "redis": "service_healthy",
                    "api": "service_healthy",
                },
            )
            for worker in WORKERS
        ],
    ],
)
def test_start_order(compose: dict[str, Any], name: str, dependencies: dict[str, str]) -> None:
    depends_on = _service(compose, name)["depends_on"]

    assert {
        dependency: rule["condition"] for dependency, rule in depends_on.items()
    } == dependencies


def test_shared_environment_is_the_contracts(compose: dict[str, Any]) -> None:
    env = compose["x-gateway-env"]

    assert env["DATABASE_URL"] == DATABASE_URL
    assert env["REDIS_URL"] == REDIS_URL
    assert env["API_URL"] == SERVER_SIDE_API_URL
    assert env["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] == "true"


@pytest.mark.parametrize("variable", PASS_THROUGH)
def test_test_knobs_pass_through_with_the_services_defaults(
    compose: dict[str, Any], variable: str
) -> None:
    defaults = {
        str(settings.model_fields[variable.lower()].default).lower()
        for settings in BACKEND_SETTINGS
        if variable.lower() in settings.model_fields
    }

    assert len(defaults) == 1, f"the services disagree on {variable}'s default: {defaults}"
    [default] = defaults
    assert compose["x-gateway-env"][variable] == f"${{{variable}:-{default}}}"


@pytest.mark.parametrize("name", ["migrate", "api", *WORKERS])
def test_backend_services_share_the_gateway_environment(compose: dict[str, Any], name: str) -> None:
    env = _service(compose, name)["environment"]

    assert {key: env[key] for key in compose["x-gateway-env"]} == compose["x-gateway-env"]
    assert set(env) - set(compose["x-gateway-env"]) <= {"METRICS_PORT", "METRICS_HOST"}


def test_checkout_page_calls_the_api_at_the_browsers_address(compose: dict[str, Any]) -> None:
    # The checkout writes API_URL into the page; the shopper's browser cannot resolve `api`.
    env = _environment(compose, "checkout")

    assert interpolate(env["API_URL"]) == BROWSER_API_URL
    assert interpolate(env["API_URL"], {"API_HOST_PORT": "18000"}) == "http://localhost:18000"
    assert "DATABASE_URL" not in env


@pytest.mark.parametrize(
    ("variable", "url", "value"),
    [("CHECKOUT_HOST_PORT", "CHECKOUT_URL", "http://localhost:13001"),
     ("DASHBOARD_HOST_PORT", "DASHBOARD_URL", "http://localhost:13000")],
)  # fmt: skip
def test_page_urls_follow_the_published_ports(
    compose: dict[str, Any], variable: str, url: str, value: str
) -> None:
    port = value.rsplit(":", 1)[1]
    env = compose["x-service-urls"]

    assert interpolate(env[url], {variable: port}) == value
    assert interpolate(env[url], {variable: port, "PUBLIC_HOST": "10.0.0.5"}) == value.replace(
        "localhost", "10.0.0.5"
    )


def test_dashboard_calls_the_api_inside_and_shows_the_browsers_addresses(
    compose: dict[str, Any],
) -> None:
    env = _environment(compose, "dashboard")

    assert env["API_URL"] == SERVER_SIDE_API_URL
    assert interpolate(env["PUBLIC_API_URL"]) == BROWSER_API_URL
    assert interpolate(env["CHECKOUT_URL"]) == BROWSER_CHECKOUT_URL
    assert env["REDIS_URL"] == REDIS_URL
    # It never opens the database: services/dashboard/README.md#dashboard.
    assert "DATABASE_URL" not in env


def test_demo_shop_runs_the_checkout_image_on_its_own_origin(compose: dict[str, Any]) -> None:
    demo, checkout = _service(compose, "checkout-demo"), _service(compose, "checkout")
    assert demo["image"] == checkout["image"]
    assert demo["command"] == ["python", "-m", "checkout.demo"]
    assert _published(demo) == {3002: "127.0.0.1:3002"}
    assert (
        interpolate(_environment(compose, "checkout-demo")["CHECKOUT_URL"]) == BROWSER_CHECKOUT_URL
    )
    assert _environment(compose, "checkout-demo")["API_URL"] == SERVER_SIDE_API_URL
