"""Load generator: N OCPP 1.6J charge points in one asyncio process, against a running
central system (or one it starts), printing what the server did with them.

Each charge point boots, reports its connectors, heartbeats, and runs sessions
(Authorize, StartTransaction, MeterValues with a three-phase meter's sampled values,
StopTransaction), keeping at most one outstanding CALL as OCPP-J requires.

Reported: connections held, messages per second, CALL-to-CALLRESULT latency percentiles,
server memory per connection and CPU seconds per 1,000 messages (from /proc, when the
server's pid is known), and with --restart the time for every charge point to be accepted
again after the server is killed (SIGKILL) and restarted.

    python bench/loadgen.py --start-server --charge-points 1000 --duration 60
    python bench/loadgen.py --url ws://127.0.0.1:9000/ocpp --server-pid 1234 ...
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parents[1]
ID_TAG = "BENCH"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    messages: int = 0
    errors: int = 0
    connected: int = 0
    accepted: set[str] = field(default_factory=set)


class BenchChargePoint:
    """A lean OCPP-J client: orjson frames, one outstanding CALL, latency recorded."""

    _ids = itertools.count(1)

    def __init__(self, cp_id: str, ws: aiohttp.ClientWebSocketResponse, stats: Stats) -> None:
        self.id = cp_id
        self.ws = ws
        self.stats = stats
        self.pending: dict[str, asyncio.Future] = {}
        self.lock = asyncio.Lock()

    async def reader(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                frame = orjson.loads(msg.data)
                if frame[0] in (3, 4):
                    future = self.pending.pop(frame[1], None)
                    if future is not None and not future.done():
                        future.set_result(frame)
                elif frame[0] == 2:  # a CALL from the central system: accept it
                    answer = [3, frame[1], {"status": "Accepted"}]
                    await self.ws.send_str(orjson.dumps(answer).decode())
        finally:
            # The link is gone: a CALL waiting for its answer fails now, not in 60 s.
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionResetError("connection lost"))
                    future.exception()  # marked retrieved: its caller may be gone too
            self.pending.clear()

    async def call(self, action: str, payload: dict) -> dict:
        async with self.lock:
            unique_id = str(next(self._ids))
            future = asyncio.get_running_loop().create_future()
            self.pending[unique_id] = future
            started = time.perf_counter()
            await self.ws.send_str(orjson.dumps([2, unique_id, action, payload]).decode())
            frame = await asyncio.wait_for(future, 60)
            self.stats.latencies.append(time.perf_counter() - started)
            self.stats.messages += 1
            if frame[0] == 4:
                self.stats.errors += 1
                return {}
            return frame[2]

    async def boot(self, connectors: int) -> None:
        answer = await self.call(
            "BootNotification",
            {"chargePointVendor": "Bench", "chargePointModel": "Load", "firmwareVersion": "1"},
        )
        if answer.get("status") == "Accepted":
            self.stats.accepted.add(self.id)
        for connector in range(connectors + 1):
            await self.call(
                "StatusNotification",
                {"connectorId": connector, "errorCode": "NoError", "status": "Available"},
            )

    async def session(self, connector: int, meter_interval: float, samples: int) -> None:
        await self.call("Authorize", {"idTag": ID_TAG})
        meter = random.randint(0, 10**6)
        start = await self.call(
            "StartTransaction",
            {
                "connectorId": connector,
                "idTag": ID_TAG,
                "meterStart": meter,
                "timestamp": now_iso(),
            },
        )
        tx = start.get("transactionId")
        for _ in range(samples):
            await asyncio.sleep(meter_interval * random.uniform(0.8, 1.2))
            meter += random.randint(20, 40)
            values = [
                {"value": str(meter), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
            ]
            values += [
                {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": p}
                for p in ("L1", "L2", "L3")
            ]
            values += [{"value": "230.0", "measurand": "Voltage", "unit": "V", "phase": p}
                       for p in ("L1-N", "L2-N", "L3-N")]  # fmt: skip
            await self.call(
                "MeterValues",
                {"connectorId": connector, "transactionId": tx,
                 "meterValue": [{"timestamp": now_iso(), "sampledValue": values}]},
            )  # fmt: skip
        await self.call(
            "StopTransaction",
            {"transactionId": tx, "meterStop": meter, "timestamp": now_iso(), "idTag": ID_TAG},
        )


async def play(
    http: aiohttp.ClientSession, url: str, cp_id: str, args: argparse.Namespace, stats: Stats
) -> None:
    """Connect (again, after a drop), boot, then heartbeats and sessions until cancelled."""
    while True:
        try:
            async with http.ws_connect(f"{url}/{cp_id}", protocols=("ocpp1.6",)) as ws:
                stats.connected += 1
                cp = BenchChargePoint(cp_id, ws, stats)
                reader = asyncio.create_task(cp.reader())
                try:
                    await cp.boot(args.connectors)
                    next_heartbeat = time.monotonic() + args.heartbeat_interval
                    while True:
                        if time.monotonic() >= next_heartbeat:
                            await cp.call("Heartbeat", {})
                            next_heartbeat += args.heartbeat_interval
                        if random.random() < args.session_probability:
                            await cp.session(1, args.meter_interval, args.samples)
                        else:
                            await asyncio.sleep(args.meter_interval)
                finally:
                    reader.cancel()
                    stats.connected -= 1
        except (aiohttp.ClientError, OSError, TimeoutError, ConnectionResetError):
            stats.accepted.discard(cp_id)
            await asyncio.sleep(random.uniform(0.5, 2.0))  # reconnect jitter


def proc_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Server:
    """`python -m webapp` on a fresh database, with limits meant for real chargers off."""

    def __init__(self, port: int, database_url: str | None) -> None:
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="voltaro-bench-")
        self.env = {
            **os.environ,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "DATABASE_URL": database_url or f"sqlite+aiosqlite:///{self.dir}/bench.db",
            "SECRET_KEY": "bench",
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT": "0",
            "WS_PING_INTERVAL": "0",
            "HEARTBEAT_INTERVAL": "300",
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> int:
        if self.process is None:  # first start: the id tag the sessions use
            subprocess.run(
                [sys.executable, "-m", "webapp", "id-tag", "add", ID_TAG],
                cwd=ROOT,
                env=self.env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "webapp"], cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL
        )
        return self.process.pid

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=30)


async def wait_for_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


async def all_accepted(stats: Stats, count: int, since: float, limit: float = 300) -> None:
    """Poll until every charge point's boot was accepted (or `limit` seconds passed)."""
    for _ in range(int(limit / 0.1)):
        if len(stats.accepted) >= count or time.monotonic() - since > limit:
            return
        await asyncio.sleep(0.1)


