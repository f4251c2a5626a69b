"""The dashboard at 10,000 charge points: its HTML size and server time, and what its live
stream costs the server per event batch with 1, 10 and 100 subscribers.

    python bench/dashboard.py [--charge-points 10000] [--server-root DIR]

`--server-root` runs the server from another checkout (the same schema): the figures
before a change are taken from a temporary worktree of the commit before it.

Method. A fresh SQLite database is brought to the schema by `python -m webapp db
upgrade` and filled with N registered charge points (vendor, model, serial, two
connectors each) in one transaction; the server (`python -m webapp`, LOG_LEVEL=WARNING)
is started on it (WebSocket pings off: these chargers read only their answers), and 20 of
them connect over real WebSockets (OCPP 1.6: boot, two
StatusNotifications; 5 report a fault). An admin logs in through the login form.

- Pages: `/` (first page), `/?q=BENCH-0123` (a search) and `/?status=Faulted` (a filter),
  each asked 5 times; the HTML size, the median time to the whole answer, and the mean
  server CPU (user + system, from /proc) per request.
- Live stream: S subscribers open `/events` (the dashboard's stream), then 3 batches of
  events are made: each of the 20 connected charge points sends a StatusNotification,
  and the batch is over when every subscriber has received its `counters` event. The
  server CPU of a batch is read from /proc around it; the same batches with no
  subscriber give what the StatusNotifications themselves cost, which is subtracted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
LIVE = 20
FAULTED = 5
REPEATS = 5
BATCHES = 3
TICK = os.sysconf("SC_CLK_TCK")
_ids = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def fill(database: Path, count: int) -> None:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    with sqlite3.connect(database) as db:
        db.executemany(
            "INSERT INTO charge_points (id, registration_status, vendor, model, serial_number,"
            " lenient, created_at) VALUES (?, 'Accepted', ?, ?, ?, 0, ?)",
            [
                (f"BENCH-{n:05d}", f"Vendor {n % 13}", f"Model {n % 7}", f"SN{n:06d}", now)
                for n in range(count)
            ],
        )
        db.executemany(
            "INSERT INTO connectors (charge_point_id, evse_id, connector_id, status,"
            " error_code, updated_at) VALUES (?, 0, ?, 'Available', 'NoError', ?)",
            [(f"BENCH-{n:05d}", c, now) for n in range(count) for c in (1, 2)],
        )


class Charger:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def call(self, action: str, payload: dict) -> None:
        await self.ws.send_str(json.dumps([2, f"b{next(_ids)}", action, payload]))
        answer = json.loads((await self.ws.receive()).data)
        assert answer[0] == 3, answer

    async def status(self, connector_id: int, status: str, error: str = "NoError") -> None:
        payload = {"connectorId": connector_id, "errorCode": error, "status": status}
        await self.call("StatusNotification", payload)


async def log_in(http: aiohttp.ClientSession, base: str) -> None:
    async with http.get(f"{base}/login") as response:
        html = await response.text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    data = {"username": "bench", "password": "bench-password-1"}
    if token:
        data["csrf_token"] = token.group(1)
    async with http.post(f"{base}/login", data=data) as response:
        assert response.status == 200 and "Log out" in await response.text(), "login failed"


async def pages(http: aiohttp.ClientSession, base: str, pid: int) -> list[tuple]:
    figures = []
    for name, path in (("first page", "/"), ("search", "/?q=BENCH-0123"),
                       ("filter", "/?status=Faulted")):  # fmt: skip
        times, cpus, size = [], [], 0
        for _ in range(REPEATS):
            cpu, started = cpu_seconds(pid), time.perf_counter()
            async with http.get(base + path) as response:
                body = await response.read()
                assert response.status == 200, response.status
            times.append(time.perf_counter() - started)
            cpus.append(cpu_seconds(pid) - cpu)
            size = len(body)
        figures.append((name, path, size, statistics.median(times), statistics.mean(cpus)))
    return figures


async def counters_reader(response: aiohttp.ClientResponse, seen: list[int], i: int) -> None:
    event = None
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line == "":
            if event == "counters":
                seen[i] += 1
            event = None


async def batch_cost(
    http: aiohttp.ClientSession, base: str, pid: int, chargers: list[Charger], subscribers: int
) -> float:
    """Mean server CPU seconds per event batch with this many dashboard streams (a mean:
    /proc counts in clock ticks of 10 ms)."""
    streams = [await http.get(f"{base}/events") for _ in range(subscribers)]
    seen = [0] * subscribers
    readers = [asyncio.create_task(counters_reader(r, seen, i)) for i, r in enumerate(streams)]
    await asyncio.sleep(1.5)  # every stream subscribed
    costs = []
    for n in range(BATCHES):
        target = [s + 1 for s in seen]
        cpu = cpu_seconds(pid)
        status = "Charging" if n % 2 == 0 else "Available"
        await asyncio.gather(*(c.status(2, status) for c in chargers))
        if subscribers:
            deadline = time.monotonic() + 300
            while any(s < t for s, t in zip(seen, target, strict=True)):
                assert time.monotonic() < deadline, "subscribers did not get the batch"
                await asyncio.sleep(0.01)
        else:
            await asyncio.sleep(0.5)
        costs.append(cpu_seconds(pid) - cpu)
        await asyncio.sleep(0.5)  # the next batch is a batch of its own
    for task in readers:
        task.cancel()
    for response in streams:
        response.close()
    await asyncio.sleep(0.5)
    return statistics.mean(costs)


async def measure(base: str, pid: int) -> None:
    port_base = base.replace("http", "ws")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        chargers = []
        async with aiohttp.ClientSession() as sockets:
            for n in range(LIVE):
                ws = await sockets.ws_connect(
                    f"{port_base}/ocpp/BENCH-{n:05d}", protocols=("ocpp1.6",)
                )
                charger = Charger(ws)
                await charger.call(
                    "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
                )
                await charger.status(1, "Faulted", "GroundFailure") if n < FAULTED else None
                await charger.status(2, "Available")
                chargers.append(charger)
            await log_in(http, base)
            print("| page | path | HTML bytes | time (median) | server CPU (mean) |")
            print("| --- | --- | ---: | ---: | ---: |")
            for name, path, size, wall, cpu in await pages(http, base, pid):
                print(
                    f"| {name} | `{path}` | {size:,} | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms |"
                )
            print()
            print(
                "| subscribers | server CPU per batch (mean) | over no subscriber |"
                " per subscriber |"
            )
            print("| ---: | ---: | ---: | ---: |")
            alone = await batch_cost(http, base, pid, chargers, 0)
            print(f"| 0 | {alone * 1000:.0f} ms | | |")
            for subscribers in (1, 10, 100):
                cost = await batch_cost(http, base, pid, chargers, subscribers)
                extra = max(cost - alone, 0)
                print(f"| {subscribers} | {cost * 1000:.0f} ms | {extra * 1000:.0f} ms |"
                      f" {extra / subscribers * 1000:.1f} ms |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--charge-points", type=int, default=10_000)
    parser.add_argument("--server-root", type=Path, default=ROOT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "bench.db"
        port = free_port()
        env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
               "PORT": str(port), "HOST": "127.0.0.1", "SECRET_KEY": "bench",
               "LOG_LEVEL": "WARNING", "RATE_LIMIT": "0", "WS_PING_INTERVAL": "0",
               "PYTHONPATH": str(args.server_root)}  # fmt: skip
        run = {"cwd": args.server_root, "env": env, "check": True}
        subprocess.run([sys.executable, "-m", "webapp", "db", "upgrade"], **run)
        fill(database, args.charge_points)
        subprocess.run(
            [sys.executable, "-m", "webapp", "user", "add", "bench", "--password",
             "bench-password-1", "--role", "admin"], **run, stdout=subprocess.DEVNULL)  # fmt: skip
        server = subprocess.Popen([sys.executable, "-m", "webapp"], cwd=args.server_root, env=env)
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            print(f"{args.charge_points:,} charge points, server from {args.server_root}\n")
            asyncio.run(measure(f"http://127.0.0.1:{port}", server.pid))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
