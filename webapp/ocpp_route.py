"""`/ocpp/{charge_point_id}`: admission before the upgrade, then the protocol loop."""

from __future__ import annotations

import binascii
import logging
from base64 import b64decode

from aiohttp import WSCloseCode, hdrs, web

from ocpp_core.services.charge_points import Admission
from webapp.keys import CENTRAL_SYSTEM, KEEP_ALIVE, SERVICES, SETTINGS
from webapp.tls import client_certificate_cn
from webapp.ws_adapter import ConnectionClosed, RateLimited, TokenBucket, WebSocketConnection

LOGGER = logging.getLogger(__name__)

SUBPROTOCOL = "ocpp1.6"


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


async def ocpp_socket(request: web.Request) -> web.StreamResponse:
    charge_point_id = request.match_info["charge_point_id"]
    settings = request.app[SETTINGS]
    # autoping off: the connection answers pings itself and notes pongs (keep-alive).
    ws = web.WebSocketResponse(
        protocols=(SUBPROTOCOL,),
        compress=False,
        autoping=False,
        max_msg_size=settings.max_frame_bytes,
        timeout=5,
    )
    if not ws.can_prepare(request).ok:
        raise web.HTTPBadRequest(text="OCPP endpoint: a WebSocket upgrade is expected\n")

    # Security profile 1: the user name must be the charge point id in the URL.
    credentials = basic_credentials(request)
    password = credentials[1] if credentials and credentials[0] == charge_point_id else None
    # Security profile 3: the certificate the TLS handshake verified, if any.
    certificate_cn = client_certificate_cn(request)
    admission, profile = await request.app[SERVICES].charge_points.admit(
        charge_point_id, password, certificate_cn
    )
    if admission is Admission.WRONG_CERTIFICATE:
        LOGGER.warning(
            "%s: refused, client certificate for serial %r", charge_point_id, certificate_cn
        )
        raise web.HTTPForbidden(text="Client certificate is not this charge point's\n")
    if admission is Admission.UNKNOWN:
        LOGGER.warning("%s: refused unknown charge point", charge_point_id)
        raise web.HTTPNotFound(text=f"Unknown charge point {charge_point_id}\n")
    if admission is Admission.UNAUTHORIZED:
        LOGGER.warning("%s: refused, wrong or missing credentials", charge_point_id)
        raise web.HTTPUnauthorized(
            text="Charge point credentials required\n",
            headers={hdrs.WWW_AUTHENTICATE: 'Basic realm="Voltaro OCPP"'},
        )

    rate_limited = settings.rate_limit > 0
    limit = TokenBucket(settings.rate_limit, settings.rate_burst) if rate_limited else None
    connection = WebSocketConnection(ws, limit)
    central = request.app[CENTRAL_SYSTEM]
    assert profile is not None  # admitted
    handler = central.open(charge_point_id, connection, profile)
    handler.certificate_cn = certificate_cn
    interval = settings.ws_ping_interval if profile.ping_interval is None else profile.ping_interval

    await ws.prepare(request)
    if ws.ws_protocol != SUBPROTOCOL:
        # OCPP-J 3.2: complete the handshake without a subprotocol, then close at once.
        LOGGER.warning("%s: no supported subprotocol offered, closing", charge_point_id)
        await ws.close(code=WSCloseCode.PROTOCOL_ERROR, message=b"ocpp1.6 subprotocol required")
        return ws

    keep_alive = request.app[KEEP_ALIVE]
    watched = keep_alive.watch(charge_point_id, ws, connection, interval) if interval > 0 else None
    try:
        await central.serve(handler)
    except RateLimited as error:
        LOGGER.warning("%s: closing, %s", charge_point_id, error)
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"rate limit exceeded")
    except ConnectionClosed:
        pass
    finally:
        if watched is not None:
            keep_alive.forget(watched)
        await ws.close()
    return ws
