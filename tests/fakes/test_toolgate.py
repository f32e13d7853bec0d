"""Contract tests of the toolgate fake with the official ``mcp`` client, in-process and served."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from _sdk_errors import connection_error
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from fakes import FakeWorld, World, admin_headers
from fakes.core.clock import ManualClock
from fakes.core.roster import Roster
from fakes.toolgate import AGENCY_ACCOUNT, DEFAULT_TENANT, TOOL_NAMES, McpAsgiTransport
from harness.clock import run_virtual

URL = "http://fakes/toolgate/mcp"
MODES = ["auto", "legacy"]
KB_ARGS = {"client_id": "acme", "query": "opening hours"}


@pytest.fixture
def world() -> World:
    return World(roster=Roster.generate(clients=2, seed=7), now=ManualClock(), seed=7)


@pytest.fixture
def fw(world: World) -> FakeWorld:
    return FakeWorld(world, only=["toolgate"])


@asynccontextmanager
async def connect(fw: FakeWorld, mode: str = "auto") -> AsyncIterator[Client]:
    """Run the fakes and connect an official MCP client over streamable HTTP, in-process.

    One task enters and leaves both: the SDK's task groups refuse to be exited from another
    task, which is what an async fixture's teardown would do.
    """
    import httpx2

    async with (
        fw.running(),
        httpx2.AsyncClient(transport=McpAsgiTransport(fw.app)) as http,
        Client(streamable_http_client(URL, http_client=http), mode=mode) as client,
    ):
        yield client


async def add_fault(fw: FakeWorld, spec: dict[str, Any]) -> str:
    async with fw.client(base_url="http://fakes") as admin:
        r = await admin.post("/_fake/faults", json=spec)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def hits(fw: FakeWorld) -> dict[str, int]:
    async with fw.client(base_url="http://fakes") as admin:
        r = await admin.get("/_fake/faults")
    return {f["id"]: f["hits"] for f in r.json()["faults"]}


def text_of(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


# --- in-process -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_tools_list_names_every_tool_with_its_required_arguments(
    fw: FakeWorld, mode: str
) -> None:
    async with connect(fw, mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert sorted(tools) == sorted(TOOL_NAMES)
    assert tools["schedule_lookup"].input_schema["required"] == ["client_id", "date"]
    assert tools["analytics_fetch"].input_schema["required"] == ["client_id", "platform", "metric"]
    assert tools["kb_search"].input_schema["required"] == ["client_id", "query"]
    assert tools["asset_upload"].input_schema["required"] == [
        "client_id",
        "filename",
        "content_b64",
    ]


@pytest.mark.parametrize("mode", MODES)
async def test_a_tool_call_returns_data_and_writes_one_ledger_entry_on_the_agency_account(
    fw: FakeWorld, mode: str
) -> None:
    async with connect(fw, mode) as client:
        result = await client.call_tool("kb_search", KB_ARGS)
    assert not result.is_error
    assert result.structured_content["client_id"] == "acme"
    assert result.structured_content["hits"]
    [entry] = fw.world.ledger.entries(fake="toolgate")
    assert entry.action == "tool.called"
    assert entry.account_id == AGENCY_ACCOUNT
    assert entry.tenant_id == "agency"
    assert entry.detail == "kb_search client_id=acme"
    assert result.meta is not None and entry.request_id == result.meta["request_id"]


async def test_tool_results_are_deterministic_across_worlds() -> None:
    async def once() -> Any:
        fw = FakeWorld(
            World(roster=Roster.generate(clients=2, seed=7), now=ManualClock(), seed=7),
            only=["toolgate"],
        )
        async with connect(fw) as client:
            a = await client.call_tool(
                "schedule_lookup", {"client_id": "acme", "date": "2026-11-27"}
            )
            b = await client.call_tool(
                "analytics_fetch", {"client_id": "acme", "platform": "x", "metric": "likes"}
            )
            return a.structured_content, b.structured_content

    assert await once() == await once()


async def test_asset_upload_books_the_asset_id_and_rejects_bad_base64_as_a_tool_error(
    fw: FakeWorld,
) -> None:
    content = base64.b64encode(b"\x89PNG fake").decode()
    async with connect(fw) as client:
        ok = await client.call_tool(
            "asset_upload", {"client_id": "acme", "filename": "a.png", "content_b64": content}
        )
        bad = await client.call_tool(
            "asset_upload", {"client_id": "acme", "filename": "a.png", "content_b64": "%%%"}
        )
    assert not ok.is_error
    assert bad.is_error and "'%%%'" in text_of(bad)
    [entry] = fw.world.ledger.entries(fake="toolgate")
    assert entry.resource_id == ok.structured_content["asset_id"]


async def test_every_mcp_request_is_journaled_with_its_route_name(fw: FakeWorld) -> None:
    async with connect(fw, "legacy") as client:
        await client.list_tools()
        await client.call_tool("kb_search", KB_ARGS)
    routes = [e.route for e in fw.world.journal.entries(fake="toolgate")]
    assert routes[0] == "mcp.initialize"
    assert "mcp.other" in routes  # notifications/initialized
    assert routes.count("mcp.tools_list") == 1 and routes.count("mcp.tools_call") == 1
    assert all(e.account_id == AGENCY_ACCOUNT for e in fw.world.journal.entries(fake="toolgate"))


async def test_an_unknown_tool_is_a_json_rpc_error(fw: FakeWorld) -> None:
    async with connect(fw) as client:
        with pytest.raises(MCPError, match="Unknown tool: post_tweet"):
            await client.call_tool("post_tweet", {})
    assert len(fw.world.ledger) == 0


async def test_tool_missing_removes_the_tool_from_tools_list_and_calling_it_errors(
    fw: FakeWorld,
) -> None:
    rid = await add_fault(fw, {"kind": "toolgate.tool_missing", "params": {"tool": "kb_search"}})
    async with connect(fw) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        with pytest.raises(MCPError, match="Unknown tool: kb_search"):
            await client.call_tool("kb_search", KB_ARGS)
        other = await client.call_tool(
            "analytics_fetch", {"client_id": "acme", "platform": "x", "metric": "likes"}
        )
    assert "kb_search" not in names and len(names) == len(TOOL_NAMES) - 1
    assert not other.is_error
    assert (await hits(fw))[
        rid
    ] == 2  # one tools/list, one tools/call; the other tool's call is not a hit
    assert [e.detail for e in fw.world.ledger] == ["analytics_fetch client_id=acme"]


async def test_tool_missing_for_every_tool_leaves_tools_list_empty(fw: FakeWorld) -> None:
    await add_fault(fw, {"kind": "toolgate.tool_missing"})
    async with connect(fw) as client:
        assert (await client.list_tools()).tools == []


async def test_a_rule_for_every_tool_hides_all_tools_or_none_in_one_listing(fw: FakeWorld) -> None:
    rid = await add_fault(fw, {"kind": "toolgate.tool_missing", "probability": 0.5})
    async with connect(fw) as client:
        sizes = [len((await client.list_tools(cache_mode="bypass")).tools) for _ in range(20)]
    assert set(sizes) == {0, len(TOOL_NAMES)}  # seeded: both outcomes occur in 20 draws
    assert (await hits(fw))[rid] == sizes.count(0)


@pytest.mark.parametrize("mode", MODES)
async def test_unavailable_makes_the_session_fail_to_initialize(fw: FakeWorld, mode: str) -> None:
    rid = await add_fault(fw, {"kind": "toolgate.unavailable"})
    with pytest.raises(BaseExceptionGroup) as info:
        async with connect(fw, mode):
            pytest.fail("the session initialized although toolgate is unavailable")
    assert connection_error(info.value), repr(info.value)
    assert (await hits(fw))[rid] == 1
    [entry] = fw.world.journal.entries(fake="toolgate")
    assert (entry.route, entry.status, entry.fault_kind) == (
        "mcp.initialize",
        0,
        "toolgate.unavailable",
    )
    async with fw.client(base_url="http://fakes") as admin:
        assert (await admin.delete(f"/_fake/faults/{rid}")).status_code == 200
    async with connect(fw, mode) as client:
        assert len((await client.list_tools()).tools) == len(TOOL_NAMES)


async def test_schema_drift_renames_a_required_argument_in_the_listing_and_enforces_it(
    fw: FakeWorld,
) -> None:
    rid = await add_fault(fw, {"kind": "toolgate.schema_drift", "params": {"tool": "kb_search"}})
    async with connect(fw) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        old = await client.call_tool("kb_search", KB_ARGS)
        new = await client.call_tool("kb_search", {"tenant_id": "acme", "query": "opening hours"})
    assert tools["kb_search"].input_schema["required"] == ["tenant_id", "query"]
    assert tools["schedule_lookup"].input_schema["required"] == ["client_id", "date"]
    assert old.is_error and "'tenant_id' is a required property" in text_of(old)
    assert not new.is_error and new.structured_content["client_id"] == "acme"
    assert (await hits(fw))[rid] == 3
    assert len(fw.world.ledger) == 1


async def test_schema_drift_that_drops_an_argument_ignores_it_and_answers_for_the_default_tenant(
    fw: FakeWorld,
) -> None:
    await add_fault(
        fw, {"kind": "toolgate.schema_drift", "params": {"tool": "kb_search", "change": "drop"}}
    )
    async with connect(fw) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        got = await client.call_tool("kb_search", KB_ARGS)
    schema = tools["kb_search"].input_schema
    assert schema["required"] == ["query"] and "client_id" not in schema["properties"]
    assert "additionalProperties" not in schema  # extra arguments are not refused …
    assert not got.is_error  # … they are ignored: a result, for another tenant
    assert got.structured_content["client_id"] == DEFAULT_TENANT != KB_ARGS["client_id"]
    assert tools["schedule_lookup"].input_schema["required"] == ["client_id", "date"]


async def test_schema_drift_that_lists_a_tool_free_form_answers_its_calls_as_before(
    fw: FakeWorld,
) -> None:
    await add_fault(
        fw, {"kind": "toolgate.schema_drift", "params": {"tool": "kb_search", "change": "opaque"}}
    )
    async with connect(fw) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        got = await client.call_tool("kb_search", KB_ARGS)
    # an object naming no property: the listing says nothing about the arguments …
    assert tools["kb_search"].input_schema == {"type": "object"}
    # … and the tool behind it answers for the client it was asked about
    assert not got.is_error and got.structured_content["client_id"] == KB_ARGS["client_id"]
    assert tools["schedule_lookup"].input_schema["required"] == ["client_id", "date"]


async def test_tool_error_returns_a_result_with_is_error_and_books_nothing(fw: FakeWorld) -> None:
    rid = await add_fault(
        fw,
        {
            "kind": "toolgate.tool_error",
            "params": {"message": "kb backend timed out"},
            "first_n": 1,
        },
    )
    async with connect(fw) as client:
        failed = await client.call_tool("kb_search", KB_ARGS)
        ok = await client.call_tool("kb_search", KB_ARGS)
    assert failed.is_error and text_of(failed) == "kb backend timed out"
    assert not ok.is_error
    assert (await hits(fw))[rid] == 1
    assert len(fw.world.ledger) == 1
    faulted = [e for e in fw.world.journal.entries(fake="toolgate") if e.fault_kind]
    assert [(e.route, e.fault_id) for e in faulted] == [("mcp.tools_call", rid)]


async def test_an_http_outage_on_tools_call_is_an_mcp_error_and_the_session_stays_usable(
    fw: FakeWorld,
) -> None:
    rid = await add_fault(
        fw,
        {
            "kind": "http.outage",
            "params": {"status": 502},
            "match": {"route": "mcp.tools_call"},
            "first_n": 1,
        },
    )
    async with connect(fw) as client:
        with pytest.raises(MCPError) as info:
            await client.call_tool("kb_search", KB_ARGS)
        again = await client.call_tool("kb_search", KB_ARGS)
    assert info.value.code == -32603
    assert not again.is_error
    assert (await hits(fw))[rid] == 1
    statuses = [
        e.status for e in fw.world.journal.entries(fake="toolgate") if e.route == "mcp.tools_call"
    ]
    assert statuses == [502, 200]


async def test_a_fault_rule_matches_only_the_mcp_route_names(fw: FakeWorld) -> None:
    async with fw.client(base_url="http://fakes") as admin:
        r = await admin.post(
            "/_fake/faults",
            json={"kind": "toolgate.tool_error", "match": {"route": "mcp.tool_call"}},
        )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["value"] == "mcp.tool_call"
    assert "did you mean 'mcp.tools_call'" in err["message"]
    assert {"mcp.initialize", "mcp.tools_list", "mcp.tools_call"} <= set(err["valid"])


async def test_the_endpoint_answers_503_until_the_fakes_run(world: World) -> None:
    fw = FakeWorld(world, only=["toolgate"])
    async with fw.client() as http:
        r = await http.post(
            "http://toolgate.vibedrill.test/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
    assert r.status_code == 503
    assert "FakeWorld.running()" in r.json()["error"]["message"]


async def test_the_in_memory_client_sees_the_semantic_faults(fw: FakeWorld) -> None:
    rid = await add_fault(fw, {"kind": "toolgate.tool_missing", "params": {"tool": "asset_upload"}})
    server = fw.services["toolgate"].mcp_server  # type: ignore[attr-defined]
    async with fw.running(), Client(server) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool("kb_search", KB_ARGS)
    assert "asset_upload" not in names
    assert not result.is_error
    assert (await hits(fw))[rid] == 1
    assert [e.account_id for e in fw.world.ledger] == [AGENCY_ACCOUNT]


def test_the_official_client_runs_on_the_virtual_time_loop() -> None:
    async def main() -> tuple[float, float]:
        import asyncio

        loop = asyncio.get_running_loop()
        world = World(
            roster=Roster.generate(clients=2, seed=7), now=loop.time, seed=7, sleep=asyncio.sleep
        )
        fw = FakeWorld(world, only=["toolgate"])
        await add_fault(
            fw,
            {
                "kind": "http.latency",
                "params": {"ms": 90_000},
                "match": {"route": "mcp.tools_call"},
            },
        )
        async with connect(fw) as client:
            start = loop.time()
            await client.call_tool("kb_search", KB_ARGS)
            return start, world.ledger.entries()[0].t

    start, booked = run_virtual(main)
    assert booked - start == pytest.approx(90.0)


# --- served ---------------------------------------------------------------------------------


@pytest.fixture
def toolgate_url(served_fakes: dict[str, Any], fake_admin: httpx.Client) -> str:
    """The session's served toolgate, on a freshly reset world (``fake_admin`` resets it)."""
    return str(served_fakes["fakes"]["toolgate"])