async def main(args: argparse.Namespace) -> None:
    server = None
    pid = args.server_pid
    url = args.url
    if args.start_server:
        server = Server(args.port, args.database_url)
        pid = server.start()
        url = f"ws://127.0.0.1:{args.port}/ocpp"
        await wait_for_port(args.port)
    baseline_rss = proc_rss_kib(pid) if pid else 0
    stats = Stats()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.monotonic()
        tasks = []
        for n in range(1, args.charge_points + 1):
            tasks.append(asyncio.create_task(play(http, url, f"{args.id_prefix}{n}", args, stats)))
            if n % args.connect_batch == 0:
                await asyncio.sleep(args.connect_batch / args.connect_rate)
        await all_accepted(stats, args.charge_points, started)
        ramp = time.monotonic() - started
        connected_rss = proc_rss_kib(pid) if pid else 0
        stats.latencies.clear()
        messages_before, cpu_before = stats.messages, proc_cpu_seconds(pid) if pid else 0.0
        measure_start = time.monotonic()
        await asyncio.sleep(args.duration)
        elapsed = time.monotonic() - measure_start
        held = stats.connected
        messages = stats.messages - messages_before
        cpu = (proc_cpu_seconds(pid) - cpu_before) if pid else float("nan")
        latencies = list(stats.latencies)

        reconnect = None
        if args.restart and server is not None:
            server.kill()
            killed = time.monotonic()
            stats.accepted.clear()
            server.start()
            pid = server.process.pid
            await all_accepted(stats, args.charge_points, killed)
            reconnect = time.monotonic() - killed

        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if server is not None:
        server.stop()

    ms = [v * 1000 for v in latencies]
    print(f"charge points          {args.charge_points} (accepted within {ramp:.1f} s)")
    print(f"connections held       {held}")
    print(f"messages               {messages} in {elapsed:.1f} s = {messages / elapsed:.0f}/s")
    print(f"errors (CALLERROR)     {stats.errors}")
    print(
        f"latency ms             p50 {percentile(ms, 0.5):.1f}  p99 {percentile(ms, 0.99):.1f}"
        f"  p99.9 {percentile(ms, 0.999):.1f}  mean {statistics.fmean(ms) if ms else 0:.1f}"
    )
    if pid:
        per_connection = (connected_rss - baseline_rss) / max(args.charge_points, 1)
        per_thousand = 1000 * cpu / max(messages, 1)
        print(
            f"server RSS             {connected_rss / 1024:.0f} MiB, "
            f"{per_connection:.1f} KiB per connection"
        )
        print(f"server CPU             {cpu:.2f} s = {per_thousand:.3f} s per 1,000 messages")
    if reconnect is not None:
        print(f"restart to all accepted {reconnect:.1f} s (SIGKILL, restart, reconnect jitter)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="ws://127.0.0.1:9000/ocpp")
    parser.add_argument("--server-pid", type=int, help="pid of the server, for memory and CPU")
    parser.add_argument("--start-server", action="store_true", help="start python -m webapp")
    parser.add_argument("--port", type=int, default=9900, help="with --start-server")
    parser.add_argument("--database-url", help="with --start-server; default a fresh SQLite file")
    parser.add_argument("--charge-points", type=int, default=100)
    parser.add_argument("--id-prefix", default="B")
    parser.add_argument("--connectors", type=int, default=2)
    parser.add_argument("--duration", type=float, default=30, help="seconds measured")
    parser.add_argument("--heartbeat-interval", type=float, default=60)
    parser.add_argument("--meter-interval", type=float, default=10)
    parser.add_argument("--samples", type=int, default=6, help="meter values per session")
    parser.add_argument("--session-probability", type=float, default=0.3)
    parser.add_argument("--connect-rate", type=float, default=500, help="new connections/s")
    parser.add_argument("--connect-batch", type=int, default=50)
    parser.add_argument("--restart", action="store_true", help="measure reconnect after SIGKILL")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
