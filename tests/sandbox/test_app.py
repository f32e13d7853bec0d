"""The HTTP platform contract: the app over a running platform, the HTTP client, the OpenAPI
document, the served platform (restart survival) and a schemathesis run of its own document."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.app import create_app
from sandbox.client import HttpPlatformClient, PlatformHttpError
from sandbox.contract import JobSpec, KillScope, PlatformClient
from sandbox.controls import ControlError
from sandbox.openapi import document
from tests.sandbox.platform_rig import Rig, rig, virtual

ROOT = Path(__file__).resolve().parents[2]


def over_http(body: Callable[[Rig, HttpPlatformClient], Awaitable[None]]) -> None:
    """Run ``body`` with the platform's app mounted in-process and an HTTP client on it."""

    async def main() -> None:
        async with rig(clients=2, platforms=("x",)) as r:
            app = create_app(r.platform.client, exposition=r.platform.telemetry.exposition)
            http = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://platform"
            )
            async with HttpPlatformClient("http://platform", http=http) as pc, http:
                await body(r, pc)

    virtual(main)


def test_the_http_client_implements_the_platform_protocol() -> None:
    assert isinstance(HttpPlatformClient("http://platform"), PlatformClient)


def test_a_publish_submitted_over_http_is_published_verified_and_audited() -> None:
    async def body(r: Rig, pc: HttpPlatformClient) -> None:
        job = await pc.submit(
            JobSpec(kind="publish", client_id="acme", platform="x", payload={"text": "over HTTP"})
        )
        await r.settle()
        done = await pc.job(job.id)
        assert done.state == "succeeded" and done.result["verified"]
        page = await pc.audit(0, 1)
        events = list(page.events)
        while True:
            page = await pc.audit(page.next_cursor, 1)
            if not page.events:
                break
            events.extend(page.events)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        (ok,) = [e for e in events if e.action == "post.create" and e.outcome == "success"]
        (entry,) = r.ledger("post.created")
        assert ok.proof["resource_id"] == entry.resource_id
        assert [j.id for j in await pc.jobs("succeeded")] == [job.id]

    over_http(body)


def test_jobs_listed_over_http_by_state_are_only_the_jobs_in_that_state() -> None:
    # an operator (or a runbook's automation) acts on the jobs of one state: approving what
    # awaits approval must not reach running or finished jobs
    async def body(r: Rig, pc: HttpPlatformClient) -> None:
        await pc.submit(
            JobSpec(kind="publish", client_id="acme", platform="x", payload={"text": "a"})
        )
        await r.settle()
        await pc.set_mode("approval_required", client_id="acme", actor="t", reason="test")
        held = await pc.submit(
            JobSpec(kind="publish", client_id="acme", platform="x", payload={"text": "b"})
        )
        await r.settle()
        waiting = await pc.jobs("awaiting_approval")
        assert [j.id for j in waiting] == [held.id]
        assert {j.state for j in await pc.jobs("succeeded")} == {"succeeded"}
        with pytest.raises(PlatformHttpError) as e:
            await pc.jobs("finished")  # type: ignore[arg-type]
        assert e.value.status == 422

    over_http(body)


def test_controls_over_http_are_recorded_with_actor_and_reason_and_change_behaviour() -> None:
    async def body(r: Rig, pc: HttpPlatformClient) -> None:
        ch = await pc.set_kill_switch(
            KillScope(client_id="acme"), True, actor="ops-lead", reason="RB-01"
        )
        assert (ch.actor, ch.reason, ch.control) == ("ops-lead", "RB-01", "kill_switch")
        job = await pc.submit(
            JobSpec(kind="publish", client_id="acme", platform="x", payload={"text": "no"})
        )
        await r.settle()
        assert (await pc.job(job.id)).state == "blocked" and r.ledger("post.created") == []
        state = await pc.controls()
        assert state["kill_switches"] == [{"client_id": "acme"}]
        assert [c.control for c in await pc.control_changes()] == ["kill_switch"]

    over_http(body)


