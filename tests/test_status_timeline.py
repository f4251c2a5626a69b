"""A charge point's status timeline: the segments worked out of its StatusNotifications and
connections (`ocpp_core.status_timeline`), and its page's timeline over HTTP, fed by real
WebSocket charge points."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

from ocpp_core.services.status_timeline import connection_queries
from ocpp_core.status_timeline import (
    UNKNOWN,
    ConnectionChange,
    Facts,
    StatusChange,
    build,
    connector_timeline,
)
from tests.helpers import disconnected, eventually, iso, read_events
from tests.v201.charging_station import V201, boot, status
from webapp.keys import ENGINE

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
END = T0 + timedelta(hours=1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def change(minutes: float, state: str, error: str = "NoError", **kw) -> StatusChange:
    return StatusChange(0, 1, state, error, at(minutes), **kw)


def shown(segments) -> list[tuple[float, float, str]]:
    """(start, end) in minutes from T0, and the state."""
    return [
        ((s.start - T0).total_seconds() / 60, (s.end - T0).total_seconds() / 60, s.state)
        for s in segments
    ]


# --- the segments -------------------------------------------------------------------------


def test_the_state_at_the_start_is_the_last_change_before_it() -> None:
    changes = [change(-90, "Available"), change(-30, "Charging"), change(20, "Finishing")]
    line = connector_timeline(changes, T0, END)
    assert shown(line.segments) == [(0, 20, "Charging"), (20, 60, "Finishing")]
    # Only what was received in the period is listed as a change.
    assert [c.status for c in line.changes] == ["Finishing"]


def test_before_the_first_notification_the_state_is_unknown() -> None:
    line = connector_timeline([change(10, "Available"), change(40, "Charging")], T0, END)
    assert shown(line.segments) == [
        (0, 10, UNKNOWN),
        (10, 40, "Available"),
        (40, 60, "Charging"),
    ]
    assert dict(line.totals) == {
        UNKNOWN: timedelta(minutes=10),
        "Available": timedelta(minutes=30),
        "Charging": timedelta(minutes=20),
    }


def test_a_repeated_status_continues_its_segment_a_new_error_code_does_not() -> None:
    changes = [
        change(-5, "Available"),
        change(10, "Available"),
        change(20, "Faulted", "GroundFailure"),
        change(30, "Faulted", "GroundFailure"),
        change(35, "Faulted", "OverVoltage", vendor_error_code="E42"),
        change(50, "Available"),
    ]
    line = connector_timeline(changes, T0, END)
    assert shown(line.segments) == [
        (0, 20, "Available"),
        (20, 35, "Faulted"),
        (35, 50, "Faulted"),
        (50, 60, "Available"),
    ]
    assert [(s.error_code, s.vendor_error_code) for s in line.segments] == [
        ("NoError", None),
        ("GroundFailure", None),
        ("OverVoltage", "E42"),
        ("NoError", None),
    ]
    assert len(line.changes) == 5


def test_a_notification_older_than_the_status_held_is_listed_not_applied() -> None:
    # Sent at 30 by the charger, then one it had queued since 5 arrives at 40.
    changes = [
        change(-10, "Available", sent_at=at(-10)),
        change(30, "Charging", sent_at=at(30)),
        change(40, "Preparing", sent_at=at(5)),
    ]
    line = connector_timeline(changes, T0, END)
    assert shown(line.segments) == [(0, 30, "Available"), (30, 60, "Charging")]
    assert [(c.status, c.applied) for c in line.changes] == [
        ("Charging", True),
        ("Preparing", False),
    ]


def test_offline_stretches_cut_every_connector() -> None:
    facts = Facts(
        start=T0,
        end=END,
        changes=[
            change(-20, "Charging"),
            StatusChange(0, 2, "Available", "NoError", at(-20)),
            change(45, "Available"),
        ],
        connections=[
            ConnectionChange(at(-60), True),
            ConnectionChange(at(10), False),
            ConnectionChange(at(25), True),
        ],
        connected_now=True,
    )
    timeline = build(facts)
    assert shown(timeline.connection.segments) == [
        (0, 10, "Connected"),
        (10, 25, "Offline"),
        (25, 60, "Connected"),
    ]
    one, two = timeline.connectors
    assert (one.connector_id, two.connector_id) == (1, 2)
    assert shown(one.segments) == [
        (0, 10, "Charging"),
        (10, 25, "Offline"),
        (25, 45, "Charging"),
        (45, 60, "Available"),
    ]
    # Offline keeps the last report with it (its segment's title says it).
    assert one.segments[1].status == "Charging"
    assert shown(two.segments) == [
        (0, 10, "Available"),
        (10, 25, "Offline"),
        (25, 60, "Available"),
    ]


def test_a_charger_gone_without_a_disconnection_is_offline_from_its_last_message() -> None:
    # Its instance died: the connection was never closed, the charger is not connected.
    facts = Facts(
        start=T0,
        end=END,
        changes=[change(-5, "Available")],
        connections=[ConnectionChange(at(-30), True)],
        connected_now=False,
        offline_since=at(50),
    )
    timeline = build(facts)
    assert shown(timeline.connection.segments) == [(0, 50, "Connected"), (50, 60, "Offline")]
    assert shown(timeline.connectors[0].segments) == [(0, 50, "Available"), (50, 60, "Offline")]


def test_with_no_connection_known_the_present_one_holds() -> None:
    down = build(Facts(T0, END, [change(-5, "Available")], [], connected_now=False))
    assert shown(down.connectors[0].segments) == [(0, 60, "Offline")]
    up = build(Facts(T0, END, [change(-5, "Available")], [], connected_now=True))
    assert shown(up.connectors[0].segments) == [(0, 60, "Available")]


def test_connected_now_a_later_disconnection_was_an_older_connections() -> None:
    # Taken over by a new connection (here or on another instance): the old one's close
    # is written after the new one's connection.
    connections = [
        ConnectionChange(at(-60), True),
        ConnectionChange(at(20), True),
        ConnectionChange(at(20.01), False),
    ]
    timeline = build(Facts(T0, END, [change(-5, "Available")], connections, connected_now=True))
    assert shown(timeline.connection.segments) == [(0, 60, "Connected")]
    assert shown(timeline.connectors[0].segments) == [(0, 60, "Available")]


def test_a_connector_without_history_kept_shows_its_status_as_held() -> None:
    # Its notifications pruned long ago (retention): the connector's status stays.
    held = [StatusChange(0, 1, "Available", "NoError", at(-60 * 24 * 100))]
    timeline = build(Facts(T0, END, [], [], connected_now=True, held=held))
    assert shown(timeline.connectors[0].segments) == [(0, 60, "Available")]
    assert timeline.connectors[0].changes == ()


def test_a_period_read_in_part_shows_nothing_before_what_was_read() -> None:
    facts = Facts(
        start=T0,
        end=END,
        changes=[change(30, "Charging"), change(40, "Available")],
        connections=[ConnectionChange(at(35), False), ConnectionChange(at(36), True)],
        connected_now=True,
        shown_from=at(30),
    )
    timeline = build(facts)
    assert timeline.shown_from == at(30)
    assert shown(timeline.connectors[0].segments) == [
        (0, 30, UNKNOWN),
        (30, 35, "Charging"),
        (35, 36, "Offline"),
        (36, 40, "Charging"),
        (40, 60, "Available"),
    ]
    assert shown(timeline.connection.segments)[0] == (0, 30, UNKNOWN)


async def test_a_charge_points_connections_are_read_by_their_index(client) -> None:
    """Finding one charger's connections must not read the whole outbox (every status and
    session event of the fleet): the partial index ix_events_connections serves both."""
    engine = client.app[ENGINE]
    in_period, before = connection_queries("CP", T0, END)
    plans = []
    async with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if not sqlite:
            # The table is nearly empty, so any plan would do: reading it whole must be
            # the last resort, as on a large one.
            await connection.exec_driver_sql("SET enable_seqscan = off")
        for query in (in_period, before):
            compiled = query.compile(dialect=engine.dialect)
            values = compiled.construct_params()
            args = tuple(
                values[name].isoformat(" ") if sqlite and isinstance(values[name], datetime)
                else values[name]
                for name in compiled.positiontup or ()
            )  # fmt: skip
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            rows = await connection.exec_driver_sql(explain + compiled.string, args)
            plans.append([str(row[-1]) for row in rows])
    for steps in plans:
        assert any("ix_events_connections" in step for step in steps), steps
        assert not any(re.search(r"SCAN events\b(?! USING)|Seq Scan", s) for s in steps), steps


# --- the page -------------------------------------------------------------------------------


def lane(html: str, name: str) -> str:
    """The HTML of one lane of the timeline (`data-lane`)."""
    found = re.search(rf'<div class="lane" data-lane="{name}">(.*?)\n    </div>\n', html, re.S)
    assert found, f"no lane {name!r} on the page"
    return found.group(1)


def segments(lane_html: str) -> list[tuple[str, str]]:
    """Each segment's state and title, in order."""
    return [
        (state, " ".join(unescape(title).split()))
        for state, title in re.findall(
            r'<rect [^>]*data-state="([^"]+)"[^>]*><title>(.*?)</title></rect>', lane_html, re.S
        )
    ]


