"""How an operation's outcome reads on the charge point page."""

from __future__ import annotations

import functools
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from ocpp_core.catalogue import Summary
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
    # Not sent after a check: where and with which fields to send it anyway, if the
    # operator wants to.
    resend_to: str | None = None
    resend: dict[str, str] | None = None
    # Sent, and what it leads to comes later: the SSE event the page waits for, and where
    # to ask once whether it came already (before the answer was on the page).
    follow: str | None = None
    follow_url: str | None = None


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


def summary_201(action: str) -> Summary:
    """The summary of a 2.0.1 action's answers."""
    return functools.partial(describe_201, action)


async def run_operation(
    label: str, operation: Awaitable[dict[str, Any]], summary: Summary
) -> OperationResult:
    """Await an operation and say how it went, in the words the page shows: its answer
    (snake_case) as `summary` (the catalogue's) gives it."""
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
    text, ok, detail = summary(answer)
    return OperationResult(label, text, ok, detail)
