"""Delivering one attempt: signed POST, 5 s in all, no redirects, response cut to 4 KB.

Attempts run concurrently on an asyncio loop in a background thread of the dispatcher process,
with one shared HTTP client. The tick (in RQ's worker thread) submits claimed deliveries and
collects finished attempts. Isolation between endpoints is ours, not the HTTP client's: the
client's connection pool has no per-host limit (a per-host limit is shared by every endpoint
on that host:port, of one merchant or several, so one hanging endpoint would queue another's
deliveries behind it); instead each endpoint (a delivery's lane) may hold at most
MAX_IN_FLIGHT_PER_ENDPOINT attempts, counted here, and the claim never takes more than that.

One attempt has one outcome (docs/webhooks.md#delivery): a 2xx whose response arrived in full within
the 5 s is a success; anything else, including a 2xx status line whose body did not finish in time,
is a failed attempt with no response code and an error that says why in words.
"""

import asyncio
import errno
import functools
import os
import queue
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import aiohttp
from yarl import URL

try:
    import uvloop
except ImportError:  # Windows: uvloop is not available there
    uvloop = None  # type: ignore[assignment]

from shared.core.signing import signature_headers
from shared.domain.errors import BadRequest
from shared.domain.webhook_urls import (
    LOOKUP_THREADS,
    BlockedDestination,
    WebhookTarget,
    check_addresses,
    parse_webhook_url,
)

TIMEOUT_S = 5.0
RESPONSE_BODY_LIMIT = 4096
MAX_IN_FLIGHT = 400
# One endpoint may hold at most this many attempts at once, so a slow or dead endpoint never
# takes more than an eighth of the capacity other endpoints' deliveries need.
MAX_IN_FLIGHT_PER_ENDPOINT = 50
# One merchant may hold at most this many, whatever its number of endpoints (up to 20): a
# merchant whose endpoints hang never takes more than a quarter of the capacity, and one
# hanging endpoint still leaves its merchant's other endpoints as much room as it takes.
MAX_IN_FLIGHT_PER_MERCHANT = 2 * MAX_IN_FLIGHT_PER_ENDPOINT
KEEPALIVE_S = 4.0

# Connection errors as an attempt log says them: words, never "[Errno 111]".
CONNECT_ERRORS = {
    errno.ECONNREFUSED: "connection refused by {where}",
    errno.ECONNRESET: "connection reset by {where}",
    errno.ECONNABORTED: "connection to {where} aborted",
    errno.EHOSTUNREACH: "no route to {where}",
    errno.ENETUNREACH: "network unreachable for {where}",
    errno.ETIMEDOUT: "connecting to {where} timed out",
    errno.EADDRNOTAVAIL: "cannot connect to {where} from here (address not available)",
}


