"""Webhook URLs: one reading of a URL for saving and delivering, and never an address inside
our own network (SSRF).

`parse_webhook_url` is the only reader of a webhook URL: the API checks a URL with it when the
merchant saves it, and the dispatcher delivers to the `WebhookTarget` it returns, with the HTTP
client told not to read the URL again. So a URL that saves is a URL delivery reads the same
way, and what delivery would refuse is refused at save, saying why:

- only the characters RFC 3986 lets a URL hold (no spaces, quotes, braces, non-ASCII; a
  `%` starts a two-digit escape);
- a host that ends in a number is an IPv4 address (WHATWG URL standard), and is accepted only
  as four decimal numbers without leading zeros: `127.1`, `2130706433`, `0x7f000001`,
  `8.8.2056` are refused, since resolvers and HTTP clients read them differently;
- ports 1 to 65535.

Addresses are checked after DNS resolution, when a URL is saved and again before every
delivery, since a name may resolve elsewhere by then. WEBHOOK_ALLOW_PRIVATE_NETWORKS=true turns
the address check off for local development, where the merchant's receiver runs on this machine.

Names are looked up in LOOKUP_THREADS, never in a process's shared threads: a lookup cannot be
cancelled, and the servers of a name the merchant chose may never answer, holding a thread
until the system resolver gives up (resolv.conf's default: 5 s per try, 2 tries per server).
"""

import asyncio
import ipaddress
import re
import socket
import string
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.core.settings import ServiceSettings
from shared.domain.errors import BadRequest

