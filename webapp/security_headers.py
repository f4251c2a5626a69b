"""Headers every portal and API response carries: a Content-Security-Policy (scripts from
this site and the pinned CDN only, no inline script, no framing), no MIME sniffing, no
caching of what an operator sees (pages, API answers, exports), and no server version."""

from __future__ import annotations

from functools import cache

from aiohttp import web

from webapp import assets
from webapp.keys import SETTINGS


def content_security_policy(portal_assets: str) -> str:
    """Scripts from this site, and from the pinned CDN unless PORTAL_ASSETS=local."""
    scripts = "script-src 'self'" + (f" {assets.CDN}/" if portal_assets == "cdn" else "")
    return "; ".join(
        [
            "default-src 'self'",
            scripts,
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@cache
def _headers(portal_assets: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(portal_assets),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Server": "Voltaro",
    }


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: also for error pages, redirects, files and event streams."""
    if request.path.startswith("/ocpp/"):
        response.headers["Server"] = "Voltaro"  # a charge point needs nothing else here
        return
    response.headers.update(_headers(request.app[SETTINGS].portal_assets))
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
