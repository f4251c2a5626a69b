"""`/healthz` (the process answers) and `/readyz` (it can serve) for load balancers and
PaaS checks: no login, and nothing in them a stranger should not read."""

from __future__ import annotations

from aiohttp import web

from ocpp_core.readiness import readiness
from webapp.keys import CENTRAL_SYSTEM, ENGINE


async def healthz(request: web.Request) -> web.Response:
    """Alive: answered by the event loop, with no database involved."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 with each check when all pass; 503 naming the ones that failed."""
    result = await readiness(request.app[ENGINE], request.app[CENTRAL_SYSTEM].cluster)
    body: dict[str, object] = {
        "status": "ready" if result.ready else "not ready",
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in result.checks},
    }
    if not result.ready:
        body["failed"] = result.failed
    return web.json_response(body, status=200 if result.ready else 503)
