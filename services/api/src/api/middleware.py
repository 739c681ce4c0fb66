"""Pure ASGI middleware: CORS for public routes, closing connections while the replica is
being stopped, and the admission of requests to the handlers (the body limit is
shared.core.asgi's)."""

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PUBLIC_PATH = re.compile(r"^/api/v1/(orders/[^/]+/public|payments/public|payments/[^/]+/public)$")


class PublicCorsMiddleware:
    """CORS only for the endpoints the checkout page calls from another origin."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            # The checkout page tells a shopper over a rate limit how long to wait.
            expose_headers=["Retry-After"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and PUBLIC_PATH.match(scope["path"]):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class DrainMiddleware:
    """Once `mark` exists, every response asks its client to close the connection
    (`Connection: close`), so keep-alive clients reconnect, through the Service, to a replica
    that stays. An orchestrator creates the file when it starts stopping this replica (the
    Kubernetes manifests' preStop hook does, then waits before the SIGTERM). Without it, uvicorn
    closes idle keep-alive connections at SIGTERM, and a request sent on one at that moment is
    cut (a ReadError at the client: one in a live rolling restart under 10 payments/s)."""

    def __init__(self, app: ASGIApp, mark: Path, recheck_s: float = 0.1):
        self.app = app
        self.mark = mark
        # The mark is looked for at most every `recheck_s` seconds (a stat(2) per request cost
        # 1 % of the API's CPU), and once seen stays seen: a replica being stopped stays so.
        # The preStop hook waits seconds after creating it, so no client misses it.
        self.recheck_s = recheck_s
        self._draining = False
        self._checked_at = -recheck_s

    def _is_draining(self) -> bool:
        if not self._draining:
            now = time.monotonic()
            if now - self._checked_at >= self.recheck_s:
                self._checked_at = now
                self._draining = os.path.exists(self.mark)
        return self._draining

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._is_draining():
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Connection"] = "close"
            await send(message)

        await self.app(scope, receive, send_closing)


class AdmissionMiddleware:
    """Lets at most `limit` requests run in the app at once (the API gives it DB_POOL_SIZE);
    the rest wait their turn, first come first served, before any work of their own. Paths in
    `exempt` (probes and scrapes) never wait.

    Nearly every request takes one pooled PostgreSQL connection. Unadmitted, requests beyond
    the pool's size queue inside psycopg_pool, whose waiting (a condition and a timeout per
    waiter) costs more Python work the more clients there are; queued here, a waiting request
    costs one semaphore future. cProfile of the API alone, 600 order+payment pairs at 32
    clients: the pool's waits 2,186 -> 12, Python calls per pair -3 %, fewer than at 8
    clients unadmitted (README, "Performance and reliability"). A request admitted holds its
    place while it hashes a password in a thread (work of ours, bounded); it gives its place up
    while it waits on something outside that may take as long as others like (`outside_place`:
    a webhook URL's DNS). Placed inside BodyLimitMiddleware: a request is admitted with its
    whole body read, so a slow sender holds no place."""

    def __init__(self, app: ASGIApp, limit: int, exempt: tuple[str, ...] = ()):
        self.app = app
        self.slots = asyncio.Semaphore(limit)
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        place = _Place(self.slots)
        await place.take()
        token = _current_place.set(place)
        try:
            await self.app(scope, receive, send)
        finally:
            _current_place.reset(token)
            place.give_up()


class _Place:
    """A request's place among AdmissionMiddleware's `limit`, held or given up for a while."""

    def __init__(self, slots: asyncio.Semaphore):
        self.slots = slots
        self.held = False

    async def take(self) -> None:
        await self.slots.acquire()
        self.held = True

    def give_up(self) -> None:
        if self.held:
            self.held = False
            self.slots.release()


_current_place: ContextVar[_Place | None] = ContextVar("admission_place", default=None)


@asynccontextmanager
async def outside_place() -> AsyncIterator[None]:
    """Gives the request's admission place to the next request in line while the block runs,
    and waits for a place again after it (at the back of the line). Outside a request
    (a service called directly), it does nothing."""
    place = _current_place.get()
    if place is None:
        yield
        return
    place.give_up()
    try:
        yield
    finally:
        await place.take()
