"""What the code relies on in libraries' private parts, one test each: an upgrade that
changes any of it fails here, naming the module that wraps it, instead of somewhere deep
in a charge point's traffic. The modules are listed in ARCHITECTURE.md."""

from __future__ import annotations

import inspect

import aiosqlite
from aiohttp.http_writer import StreamWriter
from ocpp.routing import after, on
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_cursor

from ocpp_core.db import adapter_errors, sqlite_loop
from ocpp_core.routes import routes_of
from webapp import stream_writer


def test_ocpp_routing_keys_are_the_ones_routes_reads() -> None:
    """ocpp_core/routes.py: the route map's private keys, built from a class."""

    class Handler:
        @on("Heartbeat")
        async def heartbeat(self) -> str:
            return "answered"

        @after("Heartbeat")
        async def heartbeat_done(self) -> None:
            return None

        @on("Authorize")
        async def authorize(self, id_tag: str) -> str:
            return id_tag

    routes = routes_of(Handler)
    assert routes["Heartbeat"].on is Handler.heartbeat
    assert routes["Heartbeat"].after is Handler.heartbeat_done
    assert routes["Authorize"].on is Handler.authorize and routes["Authorize"].after is None


def test_sqlalchemy_adapter_cursor_translates_driver_errors() -> None:
    """ocpp_core/db/adapter_errors.py: the asyncpg adapter cursor's `_handle_exception`
    (what it does with a COPY's errors: tests/test_bulk_insert.py)."""
    handle = AsyncAdapt_asyncpg_cursor._handle_exception
    assert list(inspect.signature(handle).parameters) == ["self", "error"]
    assert "cursor._handle_exception(error)" in inspect.getsource(adapter_errors)


def test_aiosqlite_connection_internals_of_sqlite_loop() -> None:
    """ocpp_core/db/sqlite_loop.py: aiosqlite.Connection's `_execute(fn, *args)`, its
    `_connection`, `_running` and `_thread`."""
    execute = aiosqlite.Connection._execute
    assert inspect.iscoroutinefunction(execute)
    assert list(inspect.signature(execute).parameters)[:2] == ["self", "fn"]
    source = inspect.getsource(aiosqlite.Connection.__init__)
    for name in ("self._connection", "self._running", "self._thread"):
        assert name in source, name
    assert issubclass(sqlite_loop.LoopThreadConnection, aiosqlite.Connection)


def test_stream_writer_first_write_adds_the_primed_attributes() -> None:
    """webapp/stream_writer.py: the attributes StreamWriter's first write adds."""
    source = inspect.getsource(StreamWriter._write)
    for name in stream_writer.FIRST_WRITE_ATTRIBUTES:
        assert f"self.{name}" in source, name
    # Not set at construction: were they, the priming would be needless.
    fresh = StreamWriter(None, None)  # type: ignore[arg-type]
    assert not any(n in vars(fresh) for n in stream_writer.FIRST_WRITE_ATTRIBUTES)


def test_aiohttp_middleware_cache_the_tests_clear() -> None:
    """tests/conftest.py (released_apps): aiohttp's process-wide cache of middleware
    chains, cleared after each test so that finished test apps can be collected."""
    from aiohttp import web_app

    cache = web_app._cached_build_middleware
    assert callable(cache.cache_clear) and callable(cache.cache_info)


def test_orm_mapper_statement_cache_the_tests_clear() -> None:
    """tests/conftest.py (released_apps): each mapper's cache of compiled statements,
    keyed by dialect, cleared after each test so that finished engines can be collected."""
    from sqlalchemy.util import LRUCache

    from ocpp_core.db.models import Base

    mapper = next(iter(Base.registry.mappers))
    assert isinstance(mapper._compiled_cache, LRUCache)
    mapper._compiled_cache["probe"] = 1
    mapper._compiled_cache.clear()
    assert "probe" not in mapper._compiled_cache
