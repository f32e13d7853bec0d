"""``--autopilot``: the automated Ops Lead's decisions, played through the console's HTTP API.

Two participants join over HTTP — ``Autopilot (Ops Lead)`` and ``Autopilot (Incident
Commander)`` — and do what :class:`harness.drill.respond.OpsLead` does, with the same endpoints
the console's buttons call: wait for a page and acknowledge it, search the runbook library by the
page's symptom and open the scenario's runbook, run its immediate and diagnosis steps in order
(one per ``STEP_SECONDS``, each with a reason, expanded to the page's platforms and clients),
wait until the timed faults end, run the fix steps, then the IC declares the incident mitigated
and resolved. A refused step is left as the console left it (the grades show it).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from ..drill.respond import STEP_SECONDS, expand_step
from ..runbooks import Step
from .state import GameDay

__all__ = ["NAME", "autopilot"]

NAME = "Autopilot"
#: how often (scenario seconds) the autopilot looks at the console's state
POLL_S = 5.0


async def _join(base: str, role: str, scale: float) -> httpx.AsyncClient:
    # the loop's clock runs ×scale: 30 real seconds, whatever the time scale
    c = httpx.AsyncClient(base_url=base, timeout=30.0 * max(scale, 1.0))
    r = await c.post("/api/join", json={"name": NAME, "role": role})
    r.raise_for_status()
    return c


async def autopilot(join_url: str, gd: GameDay) -> None:
    """Play the automated Ops Lead through the console at ``join_url`` (see the module doc)."""
    base = join_url.rstrip("/")
    ops = await _join(base, "Ops Lead", gd.scale)
    ic = await _join(base, "Incident Commander", gd.scale)
    try:
        await _play(ops, ic, gd)
    finally:
        await ops.aclose()
        await ic.aclose()


async def _state(c: httpx.AsyncClient) -> dict[str, Any]:
    r = await c.get("/api/state")
    r.raise_for_status()
    data: dict[str, Any] = r.json()
    return data


async def _play(ops: httpx.AsyncClient, ic: httpx.AsyncClient, gd: GameDay) -> None:
    s = gd.scenario
    while True:  # wait for the first page
        st = await _state(ops)
        pages = [p for p in st["pages"] if p["source"] == "monitoring"] or st["pages"]
        if pages:
            break
        await asyncio.sleep(POLL_S)
    page = pages[0]
    await ops.post(f"/api/pages/{page['id']}/ack")
    await ops.get("/api/runbooks", params={"q": page["title"]})
    await ops.post(f"/api/runbooks/{s.runbook}/choose")
    rb = (await ops.get(f"/api/runbooks/{s.runbook}")).json()
    platforms = tuple(page["scope"].get("platforms") or ()) or _fault_platforms(gd)
    clients = tuple(page["scope"].get("clients") or ())

    async def run(step: dict[str, Any]) -> None:
        await asyncio.sleep(STEP_SECONDS)
        model = Step(id=step["id"], action=step["action"], params=step["params"])
        reason = f"{rb['id']} {step['id']}: {step['text']}"
        for params in expand_step(model, platforms, clients):
            await ops.post(
                "/api/actions",
                json={
                    "action": step["action"],
                    "params": params,
                    "reason": reason,
                    "runbook": rb["id"],
                    "step": step["id"],
                },
            )

    for step in rb["steps"]:
        if step["phase"] in ("immediate", "diagnosis"):
            await run(step)
    ends = [f.at + f.duration for f in s.faults if f.duration is not None]
    if ends:
        elapsed = float((await _state(ops))["clock"]["elapsed_s"])
        if max(ends) > elapsed:
            await asyncio.sleep(max(ends) - elapsed)
    for step in rb["steps"]:
        if step["phase"] == "fix":
            await run(step)
    await ic.post("/api/declare", json={"status": "mitigated"})
    await asyncio.sleep(STEP_SECONDS)
    await ic.post("/api/declare", json={"status": "resolved"})


def _fault_platforms(gd: GameDay) -> tuple[str, ...]:
    """The platforms the scenario's faults hit, as the automated Ops Lead falls back to."""
    from fakes.core.roster import SOCIAL_PLATFORMS

    s = gd.scenario
    plats = {f.target() for f in s.faults if f.target() in SOCIAL_PLATFORMS}
    return tuple(sorted(plats)) or tuple(s.world.platforms)
