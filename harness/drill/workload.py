"""The scenario's workload: the agency's intent (jobs) and the outside world's traffic (inbound).

Everything is drawn up front from ``random.Random(f"workload:{seed}")``: Poisson arrivals at the
scenario's hourly rates, spread over clients and platforms, plus the surges. Inbound comments and
DMs are handed to the fakes in one ``POST /_fake/inbound`` (each with its arrival time); jobs are
submitted to the platform at their times by :func:`run_jobs`. The submitted jobs are the
workload rows of the drill record (what the platform was asked to do).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.contract import JobSpec, PlatformClient

from ..scenario import Scenario
from .settings import RETIRED_KEYWORD

__all__ = [
    "OWN_AUTHOR",
    "InboundItem",
    "Plan",
    "WorkItem",
    "plan_workload",
    "run_jobs",
    "tool_arguments",
]

#: the author of an inbound item written by the receiving account itself (the drill fills in
#: the account's handle when it sends the item)
OWN_AUTHOR = "@<own account>"

_PROMPTS = (
    "a caption for the autumn menu",
    "three hashtags for a launch",
    "a reply to a happy customer",
)
_TOOLS = ("kb_search", "schedule_lookup", "analytics_fetch")


def tool_arguments(tool: str, client: str, platform: str) -> dict[str, str]:
    """Arguments of one of the gateway's tools (its ``tools/list`` schema), for ``client``."""
    if tool == "schedule_lookup":
        return {"client_id": client, "date": "2026-11-27"}
    if tool == "analytics_fetch":
        return {"client_id": client, "platform": platform, "metric": "impressions"}
    return {"client_id": client, "query": "opening hours"}


@dataclass(frozen=True)
class WorkItem:
    """One job the agency schedules, ``at`` seconds after the drill starts."""

    at: float
    spec: JobSpec
    #: 'steady' or the surge that produced it (e.g. 'misrouted_publish')
    origin: str = "steady"
    #: seconds after the drill starts when the job is due (its ``run_at``), when it is submitted
    #: ahead of time (``workload.schedule_ahead``); None: due when submitted
    due: float | None = None


@dataclass(frozen=True)
class InboundItem:
    """A comment or DM the outside world sends, ``at`` seconds after the drill starts."""

    at: float
    fake: str
    kind: str
    account: str
    text: str
    author: str


@dataclass
class Plan:
    """The whole workload of one drill, in time order."""

    jobs: list[WorkItem] = field(default_factory=list)
    inbound: list[InboundItem] = field(default_factory=list)


def _arrivals(rng: random.Random, per_hour: float, start: float, end: float) -> list[float]:
    """Poisson arrival offsets in ``[start, end)`` at ``per_hour``."""
    out: list[float] = []
    if per_hour <= 0:
        return out
    t = start
    rate = per_hour / 3600.0
    while True:
        t += rng.expovariate(rate)
        if t >= end:
            return out
        out.append(round(t, 3))


def tag_text(run_tag: str) -> str:
    """What a run tag adds to a post's text (nothing in-process)."""
    return f" [{run_tag.strip('-')}]" if run_tag else ""


