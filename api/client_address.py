"""Whose request this is, by address: the TCP peer, or what trusted proxies say.

The public rate limit and the console's sign-in limit count per client address. Behind a
proxy every request comes from the proxy, so its X-Forwarded-For must be read; from
anyone else the header is whatever the client wrote. So it is believed only from the
addresses in REGISTRY_TRUSTED_PROXIES (default: none), and then by the rightmost-untrusted
rule: each proxy appends the address it was connected from, so reading from the right,
the first address that is not one of the trusted proxies is the client; anything left of
it was written by the client and is ignored.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS = 32  # a longer chain is read only this far from the right


def parse_trusted_proxies(text: str) -> tuple[str, ...]:
    """`10.0.0.0/8, 192.0.2.7 ::1`: addresses or networks, by commas or spaces."""
    entries = tuple(e for e in text.replace(",", " ").split() if e)
    _networks(entries)  # a wrong entry fails at start, not at the first request
    return entries


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(e, strict=False) for e in entries)
    except ValueError as exc:
        raise ValueError(f"REGISTRY_TRUSTED_PROXIES: {exc}") from None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
             networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_address(scope: Any, trusted_proxies: tuple[str, ...]) -> str:
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    networks = _networks(trusted_proxies)
    if not networks or not _trusted(_address(peer), networks):
        return peer
    hops = [hop for name, value in scope["headers"] if name == b"x-forwarded-for"
            for hop in value.decode("latin-1").split(",")]
    for hop in reversed(hops[-MAX_HOPS:]):
        address = _address(hop)
        if not _trusted(address, networks):
            # Unreadable is untrusted too: it stands for a client, bounded in length.
            return str(address) if address is not None else hop.strip()[:64] or "unknown"
    # Every hop is a trusted proxy (or there were none): the first of them is the client.
    return hops[-MAX_HOPS:][0].strip() if hops else peer
