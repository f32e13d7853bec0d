"""A report folder belongs to one run: options that change the outcome change the drill id, and a
second writer of the same folder is refused instead of mixing its files into the first one's."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app
from harness.drill import drill_id_for
from harness.drill.engine import DrillEngine
from harness.drill.run import DrillOptions
from harness.report.lock import ReportLock
from harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _engine(mode: str | None = None, defects: tuple[str, ...] = ()) -> DrillEngine:
    s = load_scenario(ROOT / "scenarios" / "rb05_rate_limit_storm.yaml")
    return DrillEngine(s, DrillOptions(mode=mode, defects=defects))


def test_observe_and_auto_runs_of_one_scenario_get_different_folders() -> None:
    auto, observe = _engine("auto"), _engine("observe")
    assert auto.drill_id != observe.drill_id
    assert observe.drill_id.endswith("-s7-observe")


def test_the_scenarios_own_options_keep_the_plain_id() -> None:
    s = load_scenario(ROOT / "scenarios" / "rb05_rate_limit_storm.yaml")
    assert _engine().drill_id == _engine(s.response).drill_id == drill_id_for(s, 7)


def test_defects_and_mode_both_show_in_the_id() -> None:
    assert _engine("observe", ("retry_after_ignored",)).drill_id.endswith(
        "-s7-observe-retry-after-ignored"
    )


def test_a_second_writer_of_one_report_folder_is_refused_with_a_clear_message(
    tmp_path: Path,
) -> None:
    drill_id = _engine().drill_id
    with ReportLock(tmp_path, drill_id):
        res = runner.invoke(app, ["run", "rb05_rate_limit_storm", "--reports-dir", str(tmp_path)])
    assert res.exit_code == 2, res.output
    assert "another vibedrill run" in res.output and "--reports-dir" in res.output
    assert not (tmp_path / drill_id).exists(), "the refused run wrote nothing"


def test_the_lock_is_gone_after_a_run(tmp_path: Path) -> None:
    drill_id = _engine().drill_id
    with ReportLock(tmp_path, drill_id):
        pass
    assert list(tmp_path.iterdir()) == []
    with ReportLock(tmp_path, drill_id):  # and can be taken again
        pass