async def test_a_charge_points_page_shows_each_connectors_states(client, connect, portal) -> None:
    cp = await connect("TL16")
    await cp.boot()
    await cp.status(0, "Available")
    await cp.status(1, "Available")
    await cp.status(2, "Available")
    await cp.result(
        "StatusNotification",
        {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted",
         "vendorErrorCode": "E7", "info": "RCD tripped", "timestamp": iso(datetime.now(UTC))},
    )  # fmt: skip
    await cp.status(2, "Charging")
    viewer = await portal("viewer")

    status, html = await viewer.get("/charge-points/TL16")
    assert status == 200
    assert 'id="status-timeline"' in html
    # 24 h unless the address says otherwise.
    assert re.search(r'period=24h#status-timeline" aria-current="true"', html)
    one = lane(html, "connector-1")
    states = segments(one)
    assert [state for state, _ in states][-2:] == ["Available", "Faulted"]
    faulted = states[-1][1]
    assert faulted.startswith("Faulted · GroundFailure · vendor error E7 · RCD tripped · ")
    assert re.search(r" to now \(\d+ s\)$", faulted)
    assert 'class="seg bad"' in one  # coloured as the Faulted badge
    # Its changes told in a table too, newest first, with the codes.
    rows = re.findall(r"<tr[^>]*><td class=\"small\">.*?</tr>", one, re.S)
    assert len(rows) == 2 and "GroundFailure" in rows[0] and "E7" in rows[0]
    assert "Available" in rows[1]
    assert [state for state, _ in segments(lane(html, "connector-2"))][-2:] == [
        "Available",
        "Charging",
    ]
    assert "Charge point (connector 0)" in lane(html, "connector-0")

    # Gone and back: an Offline stretch on the connection and on every connector.
    await cp.ws.close()
    await disconnected(client, "TL16")
    cp = await connect("TL16")
    await cp.boot()

    async def offline_shown() -> str | None:
        _, page = await viewer.get("/charge-points/TL16?period=1h")
        return page if "Offline" in [s for s, _ in segments(lane(page, "connector-1"))] else None

    html = await eventually(offline_shown, what="the offline stretch on the timeline")
    assert re.search(r'period=1h#status-timeline" aria-current="true"', html)
    # Before its first connection it was not connected either.
    assert [s for s, _ in segments(lane(html, "connection"))] == [
        "Offline",
        "Connected",
        "Offline",
        "Connected",
    ]
    assert [s for s, _ in segments(lane(html, "connector-1"))][-3:] == [
        "Faulted",
        "Offline",
        "Faulted",
    ]
    gone = [t for s, t in segments(lane(html, "connector-1")) if s == "Offline"][-1]
    assert gone.startswith("Offline (last reported Faulted)")
    connection_rows = re.findall(r"<td>(connected|disconnected)</td>", lane(html, "connection"))
    assert connection_rows[:2] == ["connected", "disconnected"]

    # A live page hears of a new status: the timeline over its own period comes again.
    async with viewer.http.get(
        viewer.base + "/events?charge_point=TL16&period=7d", timeout=None
    ) as stream:
        assert stream.status == 200
        await cp.status(1, "Available")
        swapped = await read_events(stream, "status-timeline")
    assert 'period=7d#status-timeline" aria-current="true"' in swapped
    assert [s for s, _ in segments(lane(swapped, "connector-1"))][-1] == "Available"


