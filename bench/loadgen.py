"""Load generator: N OCPP-J charge points in one asyncio process, against Voltaro and
two reference servers, each started by this script, with the same traffic.

`--ocpp` says what they speak: 1.6 (the default), 2.0.1, or mixed (every other charger
2.0.1). A 2.0.1 charger connects with subprotocol ocpp2.0.1 and sends the counterparts of
the 1.6 messages: BootNotification {chargingStation, reason PowerUp}, StatusNotification
per EVSE (timestamp, connectorStatus Available/Occupied, evseId, connectorId 1),
Heartbeat, Authorize {idToken ISO14443}, and each session as TransactionEvent Started
(evse, idToken, the register's Transaction.Begin), Updated (the same nine samples as 1.6's
MeterValues, numbers, Sample.Periodic) and Ended (Transaction.End), with a string
transactionId and seqNo from 0. `--check-frames` checks one frame of each against the
`ocpp` package's schemas with the server's own checker.

Targets (`--targets`, default all three):
- `voltaro`: `python -m webapp` on a fresh database (SQLite, or `--database-url`);
- `library`: bench/reference_library.py, the bare `ocpp` library in its example's shape
  (answers, stores nothing);
- `null`: bench/reference_null.py, frames parsed and canned answers returned: the practical
  limit of the machine.

Scenarios (`--scenarios`, default all):
- `idle`: N charge points connect, boot and report their connectors, then stay idle: the
  server's memory per connection, and the time until all were accepted.
- `traffic`: the same N with realistic traffic for `--duration` s (heartbeats, sessions with
  three-phase meter values every `--meter-interval` s): messages per second, CALL to
  CALLRESULT latency percentiles, server CPU per 1,000 messages.
- `restart`: the server is killed (SIGKILL) and restarted; the time until all N charge
  points are accepted again (with their reconnect jitter), and a line a second of the
  storm: accepted so far, failed connections, full accept queues, the CPU of each side.
- `throughput`: `--throughput-charge-points` charge points send at stepped offered rates
  (open loop, at most one outstanding CALL each): the highest rate answered in full with
  p99 below `--p99-limit` ms. On a PostgreSQL of this machine (`--database-url`), each
  step also gives PostgreSQL's CPU and the CPU of server and database per message: the
  cost of storing, steadier than the throughput where both share the two cores.
- `cost` (not in the default run): the server's CPU per message of one kind at a time
  (`--kinds`: heartbeat; status; meter, 1.6 MeterValues or 2.0.1 TransactionEvent Updated
  within a session; session, start and end alternately), `--cost-charge-points` chargers
  per version at `--cost-rate` msg/s, in rounds; with `--ocpp mixed` both versions on one
  server, each kind's two steps one after the other, their order alternating by round.
  On a local PostgreSQL also the CPU of the backends serving Voltaro's database.

The server runs on CPU 0 and this generator on CPU 1 (`--no-pin` to share). Every charge
point keeps at most one outstanding CALL, as OCPP-J requires.

    python bench/loadgen.py --charge-points 10000
    python bench/loadgen.py --targets voltaro --scenarios throughput
    python bench/loadgen.py --targets voltaro --scenarios cost --ocpp mixed
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import orjson
import picows

ROOT = Path(__file__).resolve().parents[1]
ID_TAG = "BENCH"
SERVER_CPU, GENERATOR_CPU = 0, 1


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def meter_payload(connector: int, transaction_id: int | None, meter: int) -> dict:
    """One MeterValues of a three-phase meter: 9 sampled values (about 1 KB)."""
    values = [
        {"value": str(meter), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
    ]
    values += [
        {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": phase}
        for phase in ("L1", "L2", "L3")
    ]
    values += [
        {"value": "230.0", "measurand": "Voltage", "unit": "V", "phase": phase}
        for phase in ("L1-N", "L2-N", "L3-N")
    ]
    values.append({"value": "32.5", "measurand": "Temperature", "unit": "Celsius"})
    payload = {
        "connectorId": connector,
        "meterValue": [{"timestamp": now_iso(), "sampledValue": values}],
    }
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    return payload


SUBPROTOCOLS = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}
ID_TOKEN = {"idToken": ID_TAG, "type": "ISO14443"}  # 2.0.1


def sampled_value_201(
    value: float, measurand: str, unit: str, context: str, phase: str | None = None
) -> dict:
    sample = {
        "value": value,
        "context": context,
        "measurand": measurand,
        "unitOfMeasure": {"unit": unit},
    }
    if phase is not None:
        sample["phase"] = phase
    return sample


def meter_values_201(meter: int, context: str = "Sample.Periodic") -> list[dict]:
    """2.0.1 meterValue of the same three-phase meter as `meter_payload`: 9 sampled values
    with numbers for values (2.0.1 has no Temperature measurand: Power.Offered instead)."""
    values = [
        sampled_value_201(meter, "Energy.Active.Import.Register", "Wh", context),
        sampled_value_201(11000, "Power.Active.Import", "W", context),
    ]
    values += [
        sampled_value_201(16.0, "Current.Import", "A", context, phase)
        for phase in ("L1", "L2", "L3")
    ]
    values += [
        sampled_value_201(230.0, "Voltage", "V", context, phase)
        for phase in ("L1-N", "L2-N", "L3-N")
    ]
    values.append(sampled_value_201(11000, "Power.Offered", "W", context))
    return [{"timestamp": now_iso(), "sampledValue": values}]


def register_201(meter: int, context: str) -> list[dict]:
    """The energy register alone: a transaction's Begin or End reading."""
    sample = sampled_value_201(meter, "Energy.Active.Import.Register", "Wh", context)
    return [{"timestamp": now_iso(), "sampledValue": [sample]}]


def transaction_event(
    event_type: str,
    trigger: str,
    seq_no: int,
    transaction_id: str,
    meter_value: list[dict],
    charging_state: str = "Charging",
    evse: int | None = None,
    stopped_reason: str | None = None,
) -> dict:
    """A 2.0.1 TransactionEventRequest: evse and idToken on Started (and the idToken on an
    Ended that a card stopped), as a station sends them."""
    info = {"transactionId": transaction_id, "chargingState": charging_state}
    if stopped_reason is not None:
        info["stoppedReason"] = stopped_reason
    payload = {
        "eventType": event_type,
        "timestamp": now_iso(),
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": info,
        "meterValue": meter_value,
    }
    if evse is not None:
        payload["evse"] = {"id": evse, "connectorId": 1}
    if event_type == "Started" or trigger == "StopAuthorized":
        payload["idToken"] = ID_TOKEN
    return payload


