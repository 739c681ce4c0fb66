"""Webhook URLs never reach our own network (SSRF), when saved and again at delivery.

tests/api/webhooks/test_config.py has the plain private ranges at save time; these are the other
spellings of the same places, names that resolve there, and the delivery-time checks.
Every URL a delivery test could actually reach is on loopback, where a receiver listens: if a
check failed, the request would land there and the test would see it, and nowhere else.
"""

import ipaddress
import socket

import pytest

from factories import DEFAULT_URL_OF_TEST_MERCHANT
from shared.backends.worker import runtime
from webhook_dispatcher import tasks
from webhook_dispatcher.tasks import deliver_due_webhooks

REAL_GETADDRINFO = socket.getaddrinfo
PUBLIC_ADDRESS = "93.184.216.34"


def fake_dns(monkeypatch, answers) -> list[str]:
    """Names under .test resolve to `answers(name, lookup_number)`; everything else as usual.
    Returns the names looked up, in order."""
    looked_up: list[str] = []

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if not name or not name.rstrip(".").endswith(".test"):
            return REAL_GETADDRINFO(host, port, family, type, proto, flags)
        looked_up.append(name)
        infos = []
        for address in answers(name, len(looked_up)):
            if ":" in address:
                infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return infos

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


def save(client, headers, url):
    return client.put("/api/v1/webhooks/config", json={"webhook_url": url}, headers=headers)


@pytest.mark.parametrize(
    "url",
    [
        # loopback, all of 127/8, in every spelling that is a URL's canonical one
        "http://127.0.0.2/hook", "http://127.255.255.254:8000/hook", "http://LOCALHOST/hook",
        "http://[0:0:0:0:0:0:0:1]/hook", "http://[::]/hook",
        # the edges of the private and shared ranges
        "http://10.255.255.255/", "http://172.31.255.254/", "http://192.168.255.255/",
        "http://100.127.255.254/", "http://169.254.0.1/", "http://[fd00:ec2::254]/latest",
        "http://[fe80::1%25lo]/", "http://[ff02::1]/",
        # IPv4 inside IPv6: mapped, compatible, NAT64 and 6to4
        "http://[::ffff:10.0.0.1]/", "http://[::ffff:169.254.169.254]/",
        "http://[::127.0.0.1]/", "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/",
        "https://[::ffff:7f00:1]:443/hook",
    ],
)  # fmt: skip
def test_other_spellings_of_private_addresses_are_refused_when_saved(
    guarded_client, merchant_headers, db, url
):
    response = save(guarded_client, merchant_headers, url)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert "webhook_url is not allowed" in response.json()["error"]["description"]
    assert db.execute(DEFAULT_URL_OF_TEST_MERCHANT).fetchone() == {"webhook_url": None}


@pytest.mark.parametrize(
    "url",
    ["http://127.1/hook", "http://0177.0.0.1/hook", "http://0x7f.0.0.1/hook",
     "http://017700000001/hook", "http://0x7F000001/hook", "http://0/hook",
     "http://134744072/hook", "http://8.8.2056/hook"],
)  # fmt: skip
def test_other_spellings_of_ipv4_addresses_are_refused_whatever_they_lead_to(
    guarded_client, merchant_headers, db, url
):
    """The resolver reads them as an address (127.1 is 127.0.0.1, 134744072 is 8.8.8.8), the
    HTTP client refuses them: saving refuses them as not canonical, private or public."""
    response = save(guarded_client, merchant_headers, url)

    assert response.status_code == 400, response.text
    assert "is not a canonical IPv4 address" in response.json()["error"]["description"]
    assert db.execute(DEFAULT_URL_OF_TEST_MERCHANT).fetchone() == {"webhook_url": None}


@pytest.mark.parametrize(
    "addresses",
    [["127.0.0.1"], ["::1"], ["10.1.2.3"], [PUBLIC_ADDRESS, "127.0.0.1"], ["169.254.169.254"]],
)
def test_a_name_that_resolves_to_a_private_address_is_refused_when_saved(
    guarded_client, merchant_headers, monkeypatch, addresses
):
    fake_dns(monkeypatch, lambda name, n: addresses)

    response = save(guarded_client, merchant_headers, "https://shop.rebind.test/webhook")

    assert response.status_code == 400
    assert "private or reserved" in response.json()["error"]["description"]