class _PlatformLookups:
    """The two lookups aiohttp's ThreadedResolver asks of its event loop, done as asyncio's
    own loop does them: the socket module's getaddrinfo and getnameinfo in a worker thread.
    uvloop's go through libuv instead; with this, names resolve the same whatever the loop.
    In LOOKUP_THREADS: names that never answer hold a thread each, never the loop's other work.
    The attempt's 5 s bound its lookup too."""

    async def getaddrinfo(self, host: str, port: int, **kwargs: Any) -> list[Any]:
        lookup = functools.partial(socket.getaddrinfo, host, port, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(LOOKUP_THREADS, lookup)

    async def getnameinfo(self, sockaddr: tuple[Any, ...], flags: int = 0) -> tuple[str, str]:
        lookup = functools.partial(socket.getnameinfo, sockaddr, flags)
        return await asyncio.get_running_loop().run_in_executor(LOOKUP_THREADS, lookup)


class PublicAddressResolver(aiohttp.ThreadedResolver):
    """Checks the addresses a connection is about to use, as it is made: a name cannot pass
    a check with one answer and then be connected to with another (DNS rebinding)."""

    def __init__(self) -> None:
        super().__init__(loop=cast(asyncio.AbstractEventLoop, _PlatformLookups()))

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
    endpoint_id: str | None
    # What its attempts in flight are counted under: its endpoint (its merchant without one).
    lane: str
    # The `webhook-id` header: the event's id.
    message_id: str
    event: str
    attempt: int
    url: str
    secrets: list[str]
    body: bytes
    correlation_id: str | None
    # The lease its claim set (the log's next_retry_at): only the lease's holder moves the log
    # on, so a manual retry made while this attempt was in flight stands.
    lease: datetime


@dataclass(frozen=True)
class AttemptResult:
    """One attempt's one outcome: success, http_error, timeout, connection or blocked.
    `response_code` is set only when a response arrived in full (success or http_error)."""

    delivery: Delivery
    attempted_at: datetime
    duration_ms: int
    outcome: str
    response_code: int | None
    response_body: str | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.outcome == "success"


class DeliveryEngine:
    def __init__(self, allow_private_networks: bool):
        self.allow_private_networks = allow_private_networks
        # uvloop where it exists (as for the API): aiohttp's per-request overhead is mostly the
        # event loop's, and the dispatcher makes a request per attempt.
        self._loop = uvloop.new_event_loop() if uvloop else asyncio.new_event_loop()
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
        self._in_flight_by_merchant: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    async def _make_session(allow_private_networks: bool) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                # No pool limits: a per-host limit would be shared by every merchant on that
                # host:port. In-flight attempts are capped per merchant and in all by us.
                limit=0,
                limit_per_host=0,
                resolver=None if allow_private_networks else PublicAddressResolver(),
                # Below the 5 s after which common servers (uvicorn, Node) close an idle
                # connection: reusing one they are closing fails the attempt for nothing.
                keepalive_timeout=KEEPALIVE_S,
            ),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
            # A delivery carries nothing a merchant's server set before: no cookie is kept
            # (a kept one would be sent back, and the jar would grow for as long as we run).
            cookie_jar=aiohttp.DummyCookieJar(),
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

    def lane_rooms(self) -> dict[str, int]:
        """How many more attempts each endpoint (lane) with attempts in flight may start now;
        lanes not listed may start MAX_IN_FLIGHT_PER_ENDPOINT."""
        with self._lock:
            return {x: MAX_IN_FLIGHT_PER_ENDPOINT - n for x, n in self._in_flight.items() if n}

    def merchant_rooms(self) -> dict[str, int]:
        """How many more attempts each merchant with attempts in flight may start now, over
        all its endpoints; merchants not listed may start MAX_IN_FLIGHT_PER_MERCHANT."""
        with self._lock:
            return {
                m: MAX_IN_FLIGHT_PER_MERCHANT - n
                for m, n in self._in_flight_by_merchant.items()
                if n
            }

    def busy(self) -> bool:
        with self._lock:
            return bool(+self._in_flight) or not self._finished.empty()

    def submit(self, deliveries: list[Delivery]) -> None:
        """Start an attempt of each delivery on the delivery loop (one wake-up of the loop for
        the whole batch, not one per delivery)."""
        if not deliveries:
            return
        with self._lock:
            for delivery in deliveries:
                self._in_flight[delivery.lane] += 1
                self._in_flight_by_merchant[delivery.merchant_id] += 1
        self._loop.call_soon_threadsafe(self._start, deliveries)

    # On the delivery loop.

    def _start(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            task = self._loop.create_task(self._run(delivery))
            self._tasks.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._tasks.discard)

    def finished(self) -> list[AttemptResult]:
        results = []
        while True:
            try:
                results.append(self._finished.get_nowait())
            except queue.Empty:
                return results

    async def _run(self, delivery: Delivery) -> None:
        try:
            # Finished before it stops counting as in flight: a tick that sees nothing in
            # flight has every result to record.
            self._finished.put(await self._attempt(delivery))
        finally:
            with self._lock:
                self._in_flight[delivery.lane] -= 1
                self._in_flight_by_merchant[delivery.merchant_id] -= 1

    async def _attempt(self, delivery: Delivery) -> AttemptResult:
        attempted_at = datetime.now(UTC)
        started = time.perf_counter()
        code: int | None = None
        body: str | None = None
        error: str | None = None
        status_line: int | None = None
        try:
            async with asyncio.timeout(TIMEOUT_S):
                target = self._target(delivery)
                headers = signature_headers(
                    delivery.secrets, delivery.message_id, int(time.time()), delivery.body
                )
                async with self._session.post(
                    # Requested exactly as parse_webhook_url read it: the client parses nothing.
                    URL(target.url, encoded=True),
                    data=delivery.body,
                    headers=headers,
                    allow_redirects=False,
                ) as response:
                    status_line = response.status
                    received = await _read_capped(response)
            code, body = status_line, received
            outcome = "success" if 200 <= status_line < 300 else "http_error"
        except TimeoutError:
            outcome, error = "timeout", f"timed out after {TIMEOUT_S:g} s"
            if status_line is not None:
                error += f" reading the response body (status {status_line} received)"
        except aiohttp.ClientConnectorError as exc:
            outcome, error = "connection", f"connection failed: {_connect_error(exc)}"
        except BlockedDestination as exc:
            outcome, error = "blocked", str(exc)
        except aiohttp.ClientPayloadError:
            outcome, error = "connection", "connection failed: the response body was cut short"
        except aiohttp.ServerDisconnectedError:
            outcome = "connection"
            error = "connection failed: the server closed the connection without a response"
        except (aiohttp.ClientError, ValueError) as exc:
            outcome, error = "connection", f"request failed: {type(exc).__name__}"
        return AttemptResult(
            delivery=delivery,
            attempted_at=attempted_at,
            duration_ms=round((time.perf_counter() - started) * 1000),
            outcome=outcome,
            response_code=code,
            response_body=_storable(body),
            error=_storable(error),
        )

    def _target(self, delivery: Delivery) -> WebhookTarget:
        """The URL as saving read it (BlockedDestination if it no longer passes). A delivery
        without an endpoint to go to is ended when claimed, never attempted
        (repository.claim_due)."""
        try:
            target = _parsed_url(delivery.url)
        except BadRequest as exc:
            raise BlockedDestination(exc.description) from None
        if target.address is not None and not self.allow_private_networks:
            check_addresses([str(target.address)])  # an address is connected to with no lookup
        return target  # a name: PublicAddressResolver checks what it resolves to


