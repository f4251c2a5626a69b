"""Reference 2: the "null" central system, the practical limit of this machine for OCPP-J
over aiohttp: each frame is parsed (orjson) and answered with a canned payload for its
action (OCPP 1.6 or 2.0.1, the subprotocol the charger offers first); nothing is
validated, stored or logged.

    python bench/reference_null.py --port 9902
"""

from __future__ import annotations

import argparse
import itertools
from datetime import UTC, datetime

import orjson
from aiohttp import WSMsgType, web

_transactions = itertools.count(1)
ACCEPTED = {"status": "Accepted"}


def answer(action: str, version: str = "ocpp1.6") -> dict:
    if action == "BootNotification":
        return {"currentTime": datetime.now(UTC).isoformat(), "interval": 300, **ACCEPTED}
    if action == "Heartbeat":
        return {"currentTime": datetime.now(UTC).isoformat()}
    if action == "Authorize":
        return {"idTagInfo" if version == "ocpp1.6" else "idTokenInfo": ACCEPTED}
    if action == "StartTransaction":
        return {"transactionId": next(_transactions), "idTagInfo": ACCEPTED}
    return {}


async def ocpp(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("ocpp1.6", "ocpp2.0.1"), compress=False)
    await ws.prepare(request)
    version = ws.ws_protocol or "ocpp1.6"
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        frame = orjson.loads(msg.data)
        if frame[0] == 2:
            await ws.send_str(orjson.dumps([3, frame[1], answer(frame[2], version)]).decode())
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9902)
    app = web.Application()
    app.router.add_get("/ocpp/{charge_point_id}", ocpp)
    # The accept queue Voltaro uses (webapp.cli): the restart storm is not capped by 128.
    web.run_app(app, host="127.0.0.1", port=parser.parse_args().port, print=None, backlog=4096)


if __name__ == "__main__":
    main()
