"""Generation through provider routing against the in-process openai, anthropic and media fakes.

Each test runs on the virtual-time loop: retry-after waits and render polling cost no wall time.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from fakes import FakeWorld, World
from fakes.core.roster import Roster
from harness.clock import run_virtual
from sandbox.budget import (
    DEFAULT_MAX_TOOL_ROUNDS,
    UNKNOWN_MODEL_PRICE,
    Budget,
    BudgetExceeded,
    BudgetLimits,
    RecursionCapExceeded,
)
from sandbox.contract import KillScope
from sandbox.generation import HARD_TOOL_ROUND_CEILING, GenerationFailed, Generator
from sandbox.providers import DEFAULT_TEXT_MODELS, RetryPolicy, ToolCall, ToolSpec

URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "media": "https://api.media.vibedrill.test",
}
SEED = 11


@dataclass
class Rig:
    """A generator wired to one fake world, with its audit and metrics captured."""

    world: World
    gen: Generator
    budget: Budget
    audit: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[tuple[str, float]] = field(default_factory=list)

    def ledger(self, action: str) -> list[Any]:
        return self.world.ledger.entries(action=action)

    def journal(self, fake: str) -> list[Any]:
        return self.world.journal.entries(fake=fake)

    def outcomes(self, outcome: str) -> list[dict[str, Any]]:
        return [e for e in self.audit if e["phase"] == "outcome" and e.get("outcome") == outcome]


def drill(
    body: Callable[[Rig], Awaitable[None]],
    *,
    routing: dict[str, tuple[str, ...]] | None = None,
    limits: BudgetLimits | None = None,
    defects: tuple[str, ...] = (),
    faults: tuple[dict[str, Any], ...] = (),
    text_models: dict[str, str] | None = None,
) -> None:
    """Run ``body`` against a fresh world of fakes on the virtual-time loop."""
    route = routing or {"text": ("openai", "anthropic"), "image": ("openai",), "video": ("media",)}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        world = World(roster=Roster.generate(clients=2, seed=SEED), now=loop.time, seed=SEED)
        fw = FakeWorld(world, only=["openai", "anthropic", "media"])
        for f in faults:
            world.faults.add(f)
        budget = Budget(
            lambda c: limits or BudgetLimits(), enforce=lambda: "no_budget_stop" not in defects
        )
        rig_audit: list[dict[str, Any]] = []
        rig_metrics: list[tuple[str, float]] = []
        async with httpx.AsyncClient(transport=fw.transport()) as http:
            gen = Generator(
                http=http,
                base_urls=URLS.__getitem__,
                api_key=lambda p: world.roster.account(f"agency-{p}").credential.access_token,
                routing=lambda cap: route[cap],
                budget=budget,
                audit=lambda **kw: rig_audit.append(kw),
                metric=lambda name, v, labels: rig_metrics.append((name, v)),
                defect=lambda name: name in defects,
                rng=random.Random(SEED),
                sleep=asyncio.sleep,
            )
            if text_models is not None:
                gen.text_model = lambda p: {**DEFAULT_TEXT_MODELS, **text_models}[p]
            await body(Rig(world, gen, budget, rig_audit, rig_metrics))

    run_virtual(main)


def test_text_generation_answers_from_openai_and_audits_the_request_id_of_the_ledger_entry() -> (
    None
):
    async def body(rig: Rig) -> None:
        out = await rig.gen.complete(client_id="acme", prompt="A caption for our weekend bake sale")
        assert out.completion.provider == "openai" and out.completion.text
        (entry,) = rig.ledger("llm.completion")
        (ok,) = rig.outcomes("success")
        assert ok["action"] == "llm.complete" and ok["proof"]["request_id"] == entry.request_id
        assert ("llm_tokens_in", out.completion.tokens_in) in rig.metrics

    drill(body)


def test_provider_failover_happens_on_an_openai_outage() -> None:
    async def body(rig: Rig) -> None:
        out = await rig.gen.complete(client_id="acme", prompt="A caption for our weekend bake sale")
        assert out.completion.provider == "anthropic"
        (entry,) = rig.ledger("llm.completion")
        assert entry.fake == "anthropic"
        failed = rig.outcomes("failed")
        assert [e["platform"] for e in failed] == ["openai"]
        assert rig.outcomes("success")[0]["proof"]["request_id"] == entry.request_id
        # openai was retried (max_retries=2) before failing over
        assert [j.retry_count for j in rig.journal("openai")] == [0, 1, 2]

    drill(body, faults=({"kind": "http.outage", "match": {"fake": "openai"}},))


def test_without_failover_an_openai_outage_fails_every_generation() -> None:
    async def body(rig: Rig) -> None:
        with pytest.raises(GenerationFailed, match="openai: 503"):
            await rig.gen.complete(client_id="acme", prompt="A caption")
        assert rig.journal("anthropic") == [] and rig.ledger("llm.completion") == []

    drill(
        body,
        defects=("no_provider_failover",),
        faults=({"kind": "http.outage", "match": {"fake": "openai"}},),
    )


def test_a_job_retried_through_an_outage_is_not_sent_again_where_its_request_was_refused() -> None:
    # OpenAI is down; Anthropic, the failover, refuses the prompt as too long (400). The job is
    # retried (OpenAI may come back), but Anthropic would refuse the same request again — and
    # bill the prompt again: the retry does not send it there until the job is done with
    async def body(rig: Rig) -> None:
        for _ in range(2):
            with pytest.raises(GenerationFailed) as failed:
                await rig.gen.complete(client_id="acme", prompt="A long draft", job_id="j-1")
        assert len(rig.journal("anthropic")) == 1
        statuses = [(e.provider, e.status, e.code) for e in failed.value.errors]
        assert statuses == [("openai", 503, "server_error"), ("anthropic", 400, "refused_before")]
        # another job's request is its own: it is sent
        with pytest.raises(GenerationFailed):
            await rig.gen.complete(client_id="acme", prompt="Another draft", job_id="j-2")
        assert len(rig.journal("anthropic")) == 2
        rig.gen.forget("j-1")  # the job ended: nothing of it is kept
        assert "j-1" not in rig.gen.refused

    drill(
        body,
        faults=(
            {"kind": "http.outage", "match": {"fake": "openai"}},
            {"kind": "anthropic.context_too_long", "params": {"window": 1000}},
        ),
    )


def test_a_rate_limit_is_retried_after_its_retry_after_and_stays_on_openai() -> None:
    async def body(rig: Rig) -> None:
        t0 = asyncio.get_running_loop().time()
        out = await rig.gen.complete(client_id="acme", prompt="hello")
        assert out.completion.provider == "openai"
        assert asyncio.get_running_loop().time() - t0 >= 7.0
        assert [j.status for j in rig.journal("openai")] == [429, 200]
        assert ("rate_limit_hits", 1) in rig.metrics

    drill(
        body,
        faults=({"kind": "openai.rate_limited", "first_n": 1, "params": {"retry_after_s": 7}},),
    )


def test_insufficient_quota_fails_over_at_once_without_retrying() -> None:
    async def body(rig: Rig) -> None:
        out = await rig.gen.complete(client_id="acme", prompt="hello")
        assert out.completion.provider == "anthropic"
        assert [j.status for j in rig.journal("openai")] == [429]

    drill(body, faults=({"kind": "openai.quota_exhausted"},))


def test_a_429_holds_the_provider_for_every_call_and_one_call_goes_first_when_it_ends() -> None:
    async def body(rig: Rig) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()

        async def later(delay: float) -> str:
            await asyncio.sleep(delay)
            return (await rig.gen.complete(client_id="acme", prompt="hello")).completion.provider

        got = await asyncio.gather(later(0.0), later(1.0), later(2.0))
        assert got == ["openai", "openai", "openai"]
        sent = [(round(j.started - t0, 3), j.status) for j in rig.journal("openai")]
        # the 429 at T+0 held openai for 7 s for all three calls, not only the one that met it
        assert sent[0] == (0.0, 429)
        assert all(t >= 7.0 for t, _ in sent[1:]) and [s for _, s in sent[1:]] == [200] * 3

    drill(
        body,
        faults=({"kind": "openai.rate_limited", "first_n": 1, "params": {"retry_after_s": 7}},),
    )


def test_a_429_met_by_the_first_call_after_a_hold_holds_the_provider_again() -> None:
    async def body(rig: Rig) -> None:
        t0 = asyncio.get_running_loop().time()

        async def later(delay: float) -> None:
            await asyncio.sleep(delay)
            await rig.gen.complete(client_id="acme", prompt="hello")

        await asyncio.gather(later(0.0), later(1.0))
        sent = [(round(j.started - t0, 3), j.status) for j in rig.journal("openai")]
        # T+0 429 (hold 5 s) → T+5 the first call after it: 429 again (hold to T+10) → the
        # call waiting behind it does not go at T+5
        assert sent[:2] == [(0.0, 429), (5.0, 429)]
        assert all(t >= 10.0 for t, _ in sent[2:]) and len(sent) == 4

    drill(
        body,
        faults=({"kind": "openai.rate_limited", "first_n": 2, "params": {"retry_after_s": 5}},),
    )


def test_insufficient_quota_holds_openai_so_later_calls_go_to_anthropic_without_asking() -> None:
    async def body(rig: Rig) -> None:
        for _ in range(3):
            out = await rig.gen.complete(client_id="acme", prompt="hello")
            assert out.completion.provider == "anthropic"
            await asyncio.sleep(60)
        assert [j.status for j in rig.journal("openai")] == [429]
        assert rig.gen.held_for("openai") > 0

    drill(body, faults=({"kind": "openai.quota_exhausted"},))


def test_when_every_provider_is_held_the_failure_says_when_the_soonest_hold_ends() -> None:
    async def body(rig: Rig) -> None:
        with pytest.raises(GenerationFailed) as err:
            await rig.gen.complete(client_id="acme", prompt="hello")
        assert err.value.retry_after is not None and 800 < err.value.retry_after <= 900
        with pytest.raises(GenerationFailed) as again:
            await rig.gen.complete(client_id="acme", prompt="hello")
        assert [j.status for j in rig.journal("openai")] == [429]  # held: not asked again
        assert again.value.retry_after is not None and again.value.retry_after <= 900

    drill(
        body,
        routing={"text": ("openai",), "image": ("openai",), "video": ("media",)},
        faults=({"kind": "openai.quota_exhausted"},),
    )


def test_anthropic_529_overloaded_is_retried_then_reported() -> None:
    async def body(rig: Rig) -> None:
        with pytest.raises(GenerationFailed) as err:
            await rig.gen.complete(client_id="acme", prompt="hello")
        assert (
            err.value.errors[0].status == 529 and err.value.errors[0].kind == "anthropic.overloaded"
        )
        assert len(rig.journal("anthropic")) == 3

    drill(body, routing={"text": ("anthropic",)}, faults=({"kind": "anthropic.overloaded"},))


async def _spend(rig: Rig, calls: int) -> BudgetExceeded | None:
    """Complete up to ``calls`` times in one episode; the BudgetExceeded that stopped it, if any."""
    for i in range(calls):
        try:
            await rig.gen.complete(
                client_id="acme", prompt=f"caption number {i}", episode_id="ep-1", max_tokens=100
            )
        except BudgetExceeded as e:
            return e
    return None


def _ledger_tokens(rig: Rig) -> int:
    return sum(e.tokens_in + e.tokens_out for e in rig.ledger("llm.completion"))


def test_the_budget_stop_refuses_calls_before_the_episode_budget_is_exceeded() -> None:
    async def body(rig: Rig) -> None:
        stop = await _spend(rig, 30)
        assert stop is not None and stop.scope == "episode" and stop.key == "ep-1"
        assert 0 < _ledger_tokens(rig) <= 400 and rig.budget.episode("ep-1").tokens <= 400
        assert rig.outcomes("blocked")[0]["error"].startswith("budget:")
        # another episode has a budget of its own
        await rig.gen.complete(client_id="acme", prompt="hello", episode_id="ep-2", max_tokens=100)

    drill(body, limits=BudgetLimits(episode_tokens=400))


def test_no_budget_stop_lets_spend_run_past_the_budget() -> None:
    async def body(rig: Rig) -> None:
        assert await _spend(rig, 30) is None
        assert len(rig.ledger("llm.completion")) == 30
        assert _ledger_tokens(rig) > 400 and rig.budget.overruns > 0

    drill(body, limits=BudgetLimits(episode_tokens=400), defects=("no_budget_stop",))


def test_the_configured_text_model_is_asked_for_and_priced_as_the_provider_bills_it() -> None:
    async def body(rig: Rig) -> None:
        out = await rig.gen.complete(client_id="acme", prompt="A caption for the bake sale")
        (entry,) = rig.ledger("llm.completion")
        assert entry.detail == "gpt-4o" and out.completion.model == "gpt-4o"
        # the platform's own price of the call is the provider's bill ($2.50 / $10 per Mtok)
        assert out.usd == pytest.approx(entry.cost_usd, abs=1e-6) and out.usd > 0
        assert out.usd == pytest.approx(
            (entry.tokens_in * 2.5 + entry.tokens_out * 10.0) / 1e6, abs=1e-6
        )

    drill(body, text_models={"openai": "gpt-4o"})


def test_an_answer_from_a_model_the_table_lacks_is_priced_at_the_dearest_and_said_so() -> None:
    # the alias the platform asks for moved to gpt-4.1, which its price table has no row for:
    # the call is counted at the dearest price the table knows (a budget stops early, never
    # late), and the audit says the cost is an estimate
    async def body(rig: Rig) -> None:
        rig.world.faults.add(
            {"kind": "openai.alias_moved", "match": {"fake": "openai"}, "params": {"to": "gpt-4.1"}}
        )
        out = await rig.gen.complete(client_id="acme", prompt="A caption for the bake sale")
        (entry,) = rig.ledger("llm.completion")
        assert entry.detail == "gpt-4.1" and out.completion.model == "gpt-4.1"
        assert UNKNOWN_MODEL_PRICE == (15.0, 75.0)
        assert out.usd == pytest.approx(
            (entry.tokens_in * 15.0 + entry.tokens_out * 75.0) / 1e6, abs=1e-6
        )
        assert out.usd > entry.cost_usd > 0
        (done,) = rig.outcomes("success")
        assert done["detail"]["price_known"] is False and done["detail"]["model"] == "gpt-4.1"

    async def known(rig: Rig) -> None:
        await rig.gen.complete(client_id="acme", prompt="A caption for the bake sale")
        (done,) = rig.outcomes("success")
        assert "price_known" not in done["detail"]

    drill(body)
    drill(known)


def test_the_budget_check_estimates_a_call_at_the_price_of_the_model_asked_for() -> None:
    # 100 output tokens cost $0.00006 on gpt-4o-mini and $0.001 on gpt-4o: a $0.0005 episode
    # budget lets a gpt-4o-mini call start and refuses a gpt-4o call before it is made
    limits = BudgetLimits(episode_usd=0.0005)

    async def on_gpt_4o(rig: Rig) -> None:
        with pytest.raises(BudgetExceeded, match="USD"):
            await rig.gen.complete(client_id="acme", prompt="hi", episode_id="ep-1", max_tokens=100)
        assert rig.ledger("llm.completion") == []

    async def on_gpt_4o_mini(rig: Rig) -> None:
        await rig.gen.complete(client_id="acme", prompt="hi", episode_id="ep-1", max_tokens=100)
        assert len(rig.ledger("llm.completion")) == 1

    drill(on_gpt_4o, limits=limits, text_models={"openai": "gpt-4o"})
    drill(on_gpt_4o_mini, limits=limits)


async def _kb(call: ToolCall) -> str:
    return '{"hits": []}'


def test_the_recursion_cap_stops_a_tool_call_loop() -> None:
    async def body(rig: Rig) -> None:
        with pytest.raises(RecursionCapExceeded) as err:
            await rig.gen.complete(
                client_id="acme",
                prompt="look up the price",
                episode_id="ep-loop",
                tools=[ToolSpec("kb_search")],
                run_tool=_kb,
            )
        assert err.value.cap == 3 and err.value.rounds == 4
        assert len(rig.ledger("llm.completion")) == 4

    drill(body, limits=BudgetLimits(max_tool_rounds=3), faults=({"kind": "openai.tool_call_loop"},))


def test_a_tool_call_ends_with_a_text_answer_without_the_loop_fault() -> None:
    async def body(rig: Rig) -> None:
        out = await rig.gen.complete(
            client_id="acme",
            prompt="kb_search the opening hours",
            tools=[ToolSpec("kb_search")],
            run_tool=_kb,
        )
        assert out.rounds == 1 and out.completion.text and not out.completion.tool_calls

    drill(body)


def test_no_budget_stop_lets_the_tool_call_loop_run_to_the_hard_ceiling() -> None:
    async def body(rig: Rig) -> None:
        with pytest.raises(RecursionCapExceeded):
            await rig.gen.complete(
                client_id="acme",
                prompt="look up the price",
                tools=[ToolSpec("kb_search")],
                run_tool=_kb,
            )
        assert len(rig.ledger("llm.completion")) == HARD_TOOL_ROUND_CEILING + 1

    drill(
        body,
        limits=BudgetLimits(max_tool_rounds=3),
        defects=("no_budget_stop",),
        faults=({"kind": "openai.tool_call_loop"},),
    )


def test_an_image_is_generated_by_openai_and_a_video_rendered_by_the_media_provider() -> None:
    async def body(rig: Rig) -> None:
        img = await rig.gen.image(client_id="acme", prompt="a loaf of sourdough")
        assert img.content and rig.ledger("image.generated")[0].request_id == img.request_id
        vid = await rig.gen.video(
            client_id="acme", prompt="a ten second clip of the bakery", duration_s=10, job_id="j-1"
        )
        (entry,) = rig.ledger("video.generated")
        assert vid.resource_id == entry.resource_id and vid.content
        assert [e["action"] for e in rig.outcomes("success")] == [
            "image.generate",
            "video.generate",
        ]

    drill(body)


def test_a_failed_render_is_reported_and_not_billed() -> None:
    async def body(rig: Rig) -> None:
        with pytest.raises(GenerationFailed, match="render_failed"):
            await rig.gen.video(client_id="acme", prompt="a clip", duration_s=5)
        assert rig.ledger("video.generated") == []

    drill(body, faults=({"kind": "media.job_failed"},))


#: the first poll of a render hangs past the client's timeout (the render itself goes on)
POLL_HANGS_ONCE = (
    {
        "kind": "http.hang",
        "params": {"seconds": 90.0},
        "match": {"fake": "media", "route": "renders.get"},
        "first_n": 1,
    },
)


def _submits(rig: Rig) -> list[Any]:
    return [e for e in rig.journal("media") if e.route == "renders.create"]


def test_a_render_whose_poll_hung_is_audited_with_the_request_that_created_it() -> None:
    async def body(rig: Rig) -> None:
        await rig.gen.video(client_id="acme", prompt="a clip", duration_s=5, job_id="j-1")
        (entry,) = rig.ledger("video.generated")
        (ok,) = rig.outcomes("success")
        creating, replay = _submits(rig)
        assert replay.status == 200  # the retry's submit handed back the same render
        assert ok["proof"]["request_id"] == entry.request_id == creating.request_id
        assert ok["proof"]["resource_id"] == entry.resource_id

    drill(body, faults=POLL_HANGS_ONCE)


def test_a_render_created_by_a_failed_attempt_is_audited_when_a_later_attempt_gets_it() -> None:
    # found by `vibedrill explore` on the healthy platform (scenarios/found/
    # found_healthy_every_side_effect_audited_s1.yaml): the job's first attempt gives up after
    # the poll hangs, the runner retries the job, the retry's submit hands back the render the
    # first attempt created — and its audit named the replay, a request the provider never billed
    async def body(rig: Rig) -> None:
        rig.gen.policy = RetryPolicy(max_retries=0)
        with pytest.raises(GenerationFailed):
            await rig.gen.video(client_id="acme", prompt="a clip", duration_s=5, job_id="j-1")
        rig.gen.policy = RetryPolicy()
        await rig.gen.video(client_id="acme", prompt="a clip", duration_s=5, job_id="j-1")
        (entry,) = rig.ledger("video.generated")
        (ok,) = rig.outcomes("success")
        assert len(_submits(rig)) == 2
        assert ok["proof"]["request_id"] == entry.request_id == _submits(rig)[0].request_id
        assert rig.gen._submitted == {}  # forgotten once audited

    drill(body, faults=POLL_HANGS_ONCE)


# --- through the platform: generation jobs ----------------------------------------------------


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


def _gen(kind: str = "generate_text", **payload: Any) -> Any:
    from sandbox.contract import JobSpec

    return JobSpec(
        kind=kind, client_id="acme", payload={"prompt": "a caption for the bake sale", **payload}
    )  # type: ignore[arg-type]


def test_a_generation_job_fails_over_to_anthropic_on_an_openai_outage() -> None:
    async def body(r: Any) -> None:
        job = r.platform.submit(_gen())
        await r.settle()
        assert job.state == "succeeded" and job.result["provider"] == "anthropic"
        (entry,) = r.ledger("llm.completion")
        (ok,) = r.audit(action="llm.complete", outcome="success")
        assert ok.proof["request_id"] == entry.request_id
        m = await r.client.metrics()
        assert m["tokens_total"] > 0 and m["spend_usd_total"] > 0, m

    _platform(body, faults=({"kind": "http.outage", "match": {"fake": "openai"}},))


def test_generation_spend_is_counted_per_client_and_raises_spend_high_near_the_budget() -> None:
    async def body(r: Any) -> None:
        job = r.platform.submit(_gen())
        await r.settle()
        assert job.state == "succeeded", job.last_error
        m = await r.client.metrics()
        spent = m['spend_usd_total{client_id="acme"}']
        assert spent > 0 and spent == pytest.approx(job.result["usd"], abs=1e-6)
        assert m.get('spend_usd_total{client_id="northwind"}', 0.0) == 0.0
        r.platform.evaluate_alerts()
        assert not [a for a in r.platform.alerts.fired if a.name == "spend_high"]
        # acme has now spent 90 % of its budget (the rule fires at 80 %); northwind nothing of its
        for client in ("acme", "northwind"):
            r.platform.controls.set_budget(
                client_id=client, client_usd=spent / 0.9, actor="ops-lead", reason="drill"
            )
        r.platform.evaluate_alerts()
        high = [a for a in r.platform.alerts.fired if a.name == "spend_high"]
        assert [a.labels for a in high] == [{"client_id": "acme"}], high

    _platform(body)


def test_the_platform_asks_openai_for_the_model_its_settings_name_and_bills_it_right() -> None:
    from tests.sandbox.platform_rig import rig, virtual

    async def main() -> None:
        async with rig(clients=2, platforms=("x",), text_models={"openai": "gpt-4o"}) as r:
            job = r.platform.submit(_gen())
            await r.settle()
            assert job.state == "succeeded", job.last_error
            (entry,) = r.ledger("llm.completion")
            assert entry.detail == "gpt-4o"
            assert job.result["usd"] == pytest.approx(entry.cost_usd, abs=1e-6)

    virtual(main)


def test_a_text_model_the_platform_cannot_price_is_refused_by_its_settings() -> None:
    from pydantic import ValidationError

    from sandbox.settings import Settings

    with pytest.raises(ValidationError, match=r"'gpt-4\.1' has no price.*gpt-4o-mini"):
        Settings(text_models={"openai": "gpt-4.1"})
    assert Settings(text_models={"anthropic": "claude-sonnet-4-20250514"}).text_models


def test_rerouting_text_to_anthropic_takes_effect_on_the_next_job() -> None:
    async def body(r: Any) -> None:
        await r.client.set_provider_routing("text", ["anthropic"], actor="ops", reason="RB-09")
        job = r.platform.submit(_gen())
        await r.settle()
        assert (
            job.result["provider"] == "anthropic" and r.world.journal.entries(fake="openai") == []
        )

    _platform(body)


def test_a_generation_job_is_blocked_by_the_client_budget_and_by_the_generate_kill_switch() -> None:
    async def body(r: Any) -> None:
        await r.client.set_budget(actor="ops", reason="RB-12", client_id="acme", client_tokens=10)
        job = r.platform.submit(_gen())
        await r.settle()
        assert job.state == "blocked" and job.last_error.startswith("budget:")
        await r.client.set_budget(
            actor="ops", reason="RB-12 over", client_id="acme", client_tokens=10**9
        )
        await r.client.set_kill_switch(
            KillScope(action="generate"), True, actor="ops", reason="RB-12"
        )
        job2 = r.platform.submit(_gen())
        await r.settle()
        assert job2.state == "blocked" and "kill_switch" in job2.last_error
        assert r.ledger("llm.completion") == []

    _platform(body)


@pytest.mark.slow
def test_a_video_job_that_gives_up_claims_the_render_the_provider_finishes_and_bills_later() -> (
    None
):
    # every attempt's render outlives the client's patience (deadline_s) and then finishes: the
    # provider bills a render the platform stopped asking about. Left unclaimed, the money and
    # the clip were off the record (every_side_effect_audited caught it on a stuck-render drill)
    async def body(r: Any) -> None:
        job = r.platform.submit(_gen("generate_video", duration_s=8))
        await r.settle()
        assert job.state == "dead_letter", (job.state, job.last_error)
        (left,) = r.audit(action="video.generate", outcome="needs_human_confirm")
        assert "may still finish and be billed" in (left.error or "")
        await asyncio.sleep(STUCK_S)  # the render finishes; the next request settles its bill
        later = r.platform.submit(_gen("generate_video", duration_s=8))
        await r.settle()
        assert later.state == "succeeded", later.last_error
        billed = {e.resource_id: e for e in r.ledger("video.generated")}
        gave_up = billed[left.proof["resource_id"]]
        assert left.proof["request_id"] == gave_up.request_id
        m = await r.client.metrics()  # its price is held against the client's spend
        assert m['spend_usd_total{client_id="acme"}'] == pytest.approx(2 * 8 * 0.05, abs=1e-6)

    _platform(
        body,
        faults=({"kind": "media.job_stuck", "params": {"for_s": STUCK_S}, "first_n": 1},),
    )


#: long enough that a render outlives every attempt of its job (4 × 900 s polls, plus back-off)
STUCK_S = 3 * 3600.0


def test_a_render_that_ended_failed_is_made_again_under_a_new_key_and_never_claimed() -> None:
    # the media API replays an Idempotency-Key's render: the failed one, for ever. The retry
    # asks for a new render under a key of its own, and the failed render (never billed) is
    # nothing to claim
    async def body(r: Any) -> None:
        job = r.platform.submit(_gen("generate_video", duration_s=8))
        await r.settle()
        assert job.state == "succeeded", (job.state, job.last_error)
        keys = [
            e.idempotency_key
            for e in r.world.journal.entries(fake="media")
            if e.route == "renders.create"
        ]
        assert len(keys) == 2 and keys[1] == f"{keys[0]}:1"
        assert r.audit(action="video.generate", outcome="needs_human_confirm") == []
        assert len(r.ledger("video.generated")) == 1

    _platform(body, faults=({"kind": "media.job_failed", "first_n": 1},))


def test_a_tool_call_loop_job_fails_at_the_recursion_stop() -> None:
    async def body(r: Any) -> None:
        job = r.platform.submit(_gen(tools=["kb_search"]))
        await r.settle()
        assert job.state == "failed" and job.last_error.startswith("recursion_stop")
        assert len(r.ledger("llm.completion")) == DEFAULT_MAX_TOOL_ROUNDS + 1

    _platform(body, faults=({"kind": "openai.tool_call_loop"},))
