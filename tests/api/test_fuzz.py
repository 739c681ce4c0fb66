"""The API fuzzed from its own OpenAPI document with schemathesis.

Thousands of generated requests, valid and deliberately invalid (schemathesis's positive and
negative modes, plus its coverage phase of boundary values), go to every operation: as the
seeded merchant, and to every merchant operation without credentials and with wrong ones.
No response may be a 5xx, and every response must be one the document describes: its status
code, content type, headers and body schema. Where the two disagree, the code or the document
is wrong, never the documented behaviour (docs/api.md decides which).

The requests go over HTTP to a real API process, started once for the module, rather than to
the ASGI app in this process: a request costs the same either way (~7 ms on the 2-core CI
machine; 3,100 requests took 37 s and 39 s), and a real process also puts uvicorn's HTTP
parsing under fire and leaves a log that is checked for unhandled errors. Generation is
derandomized and bounded by max_examples, so CI runs the same requests every time.

No webhook dispatcher runs: the fuzzer saves arbitrary webhook URLs, and nothing may ever be
sent to them.
"""

import itertools
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from api.config import ApiSettings
from api.main import create_app
from factories import card_payment_body, upi_payment_body
from live import LiveProcess, api_argv, free_port
from shared.domain.seed import SeededMerchantSettings, seed_test_merchant

pytestmark = pytest.mark.slow  # a real API process

TEST_MERCHANT = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
AUTH_ERROR = {"error": {"code": "AUTHENTICATION_ERROR", "description": "Invalid API credentials"}}
# Hypothesis examples per operation and run; GATEWAY_FUZZ_EXAMPLES=2000 digs deeper locally.
EXAMPLES = int(os.environ.get("GATEWAY_FUZZ_EXAMPLES", "175"))
ANONYMOUS_EXAMPLES = max(EXAMPLES // 6, 10)
MINIMUM_REQUESTS = 5000 if EXAMPLES >= 175 else 0

# The document exactly as the API serves it at /openapi.json; building it touches no server.
DOCUMENT = create_app(
    ApiSettings(database_url="postgresql://unused", redis_url="redis://unused", log_level="error")
).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)
MERCHANT_OPERATIONS = [
    f"{method.upper()} {path}"
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if operation.get("security")
]
# Without credentials the generated X-Api-Key/X-Api-Secret must not sneak in.
anonymous_schema = schemathesis.openapi.from_dict(DOCUMENT).include(name=MERCHANT_OPERATIONS)
anonymous_schema.config.generation.update(with_security_parameters=False)

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    unsupported_method,
]
FUZZ_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
# GET /payments/public and GET /webhooks/test are, by their paths, GET /payments/{payment_id}
# and GET /webhooks/{webhook_id} of an unknown id (docs/webhooks.md#delivery-logs has both routes):
# they answer 404 "... not found", as an unknown id must, rather than the 405 this check expects.
SHADOWED_BY_AN_ID_ROUTE = {"POST /api/v1/payments/public", "POST /api/v1/webhooks/test"}
REQUESTS: Counter[str] = Counter()


@dataclass
class FuzzedApi:
    url: str
    log_path: Path
    session: requests.Session
    # Real ids by path parameter name, so the fuzzer also reaches past "not found".
    ids: dict[str, list[str]] = field(default_factory=dict)
    foreign_ids: set[str] = field(default_factory=set)
    order_ids: list[str] = field(default_factory=list)


# The running API, for the generation hook below (hooks get no fixtures).
KNOWN: dict[str, FuzzedApi] = {}


