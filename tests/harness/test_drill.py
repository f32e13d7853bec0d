"""The drill's pure parts: a seeded workload plan, drill ids, and detection over telemetry."""

from __future__ import annotations

from pathlib import Path

from harness.drill import drill_id_for
from harness.scenario import load_scenario
from harness.workload import plan_workload

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ["acme", "northwind", "globex"]
ACCOUNTS = {(c, p): f"{c}-{p}" for c in CLIENTS for p in ("x", "instagram", "linkedin")}


def test_the_same_seed_plans_the_same_workload_and_another_seed_does_not() -> None:
    s = load_scenario(ROOT / "scenarios/rb05_rate_limit_storm.yaml")
    a, b = plan_workload(s, 7, CLIENTS, ACCOUNTS), plan_workload(s, 7, CLIENTS, ACCOUNTS)
    assert [(j.at, j.spec) for j in a.jobs] == [(j.at, j.spec) for j in b.jobs]
    assert a.inbound == b.inbound
    c = plan_workload(s, 8, CLIENTS, ACCOUNTS)
    assert [j.at for j in a.jobs] != [j.at for j in c.jobs]


def test_the_workload_follows_the_hourly_rates_roughly() -> None:
    s = load_scenario(ROOT / "scenarios/rb05_rate_limit_storm.yaml")
    plan = plan_workload(s, 7, CLIENTS, ACCOUNTS)
    posts = [j for j in plan.jobs if j.spec.kind == "publish"]
    assert 180 <= len(posts) <= 300  # 120/h for 2h
    assert all(j.spec.account_id == f"{j.spec.client_id}-{j.spec.platform}" for j in posts)
    assert all(0 <= j.at < 7200 for j in plan.jobs)


def test_misrouted_surge_jobs_name_another_clients_account() -> None:
    s = load_scenario(ROOT / "scenarios/rb01_cross_tenant_post.yaml")
    plan = plan_workload(s, 1, CLIENTS, ACCOUNTS)
    bad = [j for j in plan.jobs if j.origin == "misrouted_publish"]
    assert bad and all(not (j.spec.account_id or "").startswith(j.spec.client_id + "-") for j in bad)
    assert all(1200 <= j.at < 1800 for j in bad)


def test_drill_ids_name_scenario_virtual_start_and_seed() -> None:
    s = load_scenario(ROOT / "scenarios/rb05_rate_limit_storm.yaml")
    assert drill_id_for(s, 7) == "rb05-rate-limit-storm-20261127T120000Z-s7"
