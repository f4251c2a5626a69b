"""`/metrics`: this instance's Prometheus metrics (`ocpp_core.metrics`), for the clients
`webapp.metrics_access` allows."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import hdrs, web

from ocpp_core.metrics import Scraped
from ocpp_core.readiness import kind_of
from webapp.keys import CENTRAL_SYSTEM, METRICS_ACCESS, SERVICES, SSE_STREAMS

LOGGER = logging.getLogger(__name__)

# The sessions' totals are left out of a scrape the database does not answer in time.
TOTALS_SECONDS = 3.0


async def metrics(request: web.Request) -> web.Response:
    request.app[METRICS_ACCESS].check(request)
    services = request.app[SERVICES]
    try:
        async with asyncio.timeout(TOTALS_SECONDS):
            totals = await services.fleet.totals()
    except Exception as error:  # the other metrics matter most when the database fails
        LOGGER.warning("metrics: the sessions' totals could not be read (%s)", kind_of(error))
        totals = None
    try:
        async with asyncio.timeout(TOTALS_SECONDS):
            deliveries = await services.webhooks.totals()
    except Exception as error:
        LOGGER.warning("metrics: the webhook deliveries could not be read (%s)", kind_of(error))
        deliveries = None
    scraped = Scraped(
        connected=request.app[CENTRAL_SYSTEM].connected_by_version(),
        # Every open event stream: the dashboard's are fed apart from the bus's queues.
        sse_subscribers=len(request.app.get(SSE_STREAMS, ())),
        active_sessions=totals.active_sessions if totals else None,
        energy_wh=totals.energy_wh if totals else None,
        webhook_deliveries_pending=deliveries["pending"] if deliveries else None,
        webhook_deliveries_failed=deliveries["failed"] if deliveries else None,
    )
    body, content_type = services.metrics.exposition(scraped, request.headers.get(hdrs.ACCEPT))
    return web.Response(body=body, headers={hdrs.CONTENT_TYPE: content_type})
