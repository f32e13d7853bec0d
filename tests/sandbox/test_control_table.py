"""The control table: one entry per control, and the contract, Controls and both clients agree."""

from __future__ import annotations

import inspect
from typing import Any

import httpx
import pytest

from sandbox.client import HttpPlatformClient
from sandbox.contract import ControlChange, KillScope, PlatformControls
from sandbox.control_table import CONTROLS, CONTROLS_BY_NAME, request_body
from sandbox.controls import Controls


def _params(fn: Any) -> set[str]:
    return {n for n in inspect.signature(fn).parameters if n != "self"}


def _declared_controls() -> set[str]:
    return {n for n in vars(PlatformControls) if n.startswith("set_")}


def test_every_control_of_the_contract_has_one_table_entry_and_one_implementation() -> None:
    names = [c.name for c in CONTROLS]
    assert len(names) == len(set(names)), "a control is declared twice in the table"
    assert set(names) == _declared_controls()
    paths = [c.path for c in CONTROLS]
    assert len(paths) == len(set(paths))
    for spec in CONTROLS:
        fields = set(spec.request.model_fields)
        assert _params(getattr(PlatformControls, spec.name)) == fields, spec.name
        assert _params(getattr(Controls, spec.name)) == fields, spec.name


def test_a_control_posted_without_an_optional_field_means_what_the_typed_call_means() -> None:
    # a raw POST (curl, a team's own tooling) that leaves out an optional field gets the request
    # model's default: it must be the contract's and the implementation's, or over HTTP "hold
    # X read-only" holds another lane than the same call made in-process (blind bug 1103)
    for spec in CONTROLS:
        for name, field in spec.request.model_fields.items():
            if field.is_required():
                continue
            for fn in (getattr(PlatformControls, spec.name), getattr(Controls, spec.name)):
                param = inspect.signature(fn).parameters[name]
                # required in the typed call (a kill switch's scope: over HTTP a bare POST
                # means the global switch, the fail-safe reading)
                if param.default is inspect.Parameter.empty:
                    continue
                assert param.default == field.get_default(), (spec.name, name, fn)


class _Recorder(PlatformControls):
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call_control(self, name: str, arguments: dict[str, Any]) -> ControlChange:
        self.calls.append((name, arguments))
        return ControlChange(seq=1, t=0.0, actor="a", reason="r", control=name, scope={}, value=1)


async def test_a_typed_control_call_passes_its_name_and_every_argument() -> None:
    rec = _Recorder()
    await rec.set_lane("x", "browser", actor="ops", reason="drill")
    await rec.set_pacing("x", actor="ops", reason="slow", concurrency=2)
    assert rec.calls[0] == (
        "set_lane",
        {"platform": "x", "lane": "browser", "actor": "ops", "reason": "drill"},
    )
    name, args = rec.calls[1]
    assert name == "set_pacing" and args["concurrency"] == 2 and args["jitter_s"] is None


async def test_the_http_client_posts_each_control_to_its_table_path() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={"seq": 1, "t": 0.0, "actor": "ops", "reason": "r", "control": "kill_switch",
                  "scope": {}, "value": True},
        )  # fmt: skip

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with HttpPlatformClient("http://platform", http=http) as pc:
        await pc.set_kill_switch(KillScope(client_id="acme"), True, actor="ops", reason="r")
        await pc.set_budget(actor="ops", reason="r", client_usd=5.0)
    assert [r.url.path for r in seen] == [
        CONTROLS_BY_NAME["set_kill_switch"].path,
        CONTROLS_BY_NAME["set_budget"].path,
    ]
    assert seen[1].content and b'"client_usd":5.0' in seen[1].content.replace(b" ", b"")
    assert b"episode_usd" not in seen[1].content, "None (keep the value) is left out"


async def test_an_unknown_control_name_is_refused_with_the_valid_names() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    async with HttpPlatformClient("http://platform", http=http) as pc:
        with pytest.raises(ValueError, match=r"'set_lanes' is not a control; controls: .*set_lane"):
            await pc.call_control("set_lanes", {})


def test_a_request_body_leaves_out_none_and_dumps_models() -> None:
    body = request_body({"scope": KillScope(platform="x"), "engaged": True, "client_id": None})
    assert body == {"scope": {"platform": "x"}, "engaged": True}
