"""Secret rotation that a receiver built from our docs survives (docs/webhooks.md#secret-rotation).

Every verification snippet a merchant can copy (the Docs page's Node.js and Python servers,
its Standard Webhooks snippet, and devstack.receiver) is run as written against real
deliveries from the dispatcher: before a rotation, during the overlap (after one rotation and
after a second one straight away), and after the overlap, configured with the old secret and
with the new one.
"""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from standardwebhooks import WebhookVerificationError

from dashboard.docs.snippets import SnippetValues, all_snippets
from live import free_port
from shared.core.signing import hex_signature, standard_webhooks_signature

SEED_SECRET = "whsec_test_abc123"
ACCEPTED, REFUSED = 200, 401


def snippet_values(secret: str) -> SnippetValues:
    return SnippetValues("http://127.0.0.1:8000", "http://127.0.0.1:3001", "key", "s", secret)


class SnippetServers:
    """The Docs page's receivers, each run as a program with one secret pasted in."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.running: dict[tuple[str, str], tuple[subprocess.Popen, str]] = {}

    def url(self, language: str, secret: str) -> str:
        if (language, secret) not in self.running:
            self.running[(language, secret)] = self._start(language, secret)
        return self.running[(language, secret)][1]

    def _start(self, language: str, secret: str) -> tuple[subprocess.Popen, str]:
        port = free_port()
        if language == "node":
            code = all_snippets(snippet_values(secret))["webhook_node"]
            listen = ".listen(5000,"
            program = self.directory / f"webhook-server-{port}.js"
            argv = [shutil.which("node"), str(program)]
        else:
            code = all_snippets(snippet_values(secret))["webhook_python"]
            listen = '("127.0.0.1", 5000)'
            program = self.directory / f"webhook_server_{port}.py"
            argv = [sys.executable, str(program)]
        assert listen in code
        program.write_text(code.replace(listen, listen.replace("5000", str(port))))
        process = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin"},
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, f"the {language} snippet exited"
                assert time.monotonic() < deadline, f"the {language} snippet never listened"
                time.sleep(0.05)
        return process, f"http://127.0.0.1:{port}/webhook"

    def stop(self) -> None:
        for process, _ in self.running.values():
            process.terminate()
            process.wait(10)


@pytest.fixture
def snippet_servers(tmp_path):
    if shutil.which("node") is None:
        pytest.fail("node is not installed (.ci/run installs it; apt-get install nodejs)")
    servers = SnippetServers(tmp_path)
    yield servers
    servers.stop()


@pytest.fixture
def deliver(client, merchant_headers, db, dispatcher):
    """Send one webhook.test to `url` through the real dispatcher: the status it answered."""

    def deliver_to(url: str) -> int | None:
        db.execute("SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test", (url,))
        sent = client.post("/api/v1/webhooks/test", headers=merchant_headers)
        assert sent.status_code == 201, sent.text
        dispatcher()
        attempt = db.execute(
            "SELECT response_code, error FROM webhook_attempts WHERE webhook_log_id = %s",
            (sent.json()["id"],),
        ).fetchone()
        assert attempt is not None and attempt["error"] is None, attempt
        return attempt["response_code"]

    return deliver_to


def test_every_docs_snippet_verifies_before_during_and_after_an_overlap(
    client, merchant_headers, db, start_receiver, snippet_servers, deliver
):
    standard: dict = {"__name__": "snippet"}

    def check(secret: str, expected: int, label: str) -> None:
        """Each receiver, configured with `secret`, answers `expected` to a real delivery."""
        for language in ("node", "python"):
            answered = deliver(snippet_servers.url(language, secret))
            assert answered == expected, f"{label}: the {language} snippet answered {answered}"
        receiver = start_receiver(secrets=[secret])
        assert deliver(receiver.url) == expected, f"{label}: devstack.receiver"
        delivery = receiver.events[-1]
        exec(all_snippets(snippet_values(secret))["webhook_standard"], standard)  # noqa: S102
        if expected == ACCEPTED:
            standard["verify_webhook"](delivery["body"].encode(), delivery["headers"])
        else:
            with pytest.raises(WebhookVerificationError):
                standard["verify_webhook"](delivery["body"].encode(), delivery["headers"])

    def last_header(secret: str) -> str:
        receiver = start_receiver(secrets=[secret])
        deliver(receiver.url)
        return receiver.events[-1]["headers"]["x-webhook-signature"]

    def rotate() -> str:
        response = client.post("/api/v1/webhooks/config/rotate-secret", headers=merchant_headers)
        assert response.status_code == 200
        return response.json()["webhook_secret"]

    # Before: one secret, one hex signature.
    check(SEED_SECRET, ACCEPTED, "before")
    assert "," not in last_header(SEED_SECRET)

    # During: the old and the new secret are both accepted.
    first = rotate()
    check(SEED_SECRET, ACCEPTED, "during, old secret")
    check(first, ACCEPTED, "during, new secret")
    assert len(last_header(first).split(",")) == 2

    # Rotating again at once (a double click) keeps the first secret's overlap.
    second = rotate()
    for secret in (SEED_SECRET, first, second):
        check(secret, ACCEPTED, f"after a second rotation, {secret[:10]}")
    assert len(last_header(second).split(",")) == 3

    # After every overlap: only the current secret, exactly one hex value.
    db.execute(
        "UPDATE webhook_secrets SET replaced_at = now() - interval '25 hours',"
        " expires_at = now() - interval '1 hour'"
    )
    check(SEED_SECRET, REFUSED, "after, old secret")
    check(first, REFUSED, "after, replaced secret")
    check(second, ACCEPTED, "after, current secret")
    receiver = start_receiver(secrets=[second])
    deliver(receiver.url)
    event = receiver.events[-1]
    assert event["headers"]["x-webhook-signature"] == hex_signature(second, event["body"].encode())


def test_a_forged_signature_in_the_list_does_not_help(snippet_servers):
    """Accepting any listed signature accepts only signatures made with the secret."""
    import httpx

    body = b'{"event":"webhook.test","data":{}}'
    forged = "v1," + "A" * 43 + "="
    for language in ("node", "python"):
        url = snippet_servers.url(language, SEED_SECRET)
        for number, (template, expected) in enumerate([
            ("{forged} {good}", ACCEPTED),
            ("{good}  {forged}", ACCEPTED),
            ("{forged} v1,{forged}", REFUSED),
            ("v1,", REFUSED),
            ("{good_cut}", REFUSED),
            ("v2,{good_digest}", REFUSED),
            ("é" * 47, REFUSED),
        ]):  # fmt: skip
            webhook_id, timestamp = f"msg_{language}_{number}", int(time.time())
            good = standard_webhooks_signature(SEED_SECRET, webhook_id, timestamp, body)
            header = template.format(forged=forged, good=good, good_cut=good[:-2],
                                     good_digest=good.removeprefix("v1,"))  # fmt: skip
            response = httpx.post(url, content=body, headers={
                "webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
                "webhook-signature": header.encode("utf-8"),
            })  # fmt: skip
            assert response.status_code == expected, (language, header)
