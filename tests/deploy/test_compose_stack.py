"""docker-compose.yml on a real Docker engine (docs/operations/running.md#docker-compose): built and
started under a fresh project name on free ports, a payment and a refund end to end with every
webhook signed and delivered to a receiver on the compose network, replicas added without recreating
anything, PostgreSQL and Redis restarted without loss, a second `up` that changes nothing, `down -v`
that leaves nothing. One stack serves the whole module, in the order written; skipped only where no
engine answers. The timings are written to test-artifacts/compose/timings.json."""

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .deployfiles import REPO_ROOT
from .dockerstack import SLOW_INIT_MARKER, ComposeStack, engine_problem, http

HEADERS = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
WEBHOOK_SECRET = "whsec_test_abc123"  # the seeded test merchant's
RECEIVER_URL = "http://receiver:4000/webhook"
PYTHON_SERVICES = ("api", "payment-worker", "refund-worker", "webhook-dispatcher", "checkout",
                   "checkout-demo", "dashboard")  # fmt: skip
EVENTS_PER_REFUNDED_PAYMENT = ("payment.created", "payment.pending", "payment.success",
                               "refund.created", "refund.processed")  # fmt: skip
TIMINGS_FILE = REPO_ROOT / "test-artifacts" / "compose" / "timings.json"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    problem = engine_problem()
    if problem:
        pytest.skip(problem)
    stack = ComposeStack(tmp_path_factory.mktemp("compose"))
    try:
        stack.timed("build", "build")
        stack.timed("up_wait", "up", "--build", "--wait", "--wait-timeout", "300")
        yield stack
    finally:
        try:
            stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "40", check=False)
        finally:
            stack.remove_images()
            TIMINGS_FILE.parent.mkdir(parents=True, exist_ok=True)
            TIMINGS_FILE.write_text(json.dumps(stack.timings, indent=2) + "\n")


def wait_for(condition: Callable[[], Any], timeout: float = 90, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.5)


def api(stack: ComposeStack, method: str, path: str, **kwargs: Any) -> Any:
    """One API call, retried on 503 as docs/api.md#error-codes lets a client: after a PostgreSQL
    restart each API process answers 503 once per pooled connection the restart broke, while the
    pool replaces them."""
    for _ in range(40):
        response = http(method, f"{stack.api_url}{path}", headers=HEADERS, **kwargs)
        if response.status_code != 503:
            break
        time.sleep(0.5)
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