def is_meter_message(action: str, payload: dict) -> bool:
    """1.6 MeterValues or its 2.0.1 counterpart, a TransactionEvent Updated."""
    return action == "MeterValues" or payload.get("eventType") == "Updated"


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    messages: int = 0
    errors: int = 0
    connected: int = 0
    connect_failures: int = 0  # refused, reset or timed out before a boot was answered
    accepted: set[str] = field(default_factory=set)
    unexpected_kinds: set[str] = field(default_factory=set)
    # Answered CALLs by action (a TransactionEvent by its eventType): what a window held.
    actions: dict[str, int] = field(default_factory=dict)

    def unexpected(self, error: BaseException) -> None:
        """A charge point hit an error no charger expects: printed once per kind."""
        kind = type(error).__name__
        if kind not in self.unexpected_kinds:
            self.unexpected_kinds.add(kind)
            print(f"  unexpected in a charge point: {error!r}")

    def reset(self) -> None:
        self.latencies = []
        self.messages = 0
        self.errors = 0
        self.actions = {}


def _wake(future: asyncio.Future, error: BaseException | None, result: object = None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
        future.exception()  # marked retrieved: its waiter may be gone too


class Gate:
    """Traffic's start: opened once, waking every idle player."""

    def __init__(self) -> None:
        self.is_open = False
        self.waiters: set[asyncio.Future] = set()

    def open(self) -> None:
        self.is_open = True
        for waiter in list(self.waiters):
            _wake(waiter, None)


class Link(picows.WSListener):
    """The WebSocket side of a charge point: picows hands each frame to a callback, no
    reader task, which is what lets one core play 10,000 charge points."""

    def __init__(self) -> None:
        self.charge_point: BenchChargePoint | None = None

    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
        if frame.msg_type == picows.WSMsgType.TEXT and self.charge_point is not None:
            self.charge_point.received(frame.get_payload_as_bytes())
        elif frame.msg_type == picows.WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: picows.WSTransport) -> None:
        if self.charge_point is not None:
            self.charge_point.lost()


