"""A webhook URL's host is looked up before its request holds anything (api.webhooks.url_check):
a name whose DNS servers never answer holds up no other request, and is refused as a temporary
failure after LOOKUP_TIMEOUT_S. DNS is outside our system: `socket.getaddrinfo` stands in for
it, for names under .test only."""

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.domain import webhook_urls

REAL_GETADDRINFO = socket.getaddrinfo
PUBLIC_ADDRESS = "93.184.216.34"


class SlowDns:
    """Names under .test answer PUBLIC_ADDRESS once `answer` is set (or fail with `error`);
    `asked` counts the lookups begun."""

    def __init__(self) -> None:
        self.answer = threading.Event()
        self.error: int | None = None
        self.asked = 0
        self._lock = threading.Lock()

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if not name or not name.rstrip(".").endswith(".test"):
            return REAL_GETADDRINFO(host, port, family, type, proto, flags)
        with self._lock:
            self.asked += 1
        self.answer.wait(30)
        if self.error is not None:
            raise socket.gaierror(self.error, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_ADDRESS, port))]

    def wait_for_lookups(self, count: int, within_s: float = 10) -> int:
        deadline = time.monotonic() + within_s
        while self.asked < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.asked


@pytest.fixture
def dns(monkeypatch):
    slow = SlowDns()
    monkeypatch.setattr(socket, "getaddrinfo", slow.getaddrinfo)
    yield slow
    slow.answer.set()  # no lookup thread is left waiting after the test


def put_config(client, headers, url):
    return client.put("/api/v1/webhooks/config", json={"webhook_url": url}, headers=headers)


def create_endpoint(client, headers, url, key):
    return client.post(
        "/api/v1/webhooks/endpoints",
        json={"url": url, "events": ["payment.success"]},
        headers={**headers, "Idempotency-Key": key},
    )


def test_names_that_never_answer_hold_up_no_other_request(
    guarded_client, merchant_headers, dns, monkeypatch
):
    """More slow saves than the API has places (DB_POOL_SIZE 5) and Idempotency-Key
    transactions (3): an order is still made at once, and every save ends once DNS answers."""
    monkeypatch.setattr(webhook_urls, "LOOKUP_TIMEOUT_S", 30.0)
    with ThreadPoolExecutor(max_workers=8) as pool:
        saves = [
            pool.submit(create_endpoint, guarded_client, merchant_headers,
                        f"https://hooks-{n}.shop.test/in", f"slow-save-{n}")
            for n in range(4)
        ] + [
            pool.submit(put_config, guarded_client, merchant_headers, "https://shop.test/hook")
            for _ in range(3)
        ]  # fmt: skip
        dns.wait_for_lookups(7, within_s=3)  # every save looks its name up at once

        order = pool.submit(
            guarded_client.post,
            "/api/v1/orders",
            json={"amount": 50000, "currency": "INR", "receipt": "while-dns-is-slow"},
            headers={**merchant_headers, "Idempotency-Key": "order-while-dns-is-slow"},
        )
        assert order.result(timeout=10).status_code == 201
        assert all(not save.done() for save in saves)

        dns.answer.set()
        statuses = sorted(save.result(timeout=30).status_code for save in saves)
    assert statuses == [200, 200, 200, 201, 201, 201, 201]


def test_a_name_that_never_answers_is_a_temporary_failure_after_the_lookup_timeout(
    guarded_client, merchant_headers, dns, monkeypatch
):
    monkeypatch.setattr(webhook_urls, "LOOKUP_TIMEOUT_S", 0.3)
    with ThreadPoolExecutor(max_workers=1) as pool:
        saving = pool.submit(put_config, guarded_client, merchant_headers, "https://shop.test/h")
        response = saving.result(timeout=10)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "webhook_url"
    assert error["description"] == (
        "webhook_url host could not be resolved (a temporary DNS failure: try again in a minute)"
    )


def test_a_replay_answers_its_stored_response_whatever_dns_says_now(
    guarded_client, merchant_headers, dns
):
    dns.answer.set()
    first = create_endpoint(guarded_client, merchant_headers, "https://shop.test/in", "replay-1")
    assert first.status_code == 201, first.text

    dns.error = socket.EAI_NONAME  # the name is gone since
    again = create_endpoint(guarded_client, merchant_headers, "https://shop.test/in", "replay-1")

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    # A new request for the same URL is refused as the name now is.
    new = create_endpoint(guarded_client, merchant_headers, "https://shop.test/in", "replay-2")
    assert new.status_code == 400
    assert new.json()["error"]["description"] == "url host could not be resolved"


def test_an_endpoint_update_is_checked_ahead_too(guarded_client, merchant_headers, dns):
    dns.answer.set()
    created = create_endpoint(guarded_client, merchant_headers, "https://shop.test/in", "upd-1")
    endpoint_id = created.json()["id"]
    dns.error = socket.EAI_NONAME

    response = guarded_client.patch(
        f"/api/v1/webhooks/endpoints/{endpoint_id}",
        json={"url": "https://moved.shop.test/in"},
        headers=merchant_headers,
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "BAD_REQUEST_ERROR",
        "description": "url host could not be resolved",
        "field": "url",
    }


def test_nothing_is_looked_up_for_a_request_that_is_not_authenticated(guarded_client, dns):
    dns.answer.set()
    response = put_config(
        guarded_client, {"X-Api-Key": "rzp_test_nobody", "X-Api-Secret": "x"}, "https://a.test/"
    )

    assert response.status_code == 401
    assert dns.asked == 0
