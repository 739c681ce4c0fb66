"""The client's address, for limits per address."""

import ipaddress
from collections.abc import Sequence

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in proxies)


def client_address(request: Request, trusted_proxies: Sequence[Network]) -> str:
    """The socket's peer; behind proxies listed in TRUSTED_PROXIES, the right-most
    X-Forwarded-For hop that is not one of them (the left-most hops are whatever the client
    wrote, so they are never believed)."""
    address = request.client.host if request.client else "unknown"
    if not _trusted(address, trusted_proxies):
        return address
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _trusted(hop, trusted_proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return address  # a proxy that forwards garbage: count it as itself
    return address
