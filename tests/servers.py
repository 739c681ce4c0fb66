"""A web app served for real in a test: uvicorn in a thread on a loopback port."""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn


class ThreadedServer:
    """uvicorn on an already-bound loopback socket, so there is no race for the port."""

    def __init__(self, app) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
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
        # The test is over: no graceful drain of responses still being sent.
        self.server.should_exit = self.server.force_exit = True
        self.thread.join(timeout=5)
        self.socket.close()


class SharedHost:
    """One HTTP server on one host:port for two merchants, like a webhook relay: requests to
    /hang are never answered, requests to /ok are answered at once. Records when each /ok
    delivery arrived, by webhook-id."""

    def __init__(self):

        import uvicorn

        from live import free_port

        self.arrived: dict[str, float] = {}
        self.hanging = 0  # requests to /hang open now
        self.most_hanging = 0

        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            if scope["path"] == "/hang":
                self.hanging += 1
                self.most_hanging = max(self.most_hanging, self.hanging)
                while (await receive())["type"] != "http.disconnect":
                    pass  # never answer; count the request open until the client leaves
                self.hanging -= 1
                return
            headers = dict(scope["headers"])
            self.arrived[headers[b"webhook-id"].decode()] = time.monotonic()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"2")]})  # fmt: skip
            await send({"type": "http.response.body", "body": b"ok"})

        port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        self.base = f"http://127.0.0.1:{port}"

    def wait_until_hanging(self, count: int, within_s: float = 5) -> None:
        """Return once `count` requests to /hang are open, or `within_s` seconds have passed."""
        deadline = time.monotonic() + within_s
        while self.hanging < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def send_test_webhooks(
        self, client, headers: dict[str, str], count: int, gap_s: float, within_s: float
    ) -> dict[str, float]:
        """`count` test webhooks of the merchant of `headers` (its URL this host's /ok), sent
        `gap_s` seconds apart; waits up to `within_s` seconds for them all to arrive. Returns
        when each was sent (time.monotonic()), by webhook-id."""
        sent: dict[str, float] = {}
        for _ in range(count):
            sent_at = time.monotonic()
            response = client.post("/api/v1/webhooks/test", headers=headers)
            sent[response.json()["id"]] = sent_at
            time.sleep(gap_s)
        deadline = time.monotonic() + within_s
        while set(sent) - set(self.arrived) and time.monotonic() < deadline:
            time.sleep(0.01)
        return sent

    def latencies(self, sent: dict[str, float]) -> list[float]:
        """Seconds from sending to arrival of each delivery of `sent` that arrived, shortest
        first."""
        return sorted(self.arrived[i] - sent[i] for i in sent if i in self.arrived)

    def stop(self):
        self.server.should_exit = True
        self.server.force_exit = True
        self.thread.join(10)


@contextmanager
def ticking(tick: Callable[[], object], join_s: float = 15) -> Iterator[None]:
    """`tick` (a dispatcher tick) run every 10 ms in a thread, as the service runs it, until the
    block ends."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            tick()
            time.sleep(0.01)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(join_s)
