"""`/id-tags`: list, add, edit, delete, with the reason on the page when input is wrong."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.timeutil import parse_datetime
from webapp.auth import require_role
from webapp.keys import SERVICES
from webapp.views.common import (
    Message,
    done,
    outcome_message,
    render_with_message,
    text_field,
)

PER_PAGE = 50
# What the page says after a form post succeeded (views.common.done), of `id_tag`.
OUTCOMES = {
    "added": "Id tag {id_tag} added.",
    "saved": "Id tag {id_tag} saved.",
    "deleted": "Id tag {id_tag} deleted.",
}


def _page_number(request: web.Request) -> int:
    value = request.query.get("page", "")
    return int(value) if value.isdigit() and 0 < int(value) < 10**6 else 1


async def _page(
    request: web.Request,
    message: Message | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    """The page of tags the query asks for (`q`: part of an id or parent, `page`)."""
    search = request.query.get("q", "").strip()
    number = _page_number(request)
    found = await request.app[SERVICES].id_tags.search(
        search or None, PER_PAGE, (number - 1) * PER_PAGE
    )
    pages = max(1, -(-found.total // PER_PAGE))
    context = {
        "nav": "id_tags",
        "tags": found.tags,
        "total": found.total,
        "search": search,
        "page": min(number, pages),
        "pages": pages,
    }
    return await render_with_message(request, "id_tags.html", context, message, form, status)


async def id_tags_page(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return await _page(request, outcome_message(request, OUTCOMES))


def _expiry(value: str) -> datetime | None:
    """`<input type=datetime-local>` gives a zone-less time; the page says it is UTC."""
    if not value:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        raise InvalidInput(f"expiry {value!r} is not a date and time") from None


def _fields(form: Any) -> tuple[datetime | None, str | None, bool]:
    """The form's expiry, parent tag and blocked, as the id tag service takes them."""
    return (
        _expiry(text_field(form, "expiry_date")),
        text_field(form, "parent_id_tag") or None,
        form.get("blocked") == "1",
    )


async def add_id_tag(request: web.Request) -> web.Response:
    user = await require_role(request, "operator")
    form = await request.post()
    id_tag = text_field(form, "id_tag")
    values = {
        "id_tag": id_tag,
        "expiry_date": text_field(form, "expiry_date"),
        "parent_id_tag": text_field(form, "parent_id_tag"),
        "blocked": form.get("blocked") == "1",
    }
    if not id_tag:
        return await _page(request, Message("Give the id tag.", "error"), values, 400)
    stored = await request.app[SERVICES].id_tags.spelling(id_tag)
    if stored is not None:
        # Id tags are case-insensitive: "abc" is the tag "ABC".
        spelled = "" if stored == id_tag else f" as {stored} (id tags are case-insensitive)"
        return await _page(
            request,
            Message(f"Id tag {id_tag} exists already{spelled}: edit it below.", "error"),
            values,
            400,
        )
    try:
        await request.app[SERVICES].id_tags.add(id_tag, *_fields(form), actor=user.username)
    except InvalidInput as error:
        return await _page(request, Message(str(error), "error"), values, 400)
    raise done(request, "id_tags", "added", {"id_tag": id_tag})


async def update_id_tag(request: web.Request) -> web.Response:
    user = await require_role(request, "operator")
    asked = request.match_info["id_tag"]
    id_tags = request.app[SERVICES].id_tags
    id_tag = await id_tags.spelling(asked)
    gone = Message(f"Id tag {asked} does not exist.", "error")
    if id_tag is None:
        return await _page(request, gone, None, 404)
    try:
        await id_tags.change(id_tag, *_fields(await request.post()), actor=user.username)
    except InvalidInput as error:
        return await _page(request, Message(str(error), "error"), None, 400)
    except NotFound:  # deleted meanwhile
        return await _page(request, gone, None, 404)
    raise done(request, "id_tags", "saved", {"id_tag": id_tag})


async def delete_id_tag(request: web.Request) -> web.Response:
    user = await require_role(request, "operator")
    id_tag = request.match_info["id_tag"]
    try:
        await request.app[SERVICES].id_tags.delete(id_tag, actor=user.username)
    except NotFound as error:
        return await _page(request, Message(str(error), "error"), None, 404)
    raise done(request, "id_tags", "deleted", {"id_tag": id_tag})
