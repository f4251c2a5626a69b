"""What many test modules share, defined once: the test accounts and their headers, waits
on a condition, the JSON API and the portal's event stream as a client reads them, the
metrics scrape, a simulated charge point on the application's socket.

Fixtures live in tests/conftest.py; a test module imports plain helpers from here (or
from tests/ocpp_client.py, tests/pki.py, tests/server_process.py, tests/v201/), never
from another test module, which pytest would then import a second time under another
name (tests/test_project.py checks it).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
from aiohttp import encode_basic_auth
from aiohttp.test_utils import TestClient
from alembic import command
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Connection, insert

from ocpp_core.db.migrate import alembic_config
from ocpp_core.db.models import ChargePoint, IdTag
from ocpp_core.events import Event
from simulator.common import SimulatorConfig
from simulator.v16 import SimulatedChargePoint
from webapp.keys import ENGINE
from webapp.ws_adapter import WebSocketConnection

PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TEST_PG_USER", "postgres")


def pg_url(database: str, driver: str = "postgresql+asyncpg") -> str:
    """The URL of a database of the tests' PostgreSQL."""
    return f"{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# role -> (login, password) of the accounts the `client` fixture makes.
ACCOUNTS = {
    "admin": ("admin", "admin-password"),
    "operator": ("oper", "operator-password"),
    "viewer": ("view", "viewer-password"),
}


def basic(login: str, password: str) -> dict[str, str]:
    """Headers for HTTP Basic auth (aiohttp 3.14 deprecates BasicAuth objects)."""
    return {"Authorization": encode_basic_auth(login, password)}


ADMIN = basic(*ACCOUNTS["admin"])
OPERATOR = basic(*ACCOUNTS["operator"])
VIEWER = basic(*ACCOUNTS["viewer"])

# An API token as the API shows it once.
API_TOKEN = re.compile(r"vlt_[A-Za-z0-9_-]{43}")


def bearer(token: str, **headers: str) -> dict[str, str]:
    """Headers for an API token (`Authorization: Bearer`), with any others."""
    return {"Authorization": f"Bearer {token}", **headers}


# --- waiting ----------------------------------------------------------------------------


async def eventually(check: Callable[[], Any], timeout: float = 10, what: str | None = None) -> Any:
    """The first truthy result of `check` (a function, or a coroutine function), asked
    every 20 ms, for what follows an answer without an event a test can wait on. Past
    `timeout` seconds an AssertionError says what did not happen (`what`, by default the
    check's name) and what the check last returned."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            said = what or getattr(check, "__qualname__", repr(check))
            raise AssertionError(f"not so within {timeout} s: {said} (last: {result!r})")
        await asyncio.sleep(0.02)


async def next_event(
    events: asyncio.Queue[Event], kind: str, charge_point_id: str, timeout: float = 5
) -> Event:
    """The next event of `kind` for `charge_point_id` from a subscription to the event bus
    (`async with bus.subscribe() as events`), others passed over."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                event = await events.get()
                if (event.kind, event.charge_point_id) == (kind, charge_point_id):
                    return event
    except TimeoutError:
        raise AssertionError(f"no {kind!r} event of {charge_point_id} within {timeout} s") from None


async def bounded_close(what: str, closing: Awaitable[object], seconds: float = 12) -> None:
    """Close a test's client side without ever hanging the run: a close that takes too
    long dumps every task's stack (to see what holds it) and fails the test."""
    try:
        await asyncio.wait_for(closing, seconds)
    except TimeoutError:
        print(f"closing {what} took over {seconds} s; tasks:", file=sys.stderr)
        for task in asyncio.all_tasks():
            task.print_stack(file=sys.stderr)
        raise


# --- the JSON API and the portal ---------------------------------------------------------


async def get_json(client: TestClient, path: str, role: str = "admin") -> Any:
    """GET an API path as `role`, which must answer 200; its JSON."""
    response = await client.get(path, headers=basic(*ACCOUNTS[role]))
    assert response.status == 200, await response.text()
    return await response.json()


async def post(
    client: TestClient, path: str, body: Any, headers: dict[str, str] = OPERATOR
) -> tuple[int, Any]:
    """POST a JSON body (a str is sent as it is, to send broken JSON) to the API, as an
    operator by default; (the status, the JSON answer)."""
    data = body if isinstance(body, str) else json.dumps(body)
    response = await client.post(
        path, data=data, headers={**headers, "Content-Type": "application/json"}
    )
    return response.status, await response.json()


