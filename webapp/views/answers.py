"""How an operation's outcome reads on the charge point page."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from ocpp.charge_point import remove_nones, serialize_as_dict

from ocpp_core.errors import (
    CallErrorReply,
    CallTimedOut,
    InvalidInput,
    InvalidReply,
    NotAccepted,
    NotConnected,
    NotFound,
)


@dataclass(frozen=True)
class OperationResult:
    label: str
    text: str
    ok: bool
    detail: str | None = None


def describe(action: str, answer: dict[str, Any]) -> tuple[str, bool, str | None]:
    """What to show of an answer: its status, whether it went well, and any detail."""
    status = answer.get("status")
    if action == "GetConfiguration":
        known = len(answer.get("configuration_key") or [])
        unknown = answer.get("unknown_key") or []
        detail = f"unknown: {', '.join(unknown)}" if unknown else None
        return f"{known} key{'s' if known != 1 else ''} read", True, detail
    if action == "GetLocalListVersion":
        return f"version {answer['list_version']}", True, None
    if action == "GetDiagnostics":
        file_name = answer.get("file_name")
        return ("Accepted", True, f"file {file_name}") if file_name else ("no file", False, None)
    if action == "UpdateFirmware":
        return "Accepted", True, "progress follows as firmware status notifications"
    if action == "GetCompositeSchedule" and status == "Accepted":
        # chargingSchedule is optional in GetCompositeSchedule.conf: Accepted with none is
        # a valid answer (nothing scheduled).
        schedule = answer.get("charging_schedule")
        if not schedule:
            return "Accepted", True, "no schedule"
        periods = schedule["charging_schedule_period"]
        unit = schedule["charging_rate_unit"]
        detail = "; ".join(f"from {p['start_period']} s: {p['limit']} {unit}" for p in periods)
        return "Accepted", True, detail
    if action == "DataTransfer" and answer.get("data"):
        return str(status), status == "Accepted", f"data: {answer['data']}"
    ok = status in ("Accepted", "Unlocked", "RebootRequired", "Scheduled")
    return str(status), ok, None


async def run_operation(label: str, action: str, operation: Awaitable[Any]) -> OperationResult:
    """Await an operation and say how it went, in the words the page shows."""
    try:
        answer = await operation
    except NotFound as error:
        raise web.HTTPNotFound(text=f"{error}\n") from None
    except InvalidInput as error:
        return OperationResult(label, "invalid input", False, str(error))
    except NotConnected:
        return OperationResult(label, "not connected", False)
    except NotAccepted as error:
        return OperationResult(label, "not accepted", False, str(error))
    except CallTimedOut:
        return OperationResult(label, "timed out", False)
    except CallErrorReply as error:
        return OperationResult(label, "error", False, str(error))
    except InvalidReply as error:
        return OperationResult(label, "invalid answer", False, str(error))
    text, ok, detail = describe(action, remove_nones(serialize_as_dict(answer)))
    return OperationResult(label, text, ok, detail)
