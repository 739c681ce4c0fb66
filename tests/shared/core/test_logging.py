"""What an operator reads: one line per request (never probes), one line per state change with
its ids and correlation id, JSON or console lines as LOG_FORMAT says."""

import io
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import time

import httpx
import pytest
import structlog

from shared.core.logging import configure_logging, log_format, redact_url

pytestmark = pytest.mark.slow


def json_lines(path) -> list[dict]:
    lines = []
    for raw in path.read_text().splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            pytest.fail(f"not a JSON line with LOG_FORMAT=json: {raw!r}")
    return lines


def wait_for(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise TimeoutError


def test_one_line_per_request_and_per_state_change(
    start_service, receiver, merchant_headers: dict[str, str]
):
    api = start_service("api", LOG_FORMAT="json")
    workers = [
        start_service(name, API_URL=api.url, LOG_FORMAT="json")
        for name in ("payment_worker", "refund_worker", "webhook_dispatcher")
    ]
    with httpx.Client(base_url=api.url, headers=merchant_headers, timeout=10) as http:
        for probe in ("/health", "/livez", "/readyz", "/metrics") * 3:
            http.get(probe)
        order = http.post("/api/v1/orders", json={"amount": 50000, "receipt": "r1"}).json()
        created = http.post(
            "/api/v1/payments",
            json={"order_id": order["id"], "method": "upi", "vpa": "user@paytm"},
            headers={"X-Request-Id": "req_logs_payment"},
        )
        payment_id = created.json()["id"]
        wait_for(lambda: http.get(f"/api/v1/payments/{payment_id}").json()["status"] == "success")
        refund = http.post(
            f"/api/v1/payments/{payment_id}/refunds",
            json={"amount": 10000},
            headers={"X-Request-Id": "req_logs_refund"},
        ).json()
        wait_for(
            lambda: http.get(f"/api/v1/refunds/{refund['id']}").json()["status"] == "processed"
        )
        # payment.created, .pending, .success, refund.created, .processed
        wait_for(lambda: len(receiver.events) >= 5)
    for service in (*workers, api):
        service.stop()

    api_lines = json_lines(api.log_path)
    requests = [line for line in api_lines if line["event"] == "request"]
    assert {line["path"] for line in requests}.isdisjoint(
        {"/health", "/livez", "/readyz", "/metrics"}
    )
    payment_requests = [r for r in requests if r["path"] == "/api/v1/payments"]
    assert len(payment_requests) == 1
    assert payment_requests[0]["correlation_id"] == "req_logs_payment"

    lines = api_lines + [line for worker in workers for line in json_lines(worker.log_path)]

    def state_lines(event: str, **fields: str) -> list[dict]:
        return [
            line
            for line in lines
            if line["event"] == event and all(line.get(k) == v for k, v in fields.items())
        ]

    [created_line] = state_lines("payment_created", payment_id=payment_id)
    assert created_line["correlation_id"] == "req_logs_payment"
    assert created_line["order_id"] == order["id"]
    assert created_line["status"] == "pending"
    [finalized] = state_lines("payment_finalized", payment_id=payment_id)
    assert finalized["correlation_id"] == "req_logs_payment"
    assert finalized["order_id"] == order["id"]
    assert finalized["status"] == "success"
    [refund_created] = state_lines("refund_created", refund_id=refund["id"])
    assert refund_created["correlation_id"] == "req_logs_refund"
    assert refund_created["payment_id"] == payment_id
    [refund_processed] = state_lines("refund_processed", refund_id=refund["id"])
    assert refund_processed["correlation_id"] == "req_logs_refund"
    # Each state change names the deliveries it queued; no line more per delivery
    # (docs/operations/observability.md#logs).
    assert not state_lines("webhook_queued")
    queued = [
        *created_line["webhook_ids"], *finalized["webhook_ids"],
        *refund_created["webhook_ids"], *refund_processed["webhook_ids"],
    ]  # fmt: skip
    assert len(created_line["webhook_ids"]) == 2 and len(set(queued)) == 5
    attempts = state_lines("webhook_attempt", status="success")
    assert {a["webhook_id"] for a in attempts} == set(queued)
    assert sorted(a["event_type"] for a in attempts) == [
        "payment.created", "payment.pending", "payment.success",
        "refund.created", "refund.processed",
    ]  # fmt: skip
    for line in attempts:
        assert line["correlation_id"] in ("req_logs_payment", "req_logs_refund")


@pytest.mark.parametrize(
    ("value", "tty", "expected"),
    [
        ("", True, "console"),
        ("", False, "json"),
        ("auto", True, "console"),
        ("json", True, "json"),
        ("console", False, "console"),
        ("JSON", False, "json"),
    ],
)
def test_log_format_follows_the_variable_then_the_terminal(value, tty, expected):
    assert log_format({"LOG_FORMAT": value}, tty=tty) == expected


def test_a_bad_log_format_stops_with_one_line(capsys):
    with pytest.raises(SystemExit) as stopped:
        log_format({"LOG_FORMAT": "xml"})
    assert stopped.value.code == 2
    assert capsys.readouterr().err.startswith("configuration error: LOG_FORMAT is invalid")


def logging_in_a_process(code: str, log_format: str) -> str:
    """stderr of a fresh interpreter that configures logging as `api`, then runs `code`: its
    stderr is a pipe, as a service's is, and no logger of this process is cached with the
    format under test."""
    env = {**os.environ, "LOG_FORMAT": log_format}
    env.pop("NO_COLOR", None)
    program = "from shared.core.logging import configure_logging\nconfigure_logging('api')\n" + code
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_console_lines_are_readable_and_json_lines_parse():
    code = "import structlog\nstructlog.get_logger('t').info('payment_created', payment_id='pay_1')"
    console = logging_in_a_process(code, "console")
    assert "payment_created" in console and "pay_1" in console
    assert "\x1b[" in console  # coloured even into a pipe: make run prefixes and forwards it
    with pytest.raises(ValueError):
        json.loads(console)
    line = json.loads(logging_in_a_process(code, "json"))
    assert line["payment_id"] == "pay_1" and line["service"] == "api"


def test_console_lines_are_short():
    # They averaged 200 characters under make run: an ISO timestamp to the microsecond, the
    # event padded to 30 columns and the service named again although make run prefixes it.
    code = "import structlog\nstructlog.get_logger('t').info('payment_created', payment_id='pay_1')"
    line = re.sub(r"\x1b\[[0-9;]*m", "", logging_in_a_process(code, "console")).strip()
    assert re.fullmatch(r"\d\d:\d\d:\d\d \[info\] payment_created payment_id=pay_1", line), line
    # JSON keeps what machines need: the service, and the time in UTC to the microsecond.
    record = json.loads(logging_in_a_process(code, "json"))
    assert record["service"] == "api"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["timestamp"])


