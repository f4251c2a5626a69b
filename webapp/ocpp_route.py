"""`/ocpp/{charge_point_id}`: admission before the upgrade, then the protocol loop."""

from __future__ import annotations

import binascii
import logging
from base64 import b64decode

from aiohttp import WSCloseCode, hdrs, web

from ocpp_core import versions
from ocpp_core.errors import NotFound
from ocpp_core.identifiers import charge_point_id_problem
from ocpp_core.passwords import Busy
from ocpp_core.services.admission import Admission
from webapp.keys import (
    CENTRAL_SYSTEM,
    KEEP_ALIVE,
    KEY_THROTTLE,
    SERVICES,
    SETTINGS,
    TRUSTED_PROXIES,
)
from webapp.stream_writer import prime_stream_writer
from webapp.tls import client_certificate_cn
from webapp.ws_adapter import ConnectionClosed, RateLimited, TokenBucket, WebSocketConnection

LOGGER = logging.getLogger(__name__)

# Never prepared, so it can check any number of requests (can_prepare only reads).
_HANDSHAKE_CHECK = web.WebSocketResponse(protocols=tuple(versions.SUBPROTOCOLS), compress=False)


prime_stream_writer()


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if "\x00" in decoded:  # no user or charge point has one; PostgreSQL cannot look it up
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


async def ocpp_socket(request: web.Request) -> web.StreamResponse:
    charge_point_id = request.match_info["charge_point_id"]
    if "\x00" in charge_point_id:  # never registered, and PostgreSQL cannot look it up
        raise web.HTTPNotFound(text="Unknown charge point: its id holds a NUL character\n")
    # An id OCPP does not allow is never registered as a new charge point (whatever
    # UNKNOWN_CHARGE_POINTS says); one registered before the rule still connects. The
    # lookup only for such ids: the others go straight to admission.
    problem = charge_point_id_problem(charge_point_id)
    if problem is not None:
        try:
            await request.app[SERVICES].charge_points.get(charge_point_id)
        except NotFound:
            LOGGER.warning("%r: refused unknown charge point, %s", charge_point_id, problem)
            raise web.HTTPNotFound(text=f"Unknown charge point: {problem}\n") from None
    settings = request.app[SETTINGS]
    if not _HANDSHAKE_CHECK.can_prepare(request).ok:
        raise web.HTTPBadRequest(text="OCPP endpoint: a WebSocket upgrade is expected\n")

    # Security profile 1: the user name must be the charge point id in the URL.
    credentials = basic_credentials(request)
    password = credentials[1] if credentials and credentials[0] == charge_point_id else None
    # Security profile 3: the certificate the TLS handshake verified, if any.
    certificate_cn = client_certificate_cn(request)
    # Keys guessed from one address for one id are held back (each check costs argon2).
    throttle = request.app[KEY_THROTTLE]
    attempt = throttle.key(charge_point_id, request.app[TRUSTED_PROXIES].client_address(request))
    if password is not None:
        wait = throttle.retry_after(attempt)
        if wait:
            raise web.HTTPTooManyRequests(
                text=f"Too many wrong keys, retry in {wait} s\n",
                headers={hdrs.RETRY_AFTER: str(wait)},
            )
    offered = tuple(
        versions.offered_subprotocols(request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, ""))
    )
    try:
        admission, profile = await request.app[SERVICES].admission.admit(
            charge_point_id, password, certificate_cn, offered
        )
    except Busy:
        raise web.HTTPServiceUnavailable(
            text="Too many key checks at once, retry shortly\n", headers={hdrs.RETRY_AFTER: "5"}
        ) from None
    if password is not None:
        if admission is Admission.UNAUTHORIZED:
            throttle.failed(attempt)
        elif admission is Admission.ACCEPT:
            throttle.succeeded(attempt)
    if admission is Admission.NO_SUBPROTOCOL:
        # OCPP-J 1.6 3.2, 2.0.1 TC_B_58: complete the handshake without a subprotocol,
        # then close at once; nothing is registered.
        LOGGER.warning(
            "%s: no supported subprotocol offered (%s), closing",
            charge_point_id,
            ", ".join(offered) or "none",
        )
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        await ws.close(
            code=WSCloseCode.PROTOCOL_ERROR,
            message=f"subprotocol {' or '.join(versions.SUBPROTOCOLS)} required".encode(),
        )
        return ws
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

    # Made only now, and prepared at once: CPython gives a class's instances a shared
    # attribute table only while few instances have been made before the first has all
    # its attributes; made before admission's await, a reconnect storm would make many
    # first, and every socket would keep a dict of its own.
    # autoping off: the connection answers pings itself and notes pongs (keep-alive).
    assert profile is not None and profile.ocpp_version is not None  # admitted
    subprotocol = versions.SUBPROTOCOL_OF[profile.ocpp_version]
    ws = web.WebSocketResponse(
        protocols=(subprotocol,),
        # OCPP-J 2.0.1 asks a CSMS to support permessage-deflate (RFC 7692) where the
        # charger offers it; 1.6 sockets stay uncompressed (a deflate context costs memory).
        compress=profile.ocpp_version == "2.0.1",
        autoping=False,
        max_msg_size=settings.max_frame_bytes,
        timeout=5,
    )
    rate_limited = settings.rate_limit > 0
    limit = TokenBucket(settings.rate_limit, settings.rate_burst) if rate_limited else None
    connection = WebSocketConnection(ws, limit)
    central = request.app[CENTRAL_SYSTEM]
    handler = central.open(charge_point_id, connection, profile, profile.ocpp_version)
    handler.certificate_cn = certificate_cn
    interval = settings.ws_ping_interval if profile.ping_interval is None else profile.ping_interval

    await ws.prepare(request)

    keep_alive = request.app[KEEP_ALIVE]
    watched = keep_alive.watch(charge_point_id, ws, connection, interval) if interval > 0 else None
    try:
        with central.serving(handler):
            await handler.start()
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
