"""The full card number and the CVV are never stored or logged (docs/api.md#sensitive-data), and no
secret (API secret, webhook secret, password) is ever logged.

Card payments go through the whole pipeline, API, payment worker and webhook delivery, with
every log at debug level: once as real processes (their logs are the files start_service
writes), once in this process (its stderr, through capfd). Then the database is dumped
(pg_dump where it works, and always every table's rows as text, bytea decoded) and searched.
"""

import os
import re
import shutil
import subprocess
import sys
import time

import httpx
import psycopg
import pytest
import structlog
from fastapi.testclient import TestClient

from api.main import create_app
from factories import luhn_complete
from payment_worker.tasks import finalize_due_payments
from webhook_dispatcher import tasks as dispatcher_tasks

TEST_MERCHANT = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}


def spaced(number: str, separator: str) -> str:
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


# Distinct Luhn-valid numbers of every network and length, in every accepted spelling, with
# 4-digit CVVs that are neither a year nor any card's last four digits.
VALID_CARDS = [
    (spaced(luhn_complete("453914880343646", 16), " "), "7391"),
    (luhn_complete("523761938401927", 16), "8462"),
    (luhn_complete("37828224631001", 15), "5917"),
    (spaced(luhn_complete("608284511937462", 16), "-"), "6283"),
    (luhn_complete("812934756102398471", 19), "4075"),
    (luhn_complete("4916338506082832", 17), "9148"),
]
REFUSED_CARDS = [
    ("4929 1234 5678 9013", "3856"),  # fails Luhn
    (luhn_complete("601155667788990", 16), "2749"),  # expired, below
]
UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def digits(number: str) -> str:
    return re.sub(r"[\s-]", "", number)


def card_body(order_id: str, number: str, cvv: str, expiry_year: str = "2035") -> dict:
    card = {"number": number, "expiry_month": "07", "expiry_year": expiry_year, "cvv": cvv,
            "holder_name": "Asha Rao"}  # fmt: skip
    return {"order_id": order_id, "method": "card", "card": card}


def assert_no_card_data(text: str, where: str) -> None:
    """No card number (as sent, as digits, or all but its last four) and no CVV as a value of
    its own; UUIDs are removed first, as their hex groups could spell one by chance."""
    squeezed = digits(text)
    tokens = set(re.findall(r"[A-Za-z0-9]+", UUID.sub(" ", text)))
    for number, cvv in VALID_CARDS + REFUSED_CARDS:
        assert number not in text, f"card number {number} in {where}"
        assert digits(number)[:-4] not in squeezed, f"card number {number} in {where}"
        assert cvv not in tokens, f"CVV {cvv} in {where}"
    # A word of its own: random ids (pay_sNJQhycVVv93ERVN) may spell "cvv" inside them.
    assert not re.search(r"\bcvv\b", text, re.IGNORECASE), f"a CVV field in {where}"


def database_dump(database_url: str) -> str:
    """Every row of every table as text (bytea decoded), plus pg_dump's output where pg_dump
    is installed and matches the server's version."""
    parts = []
    with psycopg.connect(database_url) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        for (table,) in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                values = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in row]
                parts.append(f"{table}: {values!r}")
    assert any(part.startswith("payments:") for part in parts), "nothing was dumped"
    pg_dump = shutil.which("pg_dump") or "/usr/bin/pg_dump"
    if os.path.exists(pg_dump):
        dumped = subprocess.run(
            [pg_dump, "--data-only", "--no-owner", f"--dbname={database_url}"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PGOPTIONS": "-c bytea_output=escape"},
            check=False,
        )
        if dumped.returncode == 0:  # else, e.g., a pg_dump older than the server
            assert "COPY public.payments" in dumped.stdout
            parts.append(dumped.stdout)
    return "\n".join(parts)


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def pay_with_every_card(http, db) -> list[str]:
    """Card payments through the merchant and the public endpoint, some with an idempotency
    key (the key's stored response must be clean too); refused cards too. Returns the ids."""
    ids = []
    for n, (number, cvv) in enumerate(VALID_CARDS):
        order = http.post("/api/v1/orders", json={"amount": 10_000 + n}, headers=TEST_MERCHANT)
        assert order.status_code == 201, order.text
        body = card_body(order.json()["id"], number, cvv)
        if n % 3 == 0:
            response = http.post("/api/v1/payments/public", json=body)
        else:
            key = {"Idempotency-Key": f"card-{n}"} if n % 3 == 1 else {}
            response = http.post("/api/v1/payments", json=body, headers=TEST_MERCHANT | key)
        assert response.status_code == 201, response.text
        assert response.json()["card_last4"] == digits(number)[-4:]
        ids.append(response.json()["id"])
    order_id = http.post("/api/v1/orders", json={"amount": 5000}, headers=TEST_MERCHANT).json()[
        "id"
    ]
    for (number, cvv), year in zip(REFUSED_CARDS, ("2035", "2020"), strict=True):
        refused = http.post(
            "/api/v1/payments", json=card_body(order_id, number, cvv, year), headers=TEST_MERCHANT
        )
        assert refused.status_code == 400, refused.text
        assert number not in refused.text and cvv not in refused.text
    return ids


def all_done(db, payment_ids: list[str]) -> bool:
    payments = db.execute(
        "SELECT count(*) AS n FROM payments WHERE id = ANY(%s) AND status = 'success'",
        (payment_ids,),
    ).fetchone()["n"]
    pending_logs = db.execute(
        "SELECT count(*) AS n FROM webhook_logs WHERE status <> 'success'"
    ).fetchone()["n"]
    # Two events at creation and one at success for each payment, all delivered.
    logs = db.execute("SELECT count(*) AS n FROM webhook_logs").fetchone()["n"]
    return payments == len(payment_ids) and logs == 3 * len(payment_ids) and pending_logs == 0


@pytest.mark.slow
def test_card_data_is_in_no_database_row_and_no_log_of_the_real_services(
    start_service, start_receiver, db, database_url
):
    receiver = start_receiver()
    db.execute(
        "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test", (receiver.url,)
    )
    debug = {"LOG_LEVEL": "debug"}
    api = start_service("api", **debug)
    workers = [
        start_service(name, API_URL=api.url, **debug)
        for name in ("payment_worker", "webhook_dispatcher")
    ]

    with httpx.Client(base_url=api.url, timeout=10) as http:
        payment_ids = pay_with_every_card(http, db)
        wait_until(lambda: all_done(db, payment_ids))
        for payment_id in payment_ids:
            assert http.get(f"/api/v1/payments/{payment_id}/public").json()["status"] == "success"

    logs = {service.name: service.log_path.read_text() for service in (api, *workers)}
    assert '"path": "/api/v1/payments"' in logs["api"]  # the logs are really being read
    assert '"event": "payment_finalized"' in logs["payment_worker"]
    assert '"event": "webhook_attempt"' in logs["webhook_dispatcher"]
    for name, text in logs.items():
        assert_no_card_data(text, f"the {name} log")
    assert_no_card_data(database_dump(database_url), "the database")
    assert_no_card_data("\n".join(event["body"] for event in receiver.events), "a webhook")


def forget_cached_loggers() -> None:
    """Module-level structlog loggers keep the configuration of their first use, which may be
    an earlier test's; forget it, so that this test's configuration reaches all of them."""
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in {"api", "shared", "payment_worker", "webhook_dispatcher"}:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, structlog._config.BoundLoggerLazyProxy):
                vars(value).pop("bind", None)


