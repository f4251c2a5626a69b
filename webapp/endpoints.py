"""The JSON API's endpoints, each declared once: its method and path, the role it needs,
its query parameters and body with their JSON schemas, its answer. The route is added
from the declaration, the request is checked against it before the view runs, and the
OpenAPI document (`webapp/openapi.py`) is written from it: a route cannot be added
without being described, nor described otherwise than it is checked.

A view gets the request and a `Call`: the user, the query parameters converted and
checked, the body checked.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from ocpp_core.errors import InvalidInput
from ocpp_core.payload_checks import describe
from ocpp_core.services.users import UserView
from webapp.api_json import json_body
from webapp.auth import require_role

# An error that can answer any call (auth: 401, 403 role or CSRF or cross-site, 429 held
# back after failed logins, 503 too many password checks waiting), and those of inputs.
AUTH_ERRORS = (401, 403, 429, 503)


@dataclass(frozen=True)
class Parameter:
    """A path or query parameter; a query one is converted by its schema's type (and a
    `date-time` string to an aware UTC datetime)."""

    name: str
    schema: Mapping[str, Any]
    description: str
    where: str = "query"  # or "path"

    def read(self, text: str) -> Any:
        kind = self.schema.get("type")
        if kind == "integer":
            try:
                value: Any = int(text)
            except ValueError:
                raise InvalidInput(self._wrong()) from None
        elif kind == "boolean":
            if text.lower() not in _BOOLEANS:
                raise InvalidInput(self._wrong())
            value = _BOOLEANS[text.lower()]
        elif self.schema.get("format") == "date-time":
            return moment(text, self.name)
        else:
            value = text
        errors = _errors(_validator(self.schema), value)
        if not errors:
            return value
        if kind in ("integer", "boolean"):
            raise InvalidInput(self._wrong())
        raise InvalidInput(f"{self.name}: {_message(errors[0])}")

    @property
    def refuses_empty(self) -> bool:
        """Whether `name=` with nothing is wrong rather than left out: a date-time, or
        text its schema does not admit empty (an enum, a minimum length). An empty number
        or truth value stays left out, as it always was."""
        if self.schema.get("type") in ("integer", "boolean"):
            return False
        if self.schema.get("format") == "date-time":
            return True
        return bool(_errors(_validator(self.schema), ""))

    def _wrong(self) -> str:
        kind = self.schema.get("type")
        if kind == "boolean":
            return f"{self.name} must be true or false"
        low, high = self.schema.get("minimum"), self.schema.get("maximum")
        if low is not None and high is not None:
            return f"{self.name} must be a whole number from {low} to {high}"
        return f"{self.name} must be a whole number"


_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

# RFC 3339's date-time (the profile of ISO 8601 that OpenAPI's `date-time` is): a zone is
# part of it, so no moment is read in a zone the client did not mean.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def moment(text: str, name: str) -> datetime:
    """`text`, an RFC 3339 date-time, as an aware UTC datetime; InvalidInput naming `name`
    otherwise. One that is valid but outside years 1 to 9999 once in UTC
    (0001-01-01T00:30:00+01:00) is the earliest or latest moment there is: as a bound of a
    range it admits what that one does."""
    wrong = f"{name} must be an RFC 3339 date-time such as 2026-12-08T09:14:03Z, not {text!r}"
    if not _RFC3339.fullmatch(text):
        if _RFC3339.fullmatch(text.replace(" ", "+")):
            # A `+` left as it is in a query string is read as a space.
            wrong += " (send the offset's + as %2B)"
        raise InvalidInput(wrong)
    try:
        parsed = datetime.fromisoformat(text.upper())
    except ValueError:
        raise InvalidInput(wrong) from None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return _EARLIEST if parsed.year == 1 else _LATEST


@dataclass(frozen=True)
class Body:
    """A JSON body. `checked`: by its schema here; an OCPP request is not, as it is checked
    against the very same schema where it is sent (`CentralSystem.operate`)."""

    schema: Mapping[str, Any]
    required: bool = True
    checked: bool = True


@dataclass(frozen=True)
class Header:
    description: str
    schema: Mapping[str, Any]
    always: bool = True  # on every such answer, or only when it has something to say


@dataclass(frozen=True)
class Answer:
    status: int
    description: str
    schema: Mapping[str, Any] | None = None  # None: no body
    headers: Mapping[str, Header] = field(default_factory=dict)
    media_type: str = "application/json"


@dataclass(frozen=True)
class Call:
    user: UserView
    query: dict[str, Any]
    body: Any


View = Callable[[web.Request, Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as OpenAPI and aiohttp write it: `/api/id-tags/{id_tag}`
    view: View
    role: str  # viewer, operator or admin
    summary: str
    answer: Answer
    path_parameters: tuple[Parameter, ...] = ()
    query: tuple[Parameter, ...] = ()
    body: Body | None = None
    errors: tuple[int, ...] = ()  # beyond those every endpoint of its inputs may give
    description: str = ""
    tag: str = ""
    basic_only: bool = False  # an API token is refused (403)
    # The components (`#/components/schemas/...`) its schemas refer to.
    components: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def operation_id(self) -> str:
        """`get_charge_points_charge_point_id`: its OpenAPI operationId, and (as
        `api.<operation_id>`) its route's name."""
        slug = re.sub(r"[^a-zA-Z0-9]+", "_", self.path.removeprefix("/api/")).strip("_")
        return f"{self.method.lower()}_{slug}"

    @property
    def error_statuses(self) -> list[int]:
        statuses = set(AUTH_ERRORS) | set(self.errors)
        if self.path_parameters or self.query or self.body:
            statuses.add(400)  # besides, text holding NUL is refused (webapp/nul_guard.py)
        if self.path_parameters:
            statuses.add(404)
        if self.body:
            statuses.add(415)
        return sorted(statuses)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        user = await require_role(request, self.role)
        query = {}
        for parameter in self.query:
            text = request.query.get(parameter.name)
            if text is None or (text == "" and not parameter.refuses_empty):
                continue
            query[parameter.name] = parameter.read(text)
        body = None
        if self.body is not None and (self.body.required or request.body_exists):
            body = await json_body(request)
            if self.body.checked:
                self.check(body)
        return await self.view(request, Call(user, query, body))

    def check(self, body: Any, schema: Mapping[str, Any] | None = None) -> None:
        """Raise InvalidInput naming what is wrong with `body` against this endpoint's body
        schema, or `schema` (one of its alternatives)."""
        if schema is None:
            assert self.body is not None
            schema = self.body.schema
        errors = _errors(_validator(schema, self.components), body)
        if errors:
            raise InvalidInput(_summary(errors))


