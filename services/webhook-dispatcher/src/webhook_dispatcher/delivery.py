"""Delivering one attempt: signed POST, 5 s in all, no redirects, response cut to 4 KB.

Attempts run concurrently on an asyncio loop in a background thread of the dispatcher process,
with one shared HTTP client. The tick (in RQ's worker thread) submits claimed deliveries and
collects finished attempts, so a merchant whose endpoint hangs holds only its own deliveries.
"""

import asyncio
import ipaddress
import queue
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from shared.errors import BadRequest
from shared.signing import signature_headers
from shared.webhook_urls import BlockedDestination, check_addresses, parse_webhook_url

TIMEOUT_S = 5.0
RESPONSE_BODY_LIMIT = 4096
MAX_IN_FLIGHT = 400
# One merchant's endpoint may hold at most this many attempts at once, so a slow or dead
# endpoint can never take more than a quarter of the capacity other merchants' deliveries need.
MAX_IN_FLIGHT_PER_MERCHANT = 100
KEEPALIVE_S = 4.0


class PublicAddressResolver(aiohttp.ThreadedResolver):
    """Checks the addresses a connection is about to use, as it is made: a name cannot pass
    a check with one answer and then be connected to with another (DNS rebinding)."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        hosts = await super().resolve(host, port, family)
        check_addresses([entry["host"] for entry in hosts])  # BlockedDestination
        return hosts


@dataclass(frozen=True)
class Delivery:
    log_id: str
    merchant_id: str
    attempt: int
    url: str
    secrets: list[str]
    body: bytes
    correlation_id: str | None


@dataclass(frozen=True)
class AttemptResult:
    delivery: Delivery
    attempted_at: datetime
    duration_ms: int
    response_code: int | None
    response_body: str | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.response_code is not None and 200 <= self.response_code < 300

    @property
    def outcome(self) -> str:
        """success, http_error, timeout, connection or blocked: for metrics."""
        if self.response_code is not None:
            return "success" if self.succeeded else "http_error"
        error = self.error or ""
        if error.startswith("timed out"):
            return "timeout"
        if error.startswith("connection failed"):
            return "connection"
        return "blocked"


class DeliveryEngine:
    def __init__(self, allow_private_networks: bool):
        self.allow_private_networks = allow_private_networks
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="webhook-delivery", daemon=True
        )
        self._thread.start()
        self._session = asyncio.run_coroutine_threadsafe(
            self._make_session(allow_private_networks), self._loop
        ).result()
        self._finished: queue.SimpleQueue[AttemptResult] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()

    @staticmethod
    async def _make_session(allow_private_networks: bool) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=MAX_IN_FLIGHT,
                limit_per_host=MAX_IN_FLIGHT_PER_MERCHANT,
                resolver=None if allow_private_networks else PublicAddressResolver(),
                # Below the 5 s after which common servers (uvicorn, Node) close an idle
                # connection: reusing one they are closing fails the attempt for nothing.
                keepalive_timeout=KEEPALIVE_S,
            ),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
            headers={"User-Agent": "PaymentGateway-Webhooks/1.0"},
            trust_env=False,
        )

    def close(self) -> None:
        """Close the HTTP session and stop the delivery loop (tests; a worker just exits)."""
        asyncio.run_coroutine_threadsafe(self._session.close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # Called from the tick's thread.

    def capacity(self) -> int:
        with self._lock:
            return MAX_IN_FLIGHT - sum(self._in_flight.values())

    def saturated_merchants(self) -> list[str]:
        with self._lock:
            return [m for m, n in self._in_flight.items() if n >= MAX_IN_FLIGHT_PER_MERCHANT]

    def busy(self) -> bool:
        with self._lock:
            return bool(+self._in_flight) or not self._finished.empty()

    def submit(self, delivery: Delivery) -> None:
        with self._lock:
            self._in_flight[delivery.merchant_id] += 1
        asyncio.run_coroutine_threadsafe(self._run(delivery), self._loop)

    def finished(self) -> list[AttemptResult]:
        results = []
        while True:
            try:
                results.append(self._finished.get_nowait())
            except queue.Empty:
                return results

    # On the delivery loop.

    async def _run(self, delivery: Delivery) -> None:
        try:
            result = await self._attempt(delivery)
        finally:
            with self._lock:
                self._in_flight[delivery.merchant_id] -= 1
        self._finished.put(result)

    async def _attempt(self, delivery: Delivery) -> AttemptResult:
        attempted_at = datetime.now(UTC)
        started = time.perf_counter()
        code: int | None = None
        body: str | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(TIMEOUT_S):
                await self._check_destination(delivery.url)
                headers = signature_headers(
                    delivery.secrets, delivery.log_id, int(time.time()), delivery.body
                )
                async with self._session.post(
                    delivery.url, data=delivery.body, headers=headers, allow_redirects=False
                ) as response:
                    code = response.status
                    body = await _read_capped(response)
        except TimeoutError:
            error = f"timed out after {TIMEOUT_S:g} s"
        except aiohttp.ClientConnectorError as exc:
            error = f"connection failed: {exc.os_error or exc}"
        except BlockedDestination as exc:
            error = str(exc)
        except (aiohttp.ClientError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        return AttemptResult(
            delivery=delivery,
            attempted_at=attempted_at,
            duration_ms=round((time.perf_counter() - started) * 1000),
            response_code=code,
            response_body=body,
            error=error,
        )

    async def _check_destination(self, url: str) -> None:
        if not url:
            raise BlockedDestination("merchant has no webhook URL configured")
        try:
            host, _ = parse_webhook_url(url)
        except BadRequest as exc:
            raise BlockedDestination(exc.description) from None
        if self.allow_private_networks:
            return
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return  # a name: PublicAddressResolver checks what it resolves to
        check_addresses([host])  # an address is connected to as it is, with no lookup


async def _read_capped(response: aiohttp.ClientResponse) -> str:
    """At most RESPONSE_BODY_LIMIT bytes of the body; the rest is never read."""
    received = b""
    while len(received) < RESPONSE_BODY_LIMIT:
        chunk = await response.content.read(RESPONSE_BODY_LIMIT - len(received))
        if not chunk:
            break
        received += chunk
    return received.decode("utf-8", errors="replace")
