"""The platform contract's OpenAPI document, generated from the route table and the models.

``python -m sandbox.openapi > docs/platform-openapi.json`` regenerates the committed document;
a test checks that the committed file equals :func:`document`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .app import ROUTES, ErrorResponse
from .settings import SOCIAL_PLATFORMS

__all__ = ["document", "main"]

TITLE = "vibedrill platform contract"
VERSION = "1.0.0"


def _models() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {"ErrorResponse": ErrorResponse}
    for r in ROUTES:
        for m in (r.body, r.response):
            if m is not None:
                seen.setdefault(m.__name__, m)
    return [seen[k] for k in sorted(seen)]


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the HTTP platform contract."""
    models = _models()
    modes: list[tuple[type[BaseModel], Any]] = []
    for m in models:
        modes.append((m, "validation"))
    _refs, defs = models_json_schema(modes, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    # a kill switch's platform is checked against the social platforms (controls.py): say so
    scope_platform = schemas["KillScope"]["properties"]["platform"]["anyOf"][0]
    scope_platform["enum"] = list(SOCIAL_PLATFORMS)

    def ref(m: type[BaseModel]) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{m.__name__}"}

    err = {
        "description": "bad input: names the field, the value and the valid choices",
        "content": {"application/json": {"schema": ref(ErrorResponse)}},
    }
    paths: dict[str, Any] = {}
    for r in ROUTES:
        op: dict[str, Any] = {"operationId": r.operation_id, "summary": r.summary}
        params = [
            {
                "name": p,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1},
            }
            for p in r.path_params
        ]
        params += [
            {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}
            for name, schema, desc in r.query
        ]
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(r.body)}},
            }
        ok: dict[str, Any] = {"description": "OK"}
        if r.response is not None:
            ok["content"] = {"application/json": {"schema": ref(r.response)}}
        responses: dict[str, Any] = {str(r.status): ok}
        for code in r.errors:
            responses[str(code)] = {
                **err,
                "description": {404: "not found", 409: "conflict"}.get(code, err["description"]),
            }
        op["responses"] = responses
        paths.setdefault(r.path, {})[r.method.lower()] = op
    paths["/metrics"] = {
        "get": {
            "operationId": "prometheus",
            "summary": "Prometheus text exposition.",
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Controls, jobs, approvals, audit feed, alerts, metrics, defects, health and canary "
            "of a drillable Raize The Vibe platform.",
        },
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def main() -> None:
    """Print the document as stable, indented JSON."""
    sys.stdout.write(json.dumps(document(), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
