"""Schemathesis against the running server, every endpoint of its OpenAPI document: no
answer is a 500, and every answer is one the document declares (status code, content
type, headers, body schema). Requests go over real HTTP to `python -m webapp`, with
simulated charge points of both versions connected (`python -m webapp simulate`) that
answer operations as chargers do; path ids are drawn from what exists as often as not,
so the fuzzing gets past 404s to the code behind them."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp.test_utils import unused_port
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from ocpp_core.settings import Settings
from tests.helpers import pg_url
from tests.server_process import ROOT, server_env, start_server, stop, wait_until_listening
from webapp.app import create_app
from webapp.keys import API_DOCUMENT

ADMIN = ("fuzz-admin", "fuzz-admin-password")
# The simulated chargers: odd numbers speak 1.6, even 2.0.1 (`simulate --ocpp mixed`).
CHARGERS = ("FUZZ1", "FUZZ2")
TAGS = ("FUZZTAG1", "FUZZTAG2")
EXAMPLES = 12  # per endpoint and database: some 70 endpoints, two databases

DOCUMENT = create_app(
    Settings(database_url="sqlite+aiosqlite://", secret_key="fuzz-document-only")
)[API_DOCUMENT]
# What an answer may be beyond the document's own statuses' meaning: 502 and 504 are the
# charge point's doing (a CALLERROR, no answer in time), not the server failing.
_EXPECTED = ["2XX", "401", "403", "404", "409", "502", "504"]
CONFIG = schemathesis.Config.from_dict(
    {
        # Given this way, not to `requests`: a case that leaves credentials out does so.
        "auth": {"basic": {"username": ADMIN[0], "password": ADMIN[1]}},
        # Text holding NUL is refused anywhere (400; webapp/nul_guard.py), as the document
        # says once rather than on every string.
        "generation": {"allow-x00": False},
        "checks": {
            "not_a_server_error": {"expected-statuses": ["2XX", "3XX", "4XX", "502", "504"]},
            "positive_data_acceptance": {"expected-statuses": _EXPECTED},
            # Bad credentials from one address are held back with 429 after the fifth, by
            # design (declared); tests/security and test_api_tokens check the 401s.
            "ignored_auth": {"enabled": False},
        },
        "operations": [
            {
                # An operation's request is also checked for meaning (a transaction that
                # exists, connector 0 where it cannot be, the charger's version), and a
                # session closed only once: a 400 for a request its schema allows.
                "include-operation-id-regex": "^post_charge_points_.*|_close$",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*_EXPECTED, "400"]}},
            }
        ],
    }
)
# /api/events is a stream that never ends: tests/test_api_events.py reads it.
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG).exclude(path="/api/events")

# What exists on the server, by path parameter: drawn half the time, so that the views
# behind the 404 run.
KNOWN: dict[str, list[Any]] = {
    "charge_point_id": list(CHARGERS),
    "transaction_id": [1, 2, 3],
    "id_tag": list(TAGS),
    "token_id": [1, 2],
    "user_id": [],  # the fuzz's other account's (the `server` fixture)
}
# Ids a path must not be given: the fuzz's own account's, which a new password, a lower
# role or a removal would lock out of the rest of the run.
SPARED: dict[str, set[Any]] = {"user_id": set()}


@schema.hook("flatmap_path_parameters")
def existing_ids(context: Any, path_parameters: dict[str, Any] | None) -> st.SearchStrategy:
    if not path_parameters:
        return st.just(path_parameters)
    drawn = {
        name: 0 if value in SPARED.get(name, ()) else value
        for name, value in path_parameters.items()
    }
    return st.fixed_dictionaries(
        {
            name: st.sampled_from(KNOWN[name]) | st.just(value)
            if KNOWN.get(name)
            else st.just(value)
            for name, value in drawn.items()
        }
    )


@dataclass
class Server:
    base: str
    process: subprocess.Popen
    log: Path


def _database(name: str, request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    if name == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp / "voltaro.db")
        yield f"sqlite+aiosqlite:///{tmp / 'voltaro.db'}"
        return
    pool = request.getfixturevalue("pg_pool")
    database = pool.take()
    yield pg_url(database)
    pool.give_back(database)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    databases = _database(request.param, request, tmp)
    url = next(databases)
    port = unused_port()
    log = tmp / "server.log"
    env = server_env(
        url,
        port,
        ADMIN_USER=ADMIN[0],
        ADMIN_PASSWORD=ADMIN[1],
        CALL_TIMEOUT="2",
        UNKNOWN_CHARGE_POINTS="accept",
    )
    with log.open("w") as stderr:
        process = start_server(env, stderr=stderr)
    simulator = None
    try:
        asyncio.run(wait_until_listening(port))
        base = f"http://127.0.0.1:{port}"
        for tag in TAGS:
            answer = requests.post(f"{base}/api/id-tags", json={"id_tag": tag}, auth=ADMIN)
            assert answer.status_code == 201, answer.text
        other = {"username": "fuzz-viewer", "password": "fuzz-viewer-password", "role": "viewer"}
        answer = requests.post(f"{base}/api/users", json=other, auth=ADMIN)
        assert answer.status_code == 201, answer.text
        KNOWN["user_id"] = [answer.json()["id"]]
        users = requests.get(f"{base}/api/users", auth=ADMIN).json()
        SPARED["user_id"] = {u["id"] for u in users if u["username"] == ADMIN[0]}
        simulator = subprocess.Popen(
            [sys.executable, "-m", "webapp", "simulate", "--url", f"ws://127.0.0.1:{port}/ocpp",
             "--ocpp", "mixed", "--charge-points", "2", "--id-prefix", "FUZZ", "--id-tag",
             "FUZZTAG", "--session-every", "3", "--session-length", "4",
             "--meter-interval", "1"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_sessions(base)
        yield Server(base, process, log)
    finally:
        if simulator is not None:
            stop(simulator)
        stop(process)
        next(databases, None)


def _wait_for_sessions(base: str) -> None:
    """Until both chargers are connected and have sessions on record."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        points = requests.get(f"{base}/api/charge-points", auth=ADMIN).json()
        sessions = requests.get(f"{base}/api/transactions", auth=ADMIN).json()
        if sum(p["connected"] for p in points) == 2 and len(sessions) >= 2:
            return
        time.sleep(0.5)
    raise AssertionError(f"chargers not ready: {points!r}, {sessions!r}")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_declared(case: schemathesis.Case, server: Server) -> None:
    if server.process.poll() is not None:
        pytest.fail(f"the server exited: {server.log.read_text()[-3000:]}")
    case.call_and_validate(base_url=server.base, timeout=15)


def test_the_document_is_served_as_built(server: Server) -> None:
    served = requests.get(f"{server.base}/api/openapi.json", auth=ADMIN)
    assert served.status_code == 200
    assert served.json() == DOCUMENT
