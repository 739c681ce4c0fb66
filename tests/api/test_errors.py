"""Every failure, whatever its cause, leaves as the JSON error body of docs/api.md#errors."""

import re

import pytest

from api.routing import refused_body_model


def test_unknown_route_is_json_404(client):
    response = client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"


@pytest.mark.parametrize(
    ("method", "path", "allow", "methods"),
    [
        ("DELETE", "/api/v1/orders", "GET, POST", "GET or POST"),
        ("PUT", "/api/v1/webhooks/endpoints/we_AbCdEfGh12345678", "GET, PATCH, DELETE",
         "GET, PATCH or DELETE"),
        ("POST", "/health", "GET", "GET"),
        ("GET", "/api/v1/payments/pay_AbCdEfGh12345678/capture", "POST", "POST"),
    ],
)  # fmt: skip
def test_wrong_method_names_every_method_the_path_takes(client, method, path, allow, methods):
    # It said "Method Not Allowed", and `Allow` named the methods of one of the path's routes
    # only (DELETE /api/v1/orders: "POST", though GET is served there too).
    response = client.request(method, path)

    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json() == {"error": {
        "code": "BAD_REQUEST_ERROR",
        "description": f"This path does not take that method: use {methods}",
    }}  # fmt: skip


def test_malformed_json_is_bad_request(client, merchant_headers):
    response = client.post(
        "/api/v1/orders",
        content=b'{"amount": 5',
        headers=merchant_headers | {"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "BAD_REQUEST_ERROR",
        "description": "Request body is not valid JSON: send a JSON body with Content-Type:"
        " application/json",
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


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/api/v1/orders/"), ("POST", "/api/v1/payments/"), ("GET", "/health/"),
     ("GET", "/api/v1/orders/"), ("POST", "/api/v1/orders/")],
)  # fmt: skip
def test_a_trailing_slash_is_404_never_a_redirect(client, merchant_headers, method, path):
    # A 307 would send the body and the API key headers on to the Location (built from the
    # request's Host header) with any client that follows redirects.
    response = client.request(
        method, path, json={"amount": 500}, headers=merchant_headers | {"Host": "evil.test"},
        follow_redirects=False,
    )  # fmt: skip

    assert response.status_code == 404
    assert "location" not in response.headers
    assert response.json() == {
        "error": {"code": "NOT_FOUND_ERROR", "description": "Route not found"}
    }


def _order_error(client, headers, **request) -> dict:
    response = client.post("/api/v1/orders", headers=headers, **request)
    assert response.status_code == 400, response.text
    return response.json()["error"]


# Notes are shown text (api.fields.ShownText): what else they must not hold.
REORDERING_CONTROLS = (
    "the invisible controls that reorder text (\\u061c, \\u200e-\\u200f, \\u202a-\\u202e,"
    " \\u2066-\\u2069)"
)