class BenchChargePoint:
    """A lean OCPP-J client: orjson frames, one outstanding CALL, latency recorded."""

    _ids = itertools.count(1)

    def __init__(
        self, cp_id: str, transport: picows.WSTransport, stats: Stats, version: str = "1.6"
    ) -> None:
        self.id = cp_id
        self.version = version
        self.transport = transport
        self.stats = stats
        self.pending: dict[str, asyncio.Future] = {}
        self.meter = random.randint(0, 10**6)
        self.closed = False
        # The session under way: 1.6 our answer's id, 2.0.1 the station's own, and its seqNo.
        self.transaction_id: int | str | None = None
        self.seq_no = itertools.count()
        # What the player sleeps on: woken by its timer, the traffic gate, or a dropped link.
        self.wake: asyncio.Future | None = None

    async def _sleep(self, seconds: float | None, gate: Gate | None = None) -> None:
        """One future per sleep, no helper task: 10,000 players sleep at once."""
        if self.closed:
            raise ConnectionResetError("connection lost")
        loop = asyncio.get_running_loop()
        self.wake = loop.create_future()
        timer = None if seconds is None else loop.call_later(seconds, _wake, self.wake, None)
        if gate is not None:
            gate.waiters.add(self.wake)
        try:
            await self.wake
        finally:
            if timer is not None:
                timer.cancel()
            if gate is not None:
                gate.waiters.discard(self.wake)
            self.wake = None

    async def pause(self, seconds: float) -> None:
        """Sleep, but notice at once when the link drops (as a charger would)."""
        await self._sleep(seconds)

    async def until(self, gate: Gate) -> None:
        """Idle until the gate opens (traffic starts), but notice a dropped link."""
        while not gate.is_open:
            await self._sleep(None, gate)

    def close(self) -> None:
        if not self.closed:
            self.transport.send_close(picows.WSCloseCode.OK)
            self.transport.disconnect()
        self.lost()

    def received(self, data: bytes) -> None:
        frame = orjson.loads(data)
        if frame[0] in (3, 4):
            future = self.pending.pop(frame[1], None)
            if future is not None:
                _wake(future, None, frame)
        elif frame[0] == 2:  # a CALL from the central system: accept it
            self.transport.send(
                picows.WSMsgType.TEXT, orjson.dumps([3, frame[1], {"status": "Accepted"}])
            )

    def lost(self) -> None:
        """The link is gone: a sleep or a CALL waiting for its answer fails now."""
        self.closed = True
        if self.wake is not None:
            _wake(self.wake, ConnectionResetError("connection lost"))
        for future in self.pending.values():
            _wake(future, ConnectionResetError("connection lost"))
        self.pending.clear()

    async def call(self, action: str, payload: dict) -> dict:
        if self.closed:
            raise ConnectionResetError("connection lost")
        unique_id = str(next(self._ids))
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending[unique_id] = future
        timer = loop.call_later(60, _wake, future, TimeoutError("no answer in 60 s"))
        started = time.perf_counter()
        self.transport.send(picows.WSMsgType.TEXT, orjson.dumps([2, unique_id, action, payload]))
        try:
            frame = await future
        finally:
            timer.cancel()
            self.pending.pop(unique_id, None)
        self.stats.latencies.append(time.perf_counter() - started)
        self.stats.messages += 1
        kind = f"{action} {payload['eventType']}" if action == "TransactionEvent" else action
        self.stats.actions[kind] = self.stats.actions.get(kind, 0) + 1
        if frame[0] == 4:
            self.stats.errors += 1
            return {}
        return frame[2]

    async def boot(self, connectors: int) -> None:
        frames = self.boot_frames(connectors)
        answer = await self.call(*frames[0])
        if answer.get("status") == "Accepted":
            self.stats.accepted.add(self.id)
        for action, payload in frames[1:]:
            await self.call(action, payload)

    def boot_frames(self, connectors: int) -> list[tuple[str, dict]]:
        """The BootNotification, then a StatusNotification of each connector (1.6: 0 to N)
        or EVSE (2.0.1: 1 to N, connector 1 each)."""
        if self.version == "1.6":
            boot = {
                "chargePointVendor": "Bench",
                "chargePointModel": "Load",
                "firmwareVersion": "1",
            }
            places = range(connectors + 1)
        else:
            boot = {
                "chargingStation": {"model": "Load", "vendorName": "Bench", "firmwareVersion": "1"},
                "reason": "PowerUp",
            }
            places = range(1, connectors + 1)
        return [("BootNotification", boot)] + [
            self.status_frame(place, "Available") for place in places
        ]

    def status_frame(self, connector: int, status: str) -> tuple[str, dict]:
        """A StatusNotification of `status` (1.6 "Available" or "Charging"; 2.0.1 says
        "Occupied" for the latter), of 1.6 connector or 2.0.1 EVSE `connector`."""
        if self.version == "1.6":
            payload = {"connectorId": connector, "errorCode": "NoError", "status": status}
            return "StatusNotification", payload
        payload = {
            "timestamp": now_iso(),
            "connectorStatus": "Available" if status == "Available" else "Occupied",
            "evseId": connector,
            "connectorId": 1,
        }
        return "StatusNotification", payload

    def start_frame(self, connector: int) -> tuple[str, dict]:
        """A session's start: 1.6 StartTransaction, 2.0.1 TransactionEvent Started (a new
        transactionId; the seqNo counts from 0 for each transaction)."""
        if self.version == "1.6":
            payload = {
                "connectorId": connector,
                "idTag": ID_TAG,
                "meterStart": self.meter,
                "timestamp": now_iso(),
            }
            return "StartTransaction", payload
        self.transaction_id = uuid.uuid4().hex
        self.seq_no = itertools.count()
        payload = transaction_event(
            "Started", "Authorized", next(self.seq_no), self.transaction_id,
            register_201(self.meter, "Transaction.Begin"), evse=connector,
        )  # fmt: skip
        return "TransactionEvent", payload

    def started(self, answer: dict | None) -> None:
        """The start's answer: 1.6 gives the transaction its id."""
        if self.version == "1.6":
            self.transaction_id = (answer or {}).get("transactionId")

    def meter_frame(self, connector: int) -> tuple[str, dict]:
        """The next reading of the session: 1.6 MeterValues, 2.0.1 TransactionEvent
        Updated, the same nine samples."""
        self.meter += random.randint(20, 40)
        if self.version == "1.6":
            return "MeterValues", meter_payload(connector, self.transaction_id, self.meter)
        payload = transaction_event(
            "Updated", "MeterValuePeriodic", next(self.seq_no), self.transaction_id,
            meter_values_201(self.meter),
        )  # fmt: skip
        return "TransactionEvent", payload

    def stop_frame(self) -> tuple[str, dict]:
        """The session's end: 1.6 StopTransaction, 2.0.1 TransactionEvent Ended."""
        if self.version == "1.6":
            payload = {
                "transactionId": self.transaction_id,
                "meterStop": self.meter,
                "timestamp": now_iso(),
                "idTag": ID_TAG,
            }
            return "StopTransaction", payload
        payload = transaction_event(
            "Ended", "StopAuthorized", next(self.seq_no), self.transaction_id,
            register_201(self.meter, "Transaction.End"), charging_state="EVConnected",
            stopped_reason="Local",
        )  # fmt: skip
        return "TransactionEvent", payload

    def authorize_frame(self) -> tuple[str, dict]:
        if self.version == "1.6":
            return "Authorize", {"idTag": ID_TAG}
        return "Authorize", {"idToken": ID_TOKEN}

    def session_messages(self, connector: int, samples: int):
        """The messages of one charging session, in order (a generator: each message is
        built when it is due, with the transaction id the start was answered with)."""
        yield self.authorize_frame()
        self.started((yield self.start_frame(connector)))
        yield self.status_frame(connector, "Charging")
        for _ in range(samples):
            yield self.meter_frame(connector)
        yield self.stop_frame()
        yield self.status_frame(connector, "Available")

    async def drive(
        self, kind: str, rate: float, stopping: asyncio.Event, ready: asyncio.Future
    ) -> None:
        """The cost scenario: messages of one kind only, open loop at `rate` per second
        (exponential gaps), until `stopping`. `meter` runs in a session started first and
        ended after (those two outside the window measured: `ready` says when started);
        `session` alternates start and end; `status` alternates Charging (2.0.1 Occupied)
        and Available on connector (EVSE) 1."""
        if kind == "meter":
            self.started(await self.call(*self.start_frame(1)))
        _wake(ready, None)
        loop = asyncio.get_running_loop()
        due = loop.time()
        sent = 0
        while not stopping.is_set():
            due += random.expovariate(rate)
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
                if stopping.is_set():
                    break
            if kind == "heartbeat":
                await self.call("Heartbeat", {})
            elif kind == "status":
                await self.call(*self.status_frame(1, "Charging" if sent % 2 == 0 else "Available"))
            elif kind == "meter":
                await self.call(*self.meter_frame(1))
            elif sent % 2 == 0:  # session
                self.started(await self.call(*self.start_frame(1)))
            else:
                await self.call(*self.stop_frame())
            sent += 1
        if kind == "meter" or (kind == "session" and sent % 2 == 1):
            await self.call(*self.stop_frame())

    async def run_session(self, connector: int, samples: int, interval: float) -> None:
        messages = self.session_messages(connector, samples)
        answer = None
        try:
            while True:
                action, payload = messages.send(answer)
                answer = await self.call(action, payload)
                if is_meter_message(action, payload):
                    await self.pause(interval * random.uniform(0.8, 1.2))
        except StopIteration:
            pass


# What a charger does when its link fails: wait a little, connect again.
LINK_ERRORS = (OSError, TimeoutError, ConnectionResetError, picows.WSError)


def version_of(args: argparse.Namespace, n: int) -> str:
    """The OCPP version the `n`th charge point speaks (`--ocpp`; mixed: every other one)."""
    if args.ocpp == "mixed":
        return "1.6" if n % 2 else "2.0.1"
    return args.ocpp


async def connected_charge_point(
    url: str, cp_id: str, stats: Stats, connectors: int, source: str, version: str = "1.6"
) -> BenchChargePoint:
    transport, link = await picows.ws_connect(
        Link,
        f"{url}/{cp_id}",
        extra_headers={"Sec-WebSocket-Protocol": SUBPROTOCOLS[version]},
        websocket_handshake_timeout=60,
        local_addr=(source, 0),
    )
    if link is None or transport.is_disconnected:  # closed during the handshake
        transport.disconnect()
        raise ConnectionResetError("closed during the handshake")
    headers = transport.response.headers
    spoken = next((v for k, v in headers.items() if k.lower() == "sec-websocket-protocol"), None)
    if spoken != SUBPROTOCOLS[version]:
        transport.disconnect()
        raise SystemExit(f"{cp_id}: the server does not speak {SUBPROTOCOLS[version]}")
    cp = BenchChargePoint(cp_id, transport, stats, version)
    link.charge_point = cp
    stats.connected += 1
    try:
        await cp.boot(connectors)
    except BaseException:
        cp.close()
        stats.connected -= 1
        raise
    return cp


