from fastapi.testclient import TestClient

from api.main import create_app


def test_health_reports_connected_dependencies(client):
    response = client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"], body["redis"]) == (
        "healthy",
        "connected",
        "connected",
    )
    assert body["timestamp"].endswith("Z")


def test_health_is_503_when_redis_is_down(settings, db):
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(broken)) as client:
        response = client.get("/health")

    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert response.json()["redis"] == "disconnected"
    assert response.json()["database"] == "connected"


def test_database_down_gives_service_unavailable(settings):
    broken = settings.model_copy(update={"database_url": "postgresql://postgres@127.0.0.1:1/x"})
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        health = client.get("/health")
        order = client.post(
            "/api/v1/orders",
            json={"amount": 500},
            headers={"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"},
        )

    assert health.status_code == 503 and health.json()["database"] == "disconnected"
    assert order.status_code == 503
    assert order.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
