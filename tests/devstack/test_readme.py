"""The README's front door, pasted into a fresh shell: every command works as written."""

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from live import free_port

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def shell_block_after(marker: str) -> str:
    start = README.index(marker)
    return re.search(r"```sh\n(.*?)```", README[start:], re.S).group(1)


@pytest.mark.slow
@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_the_try_it_commands_take_a_upi_and_a_card_payment(shell: str, api_url: str):
    script = shell_block_after("Try the API with the seeded test merchant")
    assert '"method": "card"' in script
    script = script.replace("localhost:8000", api_url.removeprefix("http://"))
    done = subprocess.run(
        [shell, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert [a.get("method") for a in answers] == ["upi", "card"], done.stdout + done.stderr
    assert all("error" not in a for a in answers)
    assert answers[1]["card_network"] == "visa" and answers[1]["card_last4"] == "1111"


@pytest.mark.slow
def test_make_receiver_starts_the_test_receiver():
    receiver_line = shell_block_after("To watch webhooks arrive").splitlines()[0]
    command = receiver_line.split("#")[0].strip()
    assert command == 'make receiver RECEIVER_ARGS="--fail-first 2"'
    port = free_port()
    # As pasted, with only the port moved so the test never collides with a real receiver.
    env = {k: v for k, v in os.environ.items() if k not in ("UV", "VIRTUAL_ENV")}
    process = subprocess.Popen(
        ["make", "-s", "receiver", f"RECEIVER_ARGS=--fail-first 2 --port {port}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "make receiver never listened"
                time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def test_env_example_lists_every_variable_of_the_configuration_page():
    page = (REPO / "docs" / "operations" / "configuration.md").read_text()
    table = page[page.index("## Variables") :]
    documented = {
        name
        for row in table.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])
    }
    documented |= {"PROCESSING_DELAY_MAX", "REFUND_DELAY_MAX"}  # written `_MIN`/`_MAX`
    lines = (REPO / ".env.example").read_text().splitlines()
    listed = {
        line.lstrip("# ").split("=")[0]
        for line in lines
        if re.match(r"^#? ?[A-Z][A-Z0-9_]+=", line)
    }
    assert documented - {"API_KEY", "API_SECRET"} <= listed
    assert {"DB_POOL_SIZE", "MAX_BODY_BYTES", "LOG_FORMAT"} <= listed
    for index, line in enumerate(lines):  # one variable per line, each under its comment
        if re.match(r"^[A-Z]", line):
            assert lines[index - 1].startswith("#"), line