async def play(
    url: str,
    cp_id: str,
    args: argparse.Namespace,
    stats: Stats,
    traffic: Gate,
    source: str,
    version: str = "1.6",
) -> None:
    """Connect (again, after a drop), boot, then idle or realistic traffic until cancelled."""
    while True:
        cp = None
        try:
            cp = await connected_charge_point(url, cp_id, stats, args.connectors, source, version)
            next_heartbeat = time.monotonic() + random.uniform(0, args.heartbeat_interval)
            while True:
                if not traffic.is_open:
                    await cp.until(traffic)
                    # Chargers are not in step: each starts somewhere in its meter interval.
                    await cp.pause(random.uniform(0, args.meter_interval))
                    next_heartbeat = time.monotonic() + random.uniform(0, args.heartbeat_interval)
                if time.monotonic() >= next_heartbeat:
                    await cp.call("Heartbeat", {})
                    next_heartbeat += args.heartbeat_interval
                if random.random() < args.session_probability:
                    await cp.run_session(1, args.samples, args.meter_interval)
                else:
                    await cp.pause(args.meter_interval * random.uniform(0.5, 1.5))
        except LINK_ERRORS:
            if cp is None:
                stats.connect_failures += 1
        except Exception as error:  # a bug of the generator or a server's bad frame: shown
            stats.unexpected(error)
        finally:
            if cp is not None:
                cp.close()
                stats.connected -= 1
        stats.accepted.discard(cp_id)
        await asyncio.sleep(random.uniform(0.5, 2.0))  # reconnect jitter


async def play_rate(
    url: str,
    cp_id: str,
    stats: Stats,
    rate: list[float],
    samples: int,
    source: str,
    version: str = "1.6",
) -> None:
    """Open loop: the next message is due 1/rate s (exponential) after the last was due;
    it waits while the previous one is unanswered (one outstanding CALL)."""
    while True:
        try:
            cp = await connected_charge_point(url, cp_id, stats, 1, source, version)
            break
        except LINK_ERRORS as error:
            print(f"  {cp_id}: {error!r}; connecting again")
            await asyncio.sleep(1)
    loop = asyncio.get_running_loop()
    try:
        while True:
            messages = cp.session_messages(1, samples)
            answer = None
            due = loop.time()
            try:
                while True:
                    action, payload = messages.send(answer)
                    due += random.expovariate(rate[0]) if rate[0] > 0 else 1.0
                    delay = due - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    answer = await cp.call(action, payload)
            except StopIteration:
                pass
    finally:
        cp.close()


# From a random start: the TIME_WAIT of an earlier benchmark's ports lasts a minute.
_source_addresses = (
    f"127.{n // 62500 % 250 + 1}.{n // 250 % 250}.{n % 250 + 2}"
    for n in itertools.count(random.randrange(10**7))
)


def next_source_address() -> str:
    """A loopback address of its own for each run: 10,000 connections, their restart and
    the next target's would exhaust one address's 28,000 ephemeral ports (TIME_WAIT)."""
    return next(_source_addresses)


def proc_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def proc_stat(pid: int | str) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (which may hold spaces): [1] the
    parent, [11:13] user and system time, [13:15] those of reaped children, in ticks."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def proc_cpu_seconds(pid: int) -> float:
    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(postmaster: int | None) -> float:
    """CPU of a local PostgreSQL: the postmaster, its live processes and those that have
    exited (a backend's time moves to its parent's account when it is reaped)."""
    if postmaster is None:
        return 0.0
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = proc_stat(entry.name)
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    total += sum(int(f) for f in proc_stat(postmaster)[11:15])
    return total / os.sysconf("SC_CLK_TCK")


async def local_postmaster(database_url: str | None) -> int | None:
    """The postmaster's pid when Voltaro's database is a PostgreSQL on this machine."""
    if not database_url or not database_url.startswith("postgresql"):
        return None
    import asyncpg

    connection = await asyncpg.connect(database_url.replace("+asyncpg", "", 1))
    try:
        # While it lives: this connection's backend, whose parent is the postmaster.
        return parent_pid(await connection.fetchval("SELECT pg_backend_pid()"))
    finally:
        await connection.close()


def parent_pid(pid: int) -> int | None:
    """`pid`'s parent, if `pid` runs on this machine (a backend's: the postmaster)."""
    try:
        return int(proc_stat(pid)[1])
    except OSError:
        return None


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_speed(pin: bool) -> str:
    """A fixed piece of pure Python, timed seven times on the server's core: this machine's
    speed at the moment, to compare figures of different hours and days. On the shared
    development machine the same loop took 85-164 ms within ten seconds."""
    if pin:
        os.sched_setaffinity(0, {SERVER_CPU})
    times = []
    for _ in range(7):
        started = time.perf_counter()
        sum(i * i for i in range(2_000_000))
        times.append((time.perf_counter() - started) * 1000)
    if pin:
        os.sched_setaffinity(0, {GENERATOR_CPU})
    times.sort()
    return f"a fixed loop in {times[0]:.0f}-{times[-1]:.0f} ms, median {times[3]:.0f}"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Target:
    """A server under test, started (and killed) by the benchmark."""

    def __init__(self, name: str, port: int, args: argparse.Namespace) -> None:
        self.name = name
        self.port = port
        self.url = f"ws://127.0.0.1:{port}/ocpp"
        self.pin = not args.no_pin
        self.py_spy = args.py_spy
        self.dir = tempfile.mkdtemp(prefix=f"voltaro-bench-{name}-")
        self.env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1"}
        if name == "voltaro":
            self.command = [sys.executable, "-m", "webapp"]
            self.env.update(
                {
                    "DATABASE_URL": args.database_url or f"sqlite+aiosqlite:///{self.dir}/bench.db",
                    "SECRET_KEY": "bench",
                    "LOG_LEVEL": "WARNING",
                    # Limits meant for real chargers off: one process plays them all.
                    "RATE_LIMIT": "0",
                    "HEARTBEAT_INTERVAL": "300",
                    "WS_PING_INTERVAL": str(args.ping_interval),
                }
            )
            subprocess.run(
                [*self.command, "id-tag", "add", ID_TAG],
                cwd=ROOT,
                env=self.env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        else:
            script = ROOT / "bench" / f"reference_{name}.py"
            self.command = [sys.executable, str(script), "--port", str(port)]
        self.process: subprocess.Popen | None = None

    def start(self) -> int:
        with socket.socket() as probe:  # a stale server there would be measured instead
            if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                raise SystemExit(f"port {self.port} is taken: stop what listens there first")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL
        )
        if self.pin:
            os.sched_setaffinity(self.process.pid, {SERVER_CPU})
        if self.py_spy and self.name == "voltaro":
            # Sampled from outside, without stopping it (--nonblocking), on the generator's
            # core; it ends with the server. Raw output: one line per distinct stack.
            subprocess.Popen(
                ["py-spy", "record", "--pid", str(self.process.pid), "--rate", "100",
                 "--nonblocking", "--format", "raw", "--output", self.py_spy],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
        return self.process.pid

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


async def stop_players(tasks: list[asyncio.Task]) -> None:
    """Cancel every player, again for any still running a second later: Python 3.11's
    wait_for can swallow a cancellation (gh-86296), and a player then plays on."""
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=1)