@pytest.mark.served
async def test_served_toolgate_lists_and_calls_tools_over_streamable_http(
    served_fakes: dict[str, Any], toolgate_url: str
) -> None:
    assert toolgate_url.endswith("/toolgate/mcp")
    async with Client(toolgate_url) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool("kb_search", KB_ARGS)
    assert sorted(names) == sorted(TOOL_NAMES)
    assert not result.is_error
    async with httpx.AsyncClient(base_url=served_fakes["admin"], headers=admin_headers()) as admin:
        [entry] = (await admin.get("/ledger", params={"fake": "toolgate"})).json()["entries"]
    assert (entry["action"], entry["account_id"]) == ("tool.called", AGENCY_ACCOUNT)


@pytest.mark.served
async def test_served_tool_missing_and_hit_counts_show_in_the_admin_api(
    served_fakes: dict[str, Any], toolgate_url: str
) -> None:
    async with httpx.AsyncClient(base_url=served_fakes["admin"], headers=admin_headers()) as admin:
        rid = (
            await admin.post(
                "/faults", json={"kind": "toolgate.tool_missing", "params": {"tool": "kb_search"}}
            )
        ).json()["id"]
        async with Client(toolgate_url) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            with pytest.raises(MCPError, match="Unknown tool"):
                await client.call_tool("kb_search", KB_ARGS)
        [rule] = (await admin.get("/faults")).json()["faults"]
    assert "kb_search" not in names
    assert (rule["id"], rule["hits"]) == (rid, 2)


