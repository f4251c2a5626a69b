"""The address a request really comes from.

Behind a PaaS router or a reverse proxy every request's peer is the proxy. Its
`X-Forwarded-For` says who the client was, but anyone can send that header, so it is
believed only from the proxies named in `FORWARDED_ALLOW_IPS` (addresses or networks;
`*` for any peer, as on a PaaS whose routers have no fixed address). The client is the
nearest address in the header's chain that is not one of those proxies.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, allowed: Iterable[str]) -> None:
        self.any = False
        self.networks: list[Network] = []
        for entry in allowed:
            if entry == "*":
                self.any = True
            else:
                self.networks.append(ipaddress.ip_network(entry, strict=False))

    def trusts(self, address: str) -> bool:
        if self.any:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_address(self, request: web.Request) -> str:
        peer = request.remote or "?"
        if not self.trusts(peer):
            return peer
        forwarded = ",".join(request.headers.getall("X-Forwarded-For", ()))
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not _is_address(hop):
                return peer  # a chain we cannot read is not believed
            if not self.trusts(hop) or self.any:
                return hop
        return hops[0] if hops else peer


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
