"""What a version's catalogue of operations is made of: one `Operation` per operation a
central system sends, with its URL name, its action, the checks of meaning its schema
cannot make, what an answer changes in what we keep, and the one-line summary of an answer
the portal shows. `ocpp_core.v16.operations` and `ocpp_core.v201.operations` are the
catalogues; `CentralSystem.operate` sends an entry (schema check, journal, apply)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from ocpp_core.errors import InvalidInput
from ocpp_core.services import Services

# (services, charge point id, request): raises InvalidInput for a request that makes no sense.
Check = Callable[[Services, str, dict[str, Any]], Awaitable[None]]
# (services, charge point id, request, answer): keeps what the answer changed.
Apply = Callable[[Services, str, dict[str, Any], dict[str, Any]], Awaitable[None]]
# (services, charge point id, request): the request with what the central system knows
# filled in where the caller left it out.
Complete = Callable[[Services, str, dict[str, Any]], Awaitable[dict[str, Any]]]
# An answer (snake_case) as the portal shows it: its text, whether it went well, a detail.
Summary = Callable[[dict[str, Any]], tuple[str, bool, str | None]]
# A form field's text (never empty) and its name -> the request field's value.
Reader = Callable[[str, str], Any]
# (services, charge point id, a form's fields) -> the request; InvalidInput names a field.
Build = Callable[[Services, str, Mapping[str, Any]], Awaitable[dict[str, Any]]]

# Where a charger may fetch firmware from, or upload logs and diagnostics to.
FILE_SCHEMES = ("ftp", "ftps", "http", "https", "sftp")


def is_file_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme.lower() in FILE_SCHEMES and bool(parsed.netloc)


async def reservation_exists(
    services: Services, charge_point_id: str, request: dict[str, Any]
) -> None:
    """CancelReservation (both versions): of a reservation made on this charger."""
    existing = await services.operations.reservation(request["reservation_id"])
    if existing is None or existing.charge_point_id != charge_point_id:
        raise InvalidInput(
            f"reservation {request['reservation_id']} does not exist on {charge_point_id!r}"
        )


@dataclass(frozen=True)
class KeyChange:
    """An operation that may set the charger's HTTP Basic key: only an admin sends one that
    does, and the audit log says how it went, never with the key."""

    audit_action: str  # as the audit log names it
    sets_key: Callable[[dict[str, Any]], bool]  # whether this request sets it
    outcome: Callable[[dict[str, Any]], str]  # the answer, as the audit log says it


@dataclass(frozen=True)
class Form:
    """The portal's form of an operation: each field, when not empty, read by its reader
    as the request field of its name; `shape` makes the request of those values where it
    is not their plain dict."""

    readers: Mapping[str, Reader]
    shape: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def read(self, fields: Mapping[str, str]) -> dict[str, Any]:
        values = {
            name: read(fields[name], name)
            for name, read in self.readers.items()
            if fields.get(name)
        }
        return self.shape(values) if self.shape is not None else values


@dataclass(frozen=True)
class RequestForm:
    """The portal's form of an operation whose request is more than its fields' values
    (2.0.1's nested requests, ids the central system picks): `build` makes all of it."""

    label: str  # how the page introduces its answer
    build: Build


@dataclass(frozen=True)
class Operation:
    name: str  # kebab-case, as in the URL
    action: str
    check: Check | None = None
    apply: Apply | None = None
    # Only an admin may send it (it changes how the charger authenticates or connects).
    admin_only: bool = False
    summary: Summary | None = None
    complete: Complete | None = None
    # The request fields `complete` fills in where an API body leaves them out.
    fills: frozenset[str] = frozenset()
    form: Form | RequestForm | None = None
    key_change: KeyChange | None = None
