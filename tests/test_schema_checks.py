"""The compiled schema check (fastjsonschema) is only a fast path: on every OCPP 1.6 schema
it must accept exactly what jsonschema with OCPP's rules (32-bit integers, date-times)
accepts. Payloads are drawn from each schema itself, right and wrong in every field."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpp_core import payload_checks

SCHEMAS = sorted(
    path.name.removesuffix(".json")
    for path in resources.files("ocpp.v16.schemas").iterdir()
    if path.name.endswith(".json")
)

# Values that sit on or beside an edge of some 1.6 rule.
odd_values = st.sampled_from(
    [None, True, False, 0, -1, 1.0, 1.5, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, "", "x",
     "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+02:00", "2026-13-01T00:00:00Z", "yesterday",
     [], {}, "Accepted", "A" * 21, "A" * 256, 0.1, 21.4]
)  # fmt: skip


def _from_schema(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly right values for `schema`, sometimes wrong ones."""
    kind = schema.get("type")
    right: st.SearchStrategy[Any]
    if "enum" in schema:
        right = st.sampled_from(schema["enum"])
    elif kind == "object" and depth < 5:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))

        @st.composite
        def objects(draw: st.DrawFn) -> dict[str, Any]:
            payload = {}
            for name, sub in properties.items():
                if name in required or draw(st.booleans()):
                    payload[name] = draw(_from_schema(sub, depth + 1))
            if required and draw(st.integers(0, 9)) == 0:
                payload.pop(draw(st.sampled_from(sorted(required))), None)
            if draw(st.integers(0, 9)) == 0:
                payload[draw(st.text(max_size=8))] = draw(odd_values)
            return payload

        right = objects()
    elif kind == "array" and depth < 5:
        items = schema.get("items", {})
        right = st.lists(
            _from_schema(items, depth + 1),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 3), 3),
        )
    elif kind == "integer":
        right = st.integers(schema.get("minimum", -(2**33)), schema.get("maximum", 2**33))
    elif kind == "number":
        right = st.floats(allow_nan=False, allow_infinity=False) | st.integers()
    elif kind == "boolean":
        right = st.booleans()
    elif kind == "string" and schema.get("format") == "date-time":
        right = st.datetimes().map(lambda d: d.isoformat()) | st.text(max_size=25)
    elif kind == "string":
        right = st.text(max_size=schema.get("maxLength", 30) + 2)
    else:
        right = odd_values
    return st.one_of(right, right, right, odd_values)


def _payloads(name: str) -> st.SearchStrategy[dict[str, Any]]:
    schema = json.loads(resources.files("ocpp.v16.schemas").joinpath(f"{name}.json").read_text())
    return _from_schema(schema)


@pytest.mark.parametrize("name", SCHEMAS)
def test_compiled_check_agrees_with_jsonschema(name: str) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_payloads(name))
    def agree(payload: Any) -> None:
        by_jsonschema = not payload_checks.rule_errors(name, payload)
        assert (not payload_checks.schema_errors(name, payload)) is by_jsonschema, payload
        fast = payload_checks._fast_validator(name)
        if fast is not None:
            try:
                fast(payload)
                fast_accepts = True
            except fastjsonschema.JsonSchemaException:
                fast_accepts = False
            # The dangerous way round: accepted fast, refused by the rules.
            assert not fast_accepts or by_jsonschema, payload

    agree()