def _post(api: FuzzedApi, path: str, body: dict | None, headers: dict) -> dict:
    response = api.session.post(f"{api.url}{path}", json=body, headers=headers, timeout=10)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _seed_resources(api: FuzzedApi, db: psycopg.Connection, headers: dict) -> dict[str, list]:
    """Orders (open and paid), payments (pending and successful), a refund and webhook logs."""
    db.execute(
        "SELECT set_default_webhook_url(id, 'http://127.0.0.1:9/webhook') FROM merchants WHERE api_key = %s",
        (headers["X-Api-Key"],),
    )
    orders = [_post(api, "/api/v1/orders", {"amount": 50_000 + n}, headers) for n in range(6)]
    payments = [
        _post(api, "/api/v1/payments", upi_payment_body(orders[0]["id"]), headers),
        _post(api, "/api/v1/payments", card_payment_body(orders[1]["id"]), headers),
        _post(api, "/api/v1/payments", upi_payment_body(orders[2]["id"]), headers),
        _post(api, "/api/v1/payments", upi_payment_body(orders[3]["id"]), headers),
    ]
    for payment in payments[1:]:  # as the payment worker would leave them
        db.execute("UPDATE payments SET status = 'success' WHERE id = %s", (payment["id"],))
        db.execute("UPDATE orders SET status = 'paid' WHERE id = %s", (payment["order_id"],))
    refund = _post(api, f"/api/v1/payments/{payments[1]['id']}/refunds", {"amount": 1000}, headers)
    _post(api, "/api/v1/webhooks/test", None, headers)
    endpoint = _post(
        api, "/api/v1/webhooks/endpoints", {"url": "http://127.0.0.1:9/other"}, headers
    )
    logs = db.execute(
        "SELECT l.id::text FROM webhook_logs l JOIN merchants m ON m.id = l.merchant_id"
        " WHERE m.api_key = %s ORDER BY l.created_at LIMIT 8",
        (headers["X-Api-Key"],),
    ).fetchall()
    return {
        "order_id": [order["id"] for order in orders],
        "payment_id": [payment["id"] for payment in payments],
        "refund_id": [refund["id"]],
        "webhook_id": [row[0] for row in logs],
        "event_id": [row[0] for row in logs],  # a default delivery log's id is its event's
        "endpoint_id": [endpoint["id"]],
    }


@pytest.fixture(scope="module")
def fuzzed_api(database_url: str, redis_url: str) -> Iterator[FuzzedApi]:
    with psycopg.connect(database_url, autocommit=True) as db:
        seed_test_merchant(db, SeededMerchantSettings())
        port = free_port()
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
               "TEST_MODE": "true", "TEST_PROCESSING_DELAY": "0", "LOG_LEVEL": "info",
               "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true", "PYTHONUNBUFFERED": "1"}  # fmt: skip
        process = LiveProcess("fuzzed-api", api_argv(port), env, f"http://127.0.0.1:{port}")
        try:
            process.wait_until_healthy()
            with requests.Session() as session:
                api = FuzzedApi(process.url, process.log_path, session)
                own = _seed_resources(api, db, TEST_MERCHANT)
                other = _post(
                    api,
                    "/api/v1/merchants",
                    {"name": "Other Shop", "email": "other@fuzz.test", "password": "long enough"},
                    {},
                )
                foreign = _seed_resources(
                    api, db, {"X-Api-Key": other["api_key"], "X-Api-Secret": other["api_secret"]}
                )
                api.ids = {name: own[name] + foreign[name] for name in own}
                api.foreign_ids = {value for values in foreign.values() for value in values}
                api.order_ids = api.ids["order_id"]
                KNOWN["api"] = api
                yield api
        finally:
            KNOWN.clear()
            process.stop()


def _with_known_ids(context, case):
    """Often, ids of resources that exist (the merchant's own and another's), and no
    Idempotency-Key: short generated keys repeat, and would mostly meet a 422 mismatch."""
    api = KNOWN.get("api")
    if api is None or case.meta is None or not case.meta.generation.mode.is_positive:
        return st.just(case)
    swaps = {name: st.sampled_from(api.ids[name]) for name in case.path_parameters or {}}
    if isinstance(case.body, dict) and isinstance(case.body.get("order_id"), str):
        swaps["order_id in body"] = st.sampled_from(api.order_ids)
    if not swaps:
        return st.just(case)

    def swapped(values: dict) -> object:
        for name, value in values.items():
            if name == "order_id in body":
                case.body = {**case.body, "order_id": value}
            else:
                case.path_parameters = {**case.path_parameters, name: value}
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "idempotency-key"}
        return case

    return st.one_of(st.fixed_dictionaries(swaps).map(swapped), st.just(case))


