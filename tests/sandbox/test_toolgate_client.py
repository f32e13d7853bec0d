"""The platform's MCP client (official ``mcp`` SDK) against the in-process toolgate fake.

The side effect that depends on a tool result is a real post on the X fake, so the ledger — not
the client's own word — shows whether it happened.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from fakes import FakeWorld, World
from fakes.core.roster import Roster
from harness.clock import run_virtual
from sandbox.egress import EgressGuard
from sandbox.toolgate_client import ToolGate, ToolGateError, ToolResult

URL = "https://toolgate.vibedrill.test/mcp"
SEED = 5
KB = {"client_id": "acme", "query": "opening hours"}


@dataclass
class Rig:
    world: World
    gate: ToolGate
    http: httpx.AsyncClient
    audit: list[dict[str, Any]] = field(default_factory=list)
    blocked: list[ToolGateError] = field(default_factory=list)

    async def post(self, result: ToolResult) -> str:
        """The dependent side effect: post the tool's first hit on acme's X account."""
        token = self.world.roster.account("acme-x").credential.access_token
        hits = result.data.get("hits") or [{"snippet": "no data"}]
        r = await self.http.post(
            "https://api.x.com/2/tweets",
            json={"text": f"FAQ: {hits[0]['snippet']}"},
            headers={"authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["data"]["id"])

    async def on_blocked(self, err: ToolGateError) -> None:
        self.blocked.append(err)

    def posts(self) -> list[Any]:
        return self.world.ledger.entries(action="post.created")

    def tool_outcomes(self) -> list[dict[str, Any]]:
        return [e for e in self.audit if e["action"] == "tool.call" and e["phase"] == "outcome"]


def drill(
    body: Callable[[Rig], Awaitable[None]],
    *,
    faults: tuple[dict[str, Any], ...] = (),
    fail_open: bool = False,
    allowed: tuple[str, ...] = ("https://toolgate.vibedrill.test", "https://api.x.com"),
) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        world = World(roster=Roster.generate(clients=2, seed=SEED), now=loop.time, seed=SEED)
        fw = FakeWorld(world, only=["toolgate", "x"])
        for f in faults:
            world.faults.add(f)
        audit: list[dict[str, Any]] = []
        key = world.roster.account("agency-toolgate").credential.access_token
        async with (
            fw.running(),
            httpx.AsyncClient(transport=EgressGuard(fw.transport(), allowed)) as http,
        ):
            gate = ToolGate(
                http,
                URL,
                audit=lambda **kw: audit.append(kw),
                fail_open=lambda: fail_open,
                api_key=lambda: key,
            )
            await body(Rig(world, gate, http, audit))

    run_virtual(main)


def test_a_tool_call_returns_data_and_is_audited_with_the_ledgers_request_id() -> None:
    async def body(rig: Rig) -> None:
        res = await rig.gate.call(
            "kb_search", KB, client_id="acme", job_id="j-1", trace_id="t" * 32
        )
        assert res.data["hits"] and not res.defaulted
        (entry,) = rig.world.ledger.entries(action="tool.called")
        (out,) = rig.tool_outcomes()
        assert (
            out["outcome"] == "success"
            and out["proof"]["request_id"] == entry.request_id == res.request_id
        )
        assert out["account_id"] == entry.account_id == "agency-toolgate"

    drill(body)


def test_the_dependent_side_effect_runs_when_the_tool_answers() -> None:
    async def body(rig: Rig) -> None:
        out = await rig.gate.guarded(
            "kb_search", KB, rig.post, client_id="acme", on_blocked=rig.on_blocked
        )
        assert out.performed and len(rig.posts()) == 1 and not rig.blocked

    drill(body)


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"kind": "toolgate.unavailable"}, "unavailable"),
        ({"kind": "toolgate.tool_missing", "params": {"tool": "kb_search"}}, "tool_missing"),
        ({"kind": "toolgate.schema_drift"}, "schema_drift"),
        ({"kind": "toolgate.tool_error"}, "tool_error"),
        ({"kind": "http.outage", "match": {"fake": "toolgate"}}, "unavailable"),
    ],
)
def test_the_client_fails_closed_on_every_gateway_failure(fault: dict[str, Any], kind: str) -> None:
    async def body(rig: Rig) -> None:
        out = await rig.gate.guarded(
            "kb_search", KB, rig.post, client_id="acme", on_blocked=rig.on_blocked
        )
        assert not out.performed and out.error is not None and out.error.kind == kind
        assert rig.posts() == [], "a side effect ran although the tool gateway failed"
        assert [e.kind for e in rig.blocked] == [kind]
        (audited,) = rig.tool_outcomes()
        assert audited["outcome"] == "failed" and audited["detail"]["failure"] == kind

    drill(body, faults=(fault,))


def test_toolgate_fail_open_performs_the_side_effect_with_an_empty_result() -> None:
    async def body(rig: Rig) -> None:
        out = await rig.gate.guarded(
            "kb_search", KB, rig.post, client_id="acme", on_blocked=rig.on_blocked
        )
        assert out.performed and out.result is not None and out.result.defaulted
        assert len(rig.posts()) == 1 and not rig.blocked

    drill(body, faults=({"kind": "toolgate.unavailable"},), fail_open=True)


def test_an_approved_job_may_go_ahead_without_the_tool() -> None:
    async def body(rig: Rig) -> None:
        out = await rig.gate.guarded("kb_search", KB, rig.post, client_id="acme", approved=True)
        assert out.performed and len(rig.posts()) == 1 and out.error is not None

    drill(body, faults=({"kind": "toolgate.unavailable"},))


def test_the_tool_gateway_is_reached_only_through_the_egress_guard() -> None:
    async def body(rig: Rig) -> None:
        with pytest.raises(ToolGateError, match="egress refused") as err:
            await rig.gate.call("kb_search", KB, client_id="acme")
        assert err.value.kind == "unavailable"
        assert rig.world.journal.entries(fake="toolgate") == []

    drill(body, allowed=("https://api.x.com",))


def test_list_tools_names_the_gateways_tools() -> None:
    async def body(rig: Rig) -> None:
        names = {t.name for t in await rig.gate.list_tools()}
        assert {"kb_search", "schedule_lookup"} <= names

    drill(body)


# --- through the platform: tool_call jobs ---------------------------------------------------


def _tool_job(client: str = "acme") -> Any:
    from sandbox.contract import JobSpec

    return JobSpec(
        kind="tool_call",
        client_id=client,
        payload={
            "tool": "kb_search",
            "arguments": {"client_id": client, "query": "opening hours"},
            "then": {"kind": "publish", "platform": "x", "payload": {"text": "FAQ: {result}"}},
        },
    )


def _platform(
    body: Callable[[Any], Awaitable[None]],
    *,
    defects: tuple[str, ...] = (),
    faults: tuple[dict[str, Any], ...] = (),
) -> None:
    from tests.sandbox.platform_rig import rig, virtual

    async def main() -> None:
        async with rig(clients=2, platforms=("x",), defects=defects) as r:
            for f in faults:
                r.world.faults.add(f)
            await body(r)

    virtual(main)


def test_a_tool_call_job_publishes_its_follow_up_with_the_tool_result() -> None:
    async def body(r: Any) -> None:
        job = r.platform.submit(_tool_job())
        await r.settle()
        assert job.state == "succeeded" and not job.result["defaulted"]
        (post,) = r.ledger("post.created", fake="x")
        assert post.account_id == "acme-x"
        assert len(r.ledger("tool.called", fake="toolgate")) == 1

    _platform(body)


def test_a_failing_gateway_holds_the_tool_job_and_blocks_its_follow_up() -> None:
    async def body(r: Any) -> None:
        job = r.platform.submit(_tool_job())
        await r.settle()
        assert job.state == "awaiting_approval" and "fail closed" in (job.last_error or "")
        assert r.ledger("post.created") == []
        (blocked,) = r.audit(action="post.create", outcome="blocked")
        assert blocked.error.startswith("fail_closed: toolgate.unavailable")
        # a person approves: the follow-up goes ahead without the tool
        await r.client.approve(job.id, actor="ops", reason="RB-08: post the FAQ anyway")
        await r.settle()
        assert job.state == "succeeded" and len(r.ledger("post.created")) == 1

    _platform(body, faults=({"kind": "toolgate.unavailable"},))


def test_toolgate_fail_open_publishes_the_follow_up_although_the_gateway_failed() -> None:
    async def body(r: Any) -> None:
        job = r.platform.submit(_tool_job())
        await r.settle()
        assert job.state == "succeeded" and job.result["defaulted"]
        assert len(r.ledger("post.created")) == 1 and r.ledger("tool.called") == []

    _platform(body, defects=("toolgate_fail_open",), faults=({"kind": "toolgate.unavailable"},))
