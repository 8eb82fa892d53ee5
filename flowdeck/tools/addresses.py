"""Which IP addresses a tool may connect to, and what a URL's host really means.

A host like "2130706433", "0177.0.0.1", "0x7f.1" or "127.1" is 127.0.0.1 to the system's resolver (inet_aton), so
it is parsed here as the address it means, never handed to DNS as a name. Every address a name resolves to is then
classified: anything that is not a public unicast address (loopback, private, link-local, cloud metadata, CGNAT,
multicast, reserved, or an IPv6 address that embeds one of those) is refused unless the workflow lists that exact
IP."""

from __future__ import annotations

import ipaddress
import re

__all__ = ["IPAddress", "blocked_reason", "parse_ip_literal"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
# Metadata services answer with cloud credentials: named apart so a refusal says what was at stake.
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
# Ranges Python's ipaddress does not count as private in every version, or counts as global by mistake.
_EXTRA_V4: tuple[tuple[_V4, str], ...] = (
    (_V4("0.0.0.0/8"), "a 'this network' address"),
    (_V4("100.64.0.0/10"), "a shared (carrier-grade NAT) address"),
    (_V4("192.0.0.0/24"), "an IETF protocol address"),
    (_V4("192.88.99.0/24"), "a 6to4 relay address"),
    (_V4("198.18.0.0/15"), "a benchmarking address"),
)
_NAT64 = (_V6("64:ff9b::/96"), _V6("64:ff9b:1::/48"))
_V4_COMPATIBLE = _V6("::/96")  # deprecated ::a.b.c.d, still routed to a.b.c.d by some stacks
_NUMBER = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a URL host names when it is an IP literal (any IPv4 form inet_aton accepts, or IPv6 without
    brackets); None for a name. ValueError for a host that looks like an address but is not a valid one."""
    host = host.lower().rstrip(".")
    if ":" in host:
        return ipaddress.IPv6Address(host.split("%", 1)[0])
    parts = host.split(".")
    # WHATWG's rule: a host whose last label is a number is an IPv4 address (valid or not), never a name.
    if not parts or not _NUMBER.match(parts[-1]):
        return None
    if len(parts) > 4 or not all(_NUMBER.match(p) for p in parts):
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    numbers = [_number(p) for p in parts]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise ValueError(f"{host!r} is not a valid IPv4 address (a part is out of range)")
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def blocked_reason(address: IPAddress) -> str | None:
    """Why a tool may not connect to this address unless it is listed explicitly ("a loopback address"), or None
    for a public unicast address."""
    if address in _METADATA:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        for embedded in _embedded_v4(address):
            inner = blocked_reason(embedded)
            if inner is not None:
                return f"an IPv6 address that embeds {embedded}, {inner}"
        if address.ipv4_mapped is not None:
            return None  # ::ffff:a.b.c.d is a.b.c.d, checked above
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    if isinstance(address, ipaddress.IPv4Address):
        for network, reason in _EXTRA_V4:
            if address in network:
                return reason
    elif address.is_site_local or any(address in n for n in _NAT64):
        return "a reserved address"
    if not address.is_global:
        return "an address that is not public"
    return None


def _embedded_v4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, 6to4, Teredo server and client, NAT64)."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo
    if (address in _V4_COMPATIBLE and int(address) > 1) or any(address in n for n in _NAT64):
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    return ()


def _number(part: str) -> int:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        if not set(part) <= set("01234567"):
            raise ValueError(f"{part!r} is not a valid octal number in an IPv4 address")
        return int(part, 8)
    return int(part)
