"""Headers every portal and API response carries: a Content-Security-Policy (scripts from
this site and the pinned CDN only, no inline script, no framing), no MIME sniffing, no
caching of what an operator sees (pages, API answers, exports), and no server version."""

from __future__ import annotations

from aiohttp import web

from webapp import assets

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        f"script-src 'self' {assets.CDN}/",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
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
    response.headers.update(_HEADERS)
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