schema.hook("flatmap_case")(_with_known_ids)


class SeededMerchant:
    """The seeded test merchant's credentials, set as schemathesis auth so that its
    ignored_auth check also tries each operation without them and with invalid ones."""

    def get(self, case, context) -> dict[str, str]:
        return TEST_MERCHANT

    def set(self, case, data, context) -> None:
        case.headers = {**(case.headers or {}), **data}


def _count(case) -> None:
    REQUESTS[case.operation.label] += 1


def _touches_another_merchant(api: FuzzedApi, case) -> bool:
    values = list((case.path_parameters or {}).values())
    if isinstance(case.body, dict):
        values.append(case.body.get("order_id"))
    return any(isinstance(value, str) and value in api.foreign_ids for value in values)


@schema.auth.apply(SeededMerchant, retry_on=[])
@schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=EXAMPLES)
def test_fuzz_as_the_merchant(case, fuzzed_api: FuzzedApi):
    _count(case)
    checks = [*CONFORMANCE, ignored_auth]
    if case.operation.label in SHADOWED_BY_AN_ID_ROUTE:
        checks.remove(unsupported_method)
    response = case.call_and_validate(
        base_url=fuzzed_api.url, session=fuzzed_api.session, timeout=10, checks=checks
    )
    if case.operation.label in MERCHANT_OPERATIONS and _touches_another_merchant(fuzzed_api, case):
        assert not 200 <= response.status_code < 300, "another merchant's resource was served"


# Cycled through in order: derandomized generation makes the same request get the same ones.
BAD_CREDENTIALS = itertools.cycle(
    [
        {},
        {"X-Api-Key": "key_test_unknown00", "X-Api-Secret": "secret_test_xyz789"},
        {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_wrong0"},
        {"X-Api-Key": "key_test_abc123"},
        {"X-Api-Secret": "secret_test_xyz789"},
        {"X-Api-Key": "key_test_abc123", "X-Api-Secret": ""},
    ]
)


@anonymous_schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=ANONYMOUS_EXAMPLES)
def test_fuzz_merchant_operations_without_valid_credentials(case, fuzzed_api: FuzzedApi):
    _count(case)
    headers = {k: v for k, v in (case.headers or {}).items() if not k.lower().startswith("x-api-")}
    case.headers = headers | next(BAD_CREDENTIALS)
    response = case.call_and_validate(
        base_url=fuzzed_api.url, session=fuzzed_api.session, timeout=10, checks=CONFORMANCE
    )
    # Refused before any work: 401, or 400 for a request malformed before credentials matter
    # (JSON that does not parse, a bad Idempotency-Key), or 405 for a method not served.
    assert response.status_code in (400, 401, 405), response.text
    if response.status_code == 401:
        error = response.json()["error"]
        assert error["code"] == AUTH_ERROR["error"]["code"]
        assert error["description"] == AUTH_ERROR["error"]["description"]


def test_fuzzing_reached_every_operation_and_crashed_nothing(fuzzed_api: FuzzedApi, capsys):
    if not REQUESTS:
        pytest.skip("the fuzz tests above did not run in this session")
    operations = {f"{m.upper()} {p}" for p, item in DOCUMENT["paths"].items() for m in item}
    assert operations <= REQUESTS.keys()
    assert sum(REQUESTS.values()) >= MINIMUM_REQUESTS, REQUESTS
    log_lines = fuzzed_api.log_path.read_text().splitlines()
    errors = [line for line in log_lines if "unhandled_error" in line or "Traceback" in line]
    assert errors == []
    # Every request the API answered, schemathesis's own auth probes included.
    answered = [json.loads(line) for line in log_lines if '"event": "request"' in line]
    statuses = Counter(entry["status"] for entry in answered)
    assert not [status for status in statuses if status >= 500], statuses
    with capsys.disabled():
        print(
            f"\nfuzzing: {sum(REQUESTS.values())} generated requests to {len(REQUESTS)}"
            f" operations; the API answered {len(answered)} requests: {dict(statuses)}"
        )