@pytest.fixture
def debug_logs_on_stderr(capfd, monkeypatch):
    """This process's logs, at debug level, written to file descriptor 2 (captured by capfd;
    a stream that outlives the test, unlike capfd's own sys.stderr)."""
    forget_cached_loggers()
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    yield lambda: capfd.readouterr().err
    forget_cached_loggers()


def test_card_data_is_in_no_log_line_of_this_process(
    settings, db, redis, worker_env, start_receiver, debug_logs_on_stderr, database_url
):
    worker_env.setenv("LOG_LEVEL", "debug")
    receiver = start_receiver()
    db.execute(
        "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test", (receiver.url,)
    )
    dispatcher_tasks.delivery_engine.cache_clear()
    app = create_app(settings.model_copy(update={"log_level": "debug"}))

    with TestClient(app, raise_server_exceptions=False) as http:
        payment_ids = pay_with_every_card(http, db)
        assert finalize_due_payments() == len(payment_ids)
        dispatcher_tasks.deliver_due_webhooks()
    dispatcher_tasks.delivery_engine.cache_clear()

    assert all_done(db, payment_ids)
    logged = debug_logs_on_stderr()
    assert '"path": "/api/v1/payments"' in logged  # the logs are really being read
    assert '"event": "payment_finalized"' in logged
    assert '"event": "webhook_attempt"' in logged
    assert_no_card_data(logged, "this process's log")
    assert_no_card_data(database_dump(database_url), "the database")


@pytest.mark.slow
def test_secrets_are_in_no_log_line_of_the_api(start_service, db):
    api = start_service("api", LOG_LEVEL="debug")
    password = "Tr0ub4dor&3-horse-battery"
    secrets = {password, "secret_test_xyz789", "whsec_test_abc123", "wrong-password-123"}

    with httpx.Client(base_url=api.url, timeout=10) as http:
        merchant = http.post(
            "/api/v1/merchants",
            json={"name": "Secret Shop", "email": "owner@secret.test", "password": password},
        ).json()
        own = {"X-Api-Key": merchant["api_key"], "X-Api-Secret": merchant["api_secret"]}
        secrets |= {merchant["api_secret"], merchant["webhook_secret"]}
        logins = [
            http.post("/api/v1/merchants/login", json={"email": merchant["email"], "password": p})
            for p in (password, "wrong-password-123")
        ]
        assert [login.status_code for login in logins] == [200, 401]
        test_login = http.post(
            "/api/v1/merchants/login", json={"email": "test@example.com", "password": password}
        )
        assert test_login.status_code == 200
        for headers in (own, TEST_MERCHANT):
            assert http.get("/api/v1/webhooks/config", headers=headers).status_code == 200
            rotated = http.post("/api/v1/webhooks/config/rotate-secret", headers=headers).json()
            secrets.add(rotated["webhook_secret"])
        wrong = own | {"X-Api-Secret": "secret_live_" + "f" * 32}
        secrets.add(wrong["X-Api-Secret"])
        assert http.get("/api/v1/orders", headers=wrong).status_code == 401
        assert http.get("/api/v1/orders", headers=own).status_code == 200
        # Secrets in the query string, where a careless client might put them.
        http.get("/api/v1/orders", params={"api_secret": merchant["api_secret"]})

    logged = api.log_path.read_text()
    assert logged.count('"event": "request"') >= 10  # the log is really being read
    for secret in secrets:
        assert secret not in logged, f"a secret ({secret[:8]}...) is in the API's log"
