"""Retries, backoff and automatic idempotency keys, over real HTTP: a scripted proxy in front
of the live API plays the failures a load balancer or an overloaded API answers with."""

import itertools
import socket
import threading
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from payment_gateway import (
    APIConnectionError,
    BadRequestError,
    ConflictError,
    Gateway,
    RateLimitError,
    ServiceUnavailableError,
)
from payment_gateway._transport import RetryPolicy

pytestmark = pytest.mark.slow

FAST = RetryPolicy(max_retries=3, initial_backoff=0.05, max_backoff=0.2)


class ScriptedProxy:
    """Forwards every request to the API, then answers the scripted (status, headers) for the
    first requests instead of the API's answer: the API did the work, the client never saw it."""

    def __init__(self, upstream: str, script: list[tuple[int, dict[str, str]]]):
        self.upstream, self.script = upstream, list(script)
        self.seen: list[dict[str, str]] = []
        self.app = Starlette(routes=[Route("/{path:path}", self.forward, methods=["GET", "POST"])])

    async def forward(self, request: Request) -> Response:
        self.seen.append(dict(request.headers) | {"at": str(time.monotonic())})
        async with httpx.AsyncClient(base_url=self.upstream) as upstream:
            answer = await upstream.request(
                request.method,
                request.url.path,
                params=request.query_params,
                content=await request.body(),
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            )
        if self.script:
            status, headers = self.script.pop(0)
            return JSONResponse(
                {"error": {"code": "SERVICE_UNAVAILABLE", "description": "try again"}},
                status_code=status,
                headers=headers,
            )
        return Response(answer.content, answer.status_code, headers=dict(answer.headers))


def test_lost_answer_is_retried_with_the_same_idempotency_key(api_url, serve, gateway):
    proxy = ScriptedProxy(api_url, [(503, {"Retry-After": "0.3"})])
    receipt = f"retry-{time.time_ns()}"

    with Gateway("key_test_abc123", "secret_test_xyz789", base_url=serve(proxy.app),
                 retry_policy=FAST) as client:  # fmt: skip
        started = time.monotonic()
        order = client.orders.create(amount=700, receipt=receipt)
        elapsed = time.monotonic() - started

    keys = [seen.get("idempotency-key") for seen in proxy.seen]
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    assert elapsed >= 0.3  # Retry-After honoured
    # The API ran the first request; the retry was answered from the idempotency cache.
    same_receipt = [o for o in gateway.orders.iter() if o.receipt == receipt]
    assert [o.id for o in same_receipt] == [order.id]


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [(429, {"Retry-After": "0.2"}, RateLimitError), (503, {}, ServiceUnavailableError),
     (409, {"Retry-After": "0.1"}, ConflictError)],
)  # fmt: skip
def test_retryable_answers_are_retried_then_raised(api_url, serve, status, headers, error):
    proxy = ScriptedProxy(api_url, [(status, headers)] * 10)
    with Gateway("key_test_abc123", "secret_test_xyz789", base_url=serve(proxy.app),
                 retry_policy=FAST) as client, pytest.raises(error) as raised:  # fmt: skip
        client.orders.list()

    assert len(proxy.seen) == FAST.max_retries + 1
    assert raised.value.status_code == status


def test_a_conflict_without_retry_after_is_final(api_url, serve):
    proxy = ScriptedProxy(api_url, [(409, {})])
    with Gateway("key_test_abc123", "secret_test_xyz789", base_url=serve(proxy.app),
                 retry_policy=FAST) as client, pytest.raises(ConflictError):  # fmt: skip
        client.orders.list()
    assert len(proxy.seen) == 1


def test_client_errors_are_not_retried(api_url, serve):
    proxy = ScriptedProxy(api_url, [])
    with Gateway("key_test_abc123", "secret_test_xyz789", base_url=serve(proxy.app),
                 retry_policy=FAST) as client, pytest.raises(BadRequestError):  # fmt: skip
        client.orders.create(amount=1)
    assert len(proxy.seen) == 1


def test_without_retries_no_key_is_invented(api_url, serve):
    proxy = ScriptedProxy(api_url, [])
    with Gateway("key_test_abc123", "secret_test_xyz789", base_url=serve(proxy.app),
                 max_retries=0) as client:  # fmt: skip
        client.orders.create(amount=100)
        client.orders.create(amount=100, idempotency_key="mine-1")
    assert "idempotency-key" not in proxy.seen[0]
    assert proxy.seen[1]["idempotency-key"] == "mine-1"


@pytest.fixture
def slamming_server():
    """A TCP server that accepts and closes every connection at once; counts them."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[float] = []

    def run() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            accepted.append(time.monotonic())
            connection.close()

    threading.Thread(target=run, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    listener.close()


def test_connection_errors_are_retried_with_backoff(slamming_server):
    url, accepted = slamming_server
    policy = RetryPolicy(max_retries=3, initial_backoff=0.1, max_backoff=1.0)
    with Gateway("k", "s", base_url=url, retry_policy=policy) as client:
        with pytest.raises(APIConnectionError):
            client.orders.list()
        with pytest.raises(APIConnectionError):
            # A POST without a key (sign-up takes none) may have run: not resent after the
            # request went out. Every merchant POST carries a key, so it is resent.
            client.merchants.sign_up("Shop", "shop@example.com", "a long password")

    assert len(accepted) == 4 + 1
    gaps = [b - a for a, b in itertools.pairwise(accepted[:4])]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2  # doubling, half-jittered


def test_nothing_listening_is_a_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with (
        Gateway("k", "s", base_url=url, retry_policy=FAST) as client,
        pytest.raises(APIConnectionError),
    ):
        client.orders.create(amount=100)
