"""A dashboard view's address: its search, status, order and page as URL query fields,
read leniently (a field that makes no sense is named in a message and left out) so a
bookmark of an older portal still opens."""

from __future__ import annotations

from collections.abc import Mapping

from ocpp_core import charge_point_state
from ocpp_core.fleet_index import SORTS, FleetQuery

SEARCH_MAX = 100
# The column headers' sorts, with the order each takes first (the newest seen first).
FIRST_DIRECTION = {"id": "asc", "status": "asc", "since": "asc", "last_seen": "desc",
                   "version": "asc", "vendor": "asc", "firmware": "asc"}  # fmt: skip


def parse(fields: Mapping[str, str]) -> tuple[FleetQuery, list[str]]:
    """The query the fields ask for, and what was wrong with them."""
    problems: list[str] = []
    search = fields.get("q", "").strip()[:SEARCH_MAX]
    status: str | None = fields.get("status", "").strip() or None
    if status is not None and status not in charge_point_state.STATUSES:
        problems.append(f"no charge point status is called {status!r}: showing every status")
        status = None
    sort = fields.get("sort", "").strip() or "id"
    if sort not in SORTS:
        problems.append(f"cannot sort by {sort!r}: sorted by id")
        sort = "id"
    direction = fields.get("dir", "").strip() or FIRST_DIRECTION[sort]
    if direction not in ("asc", "desc"):
        problems.append(f"the order is asc or desc, not {direction!r}")
        direction = FIRST_DIRECTION[sort]
    page = 1
    if raw := fields.get("page", "").strip():
        if raw.isdigit() and int(raw) >= 1:
            page = int(raw)
        else:
            problems.append(f"the page is a number from 1, not {raw!r}")
    query = FleetQuery(search, status, sort, direction == "desc", page)
    return query, problems


def params(query: FleetQuery, **changes: str | int | None) -> dict[str, str]:
    """The query fields of `query` with `changes` applied (None drops a field); the
    defaults are left out, so the plain dashboard stays `/`."""
    fields: dict[str, str | int | None] = {
        "q": query.search or None,
        "status": query.status,
        "sort": query.sort if query.sort != "id" else None,
        "dir": "desc" if query.descending else "asc",
        "page": query.page if query.page > 1 else None,
    }
    fields.update(changes)
    sort = str(fields["sort"] or "id")
    if fields["dir"] == FIRST_DIRECTION.get(sort, "asc"):
        fields["dir"] = None
    if fields["page"] in (1, "1"):
        fields["page"] = None
    return {key: str(value) for key, value in fields.items() if value is not None}


def sorted_by(query: FleetQuery, sort: str) -> dict[str, str]:
    """A column header's link: by that column, or the other way if it is the order now."""
    if query.sort == sort:
        direction = "asc" if query.descending else "desc"
    else:
        direction = FIRST_DIRECTION[sort]
    return params(query, sort=sort, dir=direction, page=None)
