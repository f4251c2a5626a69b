"""Whether this instance can serve (for `/readyz`): the database answers, its schema is at
the newest migration, and, with several instances, its membership is current.

Details name what is wrong without what a caller should not learn: a driver's error is
reported by its kind only (its message, logged here, may name hosts, users and paths).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from ocpp_core.cluster import Cluster
from ocpp_core.db.migrate import current_revision, known_revisions, migration_heads

LOGGER = logging.getLogger(__name__)

# Each check gives up after this long: a load balancer's probe must not hang on it.
CHECK_SECONDS = 3.0


@dataclass(frozen=True)
class Check:
    name: str
    # None: not run, as what it needs failed.
    ok: bool | None
    detail: str


@dataclass(frozen=True)
class Readiness:
    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[str]:
        return [check.name for check in self.checks if check.ok is False]


async def readiness(engine: AsyncEngine, cluster: Cluster) -> Readiness:
    database, revision = await _database(engine)
    checks = [database]
    if database.ok:
        checks.append(await asyncio.to_thread(_schema, revision))
    else:
        checks.append(Check("schema", None, "not checked: the database did not answer"))
    if cluster.clustered:
        if database.ok:
            checks.append(await _cluster(cluster))
        else:
            checks.append(Check("cluster", None, "not checked: the database did not answer"))
    return Readiness(tuple(checks))


async def _database(engine: AsyncEngine) -> tuple[Check, str | None]:
    """The database's check, and the revision it is at."""
    try:
        async with asyncio.timeout(CHECK_SECONDS), engine.connect() as connection:
            revision = await connection.run_sync(current_revision)
    except TimeoutError:
        return Check("database", False, f"no answer within {CHECK_SECONDS:g} s"), None
    except Exception as error:
        LOGGER.warning("readiness: the database did not answer: %s", error)
        return Check("database", False, f"unreachable ({kind_of(error)})"), None
    return Check("database", True, "answered"), revision


def _schema(revision: str | None) -> Check:
    """Compare the database's revision with the newest in migrations/ (read from the
    scripts in a thread: the first time, that takes some 0.3 s)."""
    heads = migration_heads()
    if len(heads) != 1:
        return Check("schema", False, f"migrations/ has {len(heads)} heads: {', '.join(heads)}")
    [head] = heads
    if revision == head:
        return Check("schema", True, f"at {head}, the newest migration")
    if revision is None:
        return Check("schema", False, f"no migration applied; the newest is {head}")
    if revision in known_revisions():
        return Check("schema", False, f"at {revision}, behind the newest migration {head}")
    return Check("schema", False, f"at {revision}, which migrations/ (newest {head}) lacks")


async def _cluster(cluster: Cluster) -> Check:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            problem = await cluster.membership()
    except TimeoutError:
        return Check("cluster", False, f"no answer within {CHECK_SECONDS:g} s")
    except Exception as error:
        LOGGER.warning("readiness: the cluster membership could not be read: %s", error)
        return Check("cluster", False, f"membership not readable ({kind_of(error)})")
    if problem is not None:
        return Check("cluster", False, problem)
    return Check("cluster", True, "membership current")


def kind_of(error: BaseException) -> str:
    """The class of the innermost cause (asyncpg's InvalidCatalogNameError under
    SQLAlchemy's wrappers), which says what went wrong but not where."""
    while error.__cause__ is not None:
        error = error.__cause__
    return type(error).__name__
