"""The OpenAPI 3.1 document of the fakes' admin API (``/_fake/…``), generated from the code.

The paths and methods come from the admin app's route table (:func:`fakes.core.admin.create_admin_app`),
the request bodies from the models the routes validate with (fault rules and each fault kind's
``Params``, the roster) and the guard's caps (:mod:`fakes.core.admin_guard`). A route the table
below does not describe still appears, with a generic JSON answer, so the document never hides a
route; ``tests/fakes/test_admin_openapi.py`` keeps ``docs/fakes-admin-openapi.json`` equal to
what this module generates and runs schemathesis against a served world.

    python -m fakes.admin_openapi > docs/fakes-admin-openapi.json
    python -m fakes.admin_openapi --check docs/fakes-admin-openapi.json   # exit 1 when stale
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from starlette.routing import Route

from .app import FakeWorld
from .core.admin_guard import ADMIN_HEADER, MAX_NUMBER, MAX_RULES_PER_REQUEST, MAX_STRING
from .core.fault_engine import FaultRule
from .core.faults import FAULT_KINDS
from .core.roster import SOCIAL_PLATFORMS, Roster
from .core.world import World

__all__ = ["admin_openapi", "main"]

PREFIX = "/_fake"
_STATE_CHANGING = ("post", "put", "delete", "patch")
_REF = "#/components/schemas/{model}"


def _obj(props: dict[str, Any], required: Iterable[str] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    req = list(required)
    if req:
        out["required"] = req
    return out


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _capped(schema: Any) -> Any:
    """``schema`` with the admin guard's caps on every string and number (what it enforces)."""
    if isinstance(schema, list):
        return [_capped(x) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _capped(v) for k, v in schema.items()}
    types = out.get("type")
    types = types if isinstance(types, list) else [types]
    if "string" in types and "enum" not in out and "const" not in out:
        out["maxLength"] = min(int(out.get("maxLength", MAX_STRING)), MAX_STRING)
    if "number" in types or "integer" in types:
        out.setdefault("minimum", -MAX_NUMBER)
        out.setdefault("maximum", MAX_NUMBER)
        out["maximum"] = min(float(out["maximum"]), MAX_NUMBER)
    return out


def _pydantic(model: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """A pydantic model's JSON schema, its ``$defs`` moved into ``defs``."""
    schema = model.model_json_schema(ref_template=_REF)
    defs.update(schema.pop("$defs", {}))
    return dict(schema)


def _fault_rule_schemas(
    routes: dict[str, tuple[str, ...]], defs: dict[str, Any]
) -> list[dict[str, Any]]:
    """One schema per fault kind: its own params, a match naming one of its fakes and routes."""
    base = FaultRule.model_json_schema()["properties"]
    for fake, names in sorted(routes.items()):
        defs[f"Match_{fake}"] = {
            "type": "object",
            "description": f"requests to the {fake} fake (route: a route name of {fake})",
            "additionalProperties": False,
            "required": ["fake"],
            "properties": {
                "fake": {"const": fake},
                "route": {"enum": [*sorted(names), None]},
                "account": {"type": ["string", "null"], "description": "an account id"},
            },
        }
    out = []
    for kind in sorted(FAULT_KINDS):
        cls = FAULT_KINDS[kind]
        fakes = [f for f in cls.fakes if f in routes]
        params = _pydantic(cls.Params, defs)
        params.pop("title", None)
        any_fake = {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "fake": {"type": "null"},
                "route": {"enum": [*sorted({r for f in fakes for r in routes[f]}), None]},
                "account": {"type": ["string", "null"]},
            },
        }
        out.append(
            {
                "type": "object",
                "title": kind,
                "description": cls.summary(),
                "additionalProperties": False,
                "required": ["kind"],
                "properties": {
                    "id": {
                        "type": ["string", "null"],
                        "description": "the rule's id (default f1, f2 …); must not be installed yet",
                    },
                    "kind": {"const": kind},
                    "params": params,
                    "match": {
                        "anyOf": [
                            *({"$ref": _REF.format(model=f"Match_{f}")} for f in fakes),
                            any_fake,
                        ]
                    },
                    "probability": {k: v for k, v in base["probability"].items() if k != "title"},
                    "first_n": {"type": ["integer", "null"], "minimum": 1},
                    "every_nth": {"type": ["integer", "null"], "minimum": 1},
                    "start": {
                        "type": ["number", "null"],
                        "description": "window start, the fakes' clock (unix seconds); end ≥ start",
                    },
                    "end": {"type": ["number", "null"], "description": "window end (unix seconds)"},
                },
            }
        )
    return out