# (request, description, field): every case the issue found, as it reads now.
CASES = {
    "note value with NUL": (
        {"json": {"amount": 500, "notes": {"k": "a\u0000b"}}},
        f"notes.k must not contain NUL (\\u0000) or {REORDERING_CONTROLS}", "notes.k",
    ),
    "note key with NUL": (
        {"json": {"amount": 500, "notes": {"bad\u0000key": "v"}}},
        f"notes keys must not contain NUL (\\u0000) or {REORDERING_CONTROLS}", "notes",
    ),
    "amount as a decimal string": (
        {"json": {"amount": "500.00"}},
        "amount must be an integer number of paise, at least 100", "amount",
    ),
    "amount as a fraction": (
        {"json": {"amount": 500.5}},
        "amount must be an integer number of paise, at least 100", "amount",
    ),
    "amount as a boolean": (
        {"json": {"amount": True}},
        "amount must be an integer number of paise, at least 100", "amount",
    ),
    "amount missing": ({"json": {}}, "amount is required", "amount"),
    "empty body": (
        {"content": b"", "headers": {"Content-Type": "application/json"}},
        "Request body is missing: send a JSON body with Content-Type: application/json", None,
    ),
    # curl's -d without -H sends a form: the Content-Type is at fault, not the body's shape.
    "form-encoded body": (
        {"content": b"amount=500", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        "Content-Type must be application/json: send the body as JSON", "Content-Type",
    ),
    "JSON sent as text": (
        {"content": b'{"amount": 500}', "headers": {"Content-Type": "text/plain"}},
        "Content-Type must be application/json: send the body as JSON", "Content-Type",
    ),
    "a JSON array": (
        {"json": [{"amount": 500}]},
        "Request body must be a JSON object: send a JSON body with Content-Type: application/json",
        None,
    ),
    "not UTF-8": (
        {"content": b'{"amount": 500, "receipt": "\xff\xfe"}',
         "headers": {"Content-Type": "application/json"}},
        "Request body is not valid JSON: send a JSON body with Content-Type: application/json",
        None,
    ),
    "receipt too long": ({"json": {"amount": 500, "receipt": "r" * 41}},
                         "receipt must be at most 40 characters", "receipt"),
    # A JSON object sent with no Content-Type is not read as JSON: the header is at fault,
    # not the body's shape (it is an object).
    "JSON without a Content-Type": (
        {"content": b'{"amount": 500}'},
        "Content-Type must be application/json: send the body as JSON", "Content-Type",
    ),
    "receipt with an unpaired surrogate": (
        {"content": b'{"amount": 500, "receipt": "\\ud800"}',
         "headers": {"Content-Type": "application/json"}},
        "receipt must be Unicode text: no unpaired surrogate (\\ud800-\\udfff)", "receipt",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("request_", "description", "field"), CASES.values(), ids=CASES.keys())
def test_validation_errors_name_the_field_and_what_is_wanted(
    client, merchant_headers, request_, description, field
):
    request_ = dict(request_)
    headers = merchant_headers | request_.pop("headers", {})

    error = _order_error(client, headers, **request_)

    assert error["description"] == description
    assert error.get("field") == field


@pytest.mark.parametrize(
    ("body", "description", "field"),
    [
        ({"url": "http://127.0.0.1:9/x", "secret": "mine"},
         "secret is not a field of this request", "secret"),
        ({"url": "http://127.0.0.1:9/x", "events": []},
         "events must have at least 1 entry", "events"),
    ],
)  # fmt: skip
def test_an_unknown_field_or_an_empty_list_says_so(
    client, merchant_headers, body, description, field
):
    response = client.post("/api/v1/webhooks/endpoints", json=body, headers=merchant_headers)

    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "code": "BAD_REQUEST_ERROR", "description": description, "field": field,
    }  # fmt: skip


def test_the_exact_contract_descriptions_stay(client, merchant_headers):
    error = _order_error(client, merchant_headers, json={"amount": 99})

    assert error == {
        "code": "BAD_REQUEST_ERROR", "description": "amount must be at least 100", "field": "amount",
    }  # fmt: skip


CARD = {"number": "4111111111111111", "expiry_month": 12, "expiry_year": 2030, "cvv": "123"}


@pytest.mark.parametrize(
    ("body", "description", "field", "code"),
    [
        ({"method": "card", "card": CARD | {"expiry_month": 1.5}},
         "card.expiry_month must be an integer or a string", "card.expiry_month",
         "BAD_REQUEST_ERROR"),
        ({"method": "card", "card": CARD | {"expiry_month": None}},
         "card.expiry_month must be an integer or a string", "card.expiry_month",
         "BAD_REQUEST_ERROR"),
        ({"method": "upi"}, "vpa is required for method upi", "vpa", "BAD_REQUEST_ERROR"),
        # The other method's instrument is refused by name, not checked and then ignored.
        ({"method": "upi", "vpa": "asha@okaxis", "card": {}},
         "card must not be sent for method upi", "card", "BAD_REQUEST_ERROR"),
        ({"method": "upi", "vpa": "asha@okaxis", "card": CARD},
         "card must not be sent for method upi", "card", "BAD_REQUEST_ERROR"),
        ({"method": "card", "card": CARD, "vpa": "asha@okaxis"},
         "vpa must not be sent for method card", "vpa", "BAD_REQUEST_ERROR"),
        ({"method": {}, "vpa": "asha@okaxis", "card": CARD},
         "method must be 'upi' or 'card'", "method", "BAD_REQUEST_ERROR"),
        ({"method": "cash"}, "method must be 'upi' or 'card'", "method", "BAD_REQUEST_ERROR"),
        ({"method": "upi", "vpa": "asha okaxis"}, "VPA format invalid", "vpa", "INVALID_VPA"),
        ({"method": "card", "card": CARD | {"number": "4111111111111112"}},
         "Card validation failed", "card.number", "INVALID_CARD"),
    ],
)  # fmt: skip
def test_payment_errors_name_the_field(client, merchant_headers, body, description, field, code):
    order = client.post("/api/v1/orders", json={"amount": 500}, headers=merchant_headers).json()

    response = client.post(
        "/api/v1/payments", json={"order_id": order["id"]} | body, headers=merchant_headers
    )

    assert response.status_code == 400
    assert response.json()["error"] == {"code": code, "description": description, "field": field}


@pytest.mark.parametrize(
    ("headers", "missing"),
    [({}, "X-Api-Key"), ({"X-Api-Secret": "secret_test_xyz789"}, "X-Api-Key"),
     ({"X-Api-Key": "key_test_abc123"}, "X-Api-Secret")],
)  # fmt: skip
def test_missing_credentials_keep_the_exact_description_and_name_the_header(
    client, headers, missing
):
    response = client.get("/api/v1/orders", headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "AUTHENTICATION_ERROR",
        "description": "Invalid API credentials",  # docs/api.md#exact-descriptions
        "field": missing,
    }


def test_a_bad_query_parameter_is_named(client, merchant_headers):
    response = client.get("/api/v1/orders?limit=abc", headers=merchant_headers)

    assert response.json()["error"] == {
        "code": "BAD_REQUEST_ERROR", "description": "limit must be an integer", "field": "limit",
    }  # fmt: skip


LEAKS = ("constrained", "Input should", "[Errno", ".int", ".str", "dictionary", "\u0000b")


def test_no_description_leaks_library_names_or_echoes_input(client, merchant_headers):
    bodies = [case[0] for case in CASES.values()]
    for request_ in bodies:
        request_ = dict(request_)
        headers = merchant_headers | request_.pop("headers", {})
        description = _order_error(client, headers, **request_)["description"]
        assert not any(leak in description for leak in LEAKS), description
        assert "\x00" not in description, description


def test_an_unresolvable_webhook_host_says_so_without_errno(client, merchant_headers, settings):
    from fastapi.testclient import TestClient

    from api.config import ApiSettings
    from api.main import create_app

    strict = ApiSettings(**settings.model_dump() | {"webhook_allow_private_networks": False})
    with TestClient(create_app(strict)) as strict_client:
        response = strict_client.put(
            "/api/v1/webhooks/config",
            json={"webhook_url": "https://no-such-host.invalid/hook"},
            headers=merchant_headers,
        )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "webhook_url"
    assert "could not be resolved" in error["description"]
    assert "Errno" not in error["description"]


def test_openapi_says_when_each_domain_error_happens(client):
    paths = client.get("/openapi.json").json()["paths"]

    refund = paths["/api/v1/payments/{payment_id}/refunds"]["post"]["responses"]
    capture = paths["/api/v1/payments/{payment_id}/capture"]["post"]["responses"]
    create = paths["/api/v1/payments"]["post"]["responses"]
    assert "Payment not in refundable state" in refund["400"]["description"]
    assert "Refund amount exceeds available amount" in refund["400"]["description"]
    assert refund["404"]["description"] == "`NOT_FOUND_ERROR`: Payment not found"
    assert "Payment not in capturable state" in capture["400"]["description"]
    assert "Order already paid" in create["400"]["description"]
    assert paths["/api/v1/refunds/{refund_id}"]["get"]["responses"]["404"]["description"] == (
        "`NOT_FOUND_ERROR`: Refund not found"
    )


@pytest.mark.parametrize(
    ("path", "description"),
    [
        ("/api/v1/orders/order_short", "Order not found"),
        ("/api/v1/payments/pay_short", "Payment not found"),
        ("/api/v1/payments/order_NXhj67fGH2jk9mPq/refunds", "Payment not found"),
        ("/api/v1/refunds/rfnd_short", "Refund not found"),
    ],
)
def test_a_malformed_id_is_the_domains_not_found_after_authentication(
    client, merchant_headers, path, description
):
    unauthenticated = client.get(path)
    response = client.get(path, headers=merchant_headers)

    assert unauthenticated.status_code == 401
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "NOT_FOUND_ERROR", "description": description}


