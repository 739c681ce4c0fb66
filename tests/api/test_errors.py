"""Every failure, whatever its cause, leaves as the contract's JSON error body."""

import pytest


def test_unknown_route_is_json_404(client):
    response = client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"


def test_wrong_method_is_json(client):
    response = client.delete("/api/v1/orders")

    assert response.status_code == 405
    assert "error" in response.json()


def test_malformed_json_is_bad_request(client, merchant_headers):
    response = client.post(
        "/api/v1/orders",
        content=b'{"amount": 5',
        headers=merchant_headers | {"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "BAD_REQUEST_ERROR",
        "description": "Request body is not valid JSON",
    }


def test_json_that_is_not_an_object_is_bad_request(client, merchant_headers):
    response = client.post("/api/v1/orders", json=[1, 2], headers=merchant_headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"


@pytest.mark.parametrize("declared", [True, False])
def test_body_over_64_kb_is_refused(client, merchant_headers, declared, db):
    body = b'{"amount": 500, "receipt": "' + b"x" * 70_000 + b'"}'
    headers = merchant_headers | {"Content-Type": "application/json"}

    if declared:
        response = client.post("/api/v1/orders", content=body, headers=headers)
    else:  # streamed without a Content-Length
        response = client.post("/api/v1/orders", content=iter([body[:40_000], body[40_000:]]),
                               headers=headers)  # fmt: skip

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert db.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 0


def test_deeply_nested_body_is_refused_cleanly(client, merchant_headers):
    nested = "[" * 5000 + "]" * 5000
    response = client.post(
        "/api/v1/orders",
        content=('{"amount": 500, "notes": {"a": ' + nested + "}}").encode(),
        headers=merchant_headers | {"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"


def test_responses_carry_a_correlation_id(client):
    response = client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert client.get("/health").headers["x-request-id"].startswith("req_")


def test_cors_only_on_public_routes(client):
    origin = {"Origin": "http://localhost:3001"}
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }

    public = client.options("/api/v1/payments/public", headers=origin | preflight)
    public_get = client.get("/api/v1/orders/order_AAAAAAAAAAAAAAAA/public", headers=origin)
    private = client.options("/api/v1/orders", headers=origin | preflight)

    assert public.status_code == 200
    assert public.headers["access-control-allow-origin"] == "*"
    assert public_get.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in private.headers


def test_openapi_documents_every_route_with_errors(client):
    spec = client.get("/openapi.json").json()

    create_payment = spec["paths"]["/api/v1/payments"]["post"]
    assert {"201", "400", "401", "404"} <= create_payment["responses"].keys()
    assert "/api/v1/orders/{order_id}/public" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_oversized_public_request_still_carries_cors_headers(client):
    response = client.post(
        "/api/v1/payments/public",
        content=b"x" * 70_000,
        headers={"Origin": "http://localhost:3001", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["access-control-allow-origin"] == "*"
