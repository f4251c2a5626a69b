"""Fixtures: every database test runs on SQLite and on the real PostgreSQL.

PostgreSQL: one template database is migrated per run, and each test gets its own fresh
copy of it (CREATE DATABASE ... TEMPLATE, made ahead by a thread), dropped afterwards.
When PostgreSQL cannot be reached its tests skip with the reason, except under CI=true,
where that is a failure.
SQLite likewise: one file is migrated per run and each test gets its own copy of it;
tests marked `unmigrated` get an empty file, which their code migrates itself.

Passwords are hashed with argon2id at the lowest cost in tests (some 0.1 ms, not 170 ms a
hash: three accounts per test, a login in most); tests marked `production_argon2` use
the production cost, and tests/security/test_password_hashing.py checks what it is.

Random numbers come from the `seed` fixture (and `rng`, made from it): printed with the
test's output, and taken from VOLTARO_TEST_SEED when set, so a failure replays.
Helpers a test module imports are in tests/helpers.py; this one holds the fixtures.
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web_app
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from ocpp_core import passwords
from ocpp_core.db.engine import create_engine
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.models import Base
from ocpp_core.settings import Settings
from simulator.common import SimulatorConfig
from simulator.v16 import SimulatedChargePoint
from simulator.v201 import SimulatedChargingStation
from tests.helpers import (
    ACCOUNTS,
    IN_CI,
    PG_HOST,
    PG_PORT,
    PG_USER,
    WATCHED_SIMULATOR,
    Browserless,
    bounded_close,
    pg_admin,
    pg_url,
    simulated,
)
from tests.ocpp_client import RawChargePoint
from tests.pki import ChargerCa, Pki, make_ca, make_pki
from webapp.app import create_app
from webapp.keys import SERVICES
from webapp.tls import server_ssl_context
from webapp.ws_adapter import WebSocketConnection

# Where a test's random seed may be given, to replay a failure (see the `seed` fixture).
SEED_VARIABLE = "VOLTARO_TEST_SEED"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The collector policy's tests first: they measure the heap's growth against its
    size, and after the rest of the suite has run (hypothesis, cryptography, playwright
    loaded, thousands of objects frozen) a storm of theirs no longer looks like one."""
    items.sort(key=lambda item: item.path.name != "test_gc_policy.py")


# argon2id as in production but at the lowest cost argon2 allows; salt and hash keep their
# production lengths, so stored hashes look the same.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def argon2_cost(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The cheapest argon2 in this process, unless the test is marked `production_argon2`.
    (Servers and CLIs started as subprocesses hash at the production cost.)"""
    if request.node.get_closest_marker("production_argon2") is None:
        monkeypatch.setattr(passwords, "_hasher", CHEAP_HASHER)
    # The dummy hash of unknown names is made on first use, at the cost then in force.
    passwords._dummy_hash.cache_clear()
    yield
    passwords._dummy_hash.cache_clear()


@pytest.fixture(autouse=True)
def released_apps() -> Iterator[None]:
    """Each test's applications are let go of after it. aiohttp caches every handler's
    middleware chain with the applications it ran in (1,024 entries, process-wide), which
    kept a hundred and more test apps alive, their engines and templates with them: a
    heap of a million objects, and every app's start-up collection (webapp.gc_policy)
    walked it all."""
    yield
    web_app._cached_build_middleware.cache_clear()
    # Likewise each ORM mapper's cache of compiled statements, keyed by the engine's
    # dialect: it kept every finished test's dialect, and the engine events it holds.
    for mapper in Base.registry.mappers:
        mapper._compiled_cache.clear()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per run, as a new one is at the application's start."""
    path = tmp_path_factory.mktemp("sqlite-template") / "voltaro.db"

    async def migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    # Closing the last connection checkpointed the write-ahead log into the file.
    assert not path.with_name(path.name + "-wal").exists()
    return path


class DatabasePool:
    """Fresh copies of the template, made ahead by a thread of its own, and the used ones
    dropped there: CREATE DATABASE waits on the disk (some 0.1 to 0.3 s), which it now
    does while the tests run rather than before each one."""

    AHEAD = 3

    def __init__(self, template: str) -> None:
        self.template = template
        self.ready: queue.Queue[str | Exception] = queue.Queue()
        self.work: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self.failed_drops: list[Exception] = []
        self.thread = threading.Thread(target=self._run, name="pg-pool", daemon=True)
        self.thread.start()
        for _ in range(self.AHEAD):
            self._order_one()

    def _order_one(self) -> None:
        self.work.put(("create", f"voltaro_test_{uuid.uuid4().hex[:12]}"))

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        conn: asyncpg.Connection | None = None
        try:
            while (job := await asyncio.to_thread(self.work.get)) is not None:
                what, name = job
                try:
                    if conn is None or conn.is_closed():
                        conn = await asyncpg.connect(
                            host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres",
                            timeout=5,
                        )  # fmt: skip
                    if what == "create":
                        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
                        self.ready.put(name)
                    else:
                        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                except Exception as error:
                    # A database not made fails the test that waits for it; one not
                    # dropped fails the run at its end.
                    (self.ready.put if what == "create" else self.failed_drops.append)(error)
        finally:
            if conn is not None:
                await conn.close()

    def take(self) -> str:
        """A fresh, migrated database of the caller's own."""
        self._order_one()
        try:
            got = self.ready.get(timeout=60)
        except queue.Empty:
            raise AssertionError("no PostgreSQL database was made within 60 s") from None
        if isinstance(got, BaseException):
            raise got
        return got

    def give_back(self, name: str) -> None:
        self.work.put(("drop", name))

    def close(self) -> None:
        self.work.put(None)
        self.thread.join(timeout=120)
        while not self.ready.empty():
            if isinstance(name := self.ready.get(), str):
                asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        assert not self.thread.is_alive(), "the database pool's thread did not finish"
        if self.failed_drops:
            raise AssertionError(f"used databases not dropped: {self.failed_drops!r}")


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database, or a skip (a failure under CI) without PostgreSQL."""
    name = f"voltaro_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        message = f"PostgreSQL at {PG_HOST}:{PG_PORT} is not reachable: {error!r}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: PostgreSQL tests must run)", pytrace=False)
        pytest.skip(message)

    async def migrate() -> None:
        engine = create_engine(pg_url(name))
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    yield name
    asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_pool(pg_template: str) -> Iterator[DatabasePool]:
    pool = DatabasePool(pg_template)
    yield pool
    pool.close()


@pytest.fixture
def pg_database_url(pg_pool: DatabasePool) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of this test's own (dropped afterwards)."""
    name = pg_pool.take()
    yield pg_url(name)
    pg_pool.give_back(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "voltaro.db"
        if request.node.get_closest_marker("unmigrated") is None:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    return request.getfixturevalue("pg_database_url")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key",
        heartbeat_interval=120,
        call_timeout=2,
    )


