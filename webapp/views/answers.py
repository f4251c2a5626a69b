"""How an operation's outcome reads on the charge point page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
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


# A 2.0.1 answer's status that means it went (or will go) as asked.
OK_201 = frozenset({"Accepted", "Scheduled", "Unlocked", "RebootRequired"})


def _status_info(item: dict[str, Any], key: str = "status_info") -> str | None:
    info = item.get(key)
    if not info:
        return None
    extra = info.get("additional_info")
    return f"{info['reason_code']}: {extra}" if extra else info["reason_code"]


def _variable_results(results: list[dict[str, Any]]) -> tuple[str, bool, str | None]:
    """GetVariables / SetVariables: one attribute's status (and value read), or a count."""
    if len(results) == 1:
        [result] = results
        status = result["attribute_status"]
        details = []
        if result.get("attribute_value") is not None:
            details.append(f"value {result['attribute_value']}")
        details.append(_status_info(result, "attribute_status_info") or "")
        return status, status in OK_201, "; ".join(d for d in details if d) or None
    statuses = [r["attribute_status"] for r in results]
    done = sum(s in OK_201 for s in statuses)
    return f"{done} of {len(statuses)} accepted", done == len(statuses), ", ".join(statuses)


def describe_201(action: str, answer: dict[str, Any]) -> tuple[str, bool, str | None]:
    """What to show of a 2.0.1 answer (snake_case): its status, whether it went well, and
    the detail it gives (statusInfo, a value read, a file name, a transaction id)."""
    if action == "GetVariables":
        return _variable_results(answer["get_variable_result"])
    if action == "SetVariables":
        return _variable_results(answer["set_variable_result"])
    status = str(answer.get("status"))
    details = [_status_info(answer)]
    if action == "GetLog" and answer.get("filename"):
        details.append(f"file {answer['filename']}")
    if action == "RequestStartTransaction" and answer.get("transaction_id"):
        details.append(f"transaction {answer['transaction_id']}")
    if action == "DataTransfer" and answer.get("data") is not None:
        data = answer["data"]
        details.append(f"data: {data if isinstance(data, str) else orjson.dumps(data).decode()}")
    return status, status in OK_201, "; ".join(d for d in details if d) or None


Describe = Callable[[str, dict[str, Any]], tuple[str, bool, str | None]]


async def run_operation(
    label: str, action: str, operation: Awaitable[Any], describe_answer: Describe = describe
) -> OperationResult:
    """Await an operation and say how it went, in the words the page shows. A 1.6 answer
    is a `call_result` dataclass, a 2.0.1 one already a snake_case dict."""
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
    if not isinstance(answer, dict):
        answer = remove_nones(serialize_as_dict(answer))
    text, ok, detail = describe_answer(action, answer)
    return OperationResult(label, text, ok, detail)
