"""`python -m devstack.run`: migrate, start the services, supervise them, stop on Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from devstack import run
from devstack.services import Service, python_module

PRINT_MIGRATION_ENV = (
    "-c",
    "import os; print('sees', os.environ['DATABASE_URL'], os.environ['REDIS_URL'],"
    " os.environ['WEBHOOK_ALLOW_PRIVATE_NETWORKS'])",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def external_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """URLs set, so no embedded server starts; the fake children never connect."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")


@pytest.mark.usefixtures("external_servers")
def test_a_child_that_dies_stops_everything_with_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run, "MIGRATE_ARGV", (sys.executable, *PRINT_MIGRATION_ENV))
    sleeper = Service("sleeper", (sys.executable, "-c", "import time; time.sleep(60)"))
    crasher = Service("crasher", (sys.executable, "-c", "raise SystemExit(3)"))
    monkeypatch.setattr(run, "local_services", lambda: [sleeper, crasher])

    assert run.main() == 1

    output = capsys.readouterr().out
    assert "migrate | sees postgresql://nobody@127.0.0.1:1/none" in output
    assert "devstack | error: crasher exited with code 3 unexpectedly" in output
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.usefixtures("external_servers")
def test_failed_migrations_start_no_service(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(run, "MIGRATE_ARGV", (sys.executable, "-c", "raise SystemExit(2)"))
    never = Service("never", (sys.executable, "-c", "open('started', 'w')"))
    monkeypatch.setattr(run, "local_services", lambda: [never])

    assert run.main() == 1

    assert "migrations failed" in capsys.readouterr().out
    assert not (tmp_path / "started").exists()


@pytest.mark.usefixtures("external_servers")
def test_a_taken_port_is_reported_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run, "MIGRATE_ARGV", (sys.executable, *PRINT_MIGRATION_ENV))
    with socket.create_server(("127.0.0.1", 0)) as squatter:
        port = squatter.getsockname()[1]
        web = Service("web", python_module("http.server", str(port)), port)
        monkeypatch.setattr(run, "local_services", lambda: [web])

        assert run.main() == 1

    output = capsys.readouterr().out
    assert f"error: port {port} for web is taken" in output
    assert "migrate |" not in output


@pytest.mark.slow
def test_embedded_stack_runs_until_interrupted(tmp_path: Path) -> None:
    port = _free_port()
    driver = textwrap.dedent(f"""
        import sys
        from devstack import run
        from devstack.services import Service, python_module
        run.MIGRATE_ARGV = (sys.executable, *{PRINT_MIGRATION_ENV!r})
        web = Service("web", python_module("http.server", "--bind", "127.0.0.1", "{port}"), {port})
        run.local_services = lambda: [web]
        sys.exit(run.main())
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    stack = subprocess.Popen(
        [sys.executable, "-c", driver],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As a background job (`make run &`) starts: with SIGINT ignored. It must still stop.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert stack.stdout is not None
    try:
        lines = _read_until(stack, "Ctrl-C stops everything", timeout=60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200
        stack.send_signal(signal.SIGINT)
        assert stack.wait(timeout=30) == 0  # before reading: a stack that ignores it must fail
        lines += stack.stdout.read().splitlines()
    finally:
        stack.kill()

    output = "\n".join(lines)
    assert "migrate | sees postgresql://postgres@127.0.0.1:" in output
    assert " redis://127.0.0.1:" in output and output.endswith("devstack | stopped")
    assert f"web                  http://localhost:{port}/" in output
    assert "X-Api-Key: key_test_abc123  X-Api-Secret: secret_test_xyz789" in output
    assert (tmp_path / ".data" / "postgres" / "PG_VERSION").exists()
    assert not (tmp_path / ".data" / "postgres" / "postmaster.pid").exists()  # cleanly stopped


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    pytest.fail("devstack never printed its banner:\n" + "\n".join(lines))