async def wait_for_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise SystemExit(f"server on port {port} did not start")


def tcp_counters() -> dict[str, int]:
    """This machine's TCP counters (/proc/net/netstat's TcpExt): how many connections found
    a full accept queue, how many SYNs were sent again."""
    lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines()]
    names, values = (line for line in lines if line[0] == "TcpExt:")
    return dict(zip(names[1:], map(int, values[1:]), strict=True))


class StormReading(NamedTuple):
    at: float
    server_cpu: float
    generator_cpu: float
    failures: int
    tcp: dict[str, int]


async def all_accepted(
    stats: Stats, count: int, limit: float = 300, server_pid: int | None = None
) -> float:
    """Seconds until every charge point's boot was accepted (or `limit` passed). With
    `server_pid`, a line a second shows the storm's shape: accepted so far; connections
    that failed, found the accept queue full, or sent their SYN again; the CPU of server
    and generator."""
    started = time.monotonic()

    def reading() -> StormReading:
        return StormReading(
            time.monotonic(),
            proc_cpu_seconds(server_pid) if server_pid else 0.0,
            own_cpu_seconds(),
            stats.connect_failures,
            tcp_counters(),
        )

    last = reading()
    while len(stats.accepted) < count and time.monotonic() - started < limit:
        await asyncio.sleep(0.05)  # a poll: the players must not pay for a notification
        if server_pid and time.monotonic() >= last.at + 1:
            now = reading()
            elapsed = now.at - last.at
            print(
                f"    {now.at - started:5.1f} s: {len(stats.accepted):6d} accepted,"
                f" {now.failures - last.failures:5d} failed,"
                f" {now.tcp['ListenOverflows'] - last.tcp['ListenOverflows']:5d} queue full,"
                f" {now.tcp['TCPSynRetrans'] - last.tcp['TCPSynRetrans']:5d} SYNs again;"
                f" CPU server {(now.server_cpu - last.server_cpu) / elapsed:4.0%},"
                f" generator {(now.generator_cpu - last.generator_cpu) / elapsed:4.0%}"
            )
            last = now
    if len(stats.accepted) < count:
        print(f"  only {len(stats.accepted)} of {count} accepted after {limit:.0f} s")
    return time.monotonic() - started


def latency_line(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"p50 {percentile(ms, 0.5):.1f}  p99 {percentile(ms, 0.99):.1f}"
        f"  p99.9 {percentile(ms, 0.999):.1f} ms"
    )


async def charge_points_run(target: Target, args: argparse.Namespace) -> dict[str, float]:
    """The idle, traffic and restart scenarios, on one set of N charge points."""
    results: dict[str, float] = {}
    scenarios = args.scenarios
    target.start()
    await wait_for_port(target.port)
    await asyncio.sleep(1)  # settled: the baseline is the server before any charge point
    baseline_rss = proc_rss_kib(target.pid)
    stats = Stats()
    traffic = Gate()
    source = next_source_address()
    started = time.monotonic()
    tasks = []
    for n in range(1, args.charge_points + 1):
        cp_id = f"{args.id_prefix}{n}"
        version = version_of(args, n)
        tasks.append(
            asyncio.create_task(play(target.url, cp_id, args, stats, traffic, source, version))
        )
        if n % args.connect_batch == 0:
            await asyncio.sleep(args.connect_batch / args.connect_rate)
    await all_accepted(stats, args.charge_points)
    results["accepted_s"] = time.monotonic() - started
    await asyncio.sleep(3)  # idle: what every connection costs at rest
    results["rss_mib"] = proc_rss_kib(target.pid) / 1024
    results["kib_per_connection"] = (proc_rss_kib(target.pid) - baseline_rss) / args.charge_points
    print(
        f"  {args.charge_points} charge points accepted in {results['accepted_s']:.1f} s;"
        f" idle: {results['rss_mib']:.0f} MiB RSS,"
        f" {results['kib_per_connection']:.1f} KiB per connection"
    )

    if "traffic" in scenarios:
        # The generator's own full collections, 10,000 players in its heap, took 300-450
        # ms: every latency measured across one grew by that, whatever the server did.
        # The players are long-lived: frozen out of the collector while traffic runs.
        gc.collect()
        gc.freeze()
        traffic.open()
        await asyncio.sleep(args.meter_interval)  # every player's traffic under way
        stats.reset()
        cpu_before, t0 = proc_cpu_seconds(target.pid), time.monotonic()
        own_before = own_cpu_seconds()
        await asyncio.sleep(args.duration)
        elapsed = time.monotonic() - t0
        cpu = proc_cpu_seconds(target.pid) - cpu_before
        # Near 100% the generator's own queueing shows in the latencies too.
        results["generator_cpu_share"] = (own_cpu_seconds() - own_before) / elapsed
        results["traffic_rate"] = stats.messages / elapsed
        results["traffic_p99_ms"] = percentile(stats.latencies, 0.99) * 1000
        results["cpu_per_1000"] = 1000 * cpu / max(stats.messages, 1)
        results["cpu_share"] = cpu / elapsed
        print(
            f"  traffic: {stats.connected} connected, {results['traffic_rate']:.0f} msg/s,"
            f" {stats.errors} CALLERRORs; {latency_line(stats.latencies)};"
            f" server CPU {results['cpu_share']:.0%}, "
            f"{results['cpu_per_1000']:.3f} s per 1,000 messages;"
            f" generator CPU {results['generator_cpu_share']:.0%}"
        )

    if "restart" in scenarios:
        # The generator's collector off for the storm: with 10,000 players in its heap its
        # full collections (250-450 ms each, one or two a second) took half its core, and it,
        # not the server, set the pace for the storm's first seconds. The dropped players
        # stay frozen, uncollected (the generator's peak RSS was 375-381 MiB in all).
        gc.collect()
        gc.freeze()
        gc.disable()
        target.kill()
        killed = time.monotonic()
        stats.accepted.clear()
        target.start()
        await all_accepted(stats, args.charge_points, server_pid=target.pid)
        results["restart_s"] = time.monotonic() - killed
        # Its whole life so far: what the storm cost, start-up included, whatever the wait.
        results["restart_cpu_s"] = proc_cpu_seconds(target.pid)
        gc.enable()
        print(
            f"  restart: SIGKILL to all {args.charge_points} accepted again in"
            f" {results['restart_s']:.1f} s (reconnect jitter 0.5-2 s included);"
            f" the new server's CPU meanwhile {results['restart_cpu_s']:.1f} s"
        )

    await stop_players(tasks)
    target.stop()
    return results


