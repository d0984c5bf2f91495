"""The automation definition's JSON Schema (a union of step types discriminated
on `type`): the body of `POST` and `PUT /automations` in the OpenAPI, and
`GET /schemas/automation.json` (public) for editors. The routes still validate
with `shared.domain.definition.parse_definition`, whose 422s name the step and field."""

import copy
from functools import cache
from typing import Any

from fastapi import APIRouter, FastAPI

from shared.domain.definition import Automation
from shared.domain.ids import ID_PATTERN

router = APIRouter(tags=["schemas"])
BODY = "AutomationDefinition"


@cache
def definition_schema(ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
    """The schema, its `id` (optional: generated when absent or null) included."""
    schema = Automation.model_json_schema(by_alias=True, ref_template=ref_template)
    id_schema = {"anyOf": [{"type": "string", "pattern": ID_PATTERN}, {"type": "null"}]}
    schema["properties"] = {"id": id_schema, **schema["properties"]}
    return schema


@router.get("/schemas/automation.json", summary="The automation definition's JSON Schema")
async def automation_schema() -> dict[str, Any]:
    return definition_schema()


def document(app: FastAPI) -> None:
    """Let the app's OpenAPI carry the definition's schema as the body of the routes that save one."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = plain()
        schema = copy.deepcopy(definition_schema("#/components/schemas/{model}"))
        components = spec.setdefault("components", {}).setdefault("schemas", {})
        for name, part in {**schema.pop("$defs"), BODY: schema}.items():
            if _without_null_defaults(components.get(name, part)) != _without_null_defaults(part):
                raise RuntimeError(f"two OpenAPI schemas named {name}")
            components[name] = part
        for path, method in (("/automations", "post"), ("/automations/{automation_id}", "put")):
            content = spec["paths"][path][method]["requestBody"]["content"]["application/json"]
            content["schema"] = {"$ref": f"#/components/schemas/{BODY}"}  # Its examples stay.
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _without_null_defaults(schema: Any) -> Any:
    """`schema` as FastAPI writes it for a response model (the steps of an
    automation's view): the same, without `"default": null`."""
    if isinstance(schema, dict):
        return {k: _without_null_defaults(v) for k, v in schema.items() if not (k == "default" and v is None)}
    if isinstance(schema, list):
        return [_without_null_defaults(v) for v in schema]
    return schema