# A merchant's URL is read once, not at every attempt (README.md#the-cost-of-a-paid-order): reading
# checks it character by character. The check of what a name resolves to stays per attempt
# (PublicAddressResolver).
_parsed_url = functools.lru_cache(maxsize=4096)(parse_webhook_url)


def _connect_error(exc: aiohttp.ClientConnectorError) -> str:
    """Why a connection could not be made, in words, with the host:port tried."""
    where = f"{exc.host}:{exc.port}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"the name {exc.host} could not be resolved"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"the TLS certificate of {where} could not be verified"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return f"the TLS handshake with {where} failed"
    cause = exc.os_error
    if cause.errno in CONNECT_ERRORS:
        return CONNECT_ERRORS[cause.errno].format(where=where)
    if isinstance(cause, socket.gaierror):
        return f"the name {exc.host} could not be resolved"
    if cause.errno is not None:
        return f"{os.strerror(cause.errno).lower()} ({where})"
    return f"{cause} ({where})"


def _storable(text: str | None) -> str | None:
    """`text` as PostgreSQL's text type takes it: a merchant's server may answer anything,
    and one NUL would make the whole batch's attempts fail to record (each NUL becomes
    U+FFFD, as undecodable bytes already do)."""
    return text.replace("\x00", "\ufffd") if text else text


async def _read_capped(response: aiohttp.ClientResponse) -> str:
    """At most RESPONSE_BODY_LIMIT bytes of the body; the rest is never read."""
    received = b""
    while len(received) < RESPONSE_BODY_LIMIT:
        chunk = await response.content.read(RESPONSE_BODY_LIMIT - len(received))
        if not chunk:
            break
        received += chunk
    return received.decode("utf-8", errors="replace")
