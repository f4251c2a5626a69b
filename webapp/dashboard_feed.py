"""The dashboard's live updates, worked out once per batch of events for every viewer.

One task per instance waits for the fleet index to be told of a change, gathers events for
a moment, refreshes the index (the changed charge points only), then renders each changed
row that some viewer shows once, and the counters once for each status a viewer filters
on. Each viewer (`Viewer`, one per dashboard event stream) is handed only its own rows:
those of its page, and a new charge point if its view selects it and its page has room.
A filtered view (a status, a search) whose members change (a Faulted one recovered,
another one failed) is sent its whole page afresh, as is every view when its stream opens.
A viewer that is slow to send gets its pending updates merged, never queued without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ocpp_core.events import Event
from ocpp_core.fleet_index import Changes, FleetIndex, FleetQuery
from ocpp_core.services.users import REVOKED
from webapp.keys import BUS, CENTRAL_SYSTEM, FLEET
from webapp.presentation import event_key, path_url
from webapp.views.common import counters_context, rows_of
from webapp.views.dashboard import page_context

LOGGER = logging.getLogger(__name__)
COALESCE_SECONDS = 0.2


@dataclass(eq=False)
class Viewer:
    """One dashboard event stream: what it shows, and what it has yet to send."""

    user_id: int
    query: FleetQuery
    shown: set[str]
    # Events to send, by name: a row's `cp-{id}` (empty: it was removed), `counters`.
    pending: dict[str, str] = field(default_factory=dict)
    new_rows: list[str] = field(default_factory=list)
    revoked: bool = False
    opened: bool = False  # its page is worked out: the changes from now on are sent to it
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def room(self) -> int:
        return self.query.per_page - len(self.shown)

    def take(self) -> tuple[list[tuple[str, str]], list[str]]:
        """What to send now, oldest first; the viewer is then up to date."""
        pending, new_rows = list(self.pending.items()), self.new_rows
        self.pending, self.new_rows = {}, []
        self.ready.clear()
        return pending, new_rows


@dataclass(frozen=True)
class FreshPage:
    """A view's page worked out now: its members and its HTML, to send whole."""

    ids: frozenset[str]
    html: str
    counters: str


