"""Webhook URLs: http(s) only, and never an address inside our own network (SSRF).

Checked after DNS resolution, when a URL is saved and again before every delivery, since a
name may resolve elsewhere by then. WEBHOOK_ALLOW_PRIVATE_NETWORKS=true turns the address check
off for local development, where the merchant's receiver runs on this machine.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from shared.errors import BadRequest

MAX_URL_LENGTH = 2048
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedDestination(Exception):
    """The URL may not be delivered to; the message says why, for the attempt log."""


def parse_webhook_url(url: str) -> tuple[str, int]:
    """(host, port) of a well-formed http(s) URL, or BadRequest saying what is wrong."""
    if len(url) > MAX_URL_LENGTH:
        raise BadRequest(f"webhook_url must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed or invalid [IPv6] host
        raise BadRequest("webhook_url is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise BadRequest("webhook_url must be an http or https URL")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise BadRequest("webhook_url has an invalid port") from None
    if not host or parts.username or parts.password:
        raise BadRequest("webhook_url must name a host and carry no credentials")
    return host, port or (443 if parts.scheme == "https" else 80)


# IPv6 prefixes that carry an IPv4 address in their last 32 bits: IPv4-compatible (::/96,
# deprecated) and NAT64 (64:ff9b::/96). Python calls both global whatever the IPv4 inside.
IPV4_CARRYING_PREFIXES = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("64:ff9b::/96"))


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to: mapped, compatible, NAT64, 6to4 or Teredo."""
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if any(address in prefix for prefix in IPV4_CARRYING_PREFIXES):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IpAddress) -> bool:
    """Not loopback, private, link-local (cloud metadata), CGNAT, multicast or reserved, nor
    an IPv6 address that carries such an IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None and not is_public(inner):
            return False
        if address.ipv4_mapped:
            return True  # ::ffff:0:0/96 is "reserved" itself; what counts is the IPv4 inside
    return address.is_global and not address.is_multicast


def check_addresses(addresses: list[str]) -> None:
    if not addresses:
        raise BlockedDestination("host did not resolve to any address")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not is_public(address):
            raise BlockedDestination(f"blocked address {address}: private or reserved network")


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        # Never the resolver's own text ("[Errno -2] Name or service not known").
        raise BlockedDestination(f"DNS lookup failed: {host} does not resolve") from None
    return sorted({str(info[4][0]) for info in infos})


def validate_webhook_url(url: str, allow_private_networks: bool) -> str:
    """The URL to save, or BadRequest: checked as a URL and, unless allowed, by address."""
    host, port = parse_webhook_url(url)
    if not allow_private_networks:
        try:
            check_addresses(resolve(host, port))
        except BlockedDestination as exc:
            raise BadRequest(f"webhook_url is not allowed: {exc}", field="webhook_url") from None
    return url