def plan_workload(
    scenario: Scenario,
    seed: int,
    clients: list[str],
    accounts: dict[tuple[str, str], str],
    run_tag: str = "",
) -> Plan:
    """Draw the workload of ``scenario`` from ``seed``.

    ``clients`` are the tenant ids in roster order; ``accounts`` maps (client, platform) → account
    id. Rates are totals per hour across all clients and platforms of the world. ``run_tag``
    (a drill of a platform that outlives it) goes into every idempotency key and post text, so
    a second drill of the same scenario and seed is not deduplicated against the first — by the
    platform's idempotency keys or by a social API refusing duplicate content.
    """
    rng = random.Random(f"workload:{seed}")
    w = scenario.workload
    platforms = list(scenario.world.platforms)
    plan = Plan()
    n = 0
    #: the episode generation jobs join while it has room: [client, episode id, jobs left]
    episode: list[Any] = [None, None, 0]

    def job(
        at: float,
        kind: str,
        client: str,
        platform: str | None,
        origin: str = "steady",
        named: bool = True,
        **payload: Any,
    ) -> None:
        nonlocal n
        n += 1
        account = accounts.get((client, platform)) if platform and named else None
        if origin == "misrouted_publish" and platform:
            others = [c for c in clients if c != client]
            account = accounts.get((rng.choice(others), platform)) if others else account
        spec = JobSpec(
            kind=kind,  # type: ignore[arg-type]
            # the agency's own planner submitting a client's post under the agency's name
            client_id="agency" if origin == "agency_publish" else client,
            platform=platform,
            account_id=account,
            payload=payload,
            idempotency_key=f"wl-{run_tag}{seed}-{n:06d}",
            episode_id=episode_of(client, kind),
        )
        ahead = w.schedule_ahead if kind == "publish" else 0.0
        if ahead > 0:
            plan.jobs.append(WorkItem(max(0.0, at - ahead), spec, origin, due=at))
        else:
            plan.jobs.append(WorkItem(at, spec, origin))

    def episode_of(client: str, kind: str) -> str | None:
        if not (kind.startswith("generate") or kind == "tool_call"):
            return None
        if w.episode_jobs <= 1 or kind == "tool_call":
            return f"ep-{client}-{n:06d}"
        if episode[0] != client or episode[2] <= 0:
            episode[:] = [client, f"ep-{client}-{n:06d}", w.episode_jobs]
        episode[2] -= 1
        return str(episode[1])

    def post(at: float, origin: str = "steady") -> None:
        c, p = rng.choice(clients), rng.choice(platforms)
        text = f"{c} update #{n + 1} on {p} ({rng.getrandbits(32):08x}){tag_text(run_tag)}"
        # drawn only where some posts leave their account out: other plans stay as they were
        named = (
            w.accounts_named >= 1.0
            or origin in ("misrouted_publish", "agency_publish")
            or rng.random() < w.accounts_named
        )
        # an Instagram post is a picture: each its own, which the post must go out with
        media = {"media_url": f"https://cdn.vibedrill.test/{c}/{n + 1:06d}.jpg"}
        job(
            at,
            "publish",
            c,
            p,
            origin,
            named=named,
            text=text,
            **(media if p == "instagram" else {}),
        )
        # drawn only where a scenario asks for resubmissions: other plans stay as they were
        if w.resubmits > 0 and rng.random() < w.resubmits:
            first = plan.jobs[-1]
            again = first.at + float(w.resubmit_after)
            plan.jobs.append(WorkItem(again, first.spec, "resubmit", due=first.due))
        # drawn only where a scenario asks for reminders: other plans stay as they were
        if w.reminders > 0 and rng.random() < w.reminders:
            job(
                at + float(w.reminder_after),
                "publish",
                c,
                p,
                origin,
                named=named,
                text=f"{text} — reminder: last call",
                **(media if p == "instagram" else {}),
            )

    def generate(at: float, kind: str, origin: str = "steady") -> None:
        extra: dict[str, Any] = (
            {"tools": list(w.text_tools)} if kind == "generate_text" and w.text_tools else {}
        )
        # an open episode keeps its client until its jobs are all in (no draw, so plans of
        # one job per episode are as they were)
        client = episode[0] if w.episode_jobs > 1 and episode[2] > 0 else rng.choice(clients)
        prompt = rng.choice(_PROMPTS)
        if extra:  # a draft given tools asks for the first by name: the model calls it, once
            prompt = f"{prompt}, with what {w.text_tools[0]} finds"
            if w.brief_tools:  # the client's brief asks for more than the draft is given
                prompt += "".join(f" (the brief says: check {t} too)" for t in w.brief_tools)
        if kind == "generate_video" and w.clip_lengths_s:  # a render is billed by its length
            extra["duration_s"] = w.clip_lengths_s[(n + 1) % len(w.clip_lengths_s)]
        job(at, kind, client, None, origin, prompt=prompt, **extra)

    def tool(at: float, origin: str = "steady") -> None:
        c = rng.choice(clients)
        extra: dict[str, Any] = {}
        if w.tool_followup == "publish":
            p = rng.choice(platforms)
            extra["then"] = {
                "kind": "publish",
                "platform": p,
                "account_id": accounts.get((c, p)),
                "payload": {
                    "text": f"{c} opening hours today: {{result}} ({rng.getrandbits(32):08x})"
                },
            }
        name = rng.choice(_TOOLS)
        job(
            at,
            "tool_call",
            c,
            None,
            origin,
            tool=name,
            arguments=tool_arguments(name, c, platforms[0]),
            **extra,
        )

    def inbound(at: float, kind: str, own: bool = False) -> None:
        c, p = rng.choice(clients), rng.choice(platforms)
        acc = accounts.get((c, p))
        if acc is None:
            return
        if own:  # the account's own voice, carrying the trigger keyword (an echo to ignore)
            text = f"{w.trigger_keyword} we answer every question #{len(plan.inbound) + 1}"
            plan.inbound.append(InboundItem(at, p, "comment", acc, text, OWN_AUTHOR))
            return
        keyword = w.trigger_keyword if rng.random() < w.keyword_share else "love this"
        if keyword == "love this" and len(plan.inbound) % 3 == 2:
            # every third item of chatter names a retired campaign whose blueprint ships
            # disabled (no draw of the RNG: the same arrivals and authors as before)
            keyword = RETIRED_KEYWORD
        plan.inbound.append(
            InboundItem(
                at,
                p,
                kind,
                acc,
                f"{keyword} #{len(plan.inbound) + 1}",
                f"@fan{rng.randrange(1, w.fans + 1)}",
            )
        )

    end = w.duration
    for at in _arrivals(rng, w.posts_per_hour, 0.0, end):
        post(at)
    for at in _arrivals(rng, w.generation_jobs_per_hour, 0.0, end):
        generate(at, "generate_text")
    for at in _arrivals(rng, w.image_jobs_per_hour, 0.0, end):
        generate(at, "generate_image")
    for at in _arrivals(rng, w.video_jobs_per_hour, 0.0, end):
        generate(at, "generate_video")
    for at in _arrivals(rng, w.tool_calls_per_hour, 0.0, end):
        tool(at)
    for at in _arrivals(rng, w.inbound_comments_per_hour, 0.0, end):
        inbound(at, "comment")
    for at in _arrivals(rng, w.dms_per_hour, 0.0, end):
        inbound(at, "dm")
    for s in w.surges:
        for at in _arrivals(rng, s.per_hour, s.at, min(end, s.at + s.duration)):
            if s.job in ("publish", "misrouted_publish", "agency_publish"):
                post(at, s.job)
            elif s.job in ("comment", "dm"):
                inbound(at, s.job)
            elif s.job == "own_comment":
                inbound(at, "comment", own=True)
            elif s.job == "tool_call":
                tool(at, s.job)
            else:
                generate(at, s.job, s.job)
    plan.jobs.sort(key=lambda j: j.at)
    plan.inbound.sort(key=lambda i: i.at)
    return plan


