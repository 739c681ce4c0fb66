"""`make receiver` (devstack.receiver) checks deliveries as a merchant should: signatures, a
timestamp within 5 minutes, each webhook-id handled once; and says what it refused."""

import json
import re
import subprocess
import sys
import time

import httpx
import pytest

from live import free_port
from shared.core.signing import signature_headers

SECRET = "whsec_test_abc123"  # the seeded test merchant's
BODY = json.dumps(
    {"event": "payment.success", "timestamp": 1705315870, "data": {"payment": {"id": "pay_1"}}},
    separators=(",", ":"),
).encode()


def deliver(url: str, webhook_id: str, timestamp: int) -> httpx.Response:
    headers = signature_headers([SECRET], webhook_id, timestamp, BODY)
    return httpx.post(url, content=BODY, headers=headers)


@pytest.mark.slow
def test_stale_replays_are_refused_and_duplicates_acknowledged_once():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.receiver", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/webhook"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the receiver never listened"
                time.sleep(0.1)
        now = int(time.time())
        first = deliver(url, "evt-1", now)
        replayed = deliver(url, "evt-1", now)  # the same request again, seconds later
        stale = deliver(url, "evt-2", now - 600)  # recorded, re-signed 10 minutes back
        ahead = deliver(url, "evt-3", now + 600)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)

    assert first.status_code == 200 and first.json() == {"ok": True}
    assert replayed.status_code == 200 and replayed.json()["duplicate_of"] == 1
    assert stale.status_code == 400 and ahead.status_code == 400
    lines = [line for line in output.splitlines() if line.startswith("#")]
    assert "signatures ok" in lines[0]
    assert "DUPLICATE of #1" in lines[1] and "not handled again" in lines[1]
    assert "STALE" in lines[2] and "answering 400" in lines[2]
    assert re.search(r"\(6\d\d s old, tolerance 300 s\)", lines[2]), lines[2]
    assert "STALE" in lines[3] and "ahead" in lines[3]


def test_a_retry_after_a_failed_answer_is_handled_not_a_duplicate(start_receiver):
    receiver = start_receiver(fail_first=1)
    now = int(time.time())

    assert deliver(receiver.url, "evt-retried", now).status_code == 500
    assert deliver(receiver.url, "evt-retried", now + 1).json() == {"ok": True}
    assert deliver(receiver.url, "evt-retried", now + 2).json()["duplicate_of"] == 2
    assert [e["duplicate_of"] for e in receiver.events] == [None, None, 2]
