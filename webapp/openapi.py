"""The JSON API described: its OpenAPI 3.1 document, written from the endpoints'
declarations (`webapp/endpoints.py`) and the operations' OCPP schemas, at
`/api/openapi.json`; and a reference to browse it at `/api/docs` (Swagger UI, this
server's copy in `static/vendor/`, under the same Content-Security-Policy as the portal).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from webapp import api_objects
from webapp.api_json import json_response
from webapp.endpoints import Answer, Call, Endpoint, add_routes
from webapp.keys import API_DOCUMENT

ROOT = Path(__file__).resolve().parent.parent
TITLE = "Voltaro JSON API"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
DOCS_PAGE = ROOT / "static" / "api-docs.html"
SECURITY_SCHEMES = {
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": "an operator account's name and password",
    },
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "vlt_...",
        "description": "an API token (`POST /api/tokens`)",
    },
}
_ERRORS = {
    400: "bad input: what is wrong, said in `error`",
    401: "no operator credentials, or bad ones",
    403: "the role may not do this, a missing CSRF token (a portal session's write), or a "
    "request from another site",
    404: "unknown id",
    409: "conflict: the charge point is not connected, or what is asked contradicts what is kept",
    415: "a body not sent as `Content-Type: application/json`",
    429: "held back after failed logins or bad tokens from this address (`Retry-After`)",
    502: "the charge point answered with a CALLERROR or an invalid answer",
    503: "too many password checks waiting (`Retry-After`)",
    504: "the charge point did not answer within CALL_TIMEOUT",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}}


def document(endpoints: Iterable[Endpoint]) -> dict[str, Any]:
    endpoints = list(endpoints)
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": api_objects.ERROR}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
        schemas.update(endpoint.components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "Every call needs an operator: HTTP Basic, an API token as a Bearer token, or "
                "the portal's session cookie (writes then carry its CSRF token in "
                '`X-CSRF-Token`). Errors are `{"error": "..."}`. Text holding the NUL '
                "character (U+0000), anywhere in a request, is a 400."
            ),
        },
        "security": [{"basicAuth": []}, {"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": SECURITY_SCHEMES,
            "schemas": dict(sorted(schemas.items())),
        },
    }


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    role = f"Role: {endpoint.role}."
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "description": f"{endpoint.description} {role}".strip(),
        "parameters": [
            {
                "name": p.name,
                "in": p.where,
                "required": p.where == "path",
                "description": p.description,
                "schema": dict(p.schema),
            }
            for p in (*endpoint.path_parameters, *endpoint.query)
        ],
        "responses": {
            str(endpoint.answer.status): _answer(endpoint.answer),
            **{str(status): _error(status) for status in endpoint.error_statuses},
        },
    }
    if endpoint.tag:
        operation["tags"] = [endpoint.tag]
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": endpoint.body.required,
            "content": {"application/json": {"schema": dict(endpoint.body.schema)}},
        }
    if endpoint.basic_only:
        operation["security"] = [{"basicAuth": []}]
    return operation


def _answer(answer: Answer) -> dict[str, Any]:
    described: dict[str, Any] = {"description": answer.description}
    if answer.schema is not None:
        described["content"] = {answer.media_type: {"schema": dict(answer.schema)}}
    if answer.headers:
        described["headers"] = {
            name: {
                "description": header.description,
                "required": header.always,
                "schema": dict(header.schema),
            }
            for name, header in answer.headers.items()
        }
    return described


def _error(status: int) -> dict[str, Any]:
    described: dict[str, Any] = {
        "description": _ERRORS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if status in (429, 503):
        described["headers"] = _RETRY_AFTER
    return described


async def openapi_json(request: web.Request, call: Call) -> web.Response:
    return json_response(request.app[API_DOCUMENT])


async def api_docs(request: web.Request, call: Call) -> web.FileResponse:
    return web.FileResponse(DOCS_PAGE, headers={"Content-Type": "text/html; charset=utf-8"})


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/openapi.json",
        openapi_json,
        "viewer",
        "This document",
        Answer(200, "the OpenAPI 3.1 document", {"type": "object"}),
        tag="reference",
    ),
    Endpoint(
        "GET",
        "/api/docs",
        api_docs,
        "viewer",
        "This document as a page to browse",
        Answer(200, "the page", {"type": "string"}, media_type="text/html"),
        tag="reference",
    ),
]


def setup(app: web.Application, api: Iterable[Endpoint]) -> None:
    """Serve the endpoints of `api` and these two, described by the document built once
    here."""
    served = [*api, *ENDPOINTS]
    app[API_DOCUMENT] = document(served)
    add_routes(app, served)


def described_paths(document_: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(method, path) of every operation the document describes."""
    return {
        (method.upper(), path)
        for path, operations in document_["paths"].items()
        for method in operations
    }