async def throughput_run(target: Target, args: argparse.Namespace) -> dict[str, float]:
    """Stepped offered rates, then a bisection past the first step failed: the best rate
    answered in full with p99 under the limit."""
    postmaster = await local_postmaster(args.database_url) if target.name == "voltaro" else None
    target.start()
    await wait_for_port(target.port)
    stats = Stats()
    rate = [0.0]  # per charge point, shared with every player
    source = next_source_address()
    best = 0.0
    best_p99 = float("nan")
    count = args.throughput_charge_points
    tasks = [
        asyncio.create_task(
            play_rate(
                target.url,
                f"{args.id_prefix}T{n}",
                stats,
                rate,
                args.throughput_samples,
                source,
                version_of(args, n),
            )
        )
        for n in range(1, count + 1)
    ]
    await all_accepted(stats, count)
    rate[0] = args.rates[0] / count
    await asyncio.sleep(args.warm_up)  # past the boot storm, caches and plans warm

    async def step(offered: float) -> tuple[bool, float, float]:
        rate[0] = offered / count
        await asyncio.sleep(2)  # the new rate under way
        stats.reset()
        cpu_before, t0 = proc_cpu_seconds(target.pid), time.monotonic()
        own_before, pg_before = own_cpu_seconds(), postgres_cpu_seconds(postmaster)
        await asyncio.sleep(args.step_duration)
        elapsed = time.monotonic() - t0
        cpu = proc_cpu_seconds(target.pid) - cpu_before
        own = own_cpu_seconds() - own_before
        pg = postgres_cpu_seconds(postmaster) - pg_before
        achieved = stats.messages / elapsed
        p99 = percentile(stats.latencies, 0.99) * 1000
        # Open loop with exponential gaps: a step's count varies by a few per cent.
        ok = achieved >= 0.9 * offered and p99 < args.p99_limit
        print(
            f"  offered {offered:6.0f}/s: answered {achieved:6.0f}/s,"
            f" {latency_line(stats.latencies)}, server CPU {cpu / elapsed:.0%},"
            f" generator {own / elapsed:.0%}"
            + (
                f", PostgreSQL {pg / elapsed:.0%}; server and PostgreSQL"
                f" {1e6 * (cpu + pg) / max(stats.messages, 1):.0f} us CPU a message"
                if postmaster
                else ""
            )
            + f"{'' if ok else '  <- over the limit'}"
        )
        return ok, achieved, p99

    passed, failed = 0.0, None
    for offered in args.rates:
        ok, achieved, p99 = await step(offered)
        if not ok:
            failed = offered
            break
        passed, best, best_p99 = offered, achieved, p99
    # Between the last step passed and the first failed, halve the gap a few times: with
    # coarse steps a target's figure (and so every ratio) would be the step's, not its own.
    for _ in range(args.refine if failed is not None else 0):
        offered = (passed + failed) / 2
        ok, achieved, p99 = await step(offered)
        if ok:
            passed, best, best_p99 = offered, achieved, p99
        else:
            failed = offered
    await stop_players(tasks)
    target.stop()
    return {"throughput": best, "throughput_p99_ms": best_p99}


class BackendCpu:
    """CPU of the PostgreSQL backends serving one database on this machine (the server's
    pool keeps its connections): read from /proc for the pids pg_stat_activity lists, so
    other databases' clients on the same PostgreSQL are not counted."""

    def __init__(self, connection: object) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, database_url: str | None) -> BackendCpu | None:
        if await local_postmaster(database_url) is None:
            return None
        import asyncpg

        return cls(await asyncpg.connect(database_url.replace("+asyncpg", "", 1)))

    async def reading(self) -> dict[int, float]:
        pids = await self.connection.fetch(  # type: ignore[attr-defined]
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        cpu = {}
        for (pid,) in pids:
            try:
                cpu[pid] = proc_cpu_seconds(pid)
            except OSError:  # gone meanwhile
                pass
        return cpu

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        """Between two readings (a backend started meanwhile counts whole; one that ended
        meanwhile is lost, and the pool rarely ends one)."""
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())

    async def close(self) -> None:
        await self.connection.close()  # type: ignore[attr-defined]


COST_KINDS = ("heartbeat", "status", "meter", "session")
# What each kind's window may hold, by version (Stats.actions' names).
COST_ACTIONS = {
    ("heartbeat", "1.6"): {"Heartbeat"},
    ("heartbeat", "2.0.1"): {"Heartbeat"},
    ("status", "1.6"): {"StatusNotification"},
    ("status", "2.0.1"): {"StatusNotification"},
    ("meter", "1.6"): {"MeterValues"},
    ("meter", "2.0.1"): {"TransactionEvent Updated"},
    ("session", "1.6"): {"StartTransaction", "StopTransaction"},
    ("session", "2.0.1"): {"TransactionEvent Started", "TransactionEvent Ended"},
}


