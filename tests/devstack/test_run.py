"""`python -m devstack.run`: migrate, start the services, supervise them, stop on Ctrl-C."""

import os
import re
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
from devstack.services import Service, python_module, service_addresses

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
    # What pytest started with: Python's own handler, or SIG_IGN in a background job.
    handler = signal.getsignal(signal.SIGINT)

    assert run.main() == 1

    output = capsys.readouterr().out
    assert "migrate | sees postgresql://nobody@127.0.0.1:1/none" in output
    assert "devstack | error: crasher exited with code 3 unexpectedly" in output
    assert signal.getsignal(signal.SIGINT) is handler


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
        web = Service(
            "web", python_module("http.server", str(port)), port, port_variable="WEB_PORT"
        )
        monkeypatch.setattr(run, "local_services", lambda: [web])

        assert run.main() == 1

    output = capsys.readouterr().out
    assert re.search(
        rf"error: port {port} \(web\) is in use by another program; WEB_PORT=\d+ make run moves the web",
        output,
    )
    assert "migrate |" not in output


@pytest.mark.usefixtures("external_servers")
def test_a_busy_dashboard_port_names_the_variable_that_moves_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Port 3000 is the default of React and Next dev servers: make run once said only "is
    # another `make run` running?", and DASHBOARD_PORT did not move the dashboard.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(run, "MIGRATE_ARGV", (sys.executable, "-c", "open('migrated', 'w')"))
    for variable in ("PORT", "CHECKOUT_PORT", "DEMO_PORT"):
        monkeypatch.setenv(variable, str(_free_port()))
    with socket.create_server(("127.0.0.1", 0)) as dev_server:
        port = dev_server.getsockname()[1]
        monkeypatch.setenv("DASHBOARD_PORT", str(port))

        assert run.main() == 1

    output = capsys.readouterr().out
    [error] = [line for line in output.splitlines() if "error:" in line]
    assert f"port {port} (dashboard) is in use by another program; DASHBOARD_PORT=" in error
    suggested = int(error.rpartition("DASHBOARD_PORT=")[2].split()[0])
    assert suggested != port
    with socket.create_server(("127.0.0.1", suggested)):  # the one it suggests is free
        pass
    assert "another `make run`" not in output
    assert not (tmp_path / "migrated").exists()


@pytest.mark.usefixtures("external_servers")
def test_a_port_variable_that_is_not_a_port_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEMO_PORT", "shop")

    assert run.main() == 1

    assert "devstack | error: DEMO_PORT is invalid: expected a port 1-65535, got 'shop'" in (
        capsys.readouterr().out
    )


def test_the_banner_prints_the_merchants_current_secret_and_its_rotations(db, database_url):
    # After a rotation whose grace had ended, a restarted make run printed the seed's secret:
    # its curl got 401. It reads the merchant's keys as the database holds them.
    seeded = "secret_test_xyz789"
    db.execute("UPDATE merchants SET api_secret = 'secret_test_rotated_1' WHERE is_test")
    merchant = run.TestMerchantKeys({"DATABASE_URL": database_url})

    keys = merchant.read()
    assert keys == ("key_test_abc123", "secret_test_rotated_1")
    api = Service("api", ("true",), 8000, paths=("/docs",))
    env = {"DATABASE_URL": database_url, "REDIS_URL": "redis://x"}
    banner = run._banner([api], env, None, keys, service_addresses({}))
    assert "X-Api-Key: key_test_abc123  X-Api-Secret: secret_test_rotated_1" in banner
    assert "-H 'X-Api-Secret: secret_test_rotated_1'" in banner and seeded not in banner
    assert merchant.changed() is None

    # Rotated while make run runs (from the dashboard, say): it prints the new secret once.
    db.execute(
        "INSERT INTO retired_api_secrets (merchant_id, api_secret, expires_at)"
        " SELECT id, api_secret, now() + interval '1 day' FROM merchants WHERE is_test"
    )
    db.execute("UPDATE merchants SET api_secret = 'secret_test_rotated_2' WHERE is_test")
    line = merchant.changed()
    assert line is not None and "X-Api-Secret: secret_test_rotated_2" in line
    assert re.search(r"the replaced one works until \d{4}-\d\d-\d\d \d\d:\d\d", line), line
    assert merchant.changed() is None

    # With API_SECRET_GRACE_SECONDS=0 the replaced secret keeps no grace.
    db.execute("UPDATE merchants SET api_secret = 'secret_test_rotated_3' WHERE is_test")
    line = merchant.changed()
    assert line is not None and line.endswith("(the replaced one no longer works)")


def test_the_banner_falls_back_to_the_seed_when_the_database_does_not_answer():
    merchant = run.TestMerchantKeys(
        {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "TEST_API_SECRET": "secret_x"}
    )

    assert merchant.read() == ("key_test_abc123", "secret_x")
    assert merchant.changed() is None


@pytest.mark.slow
def test_embedded_stack_runs_until_interrupted(tmp_path: Path) -> None:
    port = _free_port()
    driver = textwrap.dedent(f"""
        import sys
        from devstack import run
        from devstack.services import Service, python_module, service_addresses
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
    # Redis keeps its data there too, so sessions outlive a restart of make run.
    assert (tmp_path / ".data" / "redis" / "appendonly.aof").exists()
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
