"""SQLAlchemy's asyncio adapter cursor, for a statement sent to the driver around it.

`bulk.copy_rows` sends a COPY to asyncpg itself; what asyncpg raises must become the
DBAPI error SQLAlchemy's own statements raise (an IntegrityError stays one; a dropped
connection is invalidated and the work run again). The adapter cursor's private
`_handle_exception` does exactly that translation. This is the only module that calls it:
tests/test_library_internals.py fails when an upgrade removes or renames it.
"""

from __future__ import annotations

from typing import Any, NoReturn


def raise_as_dbapi_error(cursor: Any, error: Exception) -> NoReturn:
    """Raise `error`, from the driver under `cursor`, as SQLAlchemy's adapter would."""
    cursor._handle_exception(error)
    raise error  # not reached: the adapter always raises
