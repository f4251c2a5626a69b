"""What a message's frame costs before any service runs, per OCPP version: the CPU of the
server's own steps (`frame_decoding.decode`, the schema check, snake_case keys, the
samples read, and for a 2.0.1 TransactionEvent the JSON of its `transaction_events.payload`
column) for the frames `bench/loadgen.py` sends, 1.6 against 2.0.1, in process, no database.

    python bench/frame_cost.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import loadgen  # noqa: E402

from ocpp_core import dialects, frame_decoding, payload_checks  # noqa: E402
from ocpp_core.payload_keys import camel_keys, snake_keys  # noqa: E402
from ocpp_core.services.meter_samples import sampled_values  # noqa: E402
from ocpp_core.services.transaction_events import sampled_values_201  # noqa: E402


def microseconds(step: Callable[[], object], n: int = 20_000) -> float:
    """The median of five rounds of `n` calls, CPU time."""
    rounds = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(n):
            step()
        rounds.append((time.process_time() - started) / n * 1e6)
    return statistics.median(rounds)


def steps_of(raw: str, dialect: dialects.Dialect) -> dict[str, Callable[[], object]]:
    """The server's frame-level steps for the CALL `raw`, each a call to time."""
    message = frame_decoding.decode(raw, dialect)
    schema = dialect.request_schema(message.action)
    snake = snake_keys(message.payload)
    steps: dict[str, Callable[[], object]] = {
        "decode": lambda: frame_decoding.decode(raw, dialect),
        "schema": lambda: payload_checks.validate(schema, message.payload, dialect),
        "snake_keys": lambda: snake_keys(message.payload),
    }
    if message.action == "MeterValues":
        steps["samples"] = lambda: sampled_values(snake["meter_value"])
    if message.action == "TransactionEvent":
        steps["samples"] = lambda: sampled_values_201(snake["meter_value"])
        steps["payload column"] = lambda: orjson.dumps(camel_keys(snake)).decode()
    return steps


def main() -> None:
    v16 = loadgen.BenchChargePoint("X", None, loadgen.Stats(), "1.6")  # type: ignore[arg-type]
    v16.transaction_id = 1
    v201 = loadgen.BenchChargePoint("X", None, loadgen.Stats(), "2.0.1")  # type: ignore[arg-type]
    v201.start_frame(1)
    cases = [
        ("1.6 Heartbeat", ("Heartbeat", {}), dialects.V16),
        ("2.0.1 Heartbeat", ("Heartbeat", {}), dialects.V201),
        ("1.6 StatusNotification", v16.status_frame(1, "Charging"), dialects.V16),
        ("2.0.1 StatusNotification", v201.status_frame(1, "Charging"), dialects.V201),
        ("1.6 MeterValues", v16.meter_frame(1), dialects.V16),
        ("2.0.1 TransactionEvent Updated", v201.meter_frame(1), dialects.V201),
    ]
    for name, (action, payload), dialect in cases:
        raw = orjson.dumps([2, "1234567", action, payload]).decode()
        figures = {step: microseconds(run) for step, run in steps_of(raw, dialect).items()}
        shown = ", ".join(f"{step} {us:.1f}" for step, us in figures.items())
        print(f"{name:31s} {len(raw):5d} bytes: {shown}; in all {sum(figures.values()):.1f} us")


if __name__ == "__main__":
    main()