async def operate(
    client: TestClient, operation: str, body: dict[str, Any], charge_point_id: str = "SIM1"
) -> Any:
    """An operation through the API, as an operator, which must answer 200; its answer."""
    status, answer = await post(client, f"/api/charge-points/{charge_point_id}/{operation}", body)
    assert status == 200, (operation, answer)
    return answer


async def journal(client: TestClient, charge_point_id: str) -> list[dict[str, Any]]:
    """The operations sent to a charge point, newest first, as the API shows a viewer."""
    return await get_json(client, f"/api/charge-points/{charge_point_id}/operations", "viewer")


async def sessions(client: TestClient, charge_point_id: str) -> list[dict[str, Any]]:
    """A charge point's sessions, as `GET /api/transactions` shows a viewer."""
    return await get_json(client, f"/api/transactions?charge_point_id={charge_point_id}", "viewer")


async def disconnected(client: TestClient, charge_point_id: str) -> dict[str, Any]:
    """Once the API shows the charge point disconnected: what it shows of it."""

    async def shown_gone() -> dict[str, Any] | None:
        shown = await get_json(client, f"/api/charge-points/{charge_point_id}", "viewer")
        return None if shown["connected"] else shown

    return await eventually(shown_gone, what=f"{charge_point_id} shown disconnected")


async def read_events(response: aiohttp.ClientResponse, wanted: str, timeout: float = 5) -> str:
    """Read the portal's server-sent events until one named `wanted` arrives; its data."""
    event, data = None, []
    try:
        async with asyncio.timeout(timeout):
            async for raw in response.content:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif line == "":
                    if event == wanted:
                        return "\n".join(data)
                    event, data = None, []
    except TimeoutError:
        raise AssertionError(f"no {wanted!r} event within {timeout} s") from None
    raise AssertionError(f"the event stream ended before a {wanted!r} event")


class Browserless:
    """A logged-in portal user over plain HTTP, with its own cookie jar."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base
        self.csrf = ""

    async def get(self, path: str, **kwargs: Any) -> tuple[int, str]:
        async with self.http.get(self.base + path, **kwargs) as response:
            return response.status, await response.text()

    async def post(
        self, path: str, data: dict | None = None, csrf: bool = True, **kwargs: Any
    ) -> tuple[int, str]:
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.csrf
        async with self.http.post(self.base + path, data=data, **kwargs) as response:
            return response.status, await response.text()

    async def submit(self, path: str, data: dict | None = None) -> tuple[int, str, str]:
        """A form posted as a browser does: (the POST's own status, the address it
        redirected to or "", the page then shown: the redirect's, else the POST's)."""
        data = {**(data or {}), "csrf_token": self.csrf}
        async with self.http.post(self.base + path, data=data, allow_redirects=False) as answer:
            status, location, html = answer.status, answer.headers.get("Location", ""), ""
            if not location:
                html = await answer.text()
        if location:
            _, html = await self.get(location)
        return status, location, html

    async def refresh_csrf(self, path: str = "/") -> None:
        _, html = await self.get(path)
        match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
        assert match, "page without a csrf-token meta tag"
        self.csrf = match.group(1)


class Scrape:
    """One scrape of /metrics, read with prometheus_client's own parser."""

    def __init__(self, text: str) -> None:
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, frozenset(labels.items())))

    def label_values(self, name: str, label: str) -> set[str]:
        return {
            dict(labels)[label]
            for (sample, labels) in self.samples
            if sample == name and label in dict(labels)
        }


async def scrape(client: TestClient, **kwargs: Any) -> Scrape:
    """GET /metrics, which must answer 200 in Prometheus' text format."""
    response = await client.get("/metrics", **kwargs)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/plain"
    return Scrape(await response.text())


# --- times and values as the API and OCPP write them ---------------------------------------