def _inbound_schema(roster: Roster) -> dict[str, Any]:
    variants = []
    for fake in sorted(SOCIAL_PLATFORMS):
        ids = sorted(a.id for a in roster.accounts(fake))
        if not ids:
            continue
        variants.append(
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["fake", "account", "text"],
                "properties": {
                    "fake": {"const": fake},
                    "kind": {"enum": ["comment", "dm"], "default": "comment"},
                    "account": {"enum": ids, "description": f"an account of {fake} in the roster"},
                    "text": {"type": "string", "minLength": 1},
                    "author": {"type": "string", "default": "@fan"},
                    "at": {"type": ["number", "null"], "description": "when it arrives (unix s)"},
                    "post_id": {"type": ["string", "null"]},
                },
            }
        )
    return {"oneOf": variants}


_ERROR = _obj(
    {
        "error": _obj(
            {
                "message": {"type": "string"},
                "path": {"type": "string"},
                "value": {},
                "valid": {"type": "array", "items": {}},
            },
            ["message"],
        )
    },
    ["error"],
)


def _describe(
    routes: dict[str, tuple[str, ...]], roster: Roster, defs: dict[str, Any]
) -> dict[tuple[str, str], dict[str, Any]]:
    """What each known route does, takes and answers."""
    rule = {"oneOf": _fault_rule_schemas(routes, defs)}
    defs["FaultRuleSpec"] = rule
    spec_ref = {"$ref": _REF.format(model="FaultRuleSpec")}
    roster_schema = _pydantic(Roster, defs)
    defs["Roster"] = roster_schema
    roster_ref = {"$ref": _REF.format(model="Roster")}
    since = {
        "name": "since",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 0},
        "description": "only rows after this sequence number",
    }
    fakes = sorted(routes)
    entries = {
        "type": "array",
        "items": {"type": "object", "description": "one row (see docs/contracts.md)"},
    }
    out: dict[tuple[str, str], dict[str, Any]] = {
        ("get", "/health"): {
            "summary": "Liveness: the fakes served, the fakes' clock, ledger and journal sizes",
            "responses": {
                "200": _json(
                    _obj(
                        {
                            "status": {"const": "ok"},
                            "fakes": {"type": "array", "items": {"type": "string"}},
                            "now": {"type": "number"},
                            "ledger": {"type": "integer", "minimum": 0},
                            "journal": {"type": "integer", "minimum": 0},
                            "journal_seq": {"type": "integer", "minimum": 0},
                            "inbound": {"type": "integer", "minimum": 0},
                        },
                        ["status", "fakes", "now", "ledger", "journal", "journal_seq", "inbound"],
                    ),
                    "the world is up",
                )
            },
        },
        ("get", "/faults/kinds"): {
            "summary": "The fault kinds: layer, fakes, what the outside world sees, parameters",
            "responses": {
                "200": _json(
                    _obj({"kinds": {"type": "array", "items": {"type": "object"}}}, ["kinds"]),
                    "every kind",
                )
            },
        },
        ("get", "/faults"): {
            "summary": "The rules in force (with hit counts) and every rule ever installed",
            "responses": {
                "200": _json(
                    _obj(
                        {
                            "faults": {"type": "array", "items": {"type": "object"}},
                            "history": {"type": "array", "items": {"type": "object"}},
                        },
                        ["faults", "history"],
                    ),
                    "rules and history",
                )
            },
        },
        ("post", "/faults"): {
            "summary": "Install one fault rule, or a list of them (all or nothing)",
            "description": (
                f"At most {MAX_RULES_PER_REQUEST} rules per request and 1,000 in force. A rule is "
                "refused (422, naming the path, value and valid choices) when its kind, params, "
                "match or window is bad, its id is already installed, or end < start."
            ),
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                spec_ref,
                                {
                                    "type": "array",
                                    "items": spec_ref,
                                    "maxItems": MAX_RULES_PER_REQUEST,
                                },
                            ]
                        }
                    }
                },
            },
            "responses": {
                "201": _json(
                    {
                        "oneOf": [
                            _obj(
                                {"id": {"type": "string"}, "rule": {"type": "object"}},
                                ["id", "rule"],
                            ),
                            _obj({"ids": {"type": "array", "items": {"type": "string"}}}, ["ids"]),
                        ]
                    },
                    "installed: the rule (one) or the ids (a list)",
                ),
                "422": _json(_ERROR, "a bad rule; nothing was installed"),
            },
        },
        ("delete", "/faults"): {
            "summary": "Remove every fault rule (they stay in the history)",
            "responses": {
                "200": _json(
                    _obj({"deleted": {"type": "integer", "minimum": 0}}, ["deleted"]), "how many"
                )
            },
        },
        ("delete", "/faults/{rule_id}"): {
            "summary": "Remove one fault rule",
            "parameters": [
                {"name": "rule_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": _json(_obj({"deleted": {"type": "string"}}, ["deleted"]), "removed"),
                "404": _json(_ERROR, "no such rule (the valid ids are listed)"),
            },
        },
        ("get", "/ledger"): {
            "summary": "The ground truth: every side effect the fakes performed",
            "parameters": [
                {
                    "name": "fake",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": fakes},
                },
                {"name": "action", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "account", "in": "query", "required": False, "schema": {"type": "string"}},
                since,
            ],
            "responses": {
                "200": _json(
                    _obj(
                        {
                            "entries": entries,
                            "count": {"type": "integer", "minimum": 0},
                            "total": {"type": "integer", "minimum": 0},
                        },
                        ["entries", "count", "total"],
                    ),
                    "ledger rows",
                ),
                "422": _json(_ERROR, "an unknown fake or a bad since"),
            },
        },
        ("get", "/journal"): {
            "summary": "Every request the fakes answered (method, route, status, fault, account)",
            "parameters": [
                {
                    "name": "fake",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "only this fake's requests (an unknown name matches none)",
                },
                since,
            ],
            "responses": {
                "200": _json(
                    _obj(
                        {
                            "entries": entries,
                            "count": {"type": "integer", "minimum": 0},
                            "dropped": {"type": "integer", "minimum": 0},
                        },
                        ["entries", "count", "dropped"],
                    ),
                    "journal rows",
                ),
                "422": _json(_ERROR, "a bad since"),
            },
        },
        ("get", "/roster"): {
            "summary": "The clients, accounts and credentials (secrets as fingerprints)",
            "parameters": [
                {
                    "name": "secrets",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": (
                        "1: the secrets themselves — only with the admin token when the world has "
                        "one; any other value gives fingerprints"
                    ),
                }
            ],
            "responses": {"200": _json(roster_ref, "the roster")},
        },
        ("get", "/tokens"): {
            "summary": "Every credential the fakes know (issued or refreshed) and its account",
            "parameters": [
                {
                    "name": "secrets",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": (
                        "1: the tokens themselves — only with the admin token when the world has "
                        "one; any other value gives fingerprints"
                    ),
                }
            ],
            "responses": {
                "200": _json(
                    _obj(
                        {
                            "tokens": {
                                "type": "array",
                                "items": _obj(
                                    {
                                        "kind": {"enum": ["access", "refresh"]},
                                        "account_id": {"type": "string"},
                                        "token": {"type": "string"},
                                        "fingerprint": {"type": "string"},
                                    },
                                    ["kind", "account_id"],
                                ),
                            },
                            "count": {"type": "integer", "minimum": 0},
                        },
                        ["tokens", "count"],
                    ),
                    "the credentials",
                )
            },
        },
        ("get", "/inbound"): {
            "summary": "Inbound comments and DMs scheduled, delivered or echoed, with their post",
            "parameters": [since],
            "responses": {
                "200": _json(
                    _obj(
                        {
                            "items": {
                                "type": "array",
                                "items": _obj(
                                    {
                                        "seq": {"type": "integer", "minimum": 1},
                                        "id": {"type": "string"},
                                        "fake": {"type": "string"},
                                        "kind": {"enum": ["comment", "dm"]},
                                        "account_id": {"type": "string"},
                                        "post_id": {"type": ["string", "null"]},
                                        "author": {"type": "string"},
                                        "t": {"type": "number"},
                                        "echo_of": {"type": ["string", "null"]},
                                        "text": {"type": "string"},
                                    },
                                    ["seq", "id", "fake", "kind", "account_id", "t"],
                                ),
                            },
                            "count": {"type": "integer", "minimum": 0},
                        },
                        ["items", "count"],
                    ),
                    "the inbound items after `since`",
                ),
                "422": _json(_ERROR, "`since` is not a non-negative integer"),
            },
        },
        ("put", "/roster"): {
            "summary": "Replace the roster (tokens are re-issued); answers it with fingerprints",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": roster_ref}},
            },
            "responses": {
                "200": _json(roster_ref, "the new roster"),
                "422": _json(_ERROR, "not a roster"),
            },
        },
        ("post", "/inbound"): {
            "summary": "Schedule inbound comments or DMs on the social fakes (all or nothing)",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": _REF.format(model="InboundItem")},
                                {
                                    "type": "array",
                                    "items": {"$ref": _REF.format(model="InboundItem")},
                                },
                            ]
                        }
                    }
                },
            },
            "responses": {
                "201": _json(
                    _obj({"ids": {"type": "array", "items": {"type": "string"}}}, ["ids"]),
                    "scheduled",
                ),
                "422": _json(_ERROR, "a bad item (unknown key, fake, kind or account; empty text)"),
            },
        },
        ("post", "/reset"): {
            "summary": "Forget ledger, journal, faults, inbound and every fake's state (keep the roster)",
            "responses": {"200": _json(_obj({"reset": {"const": True}}, ["reset"]), "reset")},
        },
    }
    defs["InboundItem"] = _inbound_schema(roster)
    return out