def add_routes(app: web.Application, endpoints: Iterable[Endpoint]) -> None:
    for endpoint in endpoints:
        name = f"api.{endpoint.operation_id}"
        if endpoint.method == "GET":  # and HEAD, as aiohttp's GET routes have it
            app.router.add_get(endpoint.path, endpoint.handle, name=name)
        else:
            app.router.add_route(endpoint.method, endpoint.path, endpoint.handle, name=name)


# Validators by the schema they check (declarations live as long as the process).
_VALIDATORS: dict[int, Draft202012Validator] = {}


def _validator(
    schema: Mapping[str, Any], components: Mapping[str, Any] | None = None
) -> Draft202012Validator:
    """A validator of `schema`, whose `#/components/schemas/...` references resolve in
    `components`."""
    validator = _VALIDATORS.get(id(schema))
    if validator is None:
        rooted = {**schema, "components": {"schemas": dict(components or {})}}
        validator = _VALIDATORS[id(schema)] = Draft202012Validator(rooted)
    return validator


def _errors(validator: Draft202012Validator, value: Any) -> list[ValidationError]:
    return sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))


_PHRASES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


def _summary(errors: list[ValidationError]) -> str:
    """What the first error says, in the API's words: the missing and unknown fields of an
    object listed together."""
    first = errors[0]
    at = list(first.absolute_path)
    if first.validator in ("required", "additionalProperties"):
        # The error of a keyword of an object's schema: that schema is a mapping.
        schema: Mapping[str, Any] = first.schema  # type: ignore[assignment]
        instance: Any = first.instance
        missing = sorted(set(schema.get("required", ())) - set(instance))
        unknown = sorted(set(instance) - set(schema.get("properties", {})))
        where = f" in {'.'.join(map(str, at))}" if at else ""
        if missing:
            return f"missing field(s){where}: {', '.join(missing)}"
        if unknown:
            return f"unknown field(s){where}: {', '.join(unknown)}"
    if first.validator == "minProperties" and not at:  # a change that changes nothing
        fields: Any = first.schema.get("properties", {})  # type: ignore[union-attr]
        return f"give at least one of: {', '.join(fields)}"
    return _message(first)


def _message(error: ValidationError) -> str:
    # The error of a keyword: its schema is the mapping that holds that keyword.
    schema: Mapping[str, Any] = error.schema  # type: ignore[assignment]
    name = ".".join(map(str, error.absolute_path))
    if not name:
        return describe(error)
    if error.validator == "type":
        wanted: Any = error.validator_value
        kinds = [wanted] if isinstance(wanted, str) else list(wanted)
        return f"{name} must be {' or '.join(_PHRASES.get(k, k) for k in kinds)}"
    if error.validator == "enum":
        choices: Any = error.validator_value
        given: Any = error.instance
        return f"{name} must be one of {', '.join(map(str, choices))} (not {given!r})"
    if error.validator == "pattern" and "description" in schema:
        return f"{name} must be {schema['description']}"
    if error.validator in ("minLength", "maxLength"):
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        return f"{name} must be {low} to {high} characters"
    return describe(error)
