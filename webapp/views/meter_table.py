"""A session's meter values as an operator reads them: one row per reading instant with a
column per measurand (and phase, and unit), rather than one line per sampled value (nine
a reading for a three-phase charger)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ocpp_core.services.meter_samples import SampledValue


@dataclass(frozen=True)
class Column:
    measurand: str
    phase: str | None
    unit: str | None
    location: str | None

    @property
    def label(self) -> str:
        where = f" {self.phase}" if self.phase else ""
        if self.location and self.location != "Outlet":
            where += f" ({self.location})"
        return f"{self.measurand}{where}"


@dataclass(frozen=True)
class Reading:
    timestamp: datetime
    values: tuple[str, ...]  # one per column; "" where the reading has none
    contexts: tuple[str, ...]


@dataclass(frozen=True)
class MeterTable:
    columns: tuple[Column, ...]
    readings: tuple[Reading, ...]  # oldest first


def meter_table(samples: list[SampledValue]) -> MeterTable:
    """Columns in the order each first appears (a charger reports them in its own order);
    a value sent twice for one instant and column keeps the last one sent."""
    columns: dict[Column, int] = {}
    by_time: dict[datetime, tuple[dict[int, str], list[str]]] = {}
    for sample in samples:
        column = Column(sample.measurand, sample.phase, sample.unit, sample.location)
        index = columns.setdefault(column, len(columns))
        values, contexts = by_time.setdefault(sample.timestamp, ({}, []))
        values[index] = sample.value
        if sample.context and sample.context not in contexts:
            contexts.append(sample.context)
    readings = tuple(
        Reading(
            timestamp,
            tuple(values.get(i, "") for i in range(len(columns))),
            tuple(contexts),
        )
        for timestamp, (values, contexts) in sorted(by_time.items())
    )
    return MeterTable(tuple(columns), readings)