def test_console_lines_show_the_first_of_a_list_and_json_lines_keep_all():
    # payment_created named every delivery it queued (two events, each to every endpoint) and
    # database_ready every migration: console lines of 200 characters and more.
    ids = [f"{n:08d}-0000-4000-8000-000000000000" for n in range(4)]
    code = (
        "import structlog\n"
        f"structlog.get_logger('t').info('payment_created', payment_id='pay_1', webhook_ids={ids})\n"
        "structlog.get_logger('t').info('database_ready', applied=['001_a', '002_b', '003_c'])\n"
        "structlog.get_logger('t').info('payment_created', payment_id='pay_2', webhook_ids=['x'])"
    )
    lines = re.sub(r"\x1b\[[0-9;]*m", "", logging_in_a_process(code, "console")).splitlines()
    assert lines[0].endswith(f"webhook_ids='{ids[0]} (+3 more)'"), lines[0]
    assert not any(i in lines[0] for i in ids[1:]) and len(lines[0]) < 120
    assert lines[1].endswith("applied='001_a (+2 more)'"), lines[1]
    assert lines[2].endswith("webhook_ids=['x']"), lines[2]
    records = [json.loads(x) for x in logging_in_a_process(code, "json").splitlines()]
    assert records[0]["webhook_ids"] == ids
    assert records[1]["applied"] == ["001_a", "002_b", "003_c"]


def test_urls_in_log_lines_hide_passwords():
    assert redact_url("postgresql://gw:s3cret@db:5432/pg") == "postgresql://gw:***@db:5432/pg"
    assert redact_url("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redact_url("host=db password=s3cret dbname=pg") == "host=db password=*** dbname=pg"
    assert redact_url("http://localhost:8000/health") == "http://localhost:8000/health"


def test_lines_from_two_threads_never_interleave():
    code = textwrap.dedent("""
        import logging, threading, structlog

        def structlog_lines():
            for i in range(300):
                structlog.get_logger("a").info("structlog_line", i=i)

        def stdlib_lines():
            for i in range(300):
                logging.getLogger("rq.worker").info("stdlib line %d", i)

        threads = [threading.Thread(target=structlog_lines), threading.Thread(target=stdlib_lines)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    """)
    lines = logging_in_a_process(code, "json").splitlines()
    assert len(lines) == 600
    assert all(json.loads(line)["service"] == "api" for line in lines)


def test_lines_go_to_the_stderr_of_the_moment_not_of_configuration(monkeypatch):
    # An app created under pytest's capsys bound structlog to that capture, which pytest later
    # closed: every test folder run after it failed with "I/O operation on closed file".
    monkeypatch.setenv("LOG_FORMAT", "json")
    captured_then = io.StringIO()
    monkeypatch.setattr(sys, "stderr", captured_then)
    configure_logging("api")
    now = io.StringIO()
    monkeypatch.setattr(sys, "stderr", now)
    captured_then.close()

    structlog.get_logger("t").info("payment_created", payment_id="pay_1")
    logging.getLogger("rq.worker").info("stdlib line")

    lines = [json.loads(line) for line in now.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["payment_created", "stdlib line"]
