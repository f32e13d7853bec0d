"""Cheap checks of the two mutation campaigns (the campaigns themselves run under nox)."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.mutation import bugs, recheck, score

ROOT = Path(__file__).resolve().parents[2]
PATCHES = bugs.patches()


def test_there_are_realistic_bugs() -> None:
    assert len(PATCHES) >= 15


@pytest.mark.parametrize("patch", PATCHES, ids=[p.stem for p in PATCHES])
def test_bug_patch_applies_and_says_what_goes_wrong(patch: Path) -> None:
    r = subprocess.run(
        ["git", "apply", "--check", str(patch)], cwd=ROOT, capture_output=True, text=True
    )
    assert r.returncode == 0, f"{patch.name} no longer applies: {r.stderr}"
    text = patch.read_text()
    assert "# What a developer did:" in text
    assert bugs.summary_of(patch), f"{patch.name}: no 'What the platform then does wrong' line"
    # sandbox only, and never the defect catalogue
    touched = [ln[6:] for ln in text.splitlines() if ln.startswith("+++ b/")]
    assert touched and all(t.startswith("sandbox/") for t in touched), touched
    assert "sandbox/defects.py" not in touched


def test_not_held_reads_the_cli_summary_table() -> None:
    table = (
        "│ rb04_token_expiry      │ held    │ 15s │\n"
        "│ rb05_rate_limit_storm  │ violated │ 30s │\n"
        "│ scenario               │ verdict │ detect │\n"
    )
    assert bugs.not_held(table) == "rb05_rate_limit_storm=violated"


def test_equivalent_file_parses_and_every_entry_has_a_reason() -> None:
    eq = score.load_equivalent()
    assert all(r.strip() and "\n" not in r for r in eq.values())


def test_equivalent_file_errors_name_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "equivalent.toml"
    bad.write_text('[[equivalent]]\nmutant = "sandbox.pacing.x_f__mutmut_1"\nreason = ""\n')
    with pytest.raises(score.EquivalentFileError, match=r"equivalent\[0\]\.reason"):
        score.load_equivalent(bad)


def test_mutmut_config_names_the_safety_critical_modules_and_the_drill_suite() -> None:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    for mod in ("scope", "keyring", "runner", "jobs", "pacing", "budget", "engagement"):
        assert f"sandbox/{mod}.py" in cfg["only_mutate"]
    for mod in ("publishing", "toolgate_client", "lanes/api", "lanes/x", "lanes/instagram"):
        assert f"sandbox/{mod}.py" in cfg["only_mutate"]
    assert all((ROOT / m).is_file() for m in cfg["only_mutate"])
    assert cfg["pytest_add_cli_args_test_selection"] == ["tests/mutation/drill_cases.py"]


def test_score_buckets_and_equivalents() -> None:
    results = {
        "sandbox.pacing.xǁPacerǁacquire__mutmut_1": 1,
        "sandbox.pacing.xǁPacerǁacquire__mutmut_2": 0,
        "sandbox.pacing.xǁPacerǁacquire__mutmut_3": 0,
        "sandbox.pacing.xǁPacerǁacquire__mutmut_4": 36,
        "sandbox.pacing.xǁPacerǁacquire__mutmut_5": None,
        "sandbox.budget.x_price__mutmut_1": 33,
    }
    doc = score.score(results, {"sandbox.pacing.xǁPacerǁacquire__mutmut_3": "same"})
    p = doc["modules"]["sandbox.pacing"]
    assert (p["killed"], p["survived"], p["timeout"], p["equivalent"], p["not_checked"]) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert p["score"] == round(2 / 3, 4)
    assert doc["modules"]["sandbox.budget"]["not_reached"] == 1
    assert doc["survivors"] == [
        "sandbox.budget.x_price__mutmut_1",
        "sandbox.pacing.xǁPacerǁacquire__mutmut_2",
    ]
    assert score.function_of("sandbox.pacing.xǁPacerǁacquire__mutmut_2") == "Pacer.acquire"
    assert score.module_of("sandbox.budget.x_price__mutmut_1") == "sandbox.budget"


def test_sample_is_stratified_seeded_and_skips_checked_mutants() -> None:
    results: dict[str, int | None] = {
        f"sandbox.pacing.xǁPacerǁacquire__mutmut_{i}": None for i in range(1, 11)
    }
    results |= {f"sandbox.budget.x_price__mutmut_{i}": None for i in range(1, 4)}
    results["sandbox.budget.x_price__mutmut_3"] = 1
    picked = score.sample(results, 3, seed=7)
    assert picked == score.sample(results, 3, seed=7)
    assert sum(n.startswith("sandbox.pacing.") for n in picked) == 3
    assert sorted(n for n in picked if n.startswith("sandbox.budget.")) == [
        "sandbox.budget.x_price__mutmut_1",
        "sandbox.budget.x_price__mutmut_2",
    ]


#: a survivor as ``mutmut show`` prints it: the function dedented, three lines of context
RELEASE_35 = """\
# sandbox.budget.xǁBudgetǁrelease__mutmut_35: survived
--- sandbox/budget.py
+++ sandbox/budget.py
@@ -7,4 +7,4 @@
         if t - tokens <= 0 and u - usd <= 1e-12:
             self.held.pop(k, None)
         else:
-            self.held[k] = (max(0, t - tokens), max(0.0, u - usd))
+            self.held[k] = (max(0, t - tokens), max(1.0, u - usd))
"""


def test_a_survivors_dedented_diff_becomes_a_patch_on_todays_source(tmp_path: Path) -> None:
    name = "sandbox.budget.xǁBudgetǁrelease__mutmut_35"
    body = recheck.survivor_patch(name, RELEASE_35)
    assert body.startswith("--- a/sandbox/budget.py\n+++ b/sandbox/budget.py\n")
    assert "+                self.held[k] = (max(0, t - tokens), max(1.0, u - usd))" in body
    patch = tmp_path / "01_budget_Budget_release_35.patch"
    patch.write_text(f"# bug 01 x\n{recheck.MUTANT_LINE}{name}\n" + body)
    ok = subprocess.run(["git", "apply", "--check", str(patch)], cwd=ROOT, capture_output=True)
    assert ok.returncode == 0, ok.stderr
    assert recheck.mutant_of(patch) == name
    # lines the function no longer has cannot be placed (the function changed since)
    with pytest.raises(recheck.NotLocated, match="occur 0 times"):
        recheck.survivor_patch(
            name,
            RELEASE_35.replace(
                "-            self.held[k] = (max(0,", "-            self.held[k] = (max(1,"
            ),
        )


def test_survivors_a_recheck_caught_count_as_killed(tmp_path: Path) -> None:
    caught, missed = (
        "sandbox.budget.xǁBudgetǁrelease__mutmut_35",
        "sandbox.budget.x_price__mutmut_1",
    )
    for i, m in enumerate((caught, missed), 1):
        (tmp_path / f"0{i}_b.patch").write_text(f"# bug 0{i} b\n{recheck.MUTANT_LINE}{m}\n")
    report = tmp_path / "recheck.json"
    report.write_text(
        json.dumps(
            {
                "commit": "abc",
                "patches": str(tmp_path),
                "bugs": [
                    {"bug": "01_b", "status": "caught", "detail": "test_drill_holds[rb12]"},
                    {"bug": "02_b", "status": "missed", "detail": ""},
                ],
            }
        )
    )
    kills, facts = score.rechecked_kills(report)
    assert kills == {caught: "test_drill_holds[rb12]"} and facts["commit"] == "abc"
    doc = score.score({caught: 0, missed: 0}, {}, kills)
    assert doc["modules"]["sandbox.budget"]["killed"] == 1
    assert doc["survivors"] == [missed] and doc["rechecked"] == kills


def test_the_working_tree_copy_keeps_symlinks_so_the_copied_cli_finds_its_scenarios(
    tmp_path: Path,
) -> None:
    """``harness/_scenarios`` links to ``scenarios/``: a copy that dropped it made every drill
    run of the bug runner crash (and a crash once counted as a bug caught)."""
    bugs.tracked_copy(tmp_path)
    link = tmp_path / "harness" / "_scenarios"
    assert link.is_symlink() and (link / "rb05_rate_limit_storm.yaml").is_file()


def test_a_crash_of_the_drill_run_is_an_error_not_a_bug_caught(tmp_path: Path, monkeypatch) -> None:
    class Crashed:
        returncode = 1
        stdout = ""
        stderr = "Traceback (most recent call last):\n  ...\nFileNotFoundError: scenarios"

    def fake_run(cmd, *a, **k):  # the drill run; git apply and the copy still run for real
        assert "run" in cmd
        return Crashed()

    monkeypatch.setattr(bugs, "_run", fake_run)
    (tmp_path / "base").mkdir()
    got = bugs.run_one(None, tmp_path / "base", fail_fast=False)
    assert got.status == "error" and "FileNotFoundError" in got.detail


def test_a_harness_error_beside_a_violated_drill_still_counts_the_bug_caught(
    tmp_path: Path, monkeypatch
) -> None:
    table = "\u2502 rb02_a \u2502 violated \u2502 x \u2502\n\u2502 rb02_b \u2502 error \u2502 x \u2502\n"

    class Ran:
        returncode = 3
        stdout = table
        stderr = ""

    monkeypatch.setattr(bugs, "_run", lambda cmd, *a, **k: Ran())
    (tmp_path / "base").mkdir()
    got = bugs.run_one(None, tmp_path / "base", fail_fast=False)
    assert got.status == "caught" and got.detail == "rb02_a=violated, rb02_b=error"
    Ran.stdout = "\u2502 rb02_b \u2502 error \u2502 x \u2502\n"  # errors alone: an error
    assert bugs.run_one(None, tmp_path / "base", fail_fast=False).status == "error"


def test_a_stopped_campaign_runs_no_more_drills_and_kills_the_running_ones(tmp_path: Path) -> None:
    # SIGINT/SIGTERM set the stop: a drill run that starts afterwards does not run at all, and
    # one running is killed with its whole session (here: a shell and its sleeping child)
    import threading

    stop = bugs._STOP
    try:
        done: list[object] = []
        t = threading.Thread(
            target=lambda: done.append(bugs._run(["sh", "-c", "sleep 30 & wait"], tmp_path, {})),
        )
        t.start()
        for _ in range(100):
            if bugs._RUNNING:
                break
            threading.Event().wait(0.01)
        bugs._stop(15, None)
        t.join(10)
        assert not t.is_alive() and done == [None]
        assert not bugs._RUNNING
        assert bugs._run(["true"], tmp_path, {}) is None
    finally:
        stop.clear()