def iso(moment: datetime) -> str:
    """A moment in UTC as OCPP and the API write it (`...Z`)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def soon(seconds: float = 3600) -> str:
    """A moment `seconds` from now, as `iso` writes it."""
    return iso(datetime.now(UTC) + timedelta(seconds=seconds))


def tenths(value: Any) -> Any:
    """Floats as JSON writes tenths: hypothesis makes `multipleOf: 0.1` as 141 * 0.1,
    14.100000000000001, which is no multiple of 0.1 and rightly refused."""
    if isinstance(value, float):
        return round(value, 1)
    if isinstance(value, dict):
        return {key: tenths(item) for key, item in value.items()}
    if isinstance(value, list):
        return [tenths(item) for item in value]
    return value


# --- a simulated 1.6 charge point ---------------------------------------------------------


# Fast meter values, and the meter's time sped up so energy visibly rises on a page.
WATCHED_SIMULATOR = SimulatorConfig(connectors=2, meter_interval=0.3, energy_speedup=300)


@asynccontextmanager
async def simulated(
    client: TestClient,
    config: SimulatorConfig,
    seed: int,
    charge_point_id: str = "SIM1",
) -> AsyncIterator[SimulatedChargePoint]:
    """The simulator as `charge_point_id` on the application's OCPP socket, seeded with
    `seed` (the test's, see the `seed` fixture), until it has booted and reported each
    of its connectors; stopped and disconnected on the way out."""
    ws = await client.ws_connect(f"/ocpp/{charge_point_id}", protocols=("ocpp1.6",))
    sim = SimulatedChargePoint(charge_point_id, WebSocketConnection(ws), config, seed=seed)
    task = asyncio.create_task(sim.run())

    async def reported() -> bool:
        cp = await get_json(client, f"/api/charge-points/{charge_point_id}")
        return cp["connected"] and len(cp["connectors"]) == config.connectors + 1

    try:
        await eventually(reported, what=f"{charge_point_id} booted with its connectors")
        yield sim
    finally:
        task.cancel()
        await bounded_close("a simulator's WebSocket", ws.close())


# --- PostgreSQL from outside ---------------------------------------------------------------


async def pg_admin(sql: str) -> None:
    """Run `sql` on PostgreSQL's `postgres` database (CREATE or DROP DATABASE)."""
    conn = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def terminate_backends(where: str, *args: object) -> int:
    """Terminate the PostgreSQL server processes `where` selects in pg_stat_activity, as a
    restart would; return how many."""
    admin = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
    )
    try:
        return len(
            await admin.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                f" WHERE {where} AND pid <> pg_backend_pid()",
                *args,
            )
        )
    finally:
        await admin.close()


def migrate_to(database_url: str, direction: str, target: str) -> Callable[[Connection], None]:
    """An alembic upgrade or downgrade to `target`, to run on a sync connection
    (`await connection.run_sync(...)`)."""

    def step(sync: Connection) -> None:
        # Alembic's own transactions, as at start-up: on PostgreSQL 0015 builds its index
        # outside any.
        sync.commit()
        config = alembic_config(database_url)
        config.attributes["connection"] = sync
        getattr(command, direction)(config, target)

    return step


async def read_json_events(response: aiohttp.ClientResponse, count: int, timeout: float = 5):
    """The next `count` events of a JSON event stream (`/api/events`): (id, event name,
    parsed data)."""
    events, fields = [], {}
    async with asyncio.timeout(timeout):
        async for raw in response.content:
            line = raw.decode().rstrip("\r\n")
            if line == "":
                if "data" in fields:
                    events.append(
                        (fields.get("id"), fields.get("event"), json.loads(fields["data"]))
                    )
                    if len(events) == count:
                        return events
                fields = {}
            elif ":" in line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
    raise AssertionError("stream ended")


# --- a large fleet and many id tags, registered in one statement each ---------------------


async def register_fleet(app: Any, count: int, prefix: str = "BR-") -> list[str]:
    """`count` accepted charge points never connected (`BR-0000`, ...), in one statement:
    a test of pages at fleet size is not a test of 2,000 registrations."""
    rows = [
        {"id": f"{prefix}{n:04d}", "registration_status": "Accepted", "vendor": "Voltaro",
         "model": f"Model {n % 7}", "serial_number": f"SN{n:05d}"}
        for n in range(count)
    ]  # fmt: skip
    async with app[ENGINE].begin() as connection:
        await connection.execute(insert(ChargePoint), rows)
    return [row["id"] for row in rows]


async def add_many_tags(app: Any, names: list[str]) -> None:
    """Id tags `names`, in one statement."""
    async with app[ENGINE].begin() as connection:
        await connection.execute(insert(IdTag), [{"id_tag": n} for n in names])
