"""The retry schedule in real time, with a real dispatcher process and a Redis flush between
attempts: attempts 1-3 about 5 s and 10 s apart, then success."""

import itertools
import time
from datetime import datetime

import httpx
import pytest

from factories import TEST_MERCHANT_HEADERS

pytestmark = pytest.mark.slow


def test_retries_keep_their_schedule_through_a_redis_flush(
    start_service, start_receiver, db, redis
):
    receiver = start_receiver(fail_first=2)
    api = start_service("api")
    start_service("webhook_dispatcher", API_URL=api.url)
    with httpx.Client(base_url=api.url, headers=TEST_MERCHANT_HEADERS, timeout=10) as http:
        assert (
            http.put("/api/v1/webhooks/config", json={"webhook_url": receiver.url}).status_code
            == 200
        )
        log_id = http.post("/api/v1/webhooks/test").json()["id"]

        deadline = time.monotonic() + 30
        flushed = False
        while time.monotonic() < deadline:
            log = http.get(f"/api/v1/webhooks/{log_id}").json()
            if log["attempts"] == 1 and not flushed:
                redis.flushdb()  # the wake-ups are gone; the due time is in PostgreSQL
                flushed = True
            if log["status"] == "success":
                break
            time.sleep(0.2)

    assert log["status"] == "success" and log["attempts"] == 3
    times = [a["attempted_at"] for a in log["attempt_history"]]
    moments = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(moments)]
    assert 5.0 <= gaps[0] < 6.5 and 10.0 <= gaps[1] < 11.5, gaps
    assert [a["response_code"] for a in log["attempt_history"]] == [500, 500, 200]
    assert all(e["hex_signature_valid"] and e["standard_signature_valid"] for e in receiver.events)
    assert len({e["body"] for e in receiver.events}) == 1
