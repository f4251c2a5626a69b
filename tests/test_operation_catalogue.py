"""The OCPP 1.6 operation catalogue is complete and consistent: every action a central
system may send has an entry, each entry's URL answers (API and, with a form, portal),
each has a summary that reads any answer its schema allows, and each portal form sends
only fields its entry reads."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from ocpp.v16 import call

from ocpp_core.central_system import CATALOGUES
from ocpp_core.payload_checks import bounded_schema
from ocpp_core.payload_keys import snake_keys
from ocpp_core.v16.handler import V16Handler
from ocpp_core.v16.operations import BY_ACTION, CATALOGUE
from ocpp_core.v201 import operations as catalogue_201
from tests.helpers import post, tenths
from tests.operation_requests import PROFILE
from webapp.keys import SERVICES

HTMX = {"HX-Request": "true"}

# What a charger sends: the actions the 1.6 handler answers, but DataTransfer, which
# either side may send (ocpp.v16.call says as much).
CHARGER_SENT = {str(action.value) for action in V16Handler.routes} - {"DataTransfer"}
SENT_BY_CENTRAL = {
    name for name, value in vars(call).items() if dataclasses.is_dataclass(value)
} - CHARGER_SENT


def kebab(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", action).lower()


def test_every_action_a_central_system_sends_has_an_entry() -> None:
    assert SENT_BY_CENTRAL >= {"Reset", "RemoteStartTransaction", "CertificateSigned"}
    assert set(BY_ACTION) == SENT_BY_CENTRAL
    for action, entry in BY_ACTION.items():
        assert entry.action == action
    # The generic routes hold all but remote start and stop, which have their own.
    assert {e.action for e in CATALOGUE.values()} == SENT_BY_CENTRAL - {
        "RemoteStartTransaction",
        "RemoteStopTransaction",
    }
    assert all(name == kebab(entry.action) for name, entry in CATALOGUE.items())


# --- summaries ----------------------------------------------------------------------------


def _inlined(schema: Any, definitions: dict[str, Any]) -> Any:
    # hypothesis-jsonschema resolves no `$ref` (GetInstalledCertificateIds has them).
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inlined(definitions[schema["$ref"].rsplit("/", 1)[1]], definitions)
        return {k: _inlined(v, definitions) for k, v in schema.items() if k != "definitions"}
    if isinstance(schema, list):
        return [_inlined(item, definitions) for item in schema]
    return schema


def _answers(action: str) -> st.SearchStrategy[Any]:
    schema = bounded_schema(action + "Response")
    return from_schema(_inlined(schema, schema.get("definitions", {}))).map(tenths)


ANSWERS = st.one_of([st.tuples(st.just(action), _answers(action)) for action in sorted(BY_ACTION)])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=ANSWERS)
def test_every_entry_summarises_any_answer_its_schema_allows(case: tuple[str, Any]) -> None:
    action, answer = case
    summary = BY_ACTION[action].summary
    assert summary is not None, action
    text, ok, detail = summary(snake_keys(answer))
    assert isinstance(text, str) and text
    assert isinstance(ok, bool)
    assert detail is None or isinstance(detail, str)


@pytest.mark.parametrize(
    ("action", "answer", "shown"),
    [
        ("Reset", {"status": "Rejected"}, ("Rejected", False, None)),
        ("UnlockConnector", {"status": "Unlocked"}, ("Unlocked", True, None)),
        (
            "GetConfiguration",
            {"configuration_key": [{"key": "A", "readonly": True}], "unknown_key": ["B"]},
            ("1 key read", True, "unknown: B"),
        ),
        ("GetLocalListVersion", {"list_version": 4}, ("version 4", True, None)),
        ("GetDiagnostics", {}, ("no file", False, None)),
        ("DataTransfer", {"status": "Accepted", "data": "hi"}, ("Accepted", True, "data: hi")),
        (
            "GetCompositeSchedule",
            {
                "status": "Accepted",
                "charging_schedule": {
                    "charging_rate_unit": "W",
                    "charging_schedule_period": [{"start_period": 0, "limit": 11.0}],
                },
            },
            ("Accepted", True, "from 0 s: 11.0 W"),
        ),
    ],
)
def test_summaries_read_as_the_page_says(
    action: str, answer: dict[str, Any], shown: tuple[str, bool, str | None]
) -> None:
    summary = BY_ACTION[action].summary
    assert summary is not None
    assert summary(answer) == shown


# --- the routes ---------------------------------------------------------------------------


async def test_every_entry_has_an_api_route(client) -> None:
    """Each name reaches its entry: a body it cannot be is refused for what it lacks (400),
    never an unknown operation (404); a 2.0.1 charger is told it is a 1.6 operation."""
    services = client.app[SERVICES]
    await services.charge_points.register("CAT16")
    await services.charge_points.register("CAT201", ocpp_version="2.0.1")
    names = [*CATALOGUE, "remote-start", "remote-stop"]
    for name in names:
        status, answer = await post(client, f"/api/charge-points/CAT16/{name}", {"x": 1})
        assert status == 400, (name, answer)
        assert "field" in answer["error"], (name, answer)
    only_16 = set(CATALOGUE) - set(CATALOGUES["2.0.1"])
    assert {"get-configuration", "get-diagnostics"} <= only_16
    for name in sorted(only_16):
        status, answer = await post(client, f"/api/charge-points/CAT201/{name}", {})
        assert (status, answer["error"]) == (
            400,
            f"{name} is an OCPP 1.6 operation; 'CAT201' speaks 2.0.1",
        ), name
    status, _ = await post(client, "/api/charge-points/CAT16/no-such-operation", {})
    assert status == 404


async def test_every_form_on_the_page_is_an_entry_that_reads_its_fields(client, portal) -> None:
    """The operations page of a 1.6 charger (with a configuration key, a reservation and a
    charging profile, whose rows have forms): each form posts to an entry with a form and
    sends only fields the entry reads; each entry with a form is on the page; posting one
    answers in place (offline here: said so, nothing sent)."""
    services = client.app[SERVICES]
    await services.charge_points.register("FORMS")
    operations = services.operations
    key = {"key": "HeartbeatInterval", "value": "60", "readonly": False}
    await operations.configuration_read("FORMS", [key])
    await operations.reserved("FORMS", 1, 1, "TAG", None, datetime.now(UTC) + timedelta(hours=1))
    await operations.charging_profile_set("FORMS", 1, PROFILE)
    operator = await portal("operator")
    status, page = await operator.get("/charge-points/FORMS/operations")
    assert status == 200
    forms = re.findall(
        r'<form method="post" action="/charge-points/FORMS/operations/([a-z-]+)"(.*?)</form>',
        page,
        re.S,
    )
    on_page = {name for name, _ in forms}
    with_form = {name for name, entry in CATALOGUE.items() if entry.form is not None}
    assert on_page == with_form
    for name, html in forms:
        fields = set(re.findall(r'name="([a-z_]+)"', html)) - {"csrf_token"}
        form = CATALOGUE[name].form
        assert form is not None
        assert fields <= set(form.readers), (name, fields - set(form.readers))
    for name in sorted(with_form):
        status, html = await operator.post(
            f"/charge-points/FORMS/operations/{name}", {}, headers=HTMX
        )
        assert status == 200 and "data-answer=" in html, (name, html)
    # No form: none to post (a 2.0.1 form's name is said to be one, for a page drawn when
    # the charger spoke 2.0.1).
    for name in sorted(set(CATALOGUE) - with_form):
        status, html = await operator.post(
            f"/charge-points/FORMS/operations/{name}", {}, headers=HTMX
        )
        if catalogue_201.CATALOGUE.get(name, CATALOGUE[name]).form is not None:
            assert f"{name} is an OCPP 2.0.1 operation" in html, name
        else:
            assert status == 404, name


def test_journal_status_of_per_item_answers() -> None:
    """Answers without a `status` of their own (2.0.1 per-variable and per-monitor
    results) get one in the journal: the items' common status, or how many were
    Accepted."""
    from ocpp_core.services.operations import answer_status

    assert answer_status({"status": "Rejected"}) == "Rejected"
    accepted = {"attributeStatus": "Accepted"}
    assert answer_status({"setVariableResult": [accepted, accepted]}) == "Accepted"
    mixed = [accepted, {"attributeStatus": "RebootRequired"}, {"attributeStatus": "Rejected"}]
    assert answer_status({"getVariableResult": mixed}) == "1 of 3 Accepted"
    monitors = {"setMonitoringResult": [{"status": "Accepted"}, {"status": "Duplicate"}]}
    assert answer_status(monitors) == "1 of 2 Accepted"
    snake = {"set_variable_result": [{"attribute_status": "Accepted"}]}
    assert answer_status(snake) == "Accepted"
    assert answer_status({"configurationKey": []}) is None and answer_status(None) is None
