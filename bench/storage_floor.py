"""The least CPU that storing a MeterValues exchange can cost here, without Voltaro.

Plain `sqlite3` (no SQLAlchemy, no asyncio, no thread hop) on a database built by
Voltaro's own migrations, with Voltaro's pragmas, writes what Voltaro writes for one
MeterValues message of nine sampled values: nine meter value rows and two message log
rows (the CALL and its answer), in transactions of `--batch` messages, as the group
commit does under load. It prints CPU microseconds per message, and the same with each
index left out, then what schema checking (fastjsonschema) and JSON decoding add.

Read against the throughput scenario of loadgen.py: at N messages per second on one
core, everything a server does for a message must fit in 1,000,000 / N microseconds.

    python bench/storage_floor.py [--batch 20] [--messages 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import fastjsonschema
import ocpp.v16
import orjson
from loadgen import meter_payload  # the message the throughput scenario sends

ROOT = Path(__file__).resolve().parent.parent
CHARGE_POINTS = 500
METER_ROW = (
    "INSERT INTO meter_values (charge_point_id, connector_id, transaction_id,"
    " claimed_transaction_id, timestamp, value, measurand, unit, phase, context, location,"
    " format, source, flag, received_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
LOG_ROW = (
    "INSERT INTO ocpp_messages (charge_point_id, direction, message_type, unique_id, action,"
    " payload, created_at) VALUES (?,?,?,?,?,?,?)"
)


def migrated_database(path: str) -> sqlite3.Connection:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{path}"}
    subprocess.run(
        [sys.executable, "-m", "webapp", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        db.execute(f"PRAGMA {pragma}")
    now = datetime.now(UTC).isoformat()
    db.execute("BEGIN")
    for n in range(CHARGE_POINTS):
        db.execute(
            "INSERT INTO charge_points (id, registration_status, created_at, lenient)"
            " VALUES (?, 'Accepted', ?, 0)",
            (f"CP{n}", now),
        )
        db.execute(
            "INSERT INTO transactions (id, charge_point_id, connector_id, id_tag,"
            " id_tag_status, meter_start, start_time, created_at, flags)"
            " VALUES (?, ?, 1, 'TAG', 'Accepted', 0, ?, ?, '')",
            (n + 1, f"CP{n}", now, now),
        )
    db.execute("COMMIT")
    return db


def batches(messages: int, batch: int) -> list[tuple[list[tuple], list[tuple]]]:
    """The rows of `messages` MeterValues exchanges, made before the clock starts."""
    out = []
    for _ in range(messages // batch):
        meter_rows, log_rows = [], []
        now = datetime.now(UTC).isoformat()
        for _ in range(batch):
            n = random.randrange(CHARGE_POINTS)
            message = meter_payload(1, n + 1, random.randrange(10**6))
            frame = orjson.dumps([2, "id", "MeterValues", message]).decode()
            for sample in message["meterValue"][0]["sampledValue"]:
                meter_rows.append(
                    (f"CP{n}", 1, n + 1, n + 1, now, sample["value"], sample["measurand"],
                     sample["unit"], sample.get("phase"), "Sample.Periodic", "Outlet", "Raw",
                     "MeterValues", None, now)
                )  # fmt: skip
            log_rows.append((f"CP{n}", "in", 2, "id", "MeterValues", frame, now))
            log_rows.append((f"CP{n}", "out", 3, "id", "MeterValues", '[3,"id",{}]', now))
        out.append((meter_rows, log_rows))
    return out


def store(db: sqlite3.Connection, messages: int, batch: int) -> float:
    """CPU microseconds per MeterValues exchange stored."""
    work = batches(messages, batch)
    started = time.process_time()
    for meter_rows, log_rows in work:
        db.execute("BEGIN")
        db.executemany(METER_ROW, meter_rows)
        db.executemany(LOG_ROW, log_rows)
        db.execute("COMMIT")
    return (time.process_time() - started) / messages * 1e6


def checks(messages: int) -> tuple[float, float]:
    """CPU microseconds per message of the schema check and of decoding the frame."""
    schemas = Path(ocpp.v16.__file__).parent / "schemas"
    validate = fastjsonschema.compile(json.loads((schemas / "MeterValues.json").read_text()))
    message = meter_payload(1, 1, 1000)
    frame = orjson.dumps([2, "id", "MeterValues", message])
    started = time.process_time()
    for _ in range(messages):
        validate(message)
    validation = (time.process_time() - started) / messages * 1e6
    started = time.process_time()
    for _ in range(messages):
        orjson.loads(frame)
    return validation, (time.process_time() - started) / messages * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=20, help="messages per transaction")
    parser.add_argument("--messages", type=int, default=20000, help="per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        db = migrated_database(os.path.join(directory, "floor.db"))
        store(db, args.messages, args.batch)  # warm: the tables grow past the page cache
        print(f"MeterValues of 9 samples, {args.batch} a transaction, CPU per message:")
        print(f"  stored as Voltaro stores it: {store(db, args.messages, args.batch):6.1f} us")
        indexes = ["ix_ocpp_messages_charge_point", "ix_meter_values_charge_point"]
        for index in indexes:
            db.execute(f"DROP INDEX {index}")
            print(f"  ... and without {index}: {store(db, args.messages, args.batch):6.1f} us")
    validation, decoding = checks(args.messages)
    print(f"schema check (fastjsonschema): {validation:.1f} us; frame decoding (orjson):"
          f" {decoding:.1f} us")  # fmt: skip


if __name__ == "__main__":
    main()