@pytest.mark.served
@pytest.mark.parametrize("mode", MODES)
async def test_served_unavailable_makes_the_session_fail_to_initialize(
    served_fakes: dict[str, Any], toolgate_url: str, mode: str
) -> None:
    async with httpx.AsyncClient(base_url=served_fakes["admin"], headers=admin_headers()) as admin:
        (await admin.post("/faults", json={"kind": "toolgate.unavailable"})).raise_for_status()
        with pytest.raises(BaseExceptionGroup) as info:
            async with Client(toolgate_url, mode=mode):
                pytest.fail("the session initialized although toolgate is unavailable")
        [rule] = (await admin.get("/faults")).json()["faults"]
        journal = (await admin.get("/journal", params={"fake": "toolgate"})).json()["entries"]
    assert connection_error(info.value), repr(info.value)
    assert rule["hits"] == 1
    assert [(e["route"], e["status"], e["fault_kind"]) for e in journal] == [
        ("mcp.initialize", 0, "toolgate.unavailable")
    ]


async def test_a_gateway_without_meta_names_its_request_only_in_the_header(fw: FakeWorld) -> None:
    rid = await add_fault(
        fw, {"kind": "toolgate.no_meta_request_id", "params": {"tool": "kb_search"}}
    )
    async with connect(fw) as client:
        bare = await client.call_tool("kb_search", KB_ARGS)
        other = await client.call_tool(
            "schedule_lookup", {"client_id": "acme", "date": "2026-11-27"}
        )
    assert not bare.is_error and not (bare.meta or {}).get("request_id")
    assert other.meta is not None and other.meta["request_id"]
    assert (await hits(fw))[rid] == 1
    assert len(fw.world.ledger) == 2
    # a variant, not a failure: the journal marks no fault on the request
    assert not [e for e in fw.world.journal.entries(fake="toolgate") if e.fault_kind]
