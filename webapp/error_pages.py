"""Portal errors (403, 404) as pages of the portal, with its navigation: a bare line of
text left an operator on a dead end. The API keeps its JSON errors, and a charge point's
refused upgrade its plain text (that route passes no middleware: `app.not_for_charge_points`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from webapp.views.common import render

# The statuses shown as pages; others (redirects, 401 with its challenge, 429 with its
# Retry-After) go as they are.
SHOWN = {403: "Not allowed", 404: "Not found"}
# Not the portal's: machines read these (scrapers, load balancers), in plain text.
MACHINE_PATHS = ("/api/", "/metrics", "/healthz", "/readyz")


@web.middleware
async def portal_error_pages(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.path.startswith(MACHINE_PATHS):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status not in SHOWN:
            raise
        # The handler's own words (404 "No such session"), else the status's.
        detail = (error.text or "").strip().removeprefix(str(error.status)).lstrip(": ")
        if detail.lower() == SHOWN[error.status].lower():  # aiohttp's "404: Not Found"
            detail = ""
        context = {"code": error.status, "title": SHOWN[error.status], "detail": detail}
        return await render(request, "error.html", context, status=error.status)
