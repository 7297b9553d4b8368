"""JSON Schemas of the gateway's pydantic models as its published documents carry them.

Every schema the OpenAPI document (and the AsyncAPI document's activity event) shows comes
from here, so a model and its description cannot drift apart: one generator, references as
`#/components/schemas/<Model>`, and no per-field `title` (pydantic derives them from the
Python names — `Hubid` — which say nothing the property name does not).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import CoreSchema

COMPONENT_REF = "#/components/schemas/{model}"

Schema = dict[str, Any]
ModelUse = tuple[type[BaseModel], JsonSchemaMode]


class _DocumentSchema(GenerateJsonSchema):
    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        return False


def component_schemas(uses: Sequence[ModelUse]) -> tuple[dict[ModelUse, Schema], Schema]:
    """For each (model, mode): the schema that refers to it, and every component schema
    those references need, by name. `validation` is what a model accepts (request bodies),
    `serialization` what it produces (responses)."""
    refs, definitions = models_json_schema(
        list(uses), ref_template=COMPONENT_REF, schema_generator=_DocumentSchema
    )
    by_use = {(model, mode): refs[(model, mode)] for model, mode in uses}
    return by_use, dict(definitions.get("$defs", {}))


def document_schema(model: type[BaseModel]) -> Schema:
    """One model's schema on its own, as it validates (a query model's fields)."""
    return model.model_json_schema(schema_generator=_DocumentSchema)


def text_parameter(name: str, location: str, description: str, *, required: bool) -> Schema:
    """An OpenAPI parameter whose value is text (a header, or a query value no model has)."""
    return {
        "name": name,
        "in": location,
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }
