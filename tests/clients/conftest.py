"""Fixtures for the client, CLI and generated-client tests: the session's live API (a real
API process and payment worker, tests/fixtures/live.py) and small real HTTP servers beside it."""

import uuid
from collections.abc import Iterator

import pytest
from servers import ThreadedServer

from payment_gateway import Gateway

TEST_KEY, TEST_SECRET = "key_test_abc123", "secret_test_xyz789"


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
