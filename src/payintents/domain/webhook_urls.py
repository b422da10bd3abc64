"""Which receiver URLs a subscription may use: no requests into private networks (SSRF).

Production receivers must be ``https://`` on a public address. Sandbox receivers may also use
the hosts the server's operator names (``PAYINTENTS_SANDBOX_WEBHOOK_HOSTS``; by default
``127.0.0.1``, ``localhost`` and ``::1``, so developers can test on their own machine), over
``http://`` too, wherever those hosts resolve. Every other loopback, private, link-local, shared,
multicast, reserved or metadata address is refused in both environments, in any spelling (decimal
``2130706433``, hex ``0x7f.1``, octal, IPv4-mapped IPv6). The check runs on the URL at subscribe
time and on the resolved addresses at send time; the sender then connects only to those addresses.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from payintents.domain.errors import ValidationError
from payintents.domain.intent import Environment

MAX_URL_LENGTH = 2048
# The sandbox receivers' own hosts when the operator names none (a developer's own machine).
SANDBOX_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_BLOCKED_NAMES = ("metadata.google.internal", "metadata", "instance-data")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# A host whose last label is a number is an IPv4 address to resolvers (or invalid), never a DNS name.
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
# NAT64 (RFC 6052): the last 32 bits are an IPv4 address the gateway connects to.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_receiver_url(
    url: str, environment: Environment, sandbox_hosts: frozenset[str] = SANDBOX_LOCAL_HOSTS
) -> str:
    """Return ``url`` if it may receive webhooks in ``environment``, else raise ValidationError.

    ``sandbox_hosts``: the hosts sandbox receivers may use besides public ones (``http://`` too).
    """
    host = _host_of(url, environment, sandbox_hosts)
    if environment is Environment.SANDBOX and host in sandbox_hosts:
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


def check_resolved(
    host: str,
    addresses: list[IPAddress],
    environment: Environment,
    sandbox_hosts: frozenset[str] = SANDBOX_LOCAL_HOSTS,
) -> None:
    """At send time: every address the host resolved to must be allowed. A host the operator named
    for sandbox receivers may resolve anywhere (a Docker service's private address, for one): the
    operator's resolver answers for it, not the merchant's DNS. Except ``localhost``, which is
    loopback by definition (RFC 6761): another answer came from somewhere it should not."""
    host = host.lower()
    named = environment is Environment.SANDBOX and host in sandbox_hosts and addresses
    if named and (host != "localhost" or all(a.is_loopback for a in addresses)):
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


def parse_sandbox_hosts(text: str) -> frozenset[str]:
    """The comma-separated host list of ``PAYINTENTS_SANDBOX_WEBHOOK_HOSTS``; ``""`` names none.

    Each entry is a host name or an IP address as a URL spells it (``::1`` or ``[::1]``), without
    scheme or port; anything else raises ValueError.
    """
    hosts = set()
    for entry in text.split(","):
        host = entry.strip().lower()
        if not host:
            continue
        bare = host.removeprefix("[").removesuffix("]")
        named = all(_HOST_LABEL.match(label) for label in host.split("."))
        if parse_ip_literal(bare) is None and not named:
            raise ValueError(f"names {entry.strip()!r}, which is not a host name or an IP address")
        hosts.add(bare)
    return frozenset(hosts)


def _host_of(url: str, environment: Environment, sandbox_hosts: frozenset[str]) -> str:
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
    local_sandbox = environment is Environment.SANDBOX and host in sandbox_hosts
    if parts.scheme != "https" and not (parts.scheme == "http" and local_sandbox):
        raise _refused("The url must start with https://" + _plain_http_note(environment, sandbox_hosts))
    if port == 0:
        raise _refused("The url's port is not valid.")
    return host


def _plain_http_note(environment: Environment, sandbox_hosts: frozenset[str]) -> str:
    if environment is not Environment.SANDBOX or not sandbox_hosts:
        return "."
    return f" (http:// only for {', '.join(sorted(sandbox_hosts))} in the sandbox)."


def _refused(message: str) -> ValidationError:
    return ValidationError({"url": [message]})
