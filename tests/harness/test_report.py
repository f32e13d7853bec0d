"""The report folder: every file written atomically, secrets scrubbed and caught, junit shaped."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from _recordkit import SECRET, aud, drill_record

from harness import files
from harness.report import writer as report_mod
from harness.report.writer import write_message, write_report

EVIDENCE = [
    "timeline.jsonl",
    "ledger.jsonl",
    "journal.jsonl",
    "audit.jsonl",
    "audit-sample.jsonl",
    "controls.jsonl",
    "alerts.jsonl",
    "faults.jsonl",
    "metrics.csv",
    "trace-ids.txt",
    "side-effects-per-minute.svg",
    "bundle.json",
]


def test_a_report_folder_holds_every_output_and_the_evidence_bundle(tmp_path: Path):
    rep = write_report(drill_record(), tmp_path)
    for name in ("postmortem.md", "postmortem.html", "verdict.json", "junit.xml"):
        assert (rep.dir / name).is_file()
    for name in EVIDENCE:
        assert (rep.dir / "evidence" / name).is_file(), name
    assert not list(rep.dir.rglob("*.tmp"))
    bundle = json.loads((rep.dir / "evidence/bundle.json").read_text())
    assert bundle["incident_id"] == rep.verdict.drill_id
    assert bundle["tags"] == ["SAFETY"] and bundle["severity"] == "P0"
    assert bundle["detection"]["source"] == "tenancy_mismatch"
    assert bundle["impact"].startswith("3 harmful side effect(s)")


def test_evidence_line_anchors_point_at_the_named_rows(tmp_path: Path):
    rep = write_report(drill_record(), tmp_path)
    ledger = (rep.dir / "evidence/ledger.jsonl").read_text().splitlines()
    assert json.loads(ledger[10])["resource_id"] == "p11"
    timeline = (rep.dir / "evidence/timeline.jsonl").read_text().splitlines()
    assert json.loads(timeline[0])["kind"] == "drill.started"


def test_the_audit_sample_holds_between_ten_and_twenty_events(tmp_path: Path):
    rep = write_report(drill_record(), tmp_path)
    lines = (rep.dir / "evidence/audit-sample.jsonl").read_text().splitlines()
    assert 10 <= len(lines) <= 20


def test_a_leaked_secret_is_scrubbed_from_every_file_and_violates_the_invariant(tmp_path: Path):
    rec = drill_record(leaked=False)
    bad = aud(99, 1300, job="j-99", resource="p99")
    bad["error"] = f"401 Bearer {SECRET}"
    rec = drill_record(leaked=False, audit=[*rec.audit, bad])
    rep = write_report(rec, tmp_path)
    for f in rep.dir.rglob("*"):
        if f.is_file():
            assert SECRET not in f.read_text(), f
    verdict = json.loads((rep.dir / "verdict.json").read_text())
    secret = next(i for i in verdict["invariants"] if i["name"] == "no_secret_in_artifacts")
    assert secret["verdict"] == "violated"
    assert "evidence/audit.jsonl#L11" in secret["detail"]
    assert "[redacted fp_" in (rep.dir / "evidence/audit.jsonl").read_text()


def test_a_leaked_token_prefix_is_scrubbed_from_every_file_and_violates_the_invariant(
    tmp_path: Path,
):
    rec = drill_record(leaked=False)
    bad = aud(99, 1300, job="j-99", resource="p99")
    bad["error"] = f"401 again with the token {SECRET[:16]}… just refreshed"
    rec = drill_record(leaked=False, audit=[*rec.audit, bad])
    rep = write_report(rec, tmp_path)
    for f in rep.dir.rglob("*"):
        if f.is_file():
            assert SECRET[4:16] not in f.read_text(), f
    verdict = json.loads((rep.dir / "verdict.json").read_text())
    secret = next(i for i in verdict["invariants"] if i["name"] == "no_secret_in_artifacts")
    assert secret["verdict"] == "violated"
    assert "part of the credential fp_" in secret["detail"]
    assert "xat-[redacted part of fp_" in (rep.dir / "evidence/audit.jsonl").read_text()


def test_junit_has_one_testcase_per_check_and_a_failure_with_the_sentence(tmp_path: Path):
    rep = write_report(drill_record(), tmp_path)
    suite = ET.parse(rep.dir / "junit.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    # 3 listed invariants + 54 judged in every drill and not listed, 2 reached checks (the fault,
    # the steady state), 2 expectations
    assert len(cases) == 59 + 2 + 2
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["invariant every_side_effect_on_intended_account"]
    assert (
        failed[0]
        .find("failure")
        .get("message")
        .startswith("3 posts for Acme Bakery published on @northwind_x")
    )
    assert suite.get("failures") == "1"


def test_an_interrupted_write_leaves_only_complete_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    real = report_mod.atomic_write
    written: list[str] = []

    def flaky(path: Path, data: str | bytes) -> None:
        if path.name == "junit.xml":
            raise KeyboardInterrupt
        real(path, data)
        written.append(path.name)

    monkeypatch.setattr(report_mod, "atomic_write", flaky)
    with pytest.raises(KeyboardInterrupt):
        write_report(drill_record(), tmp_path)
    folder = tmp_path / drill_record().drill_id
    assert "postmortem.md" in written and not (folder / "verdict.json").exists()
    assert not list(folder.rglob("*.tmp"))
    assert (folder / "postmortem.md").read_text().rstrip().endswith("credential_cross_wire")


def test_a_failing_rename_removes_its_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def boom(src: str, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        files.atomic_write(tmp_path / "a.txt", "x")
    assert list(tmp_path.iterdir()) == []


def test_a_bad_scenario_leaves_only_its_message(tmp_path: Path):
    path = write_message(
        tmp_path / "bad", "scenarios/rb05.yaml: faults[0].kind: 'x.ratelimited' is not a fault kind"
    )
    assert [p.name for p in (tmp_path / "bad").iterdir()] == ["error.txt"]
    assert path.read_text().endswith("fault kind\n")


def test_a_secret_only_the_drafted_report_carries_is_caught_and_the_report_says_so(tmp_path: Path):
    """The judge runs again over the drafts: a secret in no row but in the title the postmortem
    and the bundle repeat is a violation, and the files written are rendered for that verdict."""
    rec = drill_record(leaked=False)
    scenario = {**rec.scenario, "title": f"RB-01 drill (token {SECRET[4:24]})"}
    rec = drill_record(leaked=False, scenario=scenario)
    rep = write_report(rec, tmp_path)
    verdict = json.loads((rep.dir / "verdict.json").read_text())
    assert verdict["verdict"] == "violated"
    secret = next(i for i in verdict["invariants"] if i["name"] == "no_secret_in_artifacts")
    assert secret["verdict"] == "violated" and "postmortem.md" in secret["detail"]
    for f in rep.dir.rglob("*"):
        if f.is_file():
            assert SECRET[4:24] not in f.read_text(), f
    postmortem = (rep.dir / "postmortem.md").read_text()
    assert "**Verdict** violated" in postmortem and "Verdict: **violated**" in postmortem
    assert json.loads((rep.dir / "evidence/bundle.json").read_text())["verdict"] == "violated"


def test_judging_again_with_the_first_verdict_gives_the_verdict_of_judging_afresh():
    from harness.judge.judgement import READS_ARTIFACTS, judge

    for rec in (drill_record(), drill_record(leaked=False), drill_record(detected=False)):
        first = judge(rec)
        assert judge(rec, reuse=first) == first
        # a stale verdict for other specs is not reused: results follow the record's own specs
        other = judge(drill_record(leaked=False, steady=False))
        assert judge(rec, reuse=other) == first
    assert set(READS_ARTIFACTS) == {"no_secret_in_artifacts"}


def test_only_the_invariants_in_reads_artifacts_read_a_records_artifacts():
    """A new invariant that reads the drafts must be judged again over them (READS_ARTIFACTS)."""
    import importlib
    import inspect

    from harness.judge.invariants import REGISTRY
    from harness.judge.judgement import READS_ARTIFACTS

    def source(defined_at: str) -> str:
        module, _, name = defined_at.rpartition(".")
        return inspect.getsource(getattr(importlib.import_module(module), name))

    readers = {n for n, inv in REGISTRY.items() if "artifacts" in source(inv.defined_at)}
    assert readers == READS_ARTIFACTS


def test_a_records_rows_are_dumped_once_as_the_evidence_lines_and_shared_with_its_drafts(
    tmp_path: Path,
):
    rec = drill_record()
    lines = rec.dumped("audit")
    assert lines == tuple(
        json.dumps(a, sort_keys=True, default=str, ensure_ascii=False) for a in rec.audit
    )
    judged = rec.with_artifacts({"postmortem.md": "draft"})
    assert judged.dumped("audit") is lines and judged.artifacts == {"postmortem.md": "draft"}
    rep = write_report(rec, tmp_path)
    assert (rep.dir / "evidence/audit.jsonl").read_text().splitlines() == list(lines)
    with pytest.raises(ValueError, match="'workload' is not a dumped row list; valid: ledger"):
        rec.dumped("workload")
