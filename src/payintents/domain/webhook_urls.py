"""Which receiver URLs a subscription may use: no requests into private networks (SSRF).

Production receivers must be ``https://`` on a public address. Sandbox receivers may also be
``http://127.0.0.1`` or ``http://localhost`` so developers can test on their own machine. Every
other loopback, private, link-local, shared, multicast, reserved or metadata address is refused in
both environments, in any spelling (decimal ``2130706433``, hex ``0x7f.1``, octal, IPv4-mapped
IPv6). The check runs on the URL at subscribe time and on the resolved addresses at send time.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from payintents.domain.errors import ValidationError
from payintents.domain.intent import Environment

MAX_URL_LENGTH = 2048
SANDBOX_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
_BLOCKED_NAMES = ("metadata.google.internal", "metadata", "instance-data")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# A host whose last label is a number is an IPv4 address to resolvers (or invalid), never a DNS name.
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
# NAT64 (RFC 6052): the last 32 bits are an IPv4 address the gateway connects to.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_receiver_url(url: str, environment: Environment) -> str:
    """Return ``url`` if it may receive webhooks in ``environment``, else raise ValidationError."""
    host = _host_of(url, environment)
    if environment is Environment.SANDBOX and host in SANDBOX_LOCAL_HOSTS:
        return url
    address = parse_ip_literal(host)
    if address is not None:
        if not is_public(address):
            raise _refused("The url points at a private, loopback or reserved address.")
        return url
    if host.endswith((".localhost", ".local", ".internal")) or host in _BLOCKED_NAMES:
        raise _refused("The url's host name is for internal networks only.")
    labels = host.split(".")
    if not all(_HOST_LABEL.match(label) for label in labels) or "." not in host:
        raise _refused("The url's host name is not a valid public DNS name.")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        raise _refused("The url's host name is not a valid public DNS name.")
    return url


def check_resolved(host: str, addresses: list[IPAddress], environment: Environment) -> None:
    """At send time: every address the host resolved to must be allowed."""
    local = environment is Environment.SANDBOX and host.lower() in SANDBOX_LOCAL_HOSTS
    if local and addresses and all(a.is_loopback for a in addresses):
        return
    if not addresses or not all(is_public(a) for a in addresses):
        raise _refused(f"The receiver {host} resolves to a private or reserved address.")


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address: mapped, 6to4, NAT64 and the old "compatible" ::a.b.c.d.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and (address in _NAT64 or int(address) >> 32 == 0):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast


def parse_ip_literal(host: str) -> IPAddress | None:
    """An IP address in any form a resolver would accept (``127.1``, ``0x7f000001``, …), or None."""
    candidate = host.strip("[]")
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        pass
    parts = candidate.split(".")
    if not 1 <= len(parts) <= 4 or not all(re.fullmatch(r"0x[0-9a-f]+|[0-9]+", p) for p in parts):
        return None
    try:
        numbers = [
            int(p, 16) if p.startswith("0x") else int(p, 8 if len(p) > 1 and p[0] == "0" else 10)
            for p in parts
        ]
    except ValueError:  # "08": not octal, so not an address either
        return None
    # inet_aton: the last part fills the remaining bytes (a.b.c.d, a.b.16bits, a.24bits, 32bits).
    value = 0
    for number in numbers[:-1]:
        if number > 255:
            return None
        value = value * 256 + number
    tail_bits = 8 * (5 - len(numbers))
    if numbers[-1] >= 2**tail_bits:
        return None
    return ipaddress.IPv4Address((value << tail_bits) + numbers[-1])


def _host_of(url: str, environment: Environment) -> str:
    if len(url) > MAX_URL_LENGTH:
        raise _refused(f"The url must be at most {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise _refused("The url must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refused("The url is not a valid URL.") from None
    host = (parts.hostname or "").lower()
    # "[v1.x]" (IPvFuture) comes back as a bare name; "https://@host" has an empty user name.
    ipv_future = "[" in parts.netloc and ":" not in host
    if not host or ipv_future or parts.username is not None or parts.password is not None:
        raise _refused("The url needs a host and must not carry credentials.")
    local_sandbox = environment is Environment.SANDBOX and host in SANDBOX_LOCAL_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and local_sandbox):
        raise _refused(
            "The url must start with https:// (http:// only for 127.0.0.1 or localhost in the sandbox)."
        )
    if port == 0:
        raise _refused("The url's port is not valid.")
    return host


def _refused(message: str) -> ValidationError:
    return ValidationError({"url": [message]})
