"""Whose address a request comes from, for limits per address: the person's, never the
address of one of the gateway's own services or of a proxy in front of them.

- Behind proxies listed in TRUSTED_PROXIES, the right-most X-Forwarded-For hop that is not
  one of them (the left-most hops are whatever the client wrote, so they are never believed).
- A service that calls the API on a visitor's behalf (the dashboard, from its server) names
  the visitor in `X-Visitor-Address` and proves it is one of ours with `X-Service-Secret`,
  the SERVICE_SECRET every service of one gateway shares. Under `make run` every process and
  every visitor is on 127.0.0.1, so no source address could tell a service from a visitor:
  only the secret does. Without it (or with a wrong one) the header is ignored.
- A limit counts an IPv6 address as its /64 (`address_block`): one host holds the whole block.

Plain functions over a peer address and a header lookup: no web framework.
"""

import hmac
import ipaddress
from collections.abc import Callable, Sequence
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from shared.core.settings import ServiceSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

VISITOR_ADDRESS_HEADER = "X-Visitor-Address"
SERVICE_SECRET_HEADER = "X-Service-Secret"  # noqa: S105 (a header's name)
# Long enough that guessing it is hopeless; `make run` generates 43 characters.
MIN_SERVICE_SECRET_LENGTH = 16
# An IPv6 host is given at least a whole /64 (RFC 6177) and may take any address in it
# (privacy addresses, RFC 8981): one person's block, as one IPv4 address is.
IPV6_PERSON_PREFIX = 64


def _networks(value: str) -> str:
    for part in filter(None, (p.strip() for p in value.split(","))):
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ValueError("expected addresses or CIDR networks separated by commas") from None
    return value


def _unset_when_empty(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class ClientAddressSettings(ServiceSettings):
    """TRUSTED_PROXIES and SERVICE_SECRET, read with one meaning by the API (which counts
    addresses) and the dashboard (which passes its visitors' on)."""

    # Proxies whose X-Forwarded-For is believed (addresses or CIDRs, comma-separated); unset,
    # the client address is the socket's peer and X-Forwarded-For is ignored.
    trusted_proxies: Annotated[str, AfterValidator(_networks)] = ""
    # Shared by the gateway's own services; unset, no service can name a visitor's address.
    service_secret: Annotated[
        Annotated[str, StringConstraints(min_length=MIN_SERVICE_SECRET_LENGTH)] | None,
        BeforeValidator(_unset_when_empty),
        Field(repr=False),
    ] = None

    @property
    def trusted_proxy_networks(self) -> list[Network]:
        parts = (p.strip() for p in self.trusted_proxies.split(","))
        return [ipaddress.ip_network(part, strict=False) for part in parts if part]


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(ipaddress.ip_address(parsed) in n for n in proxies)


def forwarded_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[Network]
) -> str:
    """The socket's peer; behind a proxy of `trusted_proxies`, the right-most X-Forwarded-For
    hop that is not one of them. "unknown" when there is no peer (a test transport)."""
    address = peer or "unknown"
    if not _trusted(address, trusted_proxies):
        return address
    hops = [hop.strip() for hop in (forwarded_for or "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _trusted(hop, trusted_proxies):
            # A proxy that forwards garbage: count it as itself.
            return _address(hop) or address
    return address


def every_line(getlist: Callable[[str], list[str]]) -> Callable[[str], str | None]:
    """A header lookup for `client_address` over a framework's `getlist(name)` (every line of
    a header field): a field sent on several lines is one comma-separated list (RFC 9110
    section 5.3), so the lines are joined. Reading only the first line would believe a
    client's own X-Forwarded-For line over the one a proxy added after it (HAProxy's
    `option forwardfor` adds a line of its own). None for a field not sent."""

    def header(name: str) -> str | None:
        return ", ".join(getlist(name)) or None

    return header


def client_address(
    peer: str | None,
    header: Callable[[str], str | None],
    trusted_proxies: Sequence[Network],
    service_secret: str | None,
) -> str:
    """The address a request's limits count: the visitor a service of ours named (with the
    right SERVICE_SECRET), else `forwarded_address`. `header(name)` reads a request header,
    every line of it (`every_line`)."""
    presented = header(SERVICE_SECRET_HEADER)
    visitor = header(VISITOR_ADDRESS_HEADER)
    # Compared in constant time: the secret must not leak through response timing.
    if (
        service_secret
        and presented
        and visitor
        and hmac.compare_digest(presented.encode(), service_secret.encode())
    ):
        address = _address(visitor)
        if address is not None:
            return address
    return forwarded_address(peer, header("x-forwarded-for"), trusted_proxies)


def address_block(address: str) -> str:
    """What a limit per address counts for `address`: an IPv4 address itself (an IPv4-mapped
    IPv6 address as its IPv4 one), an IPv6 address its /64, since its host can pick any other
    address of that block for each request; anything else (`unknown`) as it is."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PERSON_PREFIX}", strict=False))
    return str(parsed)
