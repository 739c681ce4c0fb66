"""`make run` is reachable on this machine only: its web services listen on loopback unless
HOST says otherwise, since the seeded test merchant logs in with any password."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from devstack.services import local_services


def non_loopback_address() -> str | None:
    """One of this machine's own non-loopback IPv4 addresses, or None."""
    try:
        output = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5)
        candidates = output.stdout.split()
    except (OSError, subprocess.SubprocessError):
        candidates = []
    if not candidates:
        # Connecting a UDP socket sends nothing: it only picks the outgoing interface.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect(("192.0.2.1", 9))
                candidates = [probe.getsockname()[0]]
            except OSError:
                candidates = []
    for candidate in candidates:
        if "." in candidate and not candidate.startswith("127."):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


# `python -m devstack.run` with make run's own services, each web port (and each worker's
# metrics port) moved to a free one so that a `make run` beside the tests never collides.
DRIVER = textwrap.dedent("""
    import dataclasses, json, os, socket, sys
    from devstack import run, services

    def free_port():
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def moved(service):
        if service.port is None:
            env = {k: str(free_port()) if k == "METRICS_PORT" else v
                   for k, v in service.env.items()}
            return dataclasses.replace(service, env=env)
        port, old = free_port(), str(service.port)
        return dataclasses.replace(
            service,
            port=port,
            argv=tuple(str(port) if arg == old else arg for arg in service.argv),
            env={k: str(port) if v == old else v for k, v in service.env.items()},
        )

    stack = [moved(service) for service in services.local_services()]
    print("PORTS " + json.dumps({s.name: s.port for s in stack if s.port}), flush=True)
    run.local_services = lambda: stack
    sys.exit(run.main())
""")


@pytest.mark.slow
def test_make_run_is_not_reachable_on_a_non_loopback_address(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    env = {k: v for k, v in os.environ.items() if k not in ("HOST", "DASHBOARD_HOST", "PORT")}
    env |= {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "PORT": str(_free_port()),
            "TEST_MODE": "true", "PYTHONUNBUFFERED": "1"}  # fmt: skip
    stack = subprocess.Popen(
        [sys.executable, "-c", DRIVER], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    assert stack.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("Listening on" in x for x in lines):
            line = stack.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
        assert any("Ctrl-C stops" in x for x in lines), "\n".join(lines[-40:])
        ports = json.loads(next(x for x in lines if x.startswith("PORTS "))[6:])
        assert ports.keys() == {"api", "checkout", "dashboard", "checkout-demo"}

        for name, port in ports.items():
            assert _answers("127.0.0.1", port), f"{name} does not answer on loopback"
            assert not _answers(address, port), f"{name} answers on {address}:{port}"
        assert any("Listening on 127.0.0.1 only" in x for x in lines)
    finally:
        stack.send_signal(2)
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stack.kill()


def test_the_listen_address_is_what_devstack_gives_each_web_service() -> None:
    """The check above covers these services, and every web service make run starts."""
    web = {service.name for service in local_services({}) if service.port is not None}

    assert web == {"api", "checkout", "dashboard", "checkout-demo"}
