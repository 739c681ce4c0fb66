"""Fixtures for the client, CLI and generated-client tests: the session's live API (a real
API process and payment worker, tests/fixtures/live.py) and small real HTTP servers beside it."""

import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import uvicorn

from payment_gateway import Gateway

TEST_KEY, TEST_SECRET = "key_test_abc123", "secret_test_xyz789"


class ThreadedServer:
    """uvicorn in a thread on an already-bound loopback socket (no race for the port)."""

    def __init__(self, app) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> "ThreadedServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"test server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.socket.close()


@pytest.fixture
def serve():
    """serve(app) -> url: an ASGI app on a real loopback port for the test's duration."""
    running: list[ThreadedServer] = []

    def start(app) -> str:
        server = ThreadedServer(app).__enter__()
        running.append(server)
        return server.url

    yield start
    for server in running:
        server.__exit__(None, None, None)


@pytest.fixture
def gateway(api_url: str) -> Iterator[Gateway]:
    """The seeded test merchant's client on the live API."""
    with Gateway(TEST_KEY, TEST_SECRET, base_url=api_url) as client:
        yield client


@pytest.fixture
def fresh_merchant(api_url: str) -> Iterator[Gateway]:
    """A newly signed-up merchant's client: lists start empty."""
    with Gateway(base_url=api_url) as anonymous:
        merchant = anonymous.merchants.sign_up(
            "Client Test", f"client-{uuid.uuid4().hex[:12]}@example.test", "correct horse"
        )
    with Gateway(merchant.api_key, merchant.api_secret, base_url=api_url) as client:
        yield client
