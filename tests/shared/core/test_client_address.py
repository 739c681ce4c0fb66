"""Whose address a request is (shared.core.client_address): a visitor named by a service holding
the SERVICE_SECRET, else the peer, else behind trusted proxies the address they forward."""

import ipaddress

import pytest

from shared.core.client_address import (
    ClientAddressSettings,
    address_block,
    client_address,
    every_line,
)

SECRET = "the services' shared secret"
PROXIES = [ipaddress.ip_network("10.0.0.0/8")]


def address(peer: str, secret: str | None = SECRET, **headers: str) -> str:
    sent = {name.lower().replace("_", "-"): value for name, value in headers.items()}
    return client_address(peer, lambda name: sent.get(name.lower()), PROXIES, secret)


def test_a_visitor_named_with_the_secret_is_believed():
    assert address("127.0.0.1", x_visitor_address="192.0.2.1", x_service_secret=SECRET) == (
        "192.0.2.1"
    )
    assert address("127.0.0.1", x_visitor_address=" 2001:DB8::1 ", x_service_secret=SECRET) == (
        "2001:db8::1"
    )


@pytest.mark.parametrize(
    ("secret", "headers"),
    [
        (SECRET, {"x_visitor_address": "192.0.2.1", "x_service_secret": SECRET[:-1]}),
        (SECRET, {"x_visitor_address": "192.0.2.1"}),
        (SECRET, {"x_visitor_address": "not an address", "x_service_secret": SECRET}),
        (None, {"x_visitor_address": "192.0.2.1", "x_service_secret": SECRET}),
        (SECRET, {"x_forwarded_for": "192.0.2.1"}),
    ],
)
def test_otherwise_the_peer_counts(secret, headers):
    assert address("127.0.0.1", secret, **headers) == "127.0.0.1"


def test_behind_a_trusted_proxy_its_forwarded_address_counts():
    assert address("10.0.0.2", x_forwarded_for="1.2.3.4, 192.0.2.9") == "192.0.2.9"
    assert address("10.0.0.2", x_forwarded_for="192.0.2.9, 10.0.0.3") == "192.0.2.9"


@pytest.mark.parametrize(("value", "expected"), [("", None), ("  ", None), (SECRET, SECRET)])
def test_an_empty_service_secret_is_none(value, expected):
    assert ClientAddressSettings(service_secret=value).service_secret == expected


def test_a_short_service_secret_is_refused():
    with pytest.raises(ValueError, match="at least 16 characters"):
        ClientAddressSettings(service_secret="short")


def test_every_line_of_a_header_is_one_list():
    lines = {"x-forwarded-for": ["198.51.100.1", "192.0.2.9"]}
    header = every_line(lambda name: lines.get(name.lower(), []))

    assert header("X-Forwarded-For") == "198.51.100.1, 192.0.2.9"
    assert header("X-Visitor-Address") is None
    # Behind a trusted proxy that added its own line, its hop counts, not the client's line.
    assert client_address("10.0.0.2", header, PROXIES, None) == "192.0.2.9"


@pytest.mark.parametrize(
    ("address", "block"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2::7", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:abcd:ef01:2345:6789", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::7", "2001:db8:1:3::/64"),
        ("unknown", "unknown"),
    ],
)
def test_a_limit_counts_an_ipv6_host_by_its_block(address, block):
    assert address_block(address) == block
