"""This instance's Prometheus metrics, in a registry of its own (several applications in
one process, as in the tests, do not share their figures).

What happens on the hot path (a frame, a commit) is recorded here by small `record_*`
methods: a dictionary lookup and an increment, no I/O, no wait. What is a count of state
(connections, event streams, open sessions, energy) is read when scraped and handed to
`exposition`, which renders them; the HTTP side (`webapp/views/metrics.py`)
gathers those values and restricts who may read it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

from ocpp_core.dialects import DIALECTS

# A charger chooses the action of its CALL: anything but a known action is counted as
# "unknown", so no one can make up new series.
KNOWN_ACTIONS = frozenset().union(*(dialect.actions for dialect in DIALECTS.values()))
UNKNOWN_ACTION = "unknown"

# direction: "in" a charge point's CALL to us, "out" ours to it.
# outcome: "result" answered with a CALLRESULT; "callerror" answered with a CALLERROR (for
# "in": refused by a rule of OCPP or of ours); "error" no valid answer (for "in": handling
# failed here, answered InternalError; for "out": timed out, connection lost, invalid
# answer); "ignored" a frame unreadable even for its id, never answered.
MESSAGE_LABELS = ("action", "direction", "outcome")

CALL_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
COMMIT_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500)


@dataclass(frozen=True)
class Scraped:
    """The values read at scrape time. `active_sessions` and `energy_wh` come from the
    database (None when it could not be read: those series are left out, not made up)."""

    connected: Mapping[str, int]  # OCPP version -> charge points connected here
    sse_subscribers: int
    active_sessions: int | None
    energy_wh: float | None
    # Webhook deliveries not yet delivered and given up on (the whole database).
    webhook_deliveries_pending: int | None = None
    webhook_deliveries_failed: int | None = None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._messages = Counter(
            "voltaro_ocpp_messages",
            "OCPP CALLs by action, direction (in: from charge points, out: to them) and "
            "how each was answered (result, callerror, error, ignored)",
            MESSAGE_LABELS,
            registry=self.registry,
        )
        self._call_seconds = Histogram(
            "voltaro_ocpp_call_seconds",
            "Seconds from sending a CALL to a charge point to its answer",
            ("action",),
            buckets=CALL_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self._commit_seconds = Histogram(
            "voltaro_commit_seconds",
            "Seconds to write one group commit transaction",
            buckets=COMMIT_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self._commit_batch = Histogram(
            "voltaro_commit_batch_size",
            "Works (charge point messages' writes) in one group commit transaction",
            buckets=BATCH_SIZE_BUCKETS,
            registry=self.registry,
        )
        self._database_errors = Counter(
            "voltaro_database_errors",
            "Errors the database driver raised (statements and connection attempts)",
            registry=self.registry,
        )
        # (action, direction, outcome) -> its counter: labels() takes a lock and builds a
        # tuple of strings, each message; a dict lookup does not.
        self._message_counters: dict[tuple[str | None, str, str], Counter] = {}
        self._call_histograms: dict[str, Histogram] = {}
        self._scraped = _ScrapedCollector()
        self.registry.register(self._scraped)

    # --- the hot path -------------------------------------------------------------------

    def record_message(self, action: str | None, direction: str, outcome: str) -> None:
        """A CALL handled (in) or sent (out), by how it was answered."""
        key = (action, direction, outcome)
        counter = self._message_counters.get(key)
        if counter is None:
            counter = self._message_counter(key)
        counter.inc()

    def _message_counter(self, key: tuple[str | None, str, str]) -> Counter:
        action, direction, outcome = key
        if action in KNOWN_ACTIONS:
            counter = self._message_counters[key] = self._messages.labels(
                action, direction, outcome
            )
            return counter
        # Not kept under the charger's own spelling: that would grow without bound.
        known = (UNKNOWN_ACTION, direction, outcome)
        known_counter = self._message_counters.get(known)
        if known_counter is None:
            known_counter = self._message_counters[known] = self._messages.labels(*known)
        return known_counter

    def record_call(self, action: str, outcome: str, seconds: float | None = None) -> None:
        """A CALL of ours, by its outcome; `seconds` until the charge point answered (None
        when it did not)."""
        self.record_message(action, "out", outcome)
        if seconds is None:
            return
        histogram = self._call_histograms.get(action)
        if histogram is None:
            if action in KNOWN_ACTIONS:
                histogram = self._call_histograms[action] = self._call_seconds.labels(action)
            else:
                histogram = self._call_seconds.labels(UNKNOWN_ACTION)
        histogram.observe(seconds)

    def record_commit(self, works: int, seconds: float) -> None:
        """A group commit transaction of `works` works, written in `seconds`."""
        self._commit_batch.observe(works)
        self._commit_seconds.observe(seconds)

    def record_database_error(self) -> None:
        self._database_errors.inc()

    def watch_engine(self, engine: AsyncEngine) -> None:
        """Count every error the engine's driver raises (SQLAlchemy's `handle_error`,
        which runs only on errors: nothing on the way of a statement that succeeds)."""

        @event.listens_for(engine.sync_engine, "handle_error")
        def _database_error(_context: ExceptionContext) -> None:
            self.record_database_error()

    # --- the scrape ---------------------------------------------------------------------

    def exposition(self, scraped: Scraped, accept: str | None = None) -> tuple[bytes, str]:
        """Every metric, with `scraped` for the state counts, in the format the scraper's
        `accept` asks for (Prometheus' text format unless OpenMetrics); and its type."""
        encode, content_type = choose_encoder(accept or "")
        self._scraped.values = scraped
        return encode(self.registry), content_type


class _ScrapedCollector(Collector):
    """The metrics of state, from the values read at this scrape."""

    def __init__(self) -> None:
        self.values: Scraped | None = None

    def collect(self) -> Iterator[Metric]:
        values = self.values
        if values is None:
            return
        connected = GaugeMetricFamily(
            "voltaro_charge_points_connected",
            "Charge points connected to this instance",
            labels=("ocpp_version",),
        )
        for version in DIALECTS:
            connected.add_metric((version,), values.connected.get(version, 0))
        yield connected
        yield GaugeMetricFamily(
            "voltaro_sse_subscribers",
            "Portal event streams (/events) open on this instance",
            value=values.sse_subscribers,
        )
        if values.active_sessions is not None:
            yield GaugeMetricFamily(
                "voltaro_active_sessions",
                "Charging sessions not yet stopped (the whole database, not this instance)",
                value=values.active_sessions,
            )
        if values.energy_wh is not None:
            yield CounterMetricFamily(
                "voltaro_energy_delivered_wh",
                "Wh delivered in stopped sessions, meterStop - meterStart where not below "
                "it (the whole database, not this instance)",
                value=values.energy_wh,
            )
        if values.webhook_deliveries_pending is not None:
            yield GaugeMetricFamily(
                "voltaro_webhook_deliveries_pending",
                "Webhook deliveries waiting for a first try or a retry (the whole database)",
                value=values.webhook_deliveries_pending,
            )
        if values.webhook_deliveries_failed is not None:
            yield GaugeMetricFamily(
                "voltaro_webhook_deliveries_failed",
                "Webhook deliveries given up on after their attempts or age, kept until "
                "retention prunes them (the whole database)",
                value=values.webhook_deliveries_failed,
            )