async def cost_run(target: Target, args: argparse.Namespace) -> dict[str, object]:
    """The server's CPU per message of one kind at a time, for each version, on one server:
    `--cost-charge-points` charge points of each version connected (one connector each),
    then rounds of steps, one per kind and version, at `--cost-rate` msg/s offered; the two
    versions of a kind run one after the other, in alternating order from round to round,
    so the machine's swings and the database's growth fall on both alike."""
    versions = ["1.6", "2.0.1"] if args.ocpp == "mixed" else [args.ocpp]
    backends = await BackendCpu.open(args.database_url) if target.name == "voltaro" else None
    target.start()
    await wait_for_port(target.port)
    stats = Stats()
    source = next_source_address()
    count = args.cost_charge_points
    players: dict[str, list[BenchChargePoint]] = {}
    for version in versions:
        tag = "16" if version == "1.6" else "201"
        ids = [f"{args.id_prefix}K{tag}N{n}" for n in range(1, count + 1)]
        players[version] = []
        for batch in range(0, count, args.connect_batch):
            players[version] += await asyncio.gather(
                *(
                    connected_charge_point(target.url, cp_id, stats, 1, source, version)
                    for cp_id in ids[batch : batch + args.connect_batch]
                )
            )
    await asyncio.sleep(args.warm_up)
    per_message: dict[str, list[float]] = {}
    database_per_message: dict[str, list[float]] = {}
    for round_ in range(args.cost_rounds):
        order = versions if round_ % 2 == 0 else versions[::-1]
        for kind in args.kinds:
            for version in order:
                stopping = asyncio.Event()
                loop = asyncio.get_running_loop()
                ready = [loop.create_future() for _ in players[version]]
                tasks = [
                    asyncio.create_task(cp.drive(kind, args.cost_rate / count, stopping, r))
                    for cp, r in zip(players[version], ready, strict=True)
                ]
                await asyncio.wait(ready)
                await asyncio.sleep(2)  # the rate under way, the sessions started
                stats.reset()
                if args.mark_windows:
                    os.kill(target.pid, signal.SIGUSR1)
                cpu_before, t0 = proc_cpu_seconds(target.pid), time.monotonic()
                own_before = own_cpu_seconds()
                db_before = await backends.reading() if backends else {}
                await asyncio.sleep(args.step_duration)
                elapsed = time.monotonic() - t0
                cpu = proc_cpu_seconds(target.pid) - cpu_before
                if args.mark_windows:
                    os.kill(target.pid, signal.SIGUSR1)
                own = own_cpu_seconds() - own_before
                db = BackendCpu.spent(db_before, await backends.reading()) if backends else 0.0
                answered, actions = stats.messages, dict(stats.actions)
                latencies = stats.latencies
                stopping.set()
                await asyncio.gather(*tasks)
                key = f"{kind} {version}"
                us = 1e6 * cpu / max(answered, 1)
                per_message.setdefault(key, []).append(us)
                line = (
                    f"  round {round_ + 1} {kind:9s} {version:5s}: {answered / elapsed:5.0f}/s,"
                    f" {latency_line(latencies)}, server CPU {cpu / elapsed:4.0%},"
                    f" {us:5.0f} us a message"
                )
                if backends:
                    db_us = 1e6 * db / max(answered, 1)
                    database_per_message.setdefault(key, []).append(db_us)
                    line += f"; its PostgreSQL backends {db / elapsed:4.0%}, {db_us:4.0f} us"
                line += f"; generator {own / elapsed:4.0%}"
                strays = set(actions) - COST_ACTIONS[kind, version]
                if strays or stats.errors:
                    line += f"  <- window held {actions}, {stats.errors} CALLERRORs"
                print(line)
    for cps in players.values():
        for cp in cps:
            cp.close()
    if backends:
        await backends.close()
    target.stop()
    return {"cost": per_message, "cost_database": database_per_message}


FIGURES = [
    ("accepted_s", "all N accepted after start (s)", "{:.1f}"),
    ("kib_per_connection", "memory per idle connection (KiB)", "{:.1f}"),
    ("traffic_rate", "realistic traffic (msg/s)", "{:.0f}"),
    ("traffic_p99_ms", "realistic traffic p99 (ms)", "{:.1f}"),
    ("cpu_per_1000", "server CPU per 1,000 messages (s)", "{:.3f}"),
    ("restart_s", "SIGKILL to all N accepted again (s)", "{:.1f}"),
    ("restart_cpu_s", "the new server's CPU until then (s)", "{:.1f}"),
    ("throughput", "throughput at p99 < limit (msg/s)", "{:.0f}"),
]


def cost_report(name: str, figures: dict) -> None:
    """Medians (and ranges) of the cost scenario's steps, and 2.0.1 / 1.6 per kind."""
    print()
    print(f"{name}: server CPU per message (us), median of the steps (range)")
    for table, label in (("cost", "server"), ("cost_database", "PostgreSQL backends")):
        steps = figures.get(table) or {}
        if not steps:
            continue
        print(f"| {label} | 1.6 | 2.0.1 | 2.0.1 / 1.6 |")
        print("| --- | --- | --- | --- |")
        for kind in COST_KINDS:
            cells, medians = [], []
            for version in ("1.6", "2.0.1"):
                values = sorted(steps.get(f"{kind} {version}", []))
                if values:
                    median = statistics.median(values)
                    medians.append(median)
                    spread = f"{values[0]:.0f}-{values[-1]:.0f}, n={len(values)}"
                    cells.append(f"{median:.0f} ({spread})")
                else:
                    cells.append("")
            if not any(cells):
                continue
            ratio = f"{medians[1] / medians[0]:.2f}x" if len(medians) == 2 else ""
            print(f"| {kind} | {cells[0]} | {cells[1]} | {ratio} |")