def test_bad_control_input_is_a_422_naming_the_field_and_the_valid_values() -> None:
    async def body(r: Rig, pc: HttpPlatformClient) -> None:
        resp = await pc.http.post(
            "/controls/lane", json={"platform": "x", "lane": "bogus", "actor": "a", "reason": "r"}
        )
        assert resp.status_code == 422
        err = resp.json()["error"]
        assert (
            err["path"] == "lane"
            and err["value"] == "bogus"
            and err["valid"] == ["api", "browser", "hybrid"]
        )
        assert "'bogus'" in err["message"] and "api, browser, hybrid" in err["message"]
        with pytest.raises(PlatformHttpError) as e:
            await pc.set_kill_switch(KillScope(client_id="nobody"), True, actor="a", reason="r")
        assert e.value.status == 422 and e.value.detail["path"] == "scope.client_id"
        assert e.value.detail["valid"] == ["acme", "northwind"]
        with pytest.raises(PlatformHttpError) as e:
            await pc.set_kill_switch(KillScope(platform="myspace"), True, actor="a", reason="r")
        assert e.value.status == 422 and e.value.detail["path"] == "scope.platform"
        # the HTTP model refuses an unknown action type first; the in-process contract says it too
        with pytest.raises(ControlError) as ce:
            r.platform.controls.set_pacing("x", actor="a", reason="r", daily_caps={"tweet": 3})
        assert ce.value.field == "daily_caps.tweet" and "publish" in ce.value.valid
        assert "'tweet' is not an action type" in str(ce.value)
        resp = await pc.http.post("/controls/mode", json={"mode": "auto", "actor": "a"})
        assert resp.status_code == 422 and resp.json()["error"]["path"] == "reason"
        resp = await pc.http.post("/controls/queue", content=b"{not json")
        assert resp.status_code == 422
        # strict at the wire: "off" is no switch (coerced, it would release a kill switch)
        # and false is no amount of dollars (coerced, a budget of $0)
        for path, bad in (
            ("/controls/kill-switch", {"scope": {}, "engaged": "off"}),
            ("/controls/budget", {"client_usd": False}),
        ):
            resp = await pc.http.post(path, json={**bad, "actor": "a", "reason": "r"})
            assert resp.status_code == 422, (path, resp.text)
        assert r.platform.controls.kill_switches == set()
        resp = await pc.http.get("/jobs", params={"state": "done"})
        assert resp.status_code == 422 and "succeeded" in resp.json()["error"]["valid"]

    over_http(body)


def test_unknown_jobs_are_404_and_approving_a_job_not_held_is_409() -> None:
    async def body(r: Rig, pc: HttpPlatformClient) -> None:
        with pytest.raises(KeyError):
            await pc.job("j-999999")
        job = await pc.submit(
            JobSpec(kind="publish", client_id="acme", platform="x", payload={"text": "hi"})
        )
        await r.settle()
        with pytest.raises(PlatformHttpError) as e:
            await pc.approve(job.id, actor="ops", reason="why not")
        assert e.value.status == 409
        resp = await pc.http.post("/jobs", json={"kind": "publish", "client_id": "nobody"})
        assert resp.status_code == 422 and resp.json()["error"]["path"] == "client_id"

    over_http(body)


def test_metrics_are_served_as_prometheus_text_and_as_json() -> None:
    async def body(r: Rig, pc: HttpPlatformClient) -> None:
        await pc.canary("acme", "x")
        text = (await pc.http.get("/metrics")).text
        assert 'publish_attempts_total{platform="x"} 1.0' in text
        assert (await pc.metrics())["publish_success_total"] == 1.0
        assert (await pc.health())["status"] == "ok"
        assert "toolgate_fail_open" in {d["name"] for d in (await pc.defects())["catalogue"]}

    over_http(body)


def test_the_committed_openapi_document_is_up_to_date() -> None:
    committed = json.loads((ROOT / "docs" / "platform-openapi.json").read_text())
    assert committed == json.loads(json.dumps(document())), (
        "docs/platform-openapi.json is stale: run `python -m sandbox.openapi > docs/platform-openapi.json`"
    )


# --- served ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from fakes.serve import ServedFakes
    from sandbox.serve import ServedPlatform

    db = tmp_path_factory.mktemp("platform") / "platform.db"
    with ServedFakes(clients=2) as world, ServedPlatform(world, db_path=db) as info:
        yield {"world": world, "db": db, **info}