async def test_a_period_the_page_does_not_know_is_said_and_the_default_shown(
    connect, portal
) -> None:
    cp = await connect("TLBAD")
    await cp.boot()
    await cp.status(1, "Available")
    viewer = await portal("viewer")
    status, html = await viewer.get("/charge-points/TLBAD?period=3y")
    assert status == 200
    alert = re.search(r'<p class="message error" role="alert">(.*?)</p>', html)
    assert alert and unescape(alert.group(1)) == (
        "unknown period '3y': choose 1 h, 24 h, 7 d; showing the last 24 h"
    )
    assert re.search(r'period=24h#status-timeline" aria-current="true"', html)
    assert segments(lane(html, "connector-1"))[-1][0] == "Available"


async def test_a_201_stations_page_shows_a_lane_per_evse_connector(connect, portal) -> None:
    station = await connect("TL201", protocols=V201)
    await boot(station)
    await status(station, "Available", evse=1, connector=1)
    await status(station, "Available", evse=2, connector=1)
    await status(station, "Occupied", evse=2, connector=1)
    await status(station, "Faulted", evse=1, connector=1)
    viewer = await portal("viewer")
    status_code, html = await viewer.get("/charge-points/TL201?period=1h")
    assert status_code == 200
    one = lane(html, "evse-1-connector-1")
    two = lane(html, "evse-2-connector-1")
    assert "EVSE 1 / connector 1" in one and "EVSE 2 / connector 1" in two
    assert [s for s, _ in segments(one)][-2:] == ["Available", "Faulted"]
    assert [s for s, _ in segments(two)][-2:] == ["Available", "Occupied"]
    assert 'class="seg busy"' in two  # Occupied: a car plugged in
