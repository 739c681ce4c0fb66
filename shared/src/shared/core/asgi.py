"""The one correlation-id middleware of every web service: plain ASGI, no web framework, so
importing shared never pulls a web stack into a worker."""

import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog

from shared.core.logging import bind_correlation_id, new_correlation_id

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# (scope, status, seconds) once a request is answered: for metrics.
Observer = Callable[[Scope, int, float], None]

CORRELATION_HEADER = b"x-request-id"
SAFE_CORRELATION_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")
# Probes and scrapes arrive every few seconds and say nothing an operator reads: not logged.
PROBE_PATHS = ("/health", "/livez", "/readyz", "/metrics")


class CorrelationIdMiddleware:
    """Takes the caller's X-Request-Id (if sane) or makes one, binds it into every log line
    and every job the request causes, returns it, and logs one line per request (the path,
    never the query string) except for `quiet_paths` (probes and scrapes by default)."""

    def __init__(
        self,
        app: ASGIApp,
        logger: str,
        observe: Observer | None = None,
        quiet_paths: tuple[str, ...] = PROBE_PATHS,
    ):
        self.app = app
        self.log = structlog.get_logger(logger)
        self.observe = observe
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(CORRELATION_HEADER, b"")
        correlation_id = (
            incoming.decode() if SAFE_CORRELATION_ID.match(incoming) else new_correlation_id()
        )
        structlog.contextvars.clear_contextvars()
        bind_correlation_id(correlation_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (CORRELATION_HEADER, correlation_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            if self.observe is not None:
                self.observe(scope, status, seconds)
            if scope["path"] not in self.quiet_paths:
                self.log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                )


class BodyLimitMiddleware:
    """Refuses a request body over `max_bytes` with `refusal` (an ASGI app: the service's own
    413 answer), whether it is declared (Content-Length) or streamed (chunked, no length).
    The whole body is read before the app runs, never more than `max_bytes` of it, so an
    endpoint that does not read its body cannot act on an oversized stream either, and no
    parser ever holds more than the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, refusal: ASGIApp):
        self.app = app
        self.max_bytes = max_bytes
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self.refusal(scope, receive, send)
            return
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                await self.refusal(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        buffered = iter(messages)

        async def replay() -> Message:
            return next(buffered, None) or await receive()

        await self.app(scope, replay, send)