class DashboardFeed:
    def __init__(self, app: web.Application, index: FleetIndex) -> None:
        self._app = app
        self._index = index
        self._viewers: set[Viewer] = set()
        # One refresh-and-publish at a time: an older batch's rows never overwrite a newer's.
        self._publishing = asyncio.Lock()
        self.batches = 0  # batches worked out, for the benchmark and the tests
        app[BUS].add_listener(REVOKED, self._revoked)

    @property
    def viewer_count(self) -> int:
        """Streams open, each past its first page."""
        return len(self.viewing)

    @property
    def viewing(self) -> list[FleetQuery]:
        """What each open stream shows."""
        return [viewer.query for viewer in self._viewers if viewer.opened]

    @contextlib.asynccontextmanager
    async def watch(self, user_id: int, query: FleetQuery) -> AsyncIterator[Viewer]:
        """A viewer of `query`'s page as it reads now.

        The page it was opened from may be older than the index (rendered a moment ago, or
        restored by the back button from the browser's history), so the viewer starts by
        sending its page and counters as they are now. The changes this refresh reads go to
        the other viewers first."""
        # Listed before anything is awaited, so that a revocation meanwhile reaches it.
        viewer = Viewer(user_id, query, set())
        self._viewers.add(viewer)
        try:
            async with self._publishing:
                changes = await self._index.refresh()
                if changes:
                    await self._publish(changes)
                self._hand(viewer, await self._fresh_page(query))
                viewer.opened = True
            yield viewer
        finally:
            self._viewers.discard(viewer)

    def _revoked(self, event: Event) -> None:
        for viewer in self._viewers:
            if viewer.user_id == event.data["user_id"]:
                viewer.revoked = True
                viewer.ready.set()

    async def run(self) -> None:
        while True:
            await self._index.changed.wait()
            await asyncio.sleep(COALESCE_SECONDS)
            if not self._viewers:
                # Nobody is watching: the index reads the changes when it is next asked.
                self._index.changed.clear()
                continue
            try:
                async with self._publishing:
                    changes = await self._index.refresh()
                    if changes:
                        await self._publish(changes)
            except Exception:  # one bad batch must not end the dashboard's updates
                LOGGER.exception("the dashboard's live update failed")

    async def _publish(self, changes: Changes) -> None:
        self.batches += 1
        # One still opening gets its whole page once it has the lock: nothing of this.
        opened = [viewer for viewer in self._viewers if viewer.opened]
        # A filtered view whose members changed gets its page whole, and nothing else.
        repaged = [viewer for viewer in opened if self._membership_changed(viewer, changes)]
        viewers = [viewer for viewer in opened if viewer not in repaged]
        joining = {
            viewer: [
                charge_point_id
                for charge_point_id in sorted(changes.added)
                if viewer.query.matches(changes.updated[charge_point_id])
            ][: max(viewer.room, 0)]
            for viewer in viewers
        }
        wanted = set().union(*(v.shown for v in viewers), *joining.values())
        rows = await rows_of(self._app, [s for i, s in changes.updated.items() if i in wanted])
        html = {
            row.status.charge_point.id: self._render("_cp_row.html", {"row": row}) for row in rows
        }
        counters: dict[str | None, str] = {}
        for viewer in viewers:
            for charge_point_id in changes.removed & viewer.shown:
                viewer.shown.discard(charge_point_id)
                viewer.pending[f"cp-{event_key(charge_point_id)}"] = ""
            for charge_point_id in viewer.shown & html.keys():
                viewer.pending[f"cp-{event_key(charge_point_id)}"] = html[charge_point_id]
            for charge_point_id in joining[viewer]:
                viewer.shown.add(charge_point_id)
                viewer.new_rows.append(html[charge_point_id])
            status = viewer.query.status
            if status not in counters:
                counters[status] = self._render(
                    "_counters.html", counters_context(self._index, viewer.query)
                )
            # The counters go last: after the rows they count.
            viewer.pending.pop("counters", None)
            viewer.pending["counters"] = counters[status]
            viewer.ready.set()
        await self._repage(repaged)

    def _membership_changed(self, viewer: Viewer, changes: Changes) -> bool:
        """Whether a filtered view's page now holds other charge points: one shown no
        longer matches (a Faulted one recovered), or one matches that may belong on it.
        A view of the whole fleet changes members only by registrations and removals."""
        query = viewer.query
        if query.status is None and not query.search:
            return False
        if not any(
            query.matches(status) != (charge_point_id in viewer.shown)
            for charge_point_id, status in changes.updated.items()
        ):
            return False
        return set(self._index.query(query).ids) != viewer.shown

    async def _repage(self, viewers: list[Viewer]) -> None:
        """Send these viewers their page afresh, worked out once per view."""
        pages: dict[FleetQuery, FreshPage] = {}
        for viewer in viewers:
            if viewer.query not in pages:
                pages[viewer.query] = await self._fresh_page(viewer.query)
            self._hand(viewer, pages[viewer.query])

    async def _fresh_page(self, query: FleetQuery) -> FreshPage:
        context = await page_context(self._app, query)
        return FreshPage(
            frozenset(context["page"].ids),
            self._render("_fleet_page.html", context),
            self._render("_counters.html", context),
        )

    @staticmethod
    def _hand(viewer: Viewer, page: FreshPage) -> None:
        # The page replaces every row update before it; the counters still go last.
        viewer.shown, viewer.new_rows = set(page.ids), []
        viewer.pending = {"fleet-page": page.html, "counters": page.counters}
        viewer.ready.set()

    def _render(self, template: str, context: dict[str, Any]) -> str:
        # Rows and counters show nothing of the viewer: rendered once for all of them.
        env = aiohttp_jinja2.get_env(self._app)
        url = functools.partial(path_url, self._app.router)
        return env.get_template(template).render({"url": url, **context})


FLEET_FEED = web.AppKey("fleet_feed", DashboardFeed)


async def feed_context(app: web.Application) -> AsyncIterator[None]:
    """The fleet index and its feed, for as long as the central system runs."""
    index = FleetIndex(app[CENTRAL_SYSTEM])
    feed = DashboardFeed(app, index)
    app[FLEET] = index
    app[FLEET_FEED] = feed
    task = asyncio.create_task(feed.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
