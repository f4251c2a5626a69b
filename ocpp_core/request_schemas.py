"""The operations' requests and answers as the JSON API takes and gives them: each the
`ocpp` package's JSON schema that `CentralSystem.operate` checks it against (with OCPP's
32-bit integers, `payload_checks.bounded_schema`), its property names in snake_case as
the API spells them (the `ocpp` library's conversion, which `camel_keys` undoes exactly), as
JSON Schema 2020-12, the dialect of OpenAPI 3.1.

The schemas' `definitions` become shared components, named `ocpp16.X` / `ocpp201.X`, each
`$ref` pointing at `#/components/schemas/...` of the document that holds them.
"""

from __future__ import annotations

import copy
from typing import Any

from ocpp_core.dialects import DIALECTS, Dialect
from ocpp_core.payload_checks import bounded_schema
from ocpp_core.payload_keys import snake_key

COMPONENTS = "#/components/schemas/"
# Keywords of the drafts the library's schemas are written in that 2020-12 has not, or
# that say nothing to a client (`javaType`, `comment`).
_DROPPED = frozenset({"$schema", "$id", "id", "comment", "javaType", "additionalItems"})
# Keywords whose value is a schema, or a list of them.
_SUBSCHEMA = frozenset({"items", "additionalProperties", "not"})
_SUBSCHEMAS = frozenset({"anyOf", "oneOf", "allOf"})


def component_prefix(dialect: Dialect) -> str:
    return "ocpp" + dialect.version.replace(".", "")


class OcppSchemas:
    """The converted schemas of the operations, gathered as named components: `request`
    and `answer` give a `$ref` to one, converting it (and its definitions) on first use."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}

    def request(self, version: str, action: str) -> dict[str, Any]:
        dialect = DIALECTS[version]
        return self.schema(dialect, dialect.request_schema(action))

    def answer(self, version: str, action: str) -> dict[str, Any]:
        dialect = DIALECTS[version]
        return self.schema(dialect, dialect.answer_schema(action))

    def schema(self, dialect: Dialect, schema_name: str) -> dict[str, Any]:
        prefix = component_prefix(dialect)
        name = f"{prefix}.{schema_name}"
        if name not in self.components:
            source = bounded_schema(schema_name, dialect)
            names = self._definitions(prefix, schema_name, source.get("definitions", {}))
            converted = _convert(source, names)
            converted.setdefault("title", schema_name)
            converted["description"] = f"OCPP {dialect.version} {schema_name}, in snake_case"
            self.components[name] = converted
        return {"$ref": COMPONENTS + name}

    def resolve(self, reference: dict[str, Any]) -> dict[str, Any]:
        """The component a `$ref` of this collection names."""
        return self.components[reference["$ref"].removeprefix(COMPONENTS)]

    def _definitions(
        self, prefix: str, schema_name: str, definitions: dict[str, Any]
    ) -> dict[str, str]:
        """Each definition's component name: shared by every schema whose definition of
        that name is the same (most are), else this schema's own."""
        names = {key: f"{prefix}.{key}" for key in definitions}
        while True:  # until no renaming changes a definition that refers to a renamed one
            converted = {key: _convert(value, names) for key, value in definitions.items()}
            clashes = {
                key
                for key, schema in converted.items()
                if self.components.get(names[key], schema) != schema
            }
            if not clashes:
                break
            names.update({key: f"{prefix}.{schema_name}.{key}" for key in clashes})
        for key, schema in converted.items():
            self.components.setdefault(names[key], schema)
        return names


def _convert(schema: Any, names: dict[str, str]) -> Any:
    """One schema, its property names snake_case, its references to `names`."""
    if isinstance(schema, list):
        return [_convert(item, names) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword in _DROPPED or keyword == "definitions":
            continue
        if keyword == "$ref":
            converted[keyword] = COMPONENTS + names[value.removeprefix("#/definitions/")]
        elif keyword == "properties":
            converted[keyword] = {snake_key(k): _convert(v, names) for k, v in value.items()}
        elif keyword == "required":
            converted[keyword] = [snake_key(name) for name in value]
        elif keyword in _SUBSCHEMA or keyword in _SUBSCHEMAS:
            converted[keyword] = _convert(value, names)
        else:
            converted[keyword] = copy.deepcopy(value)
    return converted
