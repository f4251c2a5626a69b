"""The app the tests build is the app `python -m webapp` serves: `create_app` itself puts
the garbage collector's policy (webapp.gc_policy) in force while the app runs and takes it
away at cleanup; the runner serves it on uvloop where that is installed."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import aiohttp
import uvloop  # a requirement (requirements.txt) wherever the server runs on Linux
from aiohttp.test_utils import unused_port

from ocpp_core.settings import Settings
from tests.helpers import eventually
from tests.server_process import ROOT, start_server, stop, wait_until_listening
from webapp.app import create_app
from webapp.keys import COLLECTOR_POLICY


class Survivor:
    """An object the collector tracks, alive all along."""


async def test_the_app_runs_under_the_collector_policy_and_hands_it_on(
    settings: Settings, aiohttp_client
) -> None:
    callbacks_before = list(gc.callbacks)
    frozen_before = gc.get_freeze_count()
    app = create_app(settings)
    client = await aiohttp_client(app)

    # Running: what start-up loaded is frozen, and so is what survives a full collection.
    assert (await client.get("/healthz")).status == 200
    policy = app[COLLECTOR_POLICY]
    assert policy.installed
    assert gc.get_freeze_count() > frozen_before
    assert id(app) not in {id(o) for o in gc.get_objects()}, "the app is frozen"
    survivor = Survivor()
    assert id(survivor) in {id(o) for o in gc.get_objects()}
    gc.collect()
    assert id(survivor) not in {id(o) for o in gc.get_objects()}, "a survivor is frozen"
    assert len(gc.callbacks) == len(callbacks_before) + 1

    await client.close()

    assert not policy.installed
    assert gc.callbacks == callbacks_before

    # The next application of the process carries on with the heap as it was left
    # frozen: its start collects and freezes what came since, with no full thaw.
    again = create_app(settings)
    await aiohttp_client(again)
    assert again[COLLECTOR_POLICY].installed
    assert again[COLLECTOR_POLICY].thaws == 0
    assert id(again) not in {id(o) for o in gc.get_objects()}, "its start-up is frozen"


async def test_python_m_webapp_serves_on_uvloop(tmp_path: Path) -> None:
    """As README's "Run it" says: nothing set but the port, the database the SQLite file
    by default (in the directory it runs in)."""
    port = unused_port()
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    env.update(
        PORT=str(port),
        HOST="127.0.0.1",
        SECRET_KEY="test-serving",
        LOG_LEVEL="INFO",
        PYTHONPATH=str(ROOT),
    )
    log = tmp_path / "server.log"
    with log.open("w") as stderr:
        process = start_server(env, stderr, cwd=tmp_path)
    try:
        await wait_until_listening(port)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                assert response.status == 200, await response.text()
        await eventually(
            lambda: "Event loop: " in log.read_text(), what="the server named its event loop"
        )
    finally:
        stop(process)
    text = log.read_text()
    assert f"Event loop: {uvloop.Loop.__module__}.{uvloop.Loop.__qualname__}" in text, text
    assert (tmp_path / "voltaro.db").exists(), "the SQLite default"
