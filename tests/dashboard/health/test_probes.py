"""/livez and /readyz of the dashboard (docs/operations/running.md#probes): ready only when Redis
(sessions) and the API answer, since no page works without them; alive regardless."""

import httpx
from fastapi.testclient import TestClient

from dashboard.config import DashboardSettings
from dashboard.main import create_app


def api_answering(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"status": "healthy"})


def api_refusing(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _probe(redis_url: str, api: object) -> tuple[httpx.Response, httpx.Response]:
    settings = DashboardSettings(
        redis_url=redis_url, api_url="http://api.test", log_level="warning"
    )
    app = create_app(settings, api_transport=httpx.MockTransport(api))
    with TestClient(app) as client:
        return client.get("/livez"), client.get("/readyz")


def test_ready_when_redis_and_the_api_answer(redis_url, redis):
    livez, readyz = _probe(redis_url, api_answering)

    assert (livez.status_code, livez.json()) == (200, {"status": "alive"})
    assert readyz.status_code == 200
    assert (readyz.json()["status"], readyz.json()["api"], readyz.json()["redis"]) == (
        "ready",
        "reachable",
        "connected",
    )


def test_not_ready_while_the_api_does_not_answer(redis_url, redis):
    livez, readyz = _probe(redis_url, api_refusing)

    assert livez.status_code == 200
    assert readyz.status_code == 503
    assert readyz.json()["api"] == "unreachable"


def test_not_ready_without_redis():
    livez, readyz = _probe("redis://127.0.0.1:1/0", api_answering)

    assert livez.status_code == 200
    assert readyz.status_code == 503
    assert readyz.json()["redis"] == "disconnected"