@pytest.mark.slow
@pytest.mark.served
def test_the_served_platform_keeps_jobs_audit_and_controls_across_a_restart(tmp_path: Path) -> None:
    from fakes.serve import ServedFakes
    from sandbox.serve import ServedPlatform

    db = tmp_path / "platform.db"
    with ServedFakes(clients=2) as world:
        with ServedPlatform(world, db_path=db) as info:
            r = httpx.post(
                f"{info['base']}/jobs",
                json={
                    "kind": "publish",
                    "client_id": "acme",
                    "platform": "x",
                    "payload": {"text": "before the restart"},
                },
            )
            job_id = r.json()["id"]
            for _ in range(100):
                if httpx.get(f"{info['base']}/jobs/{job_id}").json()["state"] == "succeeded":
                    break
                asyncio.run(asyncio.sleep(0.1))
            before = httpx.get(f"{info['base']}/audit").json()["events"]
            # the incident is being held when the platform goes down: its controls must survive
            why = {"actor": "ops", "reason": "RB-01 step 1"}
            r = httpx.post(
                f"{info['base']}/controls/kill-switch",
                json={"scope": {"client_id": "acme"}, "engaged": True, **why},
            )
            assert r.status_code == 200, r.text
            r = httpx.post(f"{info['base']}/controls/mode", json={"mode": "read_only", **why})
            assert r.status_code == 200, r.text
            controls = httpx.get(f"{info['base']}/controls").json()
            changes = httpx.get(f"{info['base']}/controls/changes").json()
            assert "RB-01 step 1" in str(changes)
        with ServedPlatform(world, db_path=db) as info:
            job = httpx.get(f"{info['base']}/jobs/{job_id}").json()
            after = httpx.get(f"{info['base']}/audit").json()["events"]
            assert httpx.get(f"{info['base']}/controls").json() == controls
            assert httpx.get(f"{info['base']}/controls/changes").json() == changes
            metrics = httpx.get(f"{info['base']}/metrics").text
    assert job["state"] == "succeeded" and before and after[: len(before)] == before
    assert controls["kill_switches"] == [{"client_id": "acme"}]
    assert 'kill_switch_state{scope="client_id=acme"} 1.0' in metrics


#: operations whose bodies name ids of the world's roster — clients, their accounts, blueprints.
#: Those are data of a deployment, not of the contract: the static document says ``string``
#: and the server answers 422 naming the valid ids (``client_id: 'w…' is not a client; valid:
#: acme, northwind``), so schemathesis' positive_data_acceptance (ST202: a schema-valid body
#: must be accepted) cannot hold for them; every other check runs on them.
ROSTER_ID_OPERATIONS = (
    "canary",  # client_id
    "set_blueprint_enabled",  # blueprint_id
    "set_budget",  # client_id
    "set_kill_switch",  # scope.client_id, scope.account_id
    "set_mode",  # client_id
    "set_trigger_lock",  # client_id
    "submit",  # client_id, account_id, blueprint_id
)


def _only(flag: str) -> tuple[str, ...]:
    return tuple(a for op in ROSTER_ID_OPERATIONS for a in (flag, op))


#: (selection, why): all checks on every other operation, and all checks but ST202 on those
SCHEMATHESIS_PASSES = (
    _only("--exclude-operation-id"),
    (*_only("--include-operation-id"), "--exclude-checks", "positive_data_acceptance"),
)


@pytest.mark.slow
@pytest.mark.served
@pytest.mark.timeout(120)
def test_schemathesis_with_all_checks_passes_on_the_served_platform(
    served: dict[str, Any], tmp_path: Path
) -> None:
    import subprocess
    import sys
    import time

    doc = ROOT / "docs" / "platform-openapi.json"
    started = time.monotonic()
    for sel in SCHEMATHESIS_PASSES:
        r = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "run", str(doc),
                "--url", served["base"], "--checks", "all", "--mode", "all",
                "--max-examples", "10", "--phases", "fuzzing", "--generation-deterministic",
                "--request-timeout", "20", "--no-color", *sel,
            ],
            capture_output=True, text=True, timeout=100, cwd=tmp_path,  # its files, not the checkout's
        )  # fmt: skip
        assert r.returncode == 0, f"{sel}:\n{r.stdout[-6000:]}\n{r.stderr[-2000:]}"
        assert " passed" in r.stdout and "Server error" not in r.stdout
    assert time.monotonic() - started < 60


@pytest.mark.served
def test_a_count_written_as_a_whole_float_is_the_count_and_a_fraction_is_refused(
    served: dict[str, Any],
) -> None:
    # JSON Schema counts 3.0 as an integer, so the contract does; 2.5 is no count, true is none
    body = {"actor": "a", "reason": "r", "platform": "linkedin", "concurrency": 3.0}
    r = httpx.post(served["base"] + "/controls/pacing", json=body, timeout=10)
    assert r.status_code == 200, r.text
    pacing = httpx.get(served["base"] + "/controls", timeout=10).json()["pacing"]["linkedin"]
    assert pacing["concurrency"] == 3
    for bad in (2.5, True):
        r = httpx.post(
            served["base"] + "/controls/pacing", json={**body, "concurrency": bad}, timeout=10
        )
        assert r.status_code == 422 and "concurrency" in r.text, (bad, r.text)


