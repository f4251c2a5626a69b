"""How many rows an UPDATE or DELETE matched.

`AsyncSession.execute` is typed to return a `Result`, which has no row count; what it
returns for an UPDATE or a DELETE is a `CursorResult`, which has one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Result


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """The row count of an UPDATE's or a DELETE's result."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"{type(result).__name__} of a statement that returns rows")
    return result.rowcount
