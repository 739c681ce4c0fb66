"""The docs page's Python client, CLI and events API snippets run as pasted, with the
merchant's own keys, against the live API (and a payment worker for `gateway trigger`)."""

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def snippet(page_html: str, test_id: str) -> str:
    match = re.search(rf'<code id="[^"]+" data-test-id="{test_id}">(.*?)</code>', page_html, re.S)
    assert match, f"no {test_id} on the page"
    return html.unescape(match.group(1))


def shell(command: str, timeout: float = 90) -> subprocess.CompletedProcess:
    # The snippet as a merchant pastes it, with this test's virtualenv first on the PATH.
    return subprocess.run(
        ["bash", "-c", f'export PATH="{BIN}:$PATH"\n{command}'],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_python_client_snippet_runs(stack, logged_in_client):
    code = snippet(logged_in_client.get("/dashboard/docs").text, "code-snippet-python-client")
    assert stack.api_url in code and "key_test_abc123" in code

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    order_id, payment_id, status = lines[0].split()
    assert order_id.startswith("order_") and status == "pending"
    assert lines[1].split()[1:] == ["payment.created", payment_id]
    assert lines[2].startswith("NOT_FOUND_ERROR Payment not found")


def test_events_curl_snippet_runs(stack, logged_in_client):
    payment = stack.create_payment()
    command = snippet(logged_in_client.get("/dashboard/docs").text, "code-snippet-events")
    result = shell(command)
    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout)
    assert [e["data"]["payment"]["id"] for e in page["data"]] == [payment["id"]]
    assert page["limit"] == 5


def test_cli_snippet_runs(stack, logged_in_client, start_service):
    start_service("payment_worker", API_URL=stack.api_url)
    command = snippet(logged_in_client.get("/dashboard/docs").text, "code-snippet-cli")
    result = shell(command)
    assert result.returncode == 0, result.stderr
    assert "payment.success" in result.stdout
    listed = json.loads(result.stdout.strip().splitlines()[-1])
    assert listed["data"][0]["status"] == "success"


def test_cli_listen_snippet_forwards_signed_events(stack, logged_in_client, start_receiver):
    receiver = start_receiver()
    command = snippet(logged_in_client.get("/dashboard/docs").text, "code-snippet-cli-listen")
    assert "gateway listen --forward-to http://localhost:5000/hook" in command
    listener = subprocess.Popen(
        ["bash", "-c", f'export PATH="{BIN}:$PATH"\n'
         + command.rstrip().replace("http://localhost:5000/hook", receiver.url)
         + " --max-events 2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # It forwards events from when it starts, and says so first.
        assert "Forwarding events created from" in listener.stderr.readline()
        stack.create_payment()
        stdout, stderr = listener.communicate(timeout=60)
    finally:
        listener.kill()
    assert listener.returncode == 0, stderr
    assert len(receiver.events) == 2
    assert all(e["hex_signature_valid"] and e["standard_signature_valid"] for e in receiver.events)
    assert stdout.count("-> 200") == 2
