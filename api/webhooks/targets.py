"""Where a webhook may point (API.md §14): https to a public address; plain http, and
loopback at all, only when the node allows it for tests. Private, loopback, link-local and
other non-public addresses are refused by the URL and again by every address the host
resolves to, each time a delivery is made (a name may be re-pointed after it was checked).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL = 2048
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """Why a webhook URL or one of its addresses may not be used (never a secret)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    netloc: str  # the Host header
    path: str  # with its query


def parse(url: str, *, allow_loopback: bool) -> Target:
    if len(url) > MAX_URL:
        raise TargetRefused(f"at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("not a URL") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TargetRefused("an https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("credentials do not belong in a webhook URL")
    if parts.fragment:
        raise TargetRefused("a webhook URL has no fragment")
    host = parts.hostname
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in url):
        raise TargetRefused("only printable ASCII (encode international names as A-labels)")
    literal = _literal(host)
    if parts.scheme == "http" and not (
        allow_loopback and literal is not None and literal.is_loopback
    ):
        raise TargetRefused("http:// only to a loopback address, where the node allows it")
    if literal is not None:
        refuse_address(literal, allow_loopback=allow_loopback)
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, host, port or default, parts.netloc, _path(parts.path,
                                                                           parts.query))


def _path(path: str, query: str) -> str:
    return (path or "/") + (f"?{query}" if query else "")


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def refuse_address(address: Address, *, allow_loopback: bool) -> None:
    """Raise unless `address` is one a webhook may be delivered to."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        if allow_loopback:
            return
        raise TargetRefused("a loopback address")
    if address.is_link_local:
        raise TargetRefused("a link-local address")
    if address.is_private or address.is_multicast or address.is_reserved \
            or address.is_unspecified or not address.is_global:
        raise TargetRefused("a private or otherwise non-public address")


async def resolve(target: Target, *, allow_loopback: bool) -> list[str]:
    """Every address the host resolves to, each checked; one refused refuses them all."""
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetRefused(f"{target.host} does not resolve") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise TargetRefused(f"{target.host} does not resolve")
    for text in addresses:
        refuse_address(ipaddress.ip_address(text.split("%")[0]), allow_loopback=allow_loopback)
    return addresses
