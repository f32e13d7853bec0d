"""The postmortem: all eleven sections, computed from the drill, timeline rows linked to evidence."""

from __future__ import annotations

import re

from _recordkit import drill_record

from harness.judge.judgement import judge
from harness.report.postmortem import render_html, render_markdown, reproduce_command

SECTIONS = [
    "## 1) Summary",
    "## 2) Impact",
    "## 3) Detection",
    "## 4) Timeline (UTC)",
    "## 5) Root cause(s)",
    "## 6) What went well",
    "## 7) What went poorly",
    "## 8) Where we got lucky",
    "## 9) Corrective actions",
    "## 10) Follow-up changes to docs/tests",
    "## 11) Appendix",
]


def md(**kw):
    rec = drill_record(**kw)
    return render_markdown(rec, judge(rec))


def test_the_postmortem_has_all_eleven_sections_in_order():
    text = md()
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)


def test_the_header_carries_the_reproduce_command_with_seed_and_defects():
    text = md()
    assert (
        "**Reproduce** `vibedrill run rb01_wrong_account_api_lane --seed 11 --defect credential_cross_wire`"
        in text
    )
    assert "**Verdict** violated / contained" in text


def test_the_summary_and_impact_state_exact_counts_and_clients():
    text = md()
    assert (
        "3 harmful side effect(s) (x: 3) touching 2 client(s) (Acme Bakery, Northwind Tools)"
        in text
    )
    assert "| harmful side effects | 3 (x: 3) | evidence/ledger.jsonl#L11,L12,L13 |" in text
    assert "| clients affected | 2 (Acme Bakery → Northwind Tools) |" in text


def test_detection_names_the_signal_the_time_and_the_earlier_signal():
    text = md()
    assert "Detected by `tenancy_mismatch` at 12:20:41 (T+20m41s); time to detect 41s" in text
    assert (
        "Earlier signal: the first `x.rate_limited` response at T+20m05s, 36s before detection"
        in text
    )


def test_every_timeline_row_links_to_an_evidence_file():
    text = md()
    section = text[text.index("## 4)") : text.index("## 5)")]
    rows = [r for r in section.splitlines() if r.startswith("| ") and not r.startswith("| Time")]
    assert len(rows) >= 10
    assert all(re.search(r"\| evidence/[a-z-]+\.(jsonl|csv|txt)#L\d+ \|$", r) for r in rows), rows
    assert "| 12:20:44 (T+20m44s) | kill_switch.engaged scope=global" in section
    assert "evidence/controls.jsonl#L1" in section


def test_what_went_poorly_and_corrective_actions_come_from_the_violations_and_late_steps():
    text = md()
    assert "- Runbook step RB-01.2 (mode.set) done at T+23m20s, 1m39s after its deadline" in text
    assert "| prevent | Platform on-call | 2026-12-04 | open |" in text
    assert (
        "Automate or simplify runbook step RB-01.2 (mode.set) | mitigate | Ops | 2026-12-11" in text
    )


def test_a_healthy_drill_says_so_with_numbers_instead_of_boilerplate():
    text = md(leaked=False)
    assert (
        "No harmful side effect: 0 side effect(s) in the fault window, all within the invariants."
        in text
    )
    assert "Regression: scenario rb01_wrong_account_api_lane held with seed 11" in text


def test_an_undetected_incident_gets_a_detect_action_and_says_nothing_detected_it():
    text = md(leaked=False, detected=False)
    assert "Nothing detected the incident during the drill." in text
    assert "| Add an alert rule that detects this incident | detect | SRE |" in text


def test_the_html_postmortem_embeds_the_chart_inline_without_external_scripts():
    rec = drill_record()
    html = render_html(rec, judge(rec))
    assert "<svg" in html and "fault window" in html and "kill_switch" in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_the_reproduce_command_adds_the_mode_when_not_auto():
    assert reproduce_command(drill_record(mode="observe")).endswith(
        "--defect credential_cross_wire --mode observe"
    )


def test_an_undetected_incident_reads_as_never_detected_not_none():
    text = md(detected=False)
    assert "(was None)" not in text
    assert "Bring time to detect within 120 s (never reached in this drill)" in text


def test_the_appendix_keeps_deploy_diffs_on_its_own_line():
    text = md()
    assert "none (API lane)\n- Deploy diffs: commit 4e1c2a9f00" in text


def test_the_html_summary_renders_bold_and_code_instead_of_raw_markdown():
    rec = drill_record()
    html = render_html(rec, judge(rec))
    summary = html[html.index("<p>", html.index("Summary")) :]
    summary = summary[: summary.index("</p>")]
    assert "**" not in summary and "`" not in summary
    assert "<strong>" in summary