@pytest.fixture
async def client(settings: Settings, aiohttp_client) -> TestClient:
    """The whole application on a real port, with an admin, an operator and a viewer."""
    app = create_app(settings)
    test_client = await aiohttp_client(app)
    for role, (login, password) in ACCOUNTS.items():
        await app[SERVICES].users.add(login, password, role)
    return test_client


@pytest.fixture
async def connect(client: TestClient) -> AsyncIterator:
    """`await connect("CP1")`: a raw OCPP 1.6J charge point over a real WebSocket."""
    opened: list[RawChargePoint] = []

    async def _connect(charge_point_id: str, **kwargs) -> RawChargePoint:
        kwargs.setdefault("protocols", ("ocpp1.6",))
        ws = await client.ws_connect(f"/ocpp/{charge_point_id}", **kwargs)
        cp = RawChargePoint(ws)
        opened.append(cp)
        return cp

    yield _connect
    for cp in opened:
        await bounded_close("a test charge point's WebSocket", cp.ws.close())


@pytest.fixture
async def portal(client: TestClient) -> AsyncIterator:
    """`await portal("admin")`: a browser-less user logged in through the login form."""
    opened: list[aiohttp.ClientSession] = []

    async def _login(role: str) -> Browserless:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        opened.append(http)
        user = Browserless(http, str(client.make_url("")).rstrip("/"))
        await user.refresh_csrf("/login")
        login, password = ACCOUNTS[role]
        status, _ = await user.post("/login", {"username": login, "password": password})
        assert status == 200, "login failed"
        await user.refresh_csrf("/")
        return user

    yield _login
    for http in opened:
        await bounded_close("a portal user's HTTP session", http.close())


@pytest.fixture
def seed() -> int:
    """This test's random seed: VOLTARO_TEST_SEED when set, otherwise a new one. Printed at
    setup, so a failing test's report shows it under "Captured stdout setup"."""
    given = os.environ.get(SEED_VARIABLE)
    value = int(given) if given else random.SystemRandom().randrange(2**32)
    print(f"random seed {value} (replay: {SEED_VARIABLE}={value})")
    return value


@pytest.fixture
def rng(seed: int) -> random.Random:
    """The test's random numbers (jitter, choices), from its reported `seed`."""
    return random.Random(seed)


@pytest.fixture
async def start_simulator(client: TestClient, seed: int) -> AsyncIterator:
    """`await start_simulator("ID", "1.6" | "2.0.1", config)`: a simulated charge point
    connecting to the app's socket now, not waited for (a test may watch it arrive);
    stopped and disconnected after the test."""
    tasks, sockets = [], []

    async def _start(
        charge_point_id: str, version: str = "1.6", config: SimulatorConfig = WATCHED_SIMULATOR
    ) -> SimulatedChargePoint | SimulatedChargingStation:
        protocol = "ocpp1.6" if version == "1.6" else "ocpp2.0.1"
        ws = await client.ws_connect(f"/ocpp/{charge_point_id}", protocols=(protocol,))
        kind = SimulatedChargePoint if version == "1.6" else SimulatedChargingStation
        sim = kind(charge_point_id, WebSocketConnection(ws), config, seed=seed)
        tasks.append(asyncio.create_task(sim.run()))
        sockets.append(ws)
        return sim

    yield _start
    for task in tasks:
        task.cancel()
    for ws in sockets:
        await bounded_close("a simulator's WebSocket", ws.close())


@pytest.fixture
async def sim(client: TestClient, seed: int) -> AsyncIterator[SimulatedChargePoint]:
    """SIM1: a simulated 1.6 charge point with two connectors, booted and Available, and
    the id tag TAG it may start with."""
    await client.app[SERVICES].id_tags.add("TAG")
    config = SimulatorConfig(connectors=2, meter_interval=0.2, notification_delay=0.05)
    async with simulated(client, config, seed) as running:
        yield running


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificate authorities and certificates for TLS: see tests/pki.py."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def tls_server(aiohttp_server, database_url: str, pki: Pki):
    """The application behind TLS, asking chargers for a certificate of the charger CA."""
    settings = Settings(
        database_url=database_url,
        secret_key="test-secret",
        tls_cert=str(pki.server.cert),
        tls_key=str(pki.server.key),
        tls_client_ca=str(pki.charger_ca.cert),
    )
    return await aiohttp_server(create_app(settings), ssl=server_ssl_context(settings))


@pytest.fixture
def ca(tmp_path: Path) -> ChargerCa:
    """A charger CA in PEM files, as CA_CERT and CA_KEY name them."""
    return make_ca(tmp_path)
