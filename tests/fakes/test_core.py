"""The fakes' shared machinery, tested directly: fault engine, ledger, journal, clocks, CLI, serve."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from typer.testing import CliRunner

from fakes import FAKE_NAMES
from fakes.core.clock import DEFAULT_EPOCH, ManualClock
from fakes.core.faults import FAULT_KINDS, FaultEngine, FaultKind, FaultRuleError
from fakes.core.journal import Journal
from fakes.core.ledger import Ledger
from fakes.core.roster import Roster
from fakes.core.world import World
from fakes.serve import ServedFakes, is_loopback, ready_document
from harness.cli.main import EXIT_USAGE, app
from harness.clock import VirtualTimeLoop, run_virtual

ROUTES = {
    "x": ("tweets.create", "tweets.lookup", "oauth.token"),
    "toolgate": ("mcp.tools_call", "mcp.tools_list"),
}


def engine(seed: int = 0, clock: ManualClock | None = None) -> FaultEngine:
    import random

    e = FaultEngine(random.Random(f"faults:{seed}"), clock or ManualClock())
    e.routes.update(ROUTES)
    return e


def reject(spec: Any) -> FaultRuleError:
    with pytest.raises(FaultRuleError) as info:
        engine().validate(spec)
    return info.value


# --- fault rule validation ------------------------------------------------------------------


def test_an_unknown_kind_names_the_value_the_valid_kinds_and_the_closest_one() -> None:
    err = reject({"kind": "x.ratelimited"})
    assert err.path == "kind" and err.value == "x.ratelimited"
    assert "'x.ratelimited' is not a fault kind; did you mean 'x.rate_limited'?" in str(err)
    assert err.valid == sorted(FAULT_KINDS)


def test_a_rule_that_is_not_an_object_is_refused_with_the_keys_a_rule_takes() -> None:
    err = reject(["x.rate_limited"])
    assert err.path == "$" and err.value == ["x.rate_limited"]
    assert "kind" in err.valid and "match" in err.valid


def test_an_unknown_top_level_key_is_refused_with_a_suggestion() -> None:
    err = reject({"kind": "http.outage", "probabilty": 0.5})
    assert err.path == "probabilty"
    assert "did you mean 'probability'?" in str(err)
    assert "probability" in err.valid


def test_an_unknown_fake_names_the_fakes() -> None:
    err = reject({"kind": "http.outage", "match": {"fake": "twitter"}})
    assert (err.path, err.value) == ("match.fake", "twitter")
    assert err.valid == sorted(ROUTES)


def test_a_kind_on_a_fake_it_does_not_apply_to_names_the_fakes_it_does() -> None:
    err = reject({"kind": "x.rate_limited", "match": {"fake": "toolgate"}})
    assert "x.rate_limited does not apply to 'toolgate'" in str(err)
    assert err.valid == ["x"]


def test_an_unknown_route_names_the_routes_and_the_closest_one() -> None:
    err = reject({"kind": "x.rate_limited", "match": {"fake": "x", "route": "tweet.create"}})
    assert (err.path, err.value) == ("match.route", "tweet.create")
    assert "did you mean 'tweets.create'?" in str(err)
    assert err.valid == sorted(ROUTES["x"])


def test_a_route_glob_that_matches_a_route_is_accepted() -> None:
    rule, _ = engine().validate({"kind": "x.rate_limited", "match": {"route": "tweets.*"}})
    assert rule.match.route == "tweets.*"


def test_a_bad_param_value_shows_the_value_and_the_kind() -> None:
    err = reject({"kind": "http.latency", "params": {"ms": -5}})
    assert (err.path, err.value) == ("params.ms", -5)
    assert "(got -5) for http.latency" in str(err)
    assert err.valid == ["ms", "jitter_ms", "committed"]


def test_an_unknown_param_is_refused_with_a_suggestion() -> None:
    err = reject({"kind": "x.rate_limited", "params": {"retry_after": 60}})
    assert err.path == "params.retry_after"
    assert "did you mean 'retry_after_s'?" in str(err)


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    err = reject({"kind": "http.outage", "start": 100.0, "end": 50.0})
    assert (err.path, err.value) == ("end", 50.0)


def test_a_duplicate_rule_id_is_refused_and_the_first_rule_stays() -> None:
    e = engine()
    e.add({"id": "storm", "kind": "http.outage"})
    with pytest.raises(FaultRuleError, match="'storm' is already installed"):
        e.add({"id": "storm", "kind": "http.reset"})
    assert [r["kind"] for r in e.rules()] == ["http.outage"]


def test_a_fault_kind_defined_twice_names_both_definitions() -> None:
    with pytest.raises(
        TypeError, match=r"defined twice: fakes\.core\.faults\.HttpOutage and .*Again"
    ):

        class Again(FaultKind):
            """Seen twice."""

            kind = "http.outage"
            layer = "protocol"
            fakes = ("x",)


def test_every_fault_kind_says_what_is_seen_and_describes_its_params() -> None:
    for kind, cls in FAULT_KINDS.items():
        d = cls.describe()
        assert d["kind"] == kind and d["description"], kind
        assert set(d["params"]) == set(cls.Params.model_fields), kind


# --- triggers -------------------------------------------------------------------------------


def fires(
    e: FaultEngine,
    n: int,
    kind: str = "http.outage",
    fake: str = "x",
    route: str = "tweets.create",
    account: str | None = None,
) -> list[bool]:
    return [e.fire(fake, route, account, kind) is not None for _ in range(n)]


def test_probability_draws_from_the_seeded_rng_so_a_seed_replays() -> None:
    runs = []
    for seed in (7, 7, 8):
        e = engine(seed)
        e.add({"kind": "http.outage", "probability": 0.3})
        runs.append(fires(e, 200))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert 30 <= sum(runs[0]) <= 90


def test_first_n_fires_on_the_first_n_matching_requests_only() -> None:
    e = engine()
    rid = e.add({"kind": "http.outage", "first_n": 3}).id
    assert fires(e, 6) == [True] * 3 + [False] * 3
    [rule] = e.rules()
    assert (rule["id"], rule["matched"], rule["hits"]) == (rid, 6, 3)


def test_every_nth_fires_on_every_nth_matching_request() -> None:
    e = engine()
    e.add({"kind": "http.outage", "every_nth": 3})
    assert fires(e, 9) == [False, False, True] * 3


def test_a_rule_fires_only_inside_its_window_on_the_injected_clock() -> None:
    clock = ManualClock()
    e = engine(clock=clock)
    t0 = clock()
    e.add({"kind": "http.outage", "start": t0 + 60, "end": t0 + 120})
    seen = []
    for _ in range(4):
        seen.append(fires(e, 1)[0])
        clock.advance(40)
    assert seen == [False, False, True, False]  # t0, t0+40, t0+80, t0+120 (end is exclusive)
    [rule] = e.rules()
    assert rule["first_hit_at"] == t0 + 80 and rule["matched"] == 1


def test_match_narrows_by_fake_route_glob_and_account() -> None:
    e = engine()
    e.add({"kind": "http.outage", "match": {"fake": "x", "route": "tweets.*", "account": "acme-x"}})
    assert e.fire("x", "tweets.create", "acme-x", "http.outage") is not None
    assert e.fire("x", "tweets.create", "globex-x", "http.outage") is None
    assert e.fire("x", "oauth.token", "acme-x", "http.outage") is None
    assert e.fire("toolgate", "mcp.tools_call", "acme-x", "http.outage") is None


def test_a_kind_never_fires_on_a_fake_it_does_not_apply_to() -> None:
    e = engine()
    e.add({"kind": "x.rate_limited"})
    assert e.fire("toolgate", "mcp.tools_call", None, "x.rate_limited") is None
    assert e.fire("x", "tweets.create", None, "x.rate_limited") is not None


def test_where_narrows_by_params_before_anything_is_counted() -> None:
    e = engine()
    e.add({"kind": "toolgate.tool_missing", "params": {"tool": "kb_search"}})

    def for_tool(name: str) -> Any:
        return lambda p: getattr(p, "tool", None) == name

    assert (
        e.fire(
            "toolgate",
            "mcp.tools_call",
            None,
            "toolgate.tool_missing",
            where=for_tool("asset_upload"),
        )
        is None
    )
    fired = e.fire(
        "toolgate", "mcp.tools_call", None, "toolgate.tool_missing", where=for_tool("kb_search")
    )
    assert fired is not None and isinstance(fired.params, BaseModel)
    [rule] = e.rules()
    assert (rule["matched"], rule["hits"]) == (1, 1)


def test_hit_counts_are_kept_per_rule_and_per_kind_and_survive_removal_in_history() -> None:
    clock = ManualClock()
    e = engine(clock=clock)
    a = e.add({"kind": "http.outage", "match": {"route": "tweets.create"}}).id
    b = e.add({"kind": "http.reset"}).id
    fires(e, 2)
    fires(e, 1, kind="http.reset")
    assert e.hits_by_kind() == {"http.outage": 2, "http.reset": 1}
    clock.advance(5)
    assert e.remove(a) and not e.remove(a)
    assert e.clear() == 1
    assert e.rules() == [] and not e.active("http.reset")
    by_id = {h["id"]: h for h in e.history}
    assert by_id[a]["hits"] == 2 and by_id[a]["removed_at"] == clock()
    assert by_id[b]["hits"] == 1


# --- ledger and journal ---------------------------------------------------------------------


def record(ledger: Ledger, n: int, **kw: Any) -> None:
    for i in range(n):
        fields = {
            "t": float(i),
            "fake": "x",
            "action": "post.created",
            "account_id": "acme-x",
            "tenant_id": "acme",
            "credential_fp": None,
            "request_id": f"r{i}",
            "resource_id": str(i),
            "content_hash": None,
        }
        ledger.record(**{**fields, **kw})


def test_the_ledger_filters_by_fake_action_account_and_since() -> None:
    ledger = Ledger()
    record(ledger, 3)
    record(ledger, 2, fake="toolgate", action="tool.called", account_id="agency-toolgate")
    assert [e.seq for e in ledger.entries(fake="toolgate")] == [4, 5]
    assert [e.seq for e in ledger.entries(action="post.created", since_seq=1)] == [2, 3]
    assert [e.seq for e in ledger.entries(account_id="agency-toolgate", since_seq=4)] == [5]
    assert ledger.entries(since_seq=5) == []


def test_the_ledger_refuses_an_action_that_is_not_a_side_effect() -> None:
    with pytest.raises(ValueError, match=r"'post\.create' is not one of"):
        record(Ledger(), 1, action="post.create")


@pytest.mark.slow
def test_ledger_entries_are_untracked_by_the_gc_after_a_collection() -> None:
    """What keeps p99 latency flat at a million entries: collections do not walk them."""
    world = World(now=ManualClock())
    gc.collect()
    before = len(gc.get_objects())
    for i in range(10_000):
        world.record(
            "x",
            "post.created",
            account_id="acme-x",
            credential="xat-secret",
            request_id=f"r{i}",
            resource_id=str(i),
            content=f"post {i}",
            detail="public",
        )
    gc.collect()
    assert len(gc.get_objects()) - before < 100
    assert not any(gc.is_tracked(e) for e in world.ledger._entries)


@pytest.mark.slow
def test_journal_entries_are_untracked_by_the_gc_after_a_collection() -> None:
    journal = Journal()
    gc.collect()
    before = len(gc.get_objects())
    for i in range(10_000):
        journal.record(
            t=float(i),
            fake="x",
            method="POST",
            path="/x/2/tweets",
            route="tweets.create",
            status=201,
            account_id="acme-x",
            request_id=f"r{i}",
            retry_count=None,
            idempotency_key=None,
            fault_id=None,
            fault_kind=None,
            user_agent="sdk",
        )
    gc.collect()
    assert len(gc.get_objects()) - before < 100


def test_the_world_resolves_the_tenant_and_never_stores_the_secret() -> None:
    world = World(roster=Roster.generate(clients=2, seed=3), now=ManualClock())
    token = world.roster.account("acme-x").credential.access_token
    entry = world.record(
        "x", "post.created", account_id="acme-x", credential=token, request_id="r1", content="hi"
    )
    assert entry.tenant_id == "acme"
    assert entry.credential_fp is not None and token not in json.dumps(entry.to_json())


def test_a_roster_can_give_one_platforms_tokens_a_short_life_left() -> None:
    clock = ManualClock()
    world = World(roster=Roster.generate(clients=2, seed=3, ttl_s={"instagram": 1800}), now=clock)
    ig = world.roster.account("acme-instagram").credential.access_token
    x = world.roster.account("acme-x").credential.access_token
    secrets = world.roster_with_secrets()
    acme = next(c for c in secrets["clients"] if c["id"] == "acme")
    expiry = {a["id"]: a["credential"]["expires_at"] for a in acme["accounts"]}
    assert expiry["acme-instagram"] == clock() + 1800
    assert expiry["acme-linkedin"] == clock() + 60 * 86400  # the others keep a fresh token's
    clock.advance(1799)
    assert world.tokens.check(ig)[1] is None
    clock.advance(1)
    assert world.tokens.check(ig)[1] == "expired" and world.tokens.check(x)[1] is None


def test_a_text_with_a_template_field_left_unfilled_is_marked_in_the_ledger() -> None:
    world = World(roster=Roster.generate(clients=2, seed=3), now=ManualClock())

    def post(text: str, action: str = "post.created", detail: str | None = None) -> Any:
        return world.record(
            "x", action, account_id="acme-x", credential=None, request_id="r", content=text,
            detail=detail,
        )  # fmt: skip

    assert post("Our new menu: {result} #bakery").detail == "placeholder"
    assert post("Thanks {author}!", "reply.created", "invisible").detail == "invisible placeholder"
    # braces that are no template field, and texts that are no post, are not marked
    assert post("Fresh bread {} today {50% off}").detail is None
    assert post("Summarise {result}", "llm.completion", "gpt-4o").detail == "gpt-4o"
    # a reader addressed by a platform id where a handle belongs is marked too
    assert post("@urn:li:person:abc123 thanks!", "reply.created").detail == "id_as_handle"
    assert post("@1789012345678 here you go", "dm.sent").detail == "id_as_handle"
    # handles, e-mail addresses, prices and short numbers are not
    for fine in ("@fan42 thanks!", "mail hello@acme.example", "@acme_x 2024 deals", "only @1999"):
        assert post(fine, "reply.created").detail is None, fine


def test_the_journal_is_bounded_and_counts_what_it_dropped() -> None:
    journal = Journal(max_entries=3)
    for i in range(5):
        journal.record(
            t=float(i),
            fake="x",
            method="GET",
            path="/",
            route="r",
            status=200,
            account_id=None,
            request_id=f"r{i}",
            retry_count=None,
            idempotency_key=None,
            fault_id=None,
            fault_kind=None,
            user_agent=None,
        )
    assert [e.seq for e in journal] == [3, 4, 5]
    assert journal.dropped == 2
    assert [e.seq for e in journal.entries(since_seq=4)] == [5]


def test_a_manual_clock_never_goes_backwards() -> None:
    clock = ManualClock()
    assert clock() == DEFAULT_EPOCH
    with pytest.raises(ValueError, match=r"advance\(-1\)"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="cannot go backwards"):
        clock.set(DEFAULT_EPOCH - 1)


# --- virtual time ---------------------------------------------------------------------------


def test_an_hour_of_sleep_on_the_virtual_loop_returns_at_once_with_time_advanced() -> None:
    import time

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        start = loop.time()
        await asyncio.sleep(3600)
        return start, loop.time()

    wall = time.perf_counter()
    start, end = run_virtual(main)
    assert start == DEFAULT_EPOCH
    assert end - start == pytest.approx(3600, abs=1e-3)
    assert time.perf_counter() - wall < 5


def test_httpx_asgi_transport_works_on_the_virtual_loop() -> None:
    async def slow(request: Request) -> JSONResponse:
        await asyncio.sleep(90)
        return JSONResponse({"t": asyncio.get_running_loop().time()})

    api = Starlette(routes=[Route("/slow", slow)])

    async def main() -> tuple[int, float, float]:
        start = asyncio.get_running_loop().time()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://t"
        ) as client:
            r = await client.get("/slow")
        return r.status_code, start, r.json()["t"]

    status, start, served_at = run_virtual(main)
    assert status == 200
    assert served_at - start == pytest.approx(90, abs=1e-3)


def test_the_virtual_loop_still_runs_work_finished_on_threads() -> None:
    async def main() -> int:
        return await asyncio.to_thread(lambda: threading.get_ident())

    assert run_virtual(main) != threading.get_ident()


# --- serving --------------------------------------------------------------------------------


def test_vibedrill_serve_refuses_a_non_loopback_host_without_an_admin_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VIBEDRILL_ADMIN_TOKEN", raising=False)
    args = ["--host", "0.0.0.0", "--port", "0"]
    # Typer runs a one-command app as that command; with more commands "serve" must be named.
    single = (
        len(app.registered_commands) == 1
        and app.registered_callback is None
        and not app.registered_groups
    )
    result = CliRunner().invoke(app, args if single else ["serve", *args])
    assert result.exit_code == EXIT_USAGE
    assert (
        "refusing to serve the fakes on non-loopback host '0.0.0.0' without --admin-token"
        in result.output
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.2", False),
        ("example.com", False),
    ],
)
def test_only_loopback_hosts_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_ready_document_names_the_admin_api_and_every_fakes_base_url() -> None:
    doc = ready_document("http://127.0.0.1:9", list(FAKE_NAMES))
    assert doc["admin"] == "http://127.0.0.1:9/_fake"
    assert set(doc["fakes"]) == set(FAKE_NAMES)
    assert doc["fakes"]["openai"] == "http://127.0.0.1:9/openai/v1"
    assert doc["fakes"]["toolgate"] == "http://127.0.0.1:9/toolgate/mcp"
    assert doc["fakes"]["x"] == "http://127.0.0.1:9/x"


@pytest.mark.served
def test_served_fakes_write_a_ready_file_with_every_fakes_base_url(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    with ServedFakes(ready_file=ready, seed=5) as doc:
        assert json.loads(ready.read_text()) == doc
        assert set(doc["fakes"]) == set(FAKE_NAMES)
        health = httpx.get(f"{doc['admin']}/health").json()
        assert health["status"] == "ok" and health["fakes"] == sorted(FAKE_NAMES)
        assert doc["base"].startswith("http://127.0.0.1:")
    assert not ready.exists()


@pytest.mark.served
def test_served_fakes_answer_without_a_delayed_ack_stall() -> None:
    """Regression: a listening socket made with proto 0 left TCP_NODELAY off (40 ms per response)."""
    import statistics
    import time

    with ServedFakes(only=["toolgate"]) as doc, httpx.Client(base_url=doc["admin"]) as client:
        client.get("/health").raise_for_status()
        took = []
        for _ in range(21):
            t0 = time.perf_counter()
            client.get("/health").raise_for_status()
            took.append(time.perf_counter() - t0)
    assert statistics.median(took) < 0.02, (
        f"median {statistics.median(took) * 1000:.1f} ms per request"
    )


async def test_mock_hosts_routes_a_plain_httpx_client_to_the_fakes_and_refuses_other_hosts() -> (
    None
):
    import httpx

    from fakes import FakeWorld, World
    from fakes.core.clock import ManualClock

    fw = FakeWorld(World(now=ManualClock(), seed=3), only=["x"])
    token = fw.world.roster.accounts("x")[0].credential.access_token
    with fw.mock_hosts():
        async with httpx.AsyncClient() as c:
            r = await c.post(
                "https://api.x.com/2/tweets",
                json={"text": "routed by respx"},
                headers={"authorization": f"Bearer {token}"},
            )
            assert r.status_code == 201, r.text
            assert r.json()["data"]["id"]
            try:
                await c.get("https://example.com/")
            except Exception as e:  # respx refuses unmocked hosts
                assert "example.com" in str(e)
            else:
                raise AssertionError("a request to a host outside the fake world was let through")
    assert [e.action for e in fw.world.ledger] == ["post.created"]


def test_a_rule_for_the_requests_account_fires_before_a_later_rule_for_any_account() -> None:
    from fakes.core.clock import ManualClock
    from fakes.core.world import World

    w = World(now=ManualClock(), seed=5)
    w.faults.routes["x"] = ("tweets.create",)
    first = w.faults.add({"kind": "x.rate_limited", "match": {"account": "acme-x"}})
    w.faults.add({"kind": "x.rate_limited"})
    w.faults.add({"kind": "x.rate_limited", "match": {"account": "northwind-x"}})
    fired = w.faults.fire("x", "tweets.create", "acme-x", "x.rate_limited")
    assert fired is not None and fired.rule_id == first.id
    other = w.faults.fire("x", "tweets.create", "globex-x", "x.rate_limited")
    assert other is not None and other.rule_id != first.id
    assert {r["id"]: r["hits"] for r in w.faults.rules()} == {first.id: 1, "f2": 1, "f3": 0}


def test_an_in_process_client_gives_up_at_its_read_timeout_and_the_request_runs_on() -> None:
    # no socket enforces a timeout in-process: the fake gives up for the client, as a served
    # fake's client would — and the post still lands, journaled with the answer it came to
    import fakes

    async def main() -> tuple[float, float, list[Any], int]:
        loop = asyncio.get_running_loop()
        world = World(now=loop.time, seed=3)
        fw = fakes.FakeWorld(world, only=["x"])
        world.faults.add(
            {"kind": "http.latency", "match": {"fake": "x", "route": "tweets.create"},
             "params": {"ms": 20_000}}
        )  # fmt: skip
        token = world.roster.accounts("x")[0].credential.access_token
        start = loop.time()
        async with fw.client(timeout=httpx.Timeout(5.0)) as client:
            with pytest.raises(httpx.ReadTimeout, match="read timeout of 5 s"):
                await client.post(
                    "https://api.x.com/2/tweets", json={"text": "hello"},
                    headers={"authorization": f"Bearer {token}"},
                )  # fmt: skip
            gave_up = loop.time()
            before = [e.status for e in world.journal.entries()]
            await asyncio.sleep(30)
            # a quick request is answered as ever (no latency rule matches it)
            me = await client.get(
                "https://api.x.com/2/users/me", headers={"authorization": f"Bearer {token}"}
            )
        entries = world.journal.entries()
        assert entries[0].status == 201
        return (
            gave_up - start,
            entries[0].t - start,
            before,
            me.status_code + len(world.ledger.entries()),
        )

    waited, journaled, before, got = run_virtual(main)
    assert waited == pytest.approx(5, abs=1e-3)
    assert before == []  # nothing journaled while the request runs on
    assert journaled == pytest.approx(20, abs=1e-3)  # with the 201 it came to
    assert got == 200 + 1  # the tweet landed


def test_a_clock_standing_still_with_work_ready_is_told_once_as_a_stall(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a livelock: a task that never waits keeps the loop busy at one instant for ever; the
    # loop tells whoever watches (a drill stops as a harness error), once, and time still
    # moves for work that waits
    import harness.clock as clock

    monkeypatch.setattr(clock, "STALL_TURNS", 8192)
    monkeypatch.setattr(clock, "STALL_REAL_S", 0.05)

    async def main() -> tuple[list[tuple[float, int]], float]:
        loop = asyncio.get_running_loop()
        told: list[tuple[float, int]] = []

        def stalled(vt: float, turns: int, real: float) -> None:
            told.append((vt, turns))
            spinner.cancel()

        async def spin() -> None:
            await asyncio.sleep(60)  # a minute of waiting first: time moves
            while True:  # noqa: ASYNC110 - the livelock under test
                await asyncio.sleep(0)

        loop.on_stall = stalled  # type: ignore[attr-defined]
        spinner = asyncio.ensure_future(spin())
        with contextlib.suppress(asyncio.CancelledError):
            await spinner
        await asyncio.sleep(5)
        return told, loop.time()

    told, end = run_virtual(main)
    assert len(told) == 1 and told[0][0] == pytest.approx(DEFAULT_EPOCH + 60, abs=1e-3)
    assert told[0][1] >= 8192
    assert end == pytest.approx(DEFAULT_EPOCH + 65, abs=1e-3)


def test_callbacks_that_block_the_loop_in_real_time_are_told_once_when_they_add_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a synchronous wait in async code (a database lock's busy wait, time.sleep) holds the
    # loop for real seconds while virtual time moves on: turns that each ran BLOCK_REAL_S or
    # more are added up and told once when they reach BLOCKED_REAL_S; short turns count nothing
    import time

    import harness.clock as clock

    monkeypatch.setattr(clock, "BLOCK_REAL_S", 0.2)
    monkeypatch.setattr(clock, "BLOCKED_REAL_S", 0.6)

    async def main() -> list[tuple[float, float, float, int]]:
        loop = asyncio.get_running_loop()
        told: list[tuple[float, float, float, int]] = []
        loop.on_blocked = lambda *a: told.append(a)  # type: ignore[attr-defined]
        for _ in range(50):
            await asyncio.sleep(1)  # quick turns: nothing counted
        for _ in range(6):
            time.sleep(0.25)  # noqa: ASYNC251 - the blocking call under test
            await asyncio.sleep(60)
        return told

    told = run_virtual(main)
    assert len(told) == 1
    vt, worst, blocked, turns = told[0]
    # told at the turn that took the sum to 0.6 s: the third of 0.25 s — or the second, when a
    # busy machine stretched one sleep past 0.35 s (a real-time test cannot pin it further)
    assert turns in (2, 3) and blocked >= 0.6 and worst >= 0.25
    assert blocked - worst < 0.6  # not told later than the turn that reached the sum
    assert vt == pytest.approx(DEFAULT_EPOCH + 50 + 60 * (turns - 1), abs=1e-3)


def test_a_busy_but_moving_clock_is_no_stall(monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.clock as clock

    monkeypatch.setattr(clock, "STALL_TURNS", 8192)
    monkeypatch.setattr(clock, "STALL_REAL_S", 0.0)

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        told: list[float] = []
        loop.on_stall = lambda vt, turns, real: told.append(vt)  # type: ignore[attr-defined]
        for _ in range(20_000):  # many turns, each a little later
            await asyncio.sleep(0.001)
        return told

    assert run_virtual(main) == []


def test_a_timer_beyond_the_horizon_is_told_once_before_the_clock_jumps_there() -> None:
    # a task awaiting something decades ahead would walk the clock there through every periodic
    # timer on the way; the loop says so once, with the time it was about to jump to
    async def main() -> tuple[list[float], float]:
        loop = asyncio.get_running_loop()
        told: list[float] = []
        loop.horizon = DEFAULT_EPOCH + 3600  # type: ignore[attr-defined]

        def past(vt: float) -> None:
            told.append(vt)
            far.cancel()

        loop.on_horizon = past  # type: ignore[attr-defined]
        for _ in range(30):  # an hour's worth of minutes: inside the horizon, nothing told
            await asyncio.sleep(60)
        assert told == []
        far = asyncio.ensure_future(asyncio.sleep(30 * 365 * 86400.0))
        with contextlib.suppress(asyncio.CancelledError):
            await far
        await asyncio.sleep(7200)  # told once: a later jump past it is not told again
        return told, loop.time()

    told, end = run_virtual(main)
    # asyncio waits at most a day per turn: the first jump past the horizon is told, and stopped
    assert len(told) == 1 and DEFAULT_EPOCH + 3600 < told[0] <= DEFAULT_EPOCH + 1800 + 86400
    assert end == pytest.approx(told[0] + 7200, abs=1e-3)