def pay_and_refund_partly(stack: ComposeStack, amount: int = 50_000) -> tuple[str, str]:
    """Order → UPI payment → `success` → refund of a fifth → `processed`; (payment, refund) ids."""
    order = api(stack, "POST", "/api/v1/orders", json={"amount": amount})
    payment = api(stack, "POST", "/api/v1/payments",
                  json={"order_id": order["id"], "method": "upi", "vpa": "asha@okaxis"})  # fmt: skip
    wait_for(lambda: api(stack, "GET", f"/api/v1/payments/{payment['id']}")["status"] == "success",
             what=f"{payment['id']} to succeed")  # fmt: skip
    refund = api(stack, "POST", f"/api/v1/payments/{payment['id']}/refunds",
                 json={"amount": amount // 5})  # fmt: skip
    wait_for(lambda: api(stack, "GET", f"/api/v1/refunds/{refund['id']}")["status"] == "processed",
             what=f"{refund['id']} to be processed")  # fmt: skip
    return payment["id"], refund["id"]


def entity_id(delivery: dict[str, Any]) -> str | None:
    data = json.loads(delivery["body"]).get("data") or {}
    entity = data.get("refund") or data.get("payment") or {}
    return entity.get("id")


def signatures_valid(delivery: dict[str, Any]) -> bool:
    """Both signatures, checked here independently of the gateway and of the receiver."""
    body, headers = delivery["body"].encode(), delivery["headers"]
    hex_expected = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    key = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_") + "==")
    standard = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(headers["x-webhook-signature"], hex_expected) and standard in (
        headers["webhook-signature"].split()
    )


def delivered_events(stack: ComposeStack, ids: set[str]) -> Counter[tuple[str, str]]:
    """(event, payment or refund id) → how many times the receiver got it, for those ids."""
    return Counter((d["event"], entity_id(d)) for d in stack.deliveries() if entity_id(d) in ids)


def expected_events(pairs: list[tuple[str, str]]) -> Counter[tuple[str, str]]:
    return Counter(
        (event, refund if event.startswith("refund.") else payment)
        for payment, refund in pairs
        for event in EVENTS_PER_REFUNDED_PAYMENT
    )


def wait_for_webhooks(stack: ComposeStack, pairs: list[tuple[str, str]]) -> None:
    ids = {entity for pair in pairs for entity in pair}
    expected = expected_events(pairs)
    wait_for(lambda: set(delivered_events(stack, ids)) >= set(expected), timeout=120,
             what="every webhook to reach the receiver")  # fmt: skip
    time.sleep(2)  # a duplicate, if any, would come now
    assert delivered_events(stack, ids) == expected  # each exactly once


def by_service(stack: ComposeStack) -> dict[str, list[dict[str, Any]]]:
    services: dict[str, list[dict[str, Any]]] = {}
    for container in stack.containers():
        services.setdefault(container["service"], []).append(container)
    return services


def test_up_build_wait_starts_every_service_healthy_on_loopback(stack):
    services = by_service(stack)

    [migrate] = services["migrate"]
    assert (migrate["status"], migrate["exit_code"]) == ("exited", 0)
    for name in ("postgres", "redis", *PYTHON_SERVICES):
        [container] = services[name]
        assert (container["status"], container["health"]) == ("running", "healthy"), name
    # Published on loopback only, on the ports asked for; the datastores not at all.
    for name, port in stack.ports.items():
        [container] = services[name]
        [binding] = [b for bindings in container["ports"].values() for b in bindings]
        assert binding == {"HostIp": "127.0.0.1", "HostPort": str(port)}, name
    for name in ("postgres", "redis"):
        assert services[name][0]["ports"] == {}, name
    assert http("GET", f"{stack.api_url}/readyz").json()["schema_version"] == "latest"
    # PostgreSQL's first start ran a slow init server, and migrate still got through.
    assert SLOW_INIT_MARKER in stack.compose("logs", "postgres")


def test_page_urls_follow_the_published_ports(stack):
    checkout_js = http("GET", f"http://127.0.0.1:{stack.ports['checkout']}/checkout")
    demo = http("GET", f"http://127.0.0.1:{stack.ports['checkout-demo']}/")

    assert f"http://localhost:{stack.ports['api']}" in checkout_js.text
    assert f"http://localhost:{stack.ports['checkout']}" in demo.text


def test_payment_refund_and_every_webhook_signed_and_delivered(stack):
    api(stack, "PUT", "/api/v1/webhooks/config", json={"webhook_url": RECEIVER_URL})

    pair = pay_and_refund_partly(stack)

    wait_for_webhooks(stack, [pair])
    deliveries = [d for d in stack.deliveries() if entity_id(d) in set(pair)]
    assert all(signatures_valid(d) for d in deliveries)
    assert all(d["answered"] == 200 for d in deliveries)
    logs = api(stack, "GET", "/api/v1/webhooks", params={"limit": 100})["data"]
    assert logs and {log["status"] for log in logs} == {"success"}


def test_scale_adds_replicas_without_recreating_and_does_nothing_twice(stack):
    before = {c["id"] for c in stack.containers()}

    stack.timed("scale", "up", "--wait", "--scale", "payment-worker=2",
                "--scale", "webhook-dispatcher=3")  # fmt: skip

    services = by_service(stack)
    assert len(services["payment-worker"]) == 2
    assert len(services["webhook-dispatcher"]) == 3
    assert before <= {c["id"] for c in stack.containers()}, "a container was recreated"
    pairs = [pay_and_refund_partly(stack, amount=10_000 + 100 * i) for i in range(6)]
    wait_for_webhooks(stack, pairs)
    logs = api(stack, "GET", "/api/v1/webhooks", params={"limit": 100})["data"]
    assert {log["attempts"] for log in logs} == {1}  # no delivery sent twice


def test_restarting_postgres_and_redis_loses_nothing(stack):
    done_before = api(stack, "GET", "/api/v1/payments", params={"limit": 100})
    in_flight = api(stack, "POST", "/api/v1/orders", json={"amount": 7_700})

    for service in ("postgres", "redis"):
        started = time.monotonic()
        stack.compose("restart", service)
        stack.wait_healthy()
        stack.timings[f"restart_{service}"] = round(time.monotonic() - started, 1)

    # What was there is there, with the same states; new work goes through end to end.
    after = api(stack, "GET", "/api/v1/payments", params={"limit": 100})
    states = {p["id"]: p["status"] for p in after["data"]}
    assert all(states[p["id"]] == p["status"] for p in done_before["data"])
    assert api(stack, "GET", f"/api/v1/orders/{in_flight['id']}")["status"] == "created"
    pair = pay_and_refund_partly(stack)
    wait_for_webhooks(stack, [pair])
    every = Counter(d["headers"]["webhook-id"] for d in stack.deliveries())
    assert max(every.values()) == 1  # nothing was delivered again


def _started(stack: ComposeStack) -> dict[str, str]:
    """Container id → when it last started, except the one-shot migrate, which every `up`
    runs again (in the same container: it finds nothing to apply)."""
    return {c["id"]: c["started_at"] for c in stack.containers() if c["service"] != "migrate"}


def test_a_second_up_with_nothing_changed_recreates_nothing(stack):
    containers_before, started_before = {c["id"] for c in stack.containers()}, _started(stack)

    stack.timed("second_up", "up", "--build", "--wait", "--scale", "payment-worker=2",
                "--scale", "webhook-dispatcher=3")  # fmt: skip

    assert {c["id"] for c in stack.containers()} == containers_before
    assert _started(stack) == started_before


def test_docker_stop_is_graceful_and_exits_0(stack):
    started = time.monotonic()
    stack.compose("stop", "--timeout", "40")
    stack.timings["stop"] = round(time.monotonic() - started, 1)

    exits = {(c["service"], c["exit_code"]) for c in stack.containers()
             if c["service"] in PYTHON_SERVICES}  # fmt: skip
    assert exits == {(service, 0) for service in PYTHON_SERVICES}


def test_down_v_leaves_nothing(stack):
    stack.timed("down", "down", "--volumes", "--timeout", "40")

    assert stack.leftovers() == {"containers": [], "networks": [], "volumes": []}