@pytest.mark.served
@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("/controls/kill-switch", {"actor": "a", "reason": "r", "engaged": 1}, "engaged"),
        ("/controls/budget", {"actor": "a", "reason": "r", "client_usd": False}, "client_usd"),
        (
            "/controls/pacing",
            {"actor": "a", "reason": "r", "platform": "x", "daily_caps": {"publish": -1}},
            "daily_caps",
        ),
    ],
)
def test_the_contract_is_strict_about_booleans_numbers_and_caps(
    served: dict[str, Any], path: str, body: dict[str, Any], needle: str
) -> None:
    r = httpx.post(served["base"] + path, json=body, timeout=10)
    assert r.status_code == 422, r.text
    assert needle in r.text


@pytest.mark.slow
@pytest.mark.served
def test_hostile_bodies_get_4xx_on_every_post_route(served: dict[str, Any]) -> None:
    spec = httpx.get(served["openapi"], timeout=10).json()
    posts = [p for p, ops in spec["paths"].items() if "post" in ops and "{" not in p]
    assert len(posts) >= 10
    bodies = [b"[" * 100_000 + b"]" * 100_000, b'{"actor": NaN}', b"x" * (2 << 20)]
    for path in posts:
        for body in bodies:
            r = httpx.post(
                served["base"] + path,
                content=body,
                headers={"content-type": "application/json"},
                timeout=20,
            )
            assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])


def test_a_scaled_platform_keeps_each_timeout_above_its_real_time_floor() -> None:
    from sandbox.serve import REAL_TIMEOUT_FLOORS, scaled_timeouts
    from sandbox.settings import Settings

    # at K=120 the default 5 s connect timeout is 42 ms of real time: a busy machine's scheduling
    # then "times out" healthy requests; each timeout gets at least its floor of real time
    out = scaled_timeouts({"request_timeout_s": 600.0, "pacing": {"x": 1}}, 120)
    assert out["pacing"] == {"x": 1}
    assert out["request_timeout_s"] == 600.0  # longer than the floor: kept
    assert out["connect_timeout_s"] == REAL_TIMEOUT_FLOORS["connect_timeout_s"] * 120
    assert out["provider_timeout_s"] == REAL_TIMEOUT_FLOORS["provider_timeout_s"] * 120
    assert out["tool_timeout_s"] == REAL_TIMEOUT_FLOORS["tool_timeout_s"] * 120
    # up to a modest scale the platform's own settings stand
    assert scaled_timeouts({}, 4)["request_timeout_s"] == Settings().request_timeout_s
    assert scaled_timeouts({}, 1) == {}


def test_a_served_platform_restarted_on_its_store_runs_the_jobs_it_kept(tmp_path: Path) -> None:
    # `vibedrill platform serve --db F`: a post the calendar handed over for later is stored;
    # the process stops; a new one on the same file must come back with it and post it when due
    # (its storage attached before it starts: a runner started first never sees restored work)
    import fakes
    from fakes.core.roster import Roster
    from sandbox import Platform, Settings
    from sandbox.serve import served_app
    from sandbox.storage import SqliteStore

    async def main() -> None:
        loop = asyncio.get_running_loop()
        world = fakes.World(
            roster=Roster.generate(clients=1, platforms=("x",), seed=5), now=loop.time, seed=5
        )
        fw = fakes.FakeWorld(world)
        settings, secrets = Settings.from_roster(world.roster_with_secrets())

        def process() -> Platform:
            return Platform(settings, secrets, transport=fw.transport(), now=loop.time, seed=5)

        async with fw.running():
            first = process()
            app = served_app(first, SqliteStore(tmp_path / "platform.db"))
            async with app.router.lifespan_context(app):
                job = await first.client.submit(
                    JobSpec(
                        kind="publish",
                        client_id="acme",
                        platform="x",
                        payload={"text": "Fresh bread at noon"},
                        run_at=loop.time() + 600,
                    )
                )
                await asyncio.sleep(60)
            assert not world.ledger.entries(action="post.created")
            second = process()
            app = served_app(second, SqliteStore(tmp_path / "platform.db"))
            async with app.router.lifespan_context(app):
                await asyncio.sleep(900)
                (back,) = [j for j in await second.client.jobs() if j.id == job.id]
                assert back.state == "succeeded", (back.state, back.last_error)
            assert len(world.ledger.entries(action="post.created")) == 1

    virtual(main)
