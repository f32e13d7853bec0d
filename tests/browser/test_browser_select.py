"""Which Chromium the browser lane launches, and the error when there is none."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox.lanes import browser_select
from sandbox.lanes.browser_select import BrowserNotFound, find_browser

pytestmark = pytest.mark.browser


def test_a_chromium_is_found_on_this_machine() -> None:
    choice = find_browser()
    assert choice.executable.is_file() and choice.source in ("playwright", "system")


def test_the_setting_wins_and_a_missing_choice_is_an_error_naming_it(tmp_path: Path) -> None:
    fake = tmp_path / "my-chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert find_browser(str(fake)).source == "setting"
    with pytest.raises(BrowserNotFound, match="nope-chromium"):
        find_browser(str(tmp_path / "nope-chromium"))


def test_the_environment_variable_is_an_explicit_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIBEDRILL_CHROMIUM", "/no/such/chromium")
    with pytest.raises(BrowserNotFound, match=r"\$VIBEDRILL_CHROMIUM"):
        find_browser()


def test_when_nothing_is_installed_the_error_names_everything_tried(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("VIBEDRILL_CHROMIUM", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(browser_select, "SYSTEM_CANDIDATES", ("/nonexistent/chromium", "chromium"))
    with pytest.raises(BrowserNotFound) as e:
        find_browser()
    msg = str(e.value)
    assert (
        "/nonexistent/chromium" in msg and "chromium-" in msg and "apt-get install chromium" in msg
    )
    assert os.fspath(tmp_path) in msg
