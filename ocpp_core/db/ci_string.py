"""Id tags compared as OCPP compares them: 1.6 idTag and 2.0.1 idToken are CiString,
case-insensitive. A tag is stored as it was written (the operator's spelling in id_tags,
the charger's in its sessions) and compared folded by the database's lower(): the same
expression the indexes are built on (`uq_id_tags_lower_id_tag`,
`ix_transactions_tag_lower_active`), so a lookup stays an index lookup. Written any other
way (upper(), LIKE, COLLATE) it reads the whole table.

lower() folds the ASCII letters on both databases; other letters follow the database
(SQLite leaves them as they are, PostgreSQL folds them as its collation says)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, func


def folded(value: Any) -> ColumnElement[str]:
    """`value` (a column, a bound parameter or a text) in the case it is compared in."""
    return func.lower(value, type_=String())


def same_tag(column: Any, value: Any) -> ColumnElement[bool]:
    """Whether `column` holds the tag `value` names, in whatever case."""
    return folded(column) == folded(value)
