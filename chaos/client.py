"""A merchant's HTTP client as a careful integration would write it: it retries a request
that met a connection error, a 503 or a 409 "still running", with the same Idempotency-Key
when it sent one, and counts everything it had to do so."""

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

MERCHANT_HEADERS = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
REQUEST_TIMEOUT_S = 10.0
# A request is given up after this long; a fault holds the system down for a few seconds only.
GIVE_UP_AFTER_S = 90.0
SERVER_ERROR_RETRIES = 3


@dataclass
class Tally:
    """What the clients met, summed over every client thread."""

    requests: int = 0
    retried_connection: int = 0
    retried_503: int = 0
    retried_409: int = 0
    # Retries of a POST without a key after the request may have reached the server: the one
    # case in which a real client can create something twice.
    ambiguous_retries_without_key: int = 0
    replayed_responses: int = 0
    server_errors: list[dict[str, Any]] = field(default_factory=list)
    # Each retried connection error: refused (ConnectError), timed out (ReadTimeout...), cut.
    connection_errors: list[dict[str, Any]] = field(default_factory=list)
    gave_up: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def note(self, name: str, entry: dict[str, Any]) -> None:
        with self._lock:
            getattr(self, name).append(entry)

    def figures(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "retried_after_connection_error": self.retried_connection,
                "retried_after_503": self.retried_503,
                "retried_after_409_in_progress": self.retried_409,
                "ambiguous_retries_without_key": self.ambiguous_retries_without_key,
                "replayed_responses": self.replayed_responses,
                "server_errors": list(self.server_errors),
                "gave_up": list(self.gave_up),
            }


class ApiClient:
    def __init__(self, api_url: str, tally: Tally, seed: int):
        self.http = httpx.Client(
            base_url=api_url, headers=MERCHANT_HEADERS, timeout=REQUEST_TIMEOUT_S
        )
        self.tally = tally
        self._jitter = random.Random(seed)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "ApiClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response | None:
        return self.send("GET", path, params=params)

    def post(
        self, path: str, body: dict[str, Any], key: str | None = None
    ) -> httpx.Response | None:
        return self.send("POST", path, body=body, key=key)

    def send(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> httpx.Response | None:
        """The final response, or None when the request could not get one in time."""
        headers = {"Idempotency-Key": key} if key else {}
        started = time.monotonic()
        server_errors = 0
        for attempt in range(1, 1_000):
            self.tally.add("requests")
            try:
                response = self.http.request(
                    method, path, json=body, params=params, headers=headers
                )
            except httpx.TransportError as exc:
                self.tally.add("retried_connection")
                self.tally.note("connection_errors", {"method": method, "path": path,
                                                      "error": type(exc).__name__, "at": time.time()})  # fmt: skip
                # A connect error never reached the server; anything later may have.
                if method == "POST" and not key and not isinstance(exc, httpx.ConnectError):
                    self.tally.add("ambiguous_retries_without_key")
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.headers.get("idempotent-replayed") == "true":
                    self.tally.add("replayed_responses")
                if response.status_code == 503:
                    self.tally.add("retried_503")
                elif response.status_code == 409 and "retry-after" in response.headers:
                    self.tally.add("retried_409")
                elif response.status_code >= 500 and server_errors < SERVER_ERROR_RETRIES:
                    server_errors += 1
                    self.tally.note(
                        "server_errors",
                        {"method": method, "path": path, "status": response.status_code,
                         "body": response.text[:300], "at": time.time()},
                    )  # fmt: skip
                else:
                    return response
                last = f"HTTP {response.status_code}"
            if time.monotonic() - started > GIVE_UP_AFTER_S:
                break
            time.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + self._jitter.random()))
        self.tally.note("gave_up", {"method": method, "path": path, "last": last})
        return None