def test_a_documented_400_example_is_what_the_api_answers_to_its_refused_body(
    client, merchant_headers
):
    """A body model's `refused_example` is sent as it is; the answer is the operation's
    documented 400 example, word for word (api.routing.refused_body_example)."""
    app = client.app
    refused = 0
    routers = [getattr(r, "original_router", None) for r in app.routes]
    for route in [route for router in routers if router for route in router.routes]:
        body = getattr(route, "body_field", None)
        model = body and refused_body_model(body.field_info.annotation)
        if not model:
            continue
        [method] = route.methods
        path = re.sub(r"\{endpoint_id\}", "we_" + "A" * 16, route.path)
        headers = merchant_headers | {"Idempotency-Key": f"refused-{method}-{route.path}"}
        response = client.request(method, path, json=model.refused_example, headers=headers)
        operation = app.openapi()["paths"][route.path][method.lower()]
        example = operation["responses"]["400"]["content"]["application/json"]["example"]
        assert (response.status_code, response.json()) == (400, example), route.path
        refused += 1
    assert refused >= 5
    create_order = app.openapi()["paths"]["/api/v1/orders"]["post"]["responses"]["400"]
    assert create_order["content"]["application/json"]["example"] == {
        "error": {
            "code": "BAD_REQUEST_ERROR",
            "description": "amount must be at least 100",
            "field": "amount",
        }
    }
