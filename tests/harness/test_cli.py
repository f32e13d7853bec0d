"""The CLI's commands and exit codes: 0 held, 1 violated/vacuous, 2 bad scenario or usage, 3 harness error."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from harness.cli.main import app

runner = CliRunner()
BAD = "id: rb05\ntitle: x\nrunbook: RB-05\nseverity: P2\nincident_types: [RATE]\ninvariants: [rate_within_platform_limits]\nfaults:\n  - {kind: x.ratelimited, at: 20m}\n"


def test_validate_accepts_every_scenario_in_the_repository() -> None:
    res = runner.invoke(app, ["validate"])
    assert res.exit_code == 0, res.output
    assert "scenario(s) valid" in res.output


def test_validate_exits_2_with_one_clear_message_for_a_bad_file(tmp_path: Path) -> None:
    p = tmp_path / "rb05.yaml"
    p.write_text(BAD)
    res = runner.invoke(app, ["validate", str(p)])
    assert res.exit_code == 2
    assert (
        f"{p}: faults[0].kind: 'x.ratelimited' is not a fault kind; did you mean 'x.rate_limited'?"
        in res.output
    )


def test_run_of_a_malformed_scenario_exits_2_and_writes_only_the_message(tmp_path: Path) -> None:
    p = tmp_path / "rb05.yaml"
    p.write_text(BAD)
    reports = tmp_path / "reports"
    res = runner.invoke(app, ["run", str(p), "--reports-dir", str(reports)])
    assert res.exit_code == 2
    assert [f.name for f in (reports / "rb05").iterdir()] == ["error.txt"]
    assert "did you mean 'x.rate_limited'?" in (reports / "rb05" / "error.txt").read_text()


def test_run_with_an_unknown_scenario_id_is_a_usage_error_with_a_suggestion() -> None:
    res = runner.invoke(app, ["run", "rb05_rate_limit_strom"])
    assert res.exit_code == 2
    assert "did you mean 'rb05_rate_limit_storm'?" in res.output


def test_run_with_an_unknown_defect_or_mode_is_a_usage_error() -> None:
    res = runner.invoke(app, ["run", "rb05_rate_limit_storm", "--defect", "retry_after_ignord"])
    assert res.exit_code == 2 and "did you mean 'retry_after_ignored'?" in res.output
    res = runner.invoke(app, ["run", "rb05_rate_limit_storm", "--mode", "panic"])
    assert res.exit_code == 2 and "auto, observe" in res.output


def test_run_needs_scenarios_or_all_but_not_both() -> None:
    assert runner.invoke(app, ["run"]).exit_code == 2
    assert runner.invoke(app, ["run", "rb05_rate_limit_storm", "--all"]).exit_code == 2


def test_replay_of_a_folder_without_a_record_is_a_usage_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["replay", str(tmp_path)])
    assert res.exit_code == 2 and "no replay.json" in res.output


def test_the_catalogue_commands_list_faults_invariants_defects_and_scenarios() -> None:
    for cmd, needle in (
        ("faults", "x.rate_limited"),
        ("invariants", "rate_within_platform_limits"),
        ("defects", "retry_after_ignored"),
        ("list", "rb05_rate_limit_storm"),
    ):
        res = runner.invoke(app, [cmd], env={"COLUMNS": "250"})
        assert res.exit_code == 0, (cmd, res.output)
        assert needle in res.output, cmd


def test_doctor_names_the_browser_it_found_and_fails_with_what_it_tried(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from harness.cli.main import app

    runner = CliRunner()
    monkeypatch.setenv("VIBEDRILL_CHROMIUM", "/nonexistent/chromium")
    bad = runner.invoke(app, ["doctor"])
    assert bad.exit_code == 3
    assert "/nonexistent/chromium" in bad.output


def test_doctor_installs_playwrights_chromium_first_then_debians(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    from sandbox.lanes import browser_select
    from sandbox.lanes.browser_select import BrowserNotFound

    ran: list[list[str]] = []
    installed = {"done": False}

    def fake_run(cmd, **_kw):  # type: ignore[no-untyped-def]
        ran.append(cmd)
        if "playwright" in cmd:  # the prebuilt download is refused, as on a closed network
            return subprocess.CompletedProcess(cmd, 1, "", "Error: download failed")
        if "install" in cmd:
            installed["done"] = True
        return subprocess.CompletedProcess(cmd, 0, "", "")

    class Found:
        executable, source = "/usr/bin/chromium", "system"

    def fake_find(*_a):  # type: ignore[no-untyped-def]
        if not installed["done"]:
            raise BrowserNotFound("no Chromium: tried Playwright's, /usr/bin/chromium")
        return Found()

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(browser_select, "find_browser", fake_find)
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    res = runner.invoke(app, ["doctor", "--install-browser"])
    assert res.exit_code == 0, res.output
    assert ran[0][1:] == ["-m", "playwright", "install", "chromium"]
    assert ran[-1][-1] == "chromium" and "apt-get" in ran[-1][0]
    assert "browser lane: /usr/bin/chromium (system)" in res.output


def test_doctor_says_what_it_tried_when_no_install_works(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    from sandbox.lanes import browser_select
    from sandbox.lanes.browser_select import BrowserNotFound

    def fake_find(*_a):  # type: ignore[no-untyped-def]
        raise BrowserNotFound("no Chromium found")

    monkeypatch.setattr(
        subprocess, "run", lambda cmd, **_kw: subprocess.CompletedProcess(cmd, 1, "", "refused")
    )
    monkeypatch.setattr(browser_select, "find_browser", fake_find)
    monkeypatch.setattr("shutil.which", lambda name: None)
    res = runner.invoke(app, ["doctor", "--install-browser"])
    assert res.exit_code == 3
    assert "playwright install chromium: exit 1: refused" in res.output
    assert "apt-get: not on this machine" in res.output