def test_a_name_that_resolves_to_public_addresses_only_is_accepted(
    guarded_client, merchant_headers, monkeypatch
):
    fake_dns(monkeypatch, lambda name, n: [PUBLIC_ADDRESS, "2606:2800:220:1::1"])

    response = save(guarded_client, merchant_headers, "https://shop.example.test/webhook")

    assert response.status_code == 200
    assert response.json()["webhook_url"] == "https://shop.example.test/webhook"


@pytest.fixture
def guarded_dispatcher(worker_env, monkeypatch):
    """Dispatcher ticks in this process with WEBHOOK_ALLOW_PRIVATE_NETWORKS=false: the URLs
    below were saved while private networks were allowed, and then the setting changed.
    Whatever the checks under test do, this process connects to loopback only."""
    worker_env.setenv("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "false")
    runtime.cache_clear()
    tasks.delivery_engine.cache_clear()
    loop = tasks.delivery_engine()._loop
    sock_connect = loop.sock_connect

    async def loopback_only(sock, address):
        target = ipaddress.ip_address(address[0].split("%")[0])
        target = getattr(target, "ipv4_mapped", None) or target
        if not target.is_loopback:
            raise ConnectionRefusedError(f"the test refuses to connect to {address[0]}")
        return await sock_connect(sock, address)

    monkeypatch.setattr(loop, "sock_connect", loopback_only)
    yield deliver_due_webhooks
    tasks.delivery_engine.cache_clear()


def send_test_webhook(client, headers, db, url) -> None:
    db.execute("SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test", (url,))
    assert client.post("/api/v1/webhooks/test", headers=headers).status_code == 201


def only_attempt(db) -> dict:
    attempts = db.execute(
        "SELECT a.error, a.response_code, l.status, l.next_retry_at"
        " FROM webhook_attempts a JOIN webhook_logs l ON l.id = a.webhook_log_id"
    ).fetchall()
    assert len(attempts) == 1
    return attempts[0]


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "[::1]",
     "[::ffff:127.0.0.1]", "loopback.rebind.test"],
)  # fmt: skip
def test_delivery_refuses_a_private_address_saved_while_allowed(
    client, merchant_headers, db, start_receiver, guarded_dispatcher, monkeypatch, host
):
    fake_dns(monkeypatch, lambda name, n: ["127.0.0.1"])
    receiver = start_receiver()
    port = receiver.url.rsplit(":", 1)[1].split("/")[0]
    send_test_webhook(client, merchant_headers, db, f"http://{host}:{port}/webhook")

    guarded_dispatcher()

    assert receiver.events == []
    attempt = only_attempt(db)
    assert attempt["response_code"] is None
    assert "private or reserved" in attempt["error"] or "not a canonical" in attempt["error"]
    assert attempt["status"] == "pending" and attempt["next_retry_at"] is not None


def test_delivery_checks_the_address_it_connects_to_not_an_earlier_lookup(
    client, merchant_headers, db, start_receiver, guarded_dispatcher, monkeypatch
):
    """DNS rebinding: the name's first answer is public, every later one is loopback. A
    dispatcher that checked one answer and connected with another would deliver to the
    receiver on loopback; the fixture refuses any connection that is not to loopback."""
    fake_dns(monkeypatch, lambda name, n: [PUBLIC_ADDRESS] if n == 1 else ["127.0.0.1"])
    receiver = start_receiver()
    port = receiver.url.rsplit(":", 1)[1].split("/")[0]
    send_test_webhook(client, merchant_headers, db, f"http://flip.rebind.test:{port}/webhook")

    guarded_dispatcher()

    assert receiver.events == []
    error = only_attempt(db)["error"]
    checked_the_second_answer = error == "blocked address 127.0.0.1: private or reserved network"
    connected_to_the_first = error.startswith("connection failed") and PUBLIC_ADDRESS in error
    assert checked_the_second_answer or connected_to_the_first, error


def test_delivery_still_reaches_a_public_name(
    client, merchant_headers, db, guarded_dispatcher, monkeypatch
):
    """The checks refuse only private destinations: a public answer is connected to (the
    fixture refuses that connection itself, so nothing leaves this machine)."""
    fake_dns(monkeypatch, lambda name, n: [PUBLIC_ADDRESS])
    send_test_webhook(client, merchant_headers, db, "http://shop.public.test:8080/webhook")

    guarded_dispatcher()

    error = only_attempt(db)["error"]
    assert error.startswith("connection failed") and PUBLIC_ADDRESS in error
