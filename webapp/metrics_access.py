"""Who may read `/metrics`: it tells anyone who reads it how busy the fleet is, and which
actions fail, so it is not public.

- `METRICS_TOKEN`: the scraper sends `Authorization: Bearer TOKEN` (401 otherwise);
- `METRICS_ALLOW`: the client's address is in one of these networks (403 otherwise);
- both: both must hold; neither: loopback clients only. A request from a loopback peer
  that carries forwarding headers from no trusted proxy came through a proxy on this
  host, from anywhere: refused too.

The client's address is the one `FORWARDED_ALLOW_IPS` lets `X-Forwarded-For` name.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable

from aiohttp import hdrs, web

from webapp.client_address import TrustedProxies

_FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


class MetricsAccess:
    def __init__(self, token: str | None, allow: Iterable[str], proxies: TrustedProxies) -> None:
        self._token = token.encode() if token else None
        allow = tuple(allow)
        self._allowed = TrustedProxies(allow) if allow else None
        self._proxies = proxies

    def check(self, request: web.Request) -> None:
        """Raise 403 for a client not allowed, 401 without the right token."""
        address = self._proxies.client_address(request)
        if self._allowed is not None:
            if not self._allowed.trusts(address):
                raise web.HTTPForbidden(text=f"403 {address} may not read the metrics\n")
        elif self._token is None and not self._loopback(request, address):
            raise web.HTTPForbidden(
                text="403 the metrics are for loopback clients only "
                "(set METRICS_ALLOW or METRICS_TOKEN)\n"
            )
        if self._token is not None and not self._bearer_matches(request):
            raise web.HTTPUnauthorized(
                headers={hdrs.WWW_AUTHENTICATE: 'Bearer realm="metrics"'},
                text="401 a bearer token is needed to read the metrics\n",
            )

    def _loopback(self, request: web.Request, address: str) -> bool:
        try:
            loopback = ipaddress.ip_address(address).is_loopback
        except ValueError:
            return False
        proxied = any(name in request.headers for name in _FORWARDING_HEADERS)
        return loopback and not (proxied and not self._proxies.trusts(request.remote or ""))

    def _bearer_matches(self, request: web.Request) -> bool:
        assert self._token is not None
        scheme, _, given = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self._token)