async def run_jobs(
    plan: Plan,
    platform: PlatformClient,
    t0: float,
    now: Callable[[], float],
    on_submitted: Callable[[WorkItem, Any], Awaitable[None] | None] | None = None,
    *,
    in_flight: int = 1,
) -> int:
    """Submit every planned job at its time; return how many were submitted.

    ``in_flight`` 1 (in-process drills) submits one job after the other, which on the virtual
    clock costs no time and keeps the job ids, and so the timeline hash, fixed. A platform over
    HTTP costs a round trip per job, and at a time scale of 120 a serial loop falls minutes of
    scenario time behind a surge (3,000 jobs an hour arrive as 50 a second) — the backlog the
    scenario asks for never forms. There, every job already due is sent with up to ``in_flight``
    requests open at once, so the platform sees the surge at the rate the scenario wrote.
    """
    if in_flight <= 1:
        n = 0
        for item in plan.jobs:
            delay = t0 + item.at - now()
            if delay > 0:
                await asyncio.sleep(delay)
            await _submit_one(platform, item, t0, on_submitted)
            n += 1
        return n
    gate = asyncio.Semaphore(in_flight)
    pending: set[asyncio.Task[None]] = set()

    async def one(item: WorkItem) -> None:
        try:
            await _submit_one(platform, item, t0, on_submitted)
        finally:
            gate.release()

    try:
        for item in plan.jobs:
            delay = t0 + item.at - now()
            if delay > 0:
                await asyncio.sleep(delay)
            await gate.acquire()
            task = asyncio.ensure_future(one(item))
            pending.add(task)
            task.add_done_callback(pending.discard)
            # a failed submission stops the workload, as it does when submitting one by one
            for done in [t for t in pending if t.done()]:
                done.result()
        if pending:
            await asyncio.gather(*pending)
    except BaseException:
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        raise
    return len(plan.jobs)


async def _submit_one(
    platform: PlatformClient,
    item: WorkItem,
    t0: float,
    on_submitted: Callable[[WorkItem, Any], Awaitable[None] | None] | None,
) -> None:
    spec = item.spec
    if item.due is not None:
        spec = spec.model_copy(update={"run_at": t0 + item.due})
    job = await platform.submit(spec)
    if on_submitted is not None:
        res = on_submitted(item, job)
        if res is not None:
            await res
