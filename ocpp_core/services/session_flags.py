"""The flags on a session that tell an operator what to look at, and the rules that set
them, for 1.6 sessions and 2.0.1 ones alike. The data is kept as the charger sent it, never
silently "fixed": a flag says what is odd about it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

OFFLINE = "offline"  # sent long after it happened (queued while offline)
FUTURE = "future_timestamp"  # the charger's clock is ahead of ours
OVERLAP = "overlap"  # another session was still open on the same connector
METER_BACKWARDS = "meter_stop_below_start"
CLOSED_BY_OPERATOR = "closed_by_operator"
# An operator closed it, and then the charger spoke of it (its StopTransaction or Ended,
# or meter values): what the charger sent corrected the close.
CORRECTED_AFTER_CLOSE = "corrected_after_close"
UNKNOWN_TRANSACTION = "unknown_transaction"
FOREIGN_TRANSACTION = "foreign_transaction"

OFFLINE_AFTER = timedelta(minutes=10)
CLOCK_TOLERANCE = timedelta(minutes=5)


def timing_flags(timestamp: datetime, received: datetime) -> list[str]:
    if timestamp > received + CLOCK_TOLERANCE:
        return [FUTURE]
    if timestamp < received - OFFLINE_AFTER:
        return [OFFLINE]
    return []


def with_flags(flags: str | None, *more: str) -> str:
    current = [f for f in (flags or "").split(",") if f]
    return ",".join(current + [f for f in more if f not in current])


class Flagged(Protocol):
    """A session's flags: its row (Transaction) or the columns a writer holds of it."""

    flags: str


def add_flags(tx: Flagged, *flags: str) -> None:
    tx.flags = with_flags(tx.flags, *flags)


def remove_flag(tx: Flagged, flag: str) -> None:
    """A flag says what is true: gone once it no longer is."""
    tx.flags = ",".join(f for f in (tx.flags or "").split(",") if f and f != flag)


class Stopped(Flagged, Protocol):
    """A session's stop: its row (Transaction) or the columns a writer holds of it."""

    start_time: datetime
    meter_stop: int | None
    stop_time: datetime | None
    stop_reason: str | None


def closed_by_operator(tx: Any) -> bool:
    """Whether a session (a Transaction, or a row with its `flags`) is closed by an
    operator and nothing the charger sent has ended it since."""
    return CLOSED_BY_OPERATOR in (tx.flags or "").split(",")


def correct_closed(
    tx: Stopped,
    at: datetime,
    meter_stop: int | None,
    ended: bool = False,
    reason: str | None = None,
) -> None:
    """A session an operator closed, spoken of by its charger after all: what the charger
    sends is the truth, the close an estimate. Its end (`ended`: StopTransaction, Ended)
    sets the stop; anything else only moves the stop later and the meter up."""
    if ended:
        if meter_stop is not None:
            tx.meter_stop = meter_stop
        tx.stop_time = max(at, tx.start_time)
        tx.stop_reason = reason or "Local"
        remove_flag(tx, CLOSED_BY_OPERATOR)
    else:
        if meter_stop is not None and (tx.meter_stop is None or meter_stop > tx.meter_stop):
            tx.meter_stop = meter_stop
        if tx.stop_time is None or at > tx.stop_time:
            tx.stop_time = at
    add_flags(tx, CORRECTED_AFTER_CLOSE)
