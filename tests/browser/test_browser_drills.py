"""Browser drills end to end: a real Chromium, the fakes served from the drill's own loop.

Each (scenario, defect) pair runs once per test run and every test reads it (``_drill``): under
pytest-xdist the first worker to need a drill runs it and the others read its result
(``tests/shared_runs.py``), so the drills spread over the workers and none runs twice.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.catalogue import platform_defects
from harness.drill.browser import TOPOLOGY, is_browser_scenario
from harness.drill.run import DrillOptions, DrillResult, run_drill
from harness.mutants import DEFERRED_DEFECTS, matrix_of, outcome_of
from harness.scenario import load_scenario
from tests.shared_runs import once_per_run, run_folder

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parent.parent.parent
#: browser scenario → (its defect, the invariant that defect must violate)
BROWSER_DRILLS: dict[str, tuple[str, str]] = {
    "rb06_browser_drift": ("brittle_selectors", "every_side_effect_audited"),
    "rb01_browser_session_crossed": (
        "browser_profile_mixup",
        "every_side_effect_on_intended_account",
    ),
    "rb06_browser_lane_held_then_released": ("audit_dropped", "every_side_effect_audited"),
    "rb10_browser_reply_loop": ("audit_dropped", "every_side_effect_audited"),
    "rb03_browser_post_invisible": ("verification_skipped", "no_unverified_publish_reported_live"),
    "rb01_browser_profile_mixup": (
        "browser_profile_mixup",
        "every_side_effect_on_intended_account",
    ),
    "rb05_browser_action_blocked": ("retry_after_ignored", "every_job_terminal_after_healing"),
    "rb06_browser_captcha": ("browser_challenge_ignored", "no_web_side_effects_after_a_challenge"),
    "rb06_browser_captcha_meets_paced_posts": (
        "browser_challenge_ignored",
        "no_web_side_effects_after_a_challenge",
    ),
    "rb06_browser_drift_reworded": ("brittle_selectors", "every_side_effect_audited"),
    "rb04_browser_session_expired": (
        "browser_profile_mixup",
        "every_side_effect_on_intended_account",
    ),
}
_cache: dict[tuple[str, str | None], DrillResult] = {}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The drills' folder, shared by every xdist worker of the run (tests/shared_runs.py)."""
    return run_folder(tmp_path_factory, "browser-drills")


def _drill(reports: Path, scenario: str, defect: str | None = None) -> DrillResult:
    """The drill of ``scenario`` with ``defect`` (healthy when None), run once per test run."""
    key = (scenario, defect)
    if key not in _cache:
        name = f"{scenario}-{defect or 'healthy'}"
        s = load_scenario(ROOT / "scenarios" / f"{scenario}.yaml")
        opts = DrillOptions(defects=(defect,) if defect else (), reports_dir=reports / name)
        _cache[key] = once_per_run(reports, name, lambda: run_drill(s, opts))
    return _cache[key]


def _invariant(result: DrillResult, name: str) -> dict[str, Any]:
    return next(i for i in result.verdict_json["invariants"] if i["name"] == name)


@pytest.mark.parametrize("scenario", sorted(BROWSER_DRILLS))
def test_a_browser_scenario_holds_on_the_healthy_sandbox(reports: Path, scenario: str) -> None:
    r = _drill(reports, scenario)
    assert r.verdict == "held", json.dumps(r.verdict_json["invariants"], indent=1)[:2000]
    assert r.verdict_json["topology"] == TOPOLOGY


@pytest.mark.parametrize("scenario", sorted(BROWSER_DRILLS))
def test_a_browser_scenario_is_violated_by_its_defect_on_the_expected_invariant(
    reports: Path, scenario: str
) -> None:
    defect, invariant = BROWSER_DRILLS[scenario]
    r = _drill(reports, scenario, defect)
    assert r.verdict == "violated"
    assert _invariant(r, invariant)["verdict"] == "violated"


def test_the_brittle_lane_deletes_a_post_the_ledger_shows_and_no_audit_claims(
    reports: Path,
) -> None:
    r = _drill(reports, "rb06_browser_drift", "brittle_selectors")
    assert r.report_dir is not None
    ledger = [
        json.loads(x) for x in (r.report_dir / "evidence/ledger.jsonl").read_text().splitlines()
    ]
    assert [e for e in ledger if e["action"] == "post.deleted" and e.get("channel") == "web"]


@pytest.mark.parametrize("scenario", sorted(BROWSER_DRILLS))
def test_screenshots_and_dom_snapshots_are_in_the_evidence_and_linked_from_the_postmortem(
    reports: Path, scenario: str
) -> None:
    r = _drill(reports, scenario)
    assert r.report_dir is not None
    shots = sorted((r.report_dir / "evidence/browser").rglob("*.png"))
    doms = sorted((r.report_dir / "evidence/browser").rglob("*.html"))
    assert shots and doms
    html = (r.report_dir / "postmortem.html").read_text()
    md = (r.report_dir / "postmortem.md").read_text()
    for p in shots + doms:
        rel = p.relative_to(r.report_dir).as_posix()
        assert rel in md, f"{rel} is not linked from postmortem.md"
        assert rel in html
    assert '<img src="evidence/browser/' in html
    timeline = (r.report_dir / "evidence/timeline.jsonl").read_text()
    assert '"evidence":"evidence/browser/' in timeline


@pytest.mark.parametrize("scenario", sorted(BROWSER_DRILLS))
def test_no_credential_or_session_cookie_in_any_screenshot_snapshot_log_or_report(
    reports: Path, scenario: str
) -> None:
    r = _drill(reports, scenario)
    assert r.report_dir is not None and r.verdict_obj is not None
    assert _invariant(r, "no_secret_in_artifacts")["verdict"] == "held"
    cookie = re.compile(rb"\b(xs|in)s-[0-9a-f]{40}\b")
    files = [f for f in r.report_dir.rglob("*") if f.is_file()]
    assert any(f.suffix == ".png" for f in files) and any(f.suffix == ".html" for f in files)
    for f in files:
        assert not cookie.search(f.read_bytes()), f"a session cookie value in {f}"
    assert _invariant(r, "no_secret_in_artifacts")["checked"] > 0


def test_the_browser_mutation_matrix_catches_every_mutant_of_every_browser_scenario(
    reports: Path,
) -> None:
    scenarios = [load_scenario(p) for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
    browser = [s for s in scenarios if is_browser_scenario(s)]
    assert {s.id: [(m.defect, m.invariant) for m in s.mutants] for s in browser} == {
        k: [v] for k, v in BROWSER_DRILLS.items()
    }
    done = [outcome_of(s, (), _drill(reports, s.id)) for s in browser]
    done += [
        outcome_of(s, (m.defect,), _drill(reports, s.id, m.defect))
        for s in browser
        for m in s.mutants
    ]
    left_out = [s for s in scenarios if not is_browser_scenario(s)]
    m = matrix_of(browser, done, platform_defects(), left_out)
    assert m.healthy_held, [(h.scenario, h.verdict, h.violated) for h in m.healthy]
    assert m.rows and m.caught == len(m.rows), [(r.defect, r.verdict, r.violated) for r in m.rows]
    assert m.uncovered == []
    browser_only = {"brittle_selectors", "browser_profile_mixup", "browser_challenge_ignored"}
    assert browser_only <= {r.defect for r in m.rows}
    assert not browser_only & DEFERRED_DEFECTS


def test_every_browser_scenario_is_marked_as_one() -> None:
    for path in sorted((ROOT / "scenarios").glob("*browser*.yaml")):
        assert is_browser_scenario(load_scenario(path)), path.name