def admin_openapi(world: World | None = None) -> dict[str, Any]:
    """The admin API's OpenAPI 3.1 document for the routes of a world's admin app."""
    fw = FakeWorld(world or World(seed=0))
    routes = dict(fw.world.faults.routes)
    defs: dict[str, Any] = {}
    known = _describe(routes, fw.world.roster, defs)
    defs["Error"] = _ERROR
    paths: dict[str, dict[str, Any]] = {}
    for r in fw.admin.routes:
        if not isinstance(r, Route):
            continue
        for method in sorted(m.lower() for m in (r.methods or ()) if m != "HEAD"):
            op = copy.deepcopy(
                known.get(
                    (method, r.path),
                    {
                        "summary": f"{method.upper()} {PREFIX}{r.path} (not described yet)",
                        "responses": {"200": _json({"type": "object"}, "JSON")},
                    },
                )
            )
            op["operationId"] = (
                f"{method}_{r.path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}"
            )
            params = op.setdefault("parameters", [])
            if method in _STATE_CHANGING:
                params.append(
                    {
                        "name": ADMIN_HEADER,
                        "in": "header",
                        "required": True,
                        "schema": {"enum": ["1"]},
                        "description": "marks a call a web page cannot make (without the admin token)",
                    }
                )
                op["responses"]["403"] = _json(_ERROR, f"the {ADMIN_HEADER} header is missing")
                if "requestBody" in op:
                    op["responses"]["415"] = _json(_ERROR, "the body is not application/json")
                    op["responses"].setdefault("422", _json(_ERROR, "the body is bad"))
            if not params:
                del op["parameters"]
            op["responses"]["421"] = _json(_ERROR, "the Host header is not a loopback name")
            paths.setdefault(PREFIX + r.path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vibedrill fakes — admin API",
            "version": "1",
            "description": (
                "Arrange and inspect the fakes' outside world: faults, ledger, journal, roster, "
                "inbound traffic. Served on loopback without a token, every request must carry a "
                "loopback Host (else 421), every state-changing call the header "
                f"'{ADMIN_HEADER}: 1' (else 403) and a JSON body (else 415). Served with "
                "--admin-token, every call needs 'Authorization: Bearer <token>' (else 401) "
                "instead. Every JSON body is parsed with depth and size limits; strings are at "
                f"most {MAX_STRING:,} characters and numbers finite within ±{MAX_NUMBER:g}. "
                "Generated by `python -m fakes.admin_openapi` from fakes/core/admin.py."
            ),
        },
        "servers": [{"url": "http://127.0.0.1:8000", "description": "`vibedrill serve`"}],
        "paths": paths,
        "components": {
            "schemas": _capped(dict(sorted(defs.items()))),
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer", "description": "--admin-token"}
            },
        },
        "security": [{}, {"adminToken": []}],
    }


def render() -> str:
    """The document as committed: sorted keys, two-space indent, a final newline."""
    return json.dumps(admin_openapi(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the document, or with ``--check FILE`` exit 1 when FILE differs from it."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        sys.stdout.write(render())
        return 0
    if len(args) == 2 and args[0] == "--check":
        path = Path(args[1])
        if not path.is_file():
            print(f"{path}: no such file", file=sys.stderr)
            return 2
        if path.read_text() != render():
            print(f"{path} is stale: run `python -m fakes.admin_openapi > {path}`", file=sys.stderr)
            return 1
        return 0
    print("usage: python -m fakes.admin_openapi [--check FILE]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
