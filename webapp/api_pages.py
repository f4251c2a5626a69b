"""Pages of the API's lists, one way for all of them (and their date ranges, `since` and
`until`, one way too): `limit` rows (a default and at most
MAX_LIMIT), those after the `after` cursor (the last row of the page before, by its key),
and while more rows follow a `Link: <...>; rel="next"` header (RFC 8288) whose URL is this
request's with `after` moved on. The answer stays the plain JSON list it was; a client
that follows the Link header until there is none has every row once, whatever is added
meanwhile (newer rows come before the first page, not into the pages still to read).

The next page's URL is a relative reference (path and query), resolved against the
request's own URL: behind a proxy this server cannot know the scheme and host the client
used, and an absolute URL built from guesses would point elsewhere."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from ocpp_core.payload_checks import INT32_MAX, INT32_MIN
from webapp.api_json import json_response
from webapp.endpoints import Call, Header, Parameter

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 1000
LINK = "Link"
# An id-ordered list's cursor: the id of the last row seen, within its column's range (a
# wider number is no row's, and PostgreSQL would refuse to compare with it).
ID_CURSOR = {"type": "integer", "minimum": INT32_MIN, "maximum": INT32_MAX}
BIG_ID_CURSOR = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}

T = TypeVar("T")


def date_range(what: str) -> tuple[Parameter, Parameter]:
    """The `since` and `until` parameters of a list, on `what` ("started", "received"):
    read as datetimes (endpoints.Parameter), a bad one a 400 naming it."""
    moment = {"type": "string", "format": "date-time"}
    return (
        Parameter("since", moment, f"those {what} at or after this moment (RFC 3339)"),
        Parameter("until", moment, f"those {what} before this moment (RFC 3339)"),
    )


@dataclass(frozen=True)
class Page:
    """What a request asks of a list: `limit` rows after `after` (None: from the start)."""

    limit: int
    after: Any

    @property
    def fetch(self) -> int:
        """How many rows to read: one more than shown tells whether more follow."""
        return self.limit + 1


@dataclass(frozen=True)
class Pager:
    """The paging of one list endpoint: its query parameters, its Link header, and its
    answer. `cursor`: the schema of a row's key, which `after` takes; `older`: the names
    a cursor had before (`before` of the status history), still read, never written."""

    cursor: Mapping[str, Any] = field(default_factory=lambda: ID_CURSOR)
    cursor_description: str = "the `id` of the last row of the page before: those after it"
    default: int = DEFAULT_LIMIT
    minimum: int = 1
    older: tuple[str, ...] = ()

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return (
            Parameter(
                "limit",
                {"type": "integer", "minimum": self.minimum, "maximum": MAX_LIMIT},
                f"a page's rows (default {self.default:,}); the `Link` header names the next",
            ),
            Parameter("after", self.cursor, self.cursor_description),
            *(
                Parameter(name, self.cursor, "the older name of `after`, read as it")
                for name in self.older
            ),
        )

    @property
    def headers(self) -> dict[str, Header]:
        return {
            LINK: Header(
                '`<URL>; rel="next"`: the next page, while more rows follow (its URL '
                "relative to this one's: path and query)",
                {"type": "string"},
                always=False,
            )
        }

    def page(self, call: Call) -> Page:
        after = call.query.get("after")
        for name in self.older:
            if after is None:
                after = call.query.get(name)
        return Page(call.query.get("limit", self.default), after)

    def answer(
        self,
        request: web.Request,
        page: Page,
        rows: Sequence[T],
        shown: Callable[[T], Any],
        key: Callable[[T], Any],
    ) -> web.Response:
        """The JSON list of `rows` (read with `page.fetch`) as `shown`, the page's worth;
        with the Link header to the page after the last one's `key` when more follow."""
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        response = json_response([shown(row) for row in rows])
        if more and rows:
            response.headers[LINK] = f'<{self.next_url(request, key(rows[-1]))}>; rel="next"'
        return response

    def next_url(self, request: web.Request, after: Any) -> str:
        """This request's path and query with `after` the given cursor (and the older
        names, and an offset the cursor now stands for, left out)."""
        query = [
            (name, value)
            for name, value in request.rel_url.query.items()
            if name not in ("after", "offset", *self.older)
        ]
        return str(request.rel_url.with_query([*query, ("after", str(after))]))
