"""Every charge point's one-word status, in memory, kept current from the event bus.

The dashboard searches, filters, sorts and pages the fleet here and counts it by status:
the status is the rule of `charge_point_state` over the connection (this instance's or
another's) and the stored connectors, which no SQL query can filter on. The index is read
whole once; after that only the charge points an event named since are read again, when
the index is next used (`refresh`), so a fleet nobody is looking at costs a set insertion
per event. Each refresh also counts the registered charge points: one added or removed
where no event tells (the CLI runs in a process of its own) makes it read all again.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ocpp_core import charge_point_state
from ocpp_core.events import Event

if TYPE_CHECKING:
    from ocpp_core.central_system import CentralSystem, LiveChargePoint

# Event kinds that change nothing a charge point's row shows: every frame's log entry.
# (Events about operators' accounts name no charge point.)
QUIET_KINDS = frozenset({"message"})
# The ids read again per statement: well inside every driver's limit of bound parameters.
CHUNK = 500
# Past this many changed at once (a restart's reconnections), reading all is cheaper.
RELOAD_ALL = 2000
PER_PAGE = 50
_EPOCH = datetime.min.replace(tzinfo=UTC)
_RANK = {status: rank for rank, status in enumerate(charge_point_state.STATUSES)}


def _rank(status: str) -> int:
    return _RANK.get(status, len(_RANK))


# Sort keys by name, each a function of an entry; ties are broken by id.
SORTS: dict[str, Callable[[LiveChargePoint], Any]] = {
    "id": lambda s: s.charge_point.id,
    "status": lambda s: _rank(s.status),
    "since": lambda s: s.status_since or _EPOCH,
    "last_seen": lambda s: s.last_message_at or _EPOCH,
    "version": lambda s: s.ocpp_version,
    "vendor": lambda s: (
        (s.charge_point.vendor or "").lower(),
        (s.charge_point.model or "").lower(),
    ),
    "firmware": lambda s: (s.charge_point.firmware_version or "").lower(),
}


@dataclass(frozen=True)
class FleetQuery:
    """What a dashboard view shows: a search, one status, an order and a page."""

    search: str = ""
    status: str | None = None
    sort: str = "id"
    descending: bool = False
    page: int = 1
    per_page: int = PER_PAGE

    def matches(self, entry: LiveChargePoint) -> bool:
        if self.status is not None and entry.status != self.status:
            return False
        return not self.search or self.search.lower() in _haystack(entry)


@dataclass(frozen=True)
class FleetPage:
    ids: list[str]
    matching: int  # how many charge points the search and status select, on every page
    page: int  # the page shown: the last one when the query asked for one beyond it
    pages: int


@dataclass
class Changes:
    """What one refresh read again: every id an event named (`updated`, those still
    registered; each one's row may show something new), and which of them are new to
    the index or gone from it."""

    updated: dict[str, LiveChargePoint] = field(default_factory=dict)
    added: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.updated or self.removed)


def _haystack(entry: LiveChargePoint) -> str:
    cp = entry.charge_point
    parts = (cp.id, cp.vendor, cp.model, cp.serial_number, cp.charge_box_serial_number)
    return "\n".join(p for p in parts if p).lower()


class FleetIndex:
    def __init__(self, central: CentralSystem) -> None:
        self._central = central
        self._entries: dict[str, LiveChargePoint] | None = None
        self._haystacks: dict[str, str] = {}
        self._counts: Counter[str] = Counter()
        self._dirty: set[str] = set()
        # A charger that boots `boot_loop_boots` times within the window is rebooting in a
        # loop (ATTENTION_BOOT_LOOP_*). Boots are remembered from the events (every
        # instance's), so a restart forgets them.
        self.boot_loop_boots = central.settings.attention_boot_loop_boots
        self.boot_loop_window = timedelta(minutes=central.settings.attention_boot_loop_minutes)
        self._boots: dict[str, deque[datetime]] = {}
        self._lock = asyncio.Lock()
        # Set when an event names a charge point: the dashboard's feed waits on it.
        self.changed = asyncio.Event()
        central.bus.add_watcher(self._noted)

    def _noted(self, event: Event) -> None:
        if event.charge_point_id and event.kind not in QUIET_KINDS:
            self._dirty.add(event.charge_point_id)
            self.changed.set()
        if event.kind == "boot":
            boots = self._boots.setdefault(
                event.charge_point_id, deque(maxlen=self.boot_loop_boots * 4)
            )
            boots.append(datetime.now(UTC))

    def boot_loops(self, now: datetime | None = None) -> list[tuple[str, list[datetime]]]:
        """The chargers that booted at least `boot_loop_boots` times in the last
        `boot_loop_window`, with those boots' times, the most boots first."""
        since = (now or datetime.now(UTC)) - self.boot_loop_window
        found = []
        for charge_point_id, boots in list(self._boots.items()):
            while boots and boots[0] < since:
                boots.popleft()
            if not boots:
                del self._boots[charge_point_id]
            elif len(boots) >= self.boot_loop_boots:
                found.append((charge_point_id, list(boots)))
        return sorted(found, key=lambda item: (-len(item[1]), item[0]))

    async def refresh(self) -> Changes:
        """Read again what events named since the last refresh (all, the first time)."""
        async with self._lock:
            self.changed.clear()
            if self._entries is None or len(self._dirty) > RELOAD_ALL:
                return await self._reload_all()
            dirty, self._dirty = self._dirty, set()
            ids = sorted(dirty)
            changes = Changes()
            for start in range(0, len(ids), CHUNK):
                for status in await self._central.statuses_of(ids[start : start + CHUNK]):
                    changes.updated[status.charge_point.id] = status
            for charge_point_id in ids:
                fresh = changes.updated.get(charge_point_id)
                if fresh is None:
                    if self._discard(charge_point_id):
                        changes.removed.add(charge_point_id)
                elif self._put(fresh):
                    changes.added.add(charge_point_id)
            if await self._central.services.charge_points.count() != len(self._entries):
                # Registered or removed where no event tells (the CLI's own process).
                return await self._reload_all()
            return changes

    async def _reload_all(self) -> Changes:
        self._dirty.clear()
        statuses = await self._central.live_charge_points()
        before = set(self._entries or ())
        self._entries, self._haystacks, self._counts = {}, {}, Counter()
        for status in statuses:
            self._put(status)
        updated = {s.charge_point.id: s for s in statuses}
        return Changes(updated, set(updated) - before, before - set(updated))

    def _put(self, status: LiveChargePoint) -> bool:
        """Store one entry; True if it is new."""
        assert self._entries is not None
        charge_point_id = status.charge_point.id
        old = self._entries.get(charge_point_id)
        if old is not None:
            self._counts[old.status] -= 1
        self._entries[charge_point_id] = status
        self._haystacks[charge_point_id] = _haystack(status)
        self._counts[status.status] += 1
        return old is None

    def _discard(self, charge_point_id: str) -> bool:
        assert self._entries is not None
        old = self._entries.pop(charge_point_id, None)
        self._haystacks.pop(charge_point_id, None)
        if old is not None:
            self._counts[old.status] -= 1
        return old is not None

    def counts(self) -> dict[str, int]:
        """How many charge points are in each state (as of the last refresh)."""
        return {status: n for status, n in self._counts.items() if n > 0}

    def total(self) -> int:
        return len(self._entries or ())

    def get(self, charge_point_id: str) -> LiveChargePoint | None:
        return (self._entries or {}).get(charge_point_id)

    def entries(self, statuses: Iterable[str]) -> list[LiveChargePoint]:
        """The charge points in these states, longest in them first."""
        wanted = set(statuses)
        found = [e for e in (self._entries or {}).values() if e.status in wanted]
        return sorted(found, key=lambda e: (e.status_since or _EPOCH, e.charge_point.id))

    def query(self, query: FleetQuery) -> FleetPage:
        entries = self._entries or {}
        needle = query.search.lower()
        found = [
            e
            for charge_point_id, e in entries.items()
            if (query.status is None or e.status == query.status)
            and (not needle or needle in self._haystacks[charge_point_id])
        ]
        key = SORTS[query.sort]
        # Two stable sorts: by id, then by the key (either way), so ties read in id order.
        found.sort(key=lambda e: e.charge_point.id)
        if query.sort != "id":
            found.sort(key=key, reverse=query.descending)
        elif query.descending:
            found.reverse()
        pages = max(1, -(-len(found) // query.per_page))
        page = min(max(query.page, 1), pages)
        start = (page - 1) * query.per_page
        shown = [e.charge_point.id for e in found[start : start + query.per_page]]
        return FleetPage(shown, len(found), page, pages)
