"""Reference 1: a central system on the bare `ocpp` library, in the shape of the library's
own example (examples/v16/central_system.py, and v201 for OCPP 2.0.1): `websockets`
server, one library ChargePoint per connection (of the version the charger offers first),
`@on` handlers that answer and store nothing. Frame logging is left at
WARNING so the terminal is not what is measured.

    python bench/reference_library.py --port 9901
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as LibraryChargePoint
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from ocpp.v201 import ChargePoint as LibraryChargePoint201
from ocpp.v201 import call_result as call_result201
from ocpp.v201.enums import Action as Action201

logging.basicConfig(level=logging.WARNING)


def now() -> str:
    return datetime.now(UTC).isoformat()


class ChargePoint(LibraryChargePoint):
    _transactions = 0

    @on(Action.boot_notification)
    def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **_):
        return call_result.BootNotification(
            current_time=now(), interval=300, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    def on_heartbeat(self):
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    def on_status_notification(self, **_):
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str):
        return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.start_transaction)
    def on_start_transaction(self, **_):
        ChargePoint._transactions += 1
        return call_result.StartTransaction(
            transaction_id=ChargePoint._transactions,
            id_tag_info={"status": AuthorizationStatus.accepted},
        )

    @on(Action.meter_values)
    def on_meter_values(self, **_):
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    def on_stop_transaction(self, **_):
        return call_result.StopTransaction()


class ChargePoint201(LibraryChargePoint201):
    @on(Action201.boot_notification)
    def on_boot_notification(self, charging_station: dict, reason: str, **_):
        return call_result201.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on(Action201.heartbeat)
    def on_heartbeat(self):
        return call_result201.Heartbeat(current_time=now())

    @on(Action201.status_notification)
    def on_status_notification(self, **_):
        return call_result201.StatusNotification()

    @on(Action201.authorize)
    def on_authorize(self, id_token: dict, **_):
        return call_result201.Authorize(id_token_info={"status": "Accepted"})

    @on(Action201.transaction_event)
    def on_transaction_event(self, **_):
        return call_result201.TransactionEvent()


CLASSES = {"ocpp1.6": ChargePoint, "ocpp2.0.1": ChargePoint201}


async def on_connect(connection) -> None:
    if connection.subprotocol not in CLASSES:
        await connection.close()
        return
    charge_point_class = CLASSES[connection.subprotocol]
    charge_point = charge_point_class(connection.request.path.rsplit("/", 1)[-1], connection)
    try:
        await charge_point.start()
    except websockets.ConnectionClosed:
        pass


async def main(port: int) -> None:
    async with websockets.serve(
        on_connect, "127.0.0.1", port, subprotocols=list(CLASSES), compression=None
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9901)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parser.parse_args().port))
