"""What a transaction message costs in the services, per OCPP version: the CPU (process
time, every thread) of `TransactionService` for 1.6 and `TransactionEventService` for 2.0.1
called in process on a migrated database, one message at a time through the group commit,
no socket, no frame, no message log. The same samples in both versions.

    python bench/service_cost.py [--database-url URL] [--messages N] [--rounds R]

The loadgen's cost scenario measures the whole server; this one isolates the part that
differs most between the versions, fast enough to try a change in a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent)]

from ocpp_core.db.engine import create_engine, create_session_factory  # noqa: E402
from ocpp_core.db.migrate import upgrade  # noqa: E402
from ocpp_core.events import EventBus  # noqa: E402
from ocpp_core.services import Services  # noqa: E402
from ocpp_core.settings import Settings  # noqa: E402
from ocpp_core.timeutil import format_datetime  # noqa: E402

MEASURANDS = (
    ("Energy.Active.Import.Register", "Wh", None),
    ("Power.Active.Import", "W", None),
    ("Current.Import", "A", "L1"),
    ("Current.Import", "A", "L2"),
    ("Current.Import", "A", "L3"),
    ("Voltage", "V", "L1-N"),
    ("Voltage", "V", "L2-N"),
    ("Voltage", "V", "L3-N"),
    ("SoC", "Percent", None),
)


def samples_16(wh: int, context: str) -> list[dict[str, Any]]:
    return [
        {"value": str(wh if m == MEASURANDS[0][0] else 230), "measurand": m, "unit": u,
         "context": context, **({"phase": p} if p else {})}
        for m, u, p in MEASURANDS
    ]  # fmt: skip


def samples_201(wh: int, context: str) -> list[dict[str, Any]]:
    return [
        {"value": wh if m == MEASURANDS[0][0] else 230, "measurand": m, "context": context,
         "unit_of_measure": {"unit": u}, **({"phase": p} if p else {})}
        for m, u, p in MEASURANDS
    ]  # fmt: skip


async def cpu_per_call(calls: list[Callable[[], Awaitable[object]]]) -> float:
    started = time.process_time()
    for call in calls:
        await call()
    return (time.process_time() - started) / len(calls) * 1e6


async def one_round(services: Services, round_no: int, messages: int) -> dict[str, float]:
    at = datetime.now(UTC) - timedelta(hours=1)
    cp16, cp201 = f"SC16-{round_no}", f"SC201-{round_no}"
    for cp, version in ((cp16, "1.6"), (cp201, "2.0.1")):
        await services.charge_points.register(cp, ocpp_version=version)
    transactions, events = services.transactions, services.transaction_events

    def when(i: int) -> str:
        return format_datetime(at + timedelta(seconds=i))

    # 1.6: a session, MeterValues, the stop; 2.0.1: Started, Updated, Ended.
    tx16, _ = await transactions.start(cp16, 1, "BENCH", 0, at)
    ocpp_id = f"bench-{round_no}"

    def event(kind: str, seq: int, context: str, **extra: Any) -> dict[str, Any]:
        return {
            "event_type": kind, "timestamp": when(seq), "seq_no": seq,
            "trigger_reason": "MeterValuePeriodic", "evse": {"id": 1, "connector_id": 1},
            "transaction_info": {"transaction_id": ocpp_id, "charging_state": "Charging"},
            "meter_value": [{"timestamp": when(seq), "sampled_value": samples_201(seq, context)}],
            **extra,
        }  # fmt: skip

    token = {"id_token": "BENCH", "type": "ISO14443"}
    await events.event(cp201, event("Started", 0, "Transaction.Begin", id_token=token))
    meter_16 = [
        (lambda i=i: transactions.meter_values(cp16, 1, tx16,
            [{"timestamp": when(i), "sampled_value": samples_16(i, "Sample.Periodic")}],
            may_be_retry=False))
        for i in range(1, messages + 1)
    ]  # fmt: skip
    updated = [
        (lambda i=i: events.event(cp201, event("Updated", i, "Sample.Periodic")))
        for i in range(1, messages + 1)
    ]
    figures = {
        "MeterValues (1.6)": await cpu_per_call(meter_16),
        "TransactionEvent Updated (2.0.1)": await cpu_per_call(updated),
    }
    await transactions.stop(cp16, tx16, messages, at + timedelta(seconds=messages + 1))
    await events.event(cp201, event("Ended", messages + 1, "Transaction.End"))
    # Sessions, one after another: a start and a stop each.
    sessions = max(messages // 10, 10)
    begin = [0.0, 0.0]
    for n in range(sessions):
        started = time.process_time()
        begun = at + timedelta(minutes=n + 10)
        tx, _ = await transactions.start(cp16, 1, "BENCH", 0, begun)
        await transactions.stop(cp16, tx, 100, begun + timedelta(seconds=1))
        begin[0] += time.process_time() - started
        started = time.process_time()
        sid = f"s-{round_no}-{n}"
        for seq, kind in enumerate(("Started", "Ended")):
            ctx = "Transaction.Begin" if kind == "Started" else "Transaction.End"
            e = event(kind, seq, ctx, id_token=token)
            e["transaction_info"]["transaction_id"] = sid
            e["timestamp"] = format_datetime(at + timedelta(minutes=n + 10, seconds=seq))
            await events.event(cp201, e)
        begin[1] += time.process_time() - started
    figures["Start+Stop (1.6)"] = begin[0] / sessions * 1e6
    figures["Started+Ended (2.0.1)"] = begin[1] / sessions * 1e6
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        engine = create_engine(url)
        await upgrade(engine)
        settings = Settings(database_url=url, secret_key="bench")
        services = Services.create(create_session_factory(engine), EventBus(), settings)
        await services.id_tags.add("BENCH")
        rounds = [await one_round(services, r, args.messages) for r in range(args.rounds)]
        await services.writes.drain()
        await engine.dispose()
    print(f"server CPU per call, us: median of {args.rounds} rounds of {args.messages}")
    names = list(rounds[0])
    for name in names:
        values = [r[name] for r in rounds]
        spread = f"{min(values):.0f}-{max(values):.0f}"
        print(f"  {name:34} {statistics.median(values):8.0f}  ({spread})")
    for a, b in ((names[1], names[0]), (names[3], names[2])):
        ratios = [r[a] / r[b] for r in rounds]
        print(f"  {a} / {b.split(' (')[0]}: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    asyncio.run(main())