MAX_URL_LENGTH = 2048
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 3986 §2: unreserved, reserved and "%" (checked as an escape below).
URL_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")
BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# A DNS name: labels of letters, digits, hyphens (and underscores, which resolvers accept).
NAME_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
# WHATWG "ends in a number": a last label of decimal digits or 0x-hex means an IPv4 address.
NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
CANONICAL_IPV4 = re.compile(r"^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}"
                            r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$")  # fmt: skip


class WebhookUrlSettings(ServiceSettings):
    """WEBHOOK_ALLOW_PRIVATE_NETWORKS: read by the API (a URL is saved) and the dispatcher (a
    delivery is made), which must agree."""

    webhook_allow_private_networks: bool = False


class InvalidWebhookUrl(BadRequest, field="webhook_url"):
    """A webhook URL that delivery would refuse. The error names the request field that held
    the URL: `webhook_url` (the config) unless the caller names another (an endpoint's `url`)."""


class BlockedDestination(Exception):
    """The URL may not be delivered to; the message says why, for the attempt log."""


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook URL as read once: `url` is its canonical ASCII form, the one requested."""

    url: str
    scheme: str
    host: str  # lowercase name, or an IP address without brackets
    port: int
    address: IpAddress | None  # the host, when it is an IP address


def _describe(character: str) -> str:
    if character == " ":
        return "a space"
    if character.isprintable() and character.isascii():
        return f"the character {character}"
    return f"the character U+{ord(character):04X}"


# Where a URL's host and port run, roughly: after `scheme://` and any `user@`, up to the path,
# query or fragment. Only for choosing the advice below; urlsplit reads the URL itself.
AUTHORITY_SPAN = re.compile(r"^[^:/?#]*://(?:[^/?#@]*@)?([^/?#]*)")


def _character_refusal(url: str, position: int, field: str) -> str:
    """Why the character at `position` may not be in a URL, with the mend: in the path or
    query, percent-encoding; in the host or port, which take no %-escapes, none, but for an
    international host name its xn-- (IDNA) form. Describes the character, never echoes the
    URL (docs/api.md#errors)."""
    character = _describe(url[position])
    authority = AUTHORITY_SPAN.match(url)
    if authority is not None and authority.start(1) <= position < authority.end(1):
        if url[position].isascii():
            return f"{field} host and port may not contain {character}"
        return (
            f"{field} host and port may not contain {character}: write an international host "
            "name in its xn-- (IDNA) form"
        )
    return f"{field} may not contain {character}: percent-encode it (a space is %20)"


def _read_host(host: str, field: str) -> tuple[str, IpAddress | None]:
    """(canonical host, address or None) or BadRequest saying what is wrong with it."""
    if host.startswith("["):
        if not host.endswith("]"):
            raise InvalidWebhookUrl(f"{field} has an unclosed [IPv6] host", field=field)
        literal = host[1:-1].replace("%25", "%", 1)  # a zone id is escaped as %25 in a URL
        try:
            return literal.lower(), ipaddress.IPv6Address(literal)
        except ValueError:
            raise InvalidWebhookUrl(
                f"{field} has an invalid IPv6 address in [brackets]", field=field
            ) from None
    name = host.lower()
    if not name:
        raise InvalidWebhookUrl(f"{field} must name a host", field=field)
    if "%" in name:
        raise InvalidWebhookUrl(f"{field} host may not contain %-escapes", field=field)
    labels = name.removesuffix(".").split(".")
    if NUMERIC_LABEL.match(labels[-1]):
        if not CANONICAL_IPV4.match(name):
            raise InvalidWebhookUrl(
                f"{field} host is not a canonical IPv4 address: write it as four "
                "decimal numbers from 0 to 255 without leading zeros, e.g. 203.0.113.7",
                field=field,
            )
        return name, ipaddress.IPv4Address(name)
    if len(name) > 253 or not all(NAME_LABEL.match(label) for label in labels):
        raise InvalidWebhookUrl(
            f"{field} host is not a valid host name: use letters, digits and "
            "hyphens in dot-separated labels (an international name in its xn-- form)",
            field=field,
        )
    return name, None


def parse_webhook_url(url: str, field: str = "webhook_url") -> WebhookTarget:
    """The target of a well-formed http(s) URL, or InvalidWebhookUrl saying what is wrong,
    in words and `field` naming the request field that held the URL."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"{field} must be at most {MAX_URL_LENGTH} characters", field=field)
    for position, character in enumerate(url):
        if character not in URL_CHARACTERS:
            raise InvalidWebhookUrl(_character_refusal(url, position, field), field=field)
    if BAD_ESCAPE.search(url):
        raise InvalidWebhookUrl(
            f"{field} has a % that is not followed by two hex digits", field=field
        )
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed or invalid [IPv6] host
        raise InvalidWebhookUrl(f"{field} is not a valid URL", field=field) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not url[len(scheme) :].startswith("://"):
        raise InvalidWebhookUrl(f"{field} must be an http or https URL", field=field)
    if "@" in parts.netloc:
        raise InvalidWebhookUrl(f"{field} must carry no credentials (user:password@)", field=field)
    host_text, port_text = parts.netloc, ""
    if ":" in parts.netloc.rpartition("]")[2]:
        host_text, _, port_text = parts.netloc.rpartition(":")
    host, address = _read_host(host_text, field)
    default_port = 443 if scheme == "https" else 80
    if port_text and not port_text.isdigit():
        raise InvalidWebhookUrl(f"{field} has an invalid port", field=field)
    port = int(port_text) if port_text else default_port
    if not 1 <= port <= 65535:
        raise InvalidWebhookUrl(f"{field} port must be between 1 and 65535", field=field)
    url_host = (
        f"[{host.replace('%', '%25', 1)}]" if isinstance(address, ipaddress.IPv6Address) else host
    )
    authority = url_host if port == default_port else f"{url_host}:{port}"
    canonical = f"{scheme}://{authority}{parts.path or '/'}"
    if parts.query:
        canonical += f"?{parts.query}"
    return WebhookTarget(canonical, scheme, host, port, address)


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


class UnresolvedName(Exception):
    """DNS gave no answer for the name; `temporary` when asking again later may work."""

    def __init__(self, host: str, temporary: bool):
        self.host, self.temporary = host, temporary
        super().__init__(f"{host} could not be resolved")


TEMPORARY_DNS_ERRORS = {socket.EAI_AGAIN} | (
    {socket.EAI_SYSTEM} if hasattr(socket, "EAI_SYSTEM") else set()
)


LOOKUP_THREADS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="webhook-dns")
# How long saving a URL waits for its host's addresses before calling the failure temporary.
LOOKUP_TIMEOUT_S = 5.0


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, or UnresolvedName. Blocks: call it in LOOKUP_THREADS."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        temporary = getattr(exc, "errno", None) in TEMPORARY_DNS_ERRORS
        raise UnresolvedName(host, temporary) from None
    return sorted({str(info[4][0]) for info in infos})


async def look_up(host: str, port: int) -> list[str]:
    """`resolve` in LOOKUP_THREADS; UnresolvedName (temporary) after LOOKUP_TIMEOUT_S seconds,
    the lookup left to finish in its thread."""
    lookup = asyncio.get_running_loop().run_in_executor(LOOKUP_THREADS, resolve, host, port)
    try:
        return await asyncio.wait_for(lookup, LOOKUP_TIMEOUT_S)
    except TimeoutError:
        raise UnresolvedName(host, temporary=True) from None


async def check_webhook_url(url: str, allow_private_networks: bool, field: str) -> str:
    """The URL to save, or InvalidWebhookUrl naming `field` (the request field that held the
    URL): read as delivery reads it and, unless private networks are allowed, checked by the
    addresses its host resolves to (`look_up`: at most LOOKUP_TIMEOUT_S seconds)."""
    target = parse_webhook_url(url, field)
    if allow_private_networks:
        return url
    try:
        if target.address is not None:
            check_addresses([str(target.address)])
        else:
            check_addresses(await look_up(target.host, target.port))
    except UnresolvedName as exc:
        retry = " (a temporary DNS failure: try again in a minute)" if exc.temporary else ""
        raise InvalidWebhookUrl(f"{field} host could not be resolved{retry}", field=field) from None
    except BlockedDestination as exc:
        raise InvalidWebhookUrl(f"{field} is not allowed: {exc}", field=field) from None
    return url