def report(results: dict[str, dict[str, float]]) -> None:
    names = list(results)
    print()
    shown = [f for f in FIGURES if any(f[0] in r for r in results.values())]
    if shown:
        print("| figure | " + " | ".join(names) + " |")
        print("| --- |" + " --- |" * len(names))
    for key, label, fmt in shown:
        if not any(key in r for r in results.values()):
            continue
        cells = [fmt.format(results[n][key]) if key in results[n] else "" for n in names]
        print(f"| {label} | " + " | ".join(cells) + " |")
    for name, figures in results.items():
        if "cost" in figures:
            cost_report(name, figures)
    if "voltaro" in results:
        voltaro = results["voltaro"]
        for other in ("library", "null"):
            if other not in results:
                continue
            ref = results[other]
            ratios = []
            if "throughput" in voltaro and ref.get("throughput"):
                ratios.append(f"throughput {voltaro['throughput'] / ref['throughput']:.2f}x")
            if "kib_per_connection" in voltaro and ref.get("kib_per_connection"):
                ratios.append(
                    "memory per connection "
                    f"{voltaro['kib_per_connection'] / ref['kib_per_connection']:.2f}x"
                )
            if "cpu_per_1000" in voltaro and ref.get("cpu_per_1000"):
                ratios.append(
                    f"CPU per message {voltaro['cpu_per_1000'] / ref['cpu_per_1000']:.2f}x"
                )
            if "restart_s" in voltaro and ref.get("restart_s"):
                ratios.append(
                    f"restart {voltaro['restart_s'] / ref['restart_s']:.2f}x"
                    f" (CPU {voltaro['restart_cpu_s'] / ref['restart_cpu_s']:.2f}x)"
                )
            if ratios:
                print(f"voltaro / {other}: " + ", ".join(ratios))


def check_frames() -> None:
    """One frame of each kind the generator sends, both versions, against the `ocpp`
    package's schemas with the server's own checker
    (`ocpp_core.payload_checks.schema_errors`)."""
    sys.path.insert(0, str(ROOT))
    from ocpp_core import dialects, payload_checks

    failed = 0
    for version, dialect in (("1.6", dialects.V16), ("2.0.1", dialects.V201)):
        cp = BenchChargePoint("CHECK", None, Stats(), version)  # type: ignore[arg-type]
        sent = list(cp.boot_frames(2))
        sent.append(("Heartbeat", {}))
        sent.append(cp.authorize_frame())
        sent.append(cp.start_frame(1))
        cp.started({"transactionId": 1})
        sent.append(cp.status_frame(1, "Charging"))
        sent.append(cp.meter_frame(1))
        sent.append(cp.meter_frame(1))
        sent.append(cp.stop_frame())
        sent.append(cp.status_frame(1, "Available"))
        for action, payload in sent:
            schema = dialect.request_schema(action)
            errors = payload_checks.schema_errors(schema, payload, dialect)
            event = payload.get("eventType")
            name = f"{schema}{f' {event}' if event else ''}"
            size = len(orjson.dumps([2, "12345", action, payload]))
            print(f"  {version:5s} {name:36s} {size:5d} bytes: {'valid' if not errors else errors}")
            failed += bool(errors)
    if failed:
        raise SystemExit(f"{failed} frames break their schema")


async def main(args: argparse.Namespace) -> None:
    sys.stdout.reconfigure(line_buffering=True)  # figures as they come, also into a file
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it
    if not args.no_pin:
        os.sched_setaffinity(0, {GENERATOR_CPU})
    if args.check_frames:
        check_frames()
        return
    results: dict[str, dict[str, float]] = {}
    for offset, name in enumerate(args.targets):
        target = Target(name, args.port + offset, args)
        print(f"{name}: (the machine: {machine_speed(not args.no_pin)})")
        results[name] = {}
        if set(args.scenarios) & {"idle", "traffic", "restart"}:
            results[name].update(await charge_points_run(target, args))
        if "throughput" in args.scenarios:
            results[name].update(await throughput_run(target, args))
        if "cost" in args.scenarios:
            results[name].update(await cost_run(target, args))
    report(results)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="voltaro,library,null", type=lambda s: s.split(","))
    parser.add_argument(
        "--scenarios",
        default="idle,traffic,restart,throughput",
        type=lambda s: s.split(","),
        help="of idle,traffic,restart,throughput,cost (cost: not in the default run)",
    )
    parser.add_argument("--port", type=int, default=9900, help="first port; one per target")
    parser.add_argument("--database-url", help="Voltaro's database; default a fresh SQLite file")
    parser.add_argument("--ping-interval", type=int, default=60, help="Voltaro WS_PING_INTERVAL")
    parser.add_argument("--charge-points", type=int, default=1000)
    parser.add_argument("--id-prefix", default="B")
    parser.add_argument("--connectors", type=int, default=2)
    parser.add_argument("--duration", type=float, default=30, help="traffic seconds measured")
    parser.add_argument("--heartbeat-interval", type=float, default=300)
    parser.add_argument("--meter-interval", type=float, default=30)
    parser.add_argument("--samples", type=int, default=8, help="meter values per session")
    parser.add_argument("--session-probability", type=float, default=0.3)
    parser.add_argument("--connect-rate", type=float, default=2000, help="new connections/s")
    parser.add_argument("--connect-batch", type=int, default=100)
    parser.add_argument("--throughput-charge-points", type=int, default=500)
    parser.add_argument(
        "--throughput-samples", type=int, default=20, help="meter values per session there"
    )
    parser.add_argument(
        "--rates",
        default="250,500,1000,1500,2000,3000,4000,5000,6000,8000,10000,12000,15000",
        type=lambda s: [float(r) for r in s.split(",")],
        help="offered messages per second, in steps",
    )
    parser.add_argument("--step-duration", type=float, default=8)
    parser.add_argument(
        "--refine", type=int, default=3, help="bisection steps after the first step failed"
    )
    parser.add_argument("--warm-up", type=float, default=10, help="seconds before the first step")
    parser.add_argument("--p99-limit", type=float, default=50, help="ms")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and generator")
    parser.add_argument(
        "--ocpp",
        default="1.6",
        choices=("1.6", "2.0.1", "mixed"),
        help="what the charge points speak (mixed: every other one 2.0.1; for the cost"
        " scenario: both, alternating)",
    )
    parser.add_argument(
        "--kinds",
        default=",".join(COST_KINDS),
        type=lambda s: s.split(","),
        help=f"the cost scenario's message kinds, of {','.join(COST_KINDS)}",
    )
    parser.add_argument("--cost-charge-points", type=int, default=200, help="per version")
    parser.add_argument("--cost-rate", type=float, default=150, help="msg/s offered a step")
    parser.add_argument("--cost-rounds", type=int, default=3)
    parser.add_argument(
        "--py-spy", metavar="FILE", help="profile Voltaro's server with py-spy into FILE (raw)"
    )
    parser.add_argument(
        "--mark-windows",
        action="store_true",
        help="the cost scenario sends the server SIGUSR1 as each window starts and ends"
        " (for a server instrumented to handle it; an uninstrumented one dies of it)",
    )
    parser.add_argument(
        "--check-frames",
        action="store_true",
        help="check one frame of each kind and version against the ocpp package's schemas"
        " (with the server's own checker), then exit",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
