"""The newest rows of a table, paged by id: the query behind every "latest N" list.

Newest is by id, not by a timestamp: two rows may share a moment, and an index that ends
in the id (`(charge_point_id, id)`, or the primary key alone) serves any page at any depth.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import InstrumentedAttribute


class _Numbered(Protocol):
    # The column as the model class holds it (`Mapped[int]` would be the instance's int).
    id: ClassVar[InstrumentedAttribute[int]]


M = TypeVar("M", bound=_Numbered)


def newest(
    model: type[M], *where: ColumnElement[bool], limit: int, before: int | None = None
) -> Select[M]:
    """`limit` rows of `model` that all of `where` admit, newest first; with `before`, only
    those with an id below it (the page after the row numbered `before`)."""
    if before is not None:
        where = (*where, model.id < before)
    return select(model).where(*where).order_by(model.id.desc()).limit(limit)
