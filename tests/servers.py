"""A web app served for real in a test: uvicorn in a thread on a loopback port."""

import socket
import threading
import time

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
