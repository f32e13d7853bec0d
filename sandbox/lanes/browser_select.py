"""Which Chromium the browser lane launches: Playwright's own if installed, else the system's.

Order: an explicit choice (the ``chromium`` setting, else the ``VIBEDRILL_CHROMIUM`` environment
variable: a path or a command name), then Playwright's own Chromium for the installed
Playwright's revision, then a system Chromium (``/usr/bin/chromium`` and the usual names). When
none is found the error names every place that was tried and how to install one.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import SandboxError

__all__ = ["ENV_VAR", "SYSTEM_CANDIDATES", "BrowserChoice", "BrowserNotFound", "find_browser"]

ENV_VAR = "VIBEDRILL_CHROMIUM"
SYSTEM_CANDIDATES: tuple[str, ...] = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
)


class BrowserNotFound(SandboxError):
    """No Chromium could be found; the message names what was tried."""

    def __init__(self, tried: list[str]) -> None:
        self.tried = tried
        super().__init__(
            "no Chromium found for the browser lane; tried: "
            + ", ".join(tried)
            + ". Install one (Debian: `apt-get install chromium`; or `playwright install chromium`)"
            + f" or point the `chromium` setting or ${ENV_VAR} at a Chromium executable."
        )


@dataclass(frozen=True)
class BrowserChoice:
    """The Chromium to launch and where it came from (``setting``, ``playwright`` or ``system``)."""

    executable: Path
    source: str


def _executable(p: Path) -> bool:
    return p.is_file() and os.access(p, os.X_OK)


def _resolve(name: str) -> Path | None:
    p = Path(name).expanduser()
    if p.is_absolute() or os.sep in name:
        return p if _executable(p) else None
    found = shutil.which(name)
    return Path(found) if found else None


def playwright_candidates() -> list[Path]:
    """Where Playwright's own Chromium for the installed Playwright would be."""
    try:
        import playwright
    except ImportError:
        return []
    spec = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    try:
        browsers = json.loads(spec.read_text())["browsers"]
    except (OSError, ValueError, KeyError):
        return []
    env = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if env and env != "0":
        root = Path(env)
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Caches" / "ms-playwright"
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ms-playwright"
    out: list[Path] = []
    for b in browsers:
        rev = b.get("revision")
        if b.get("name") == "chromium":
            for sub in ("chrome-linux64/chrome", "chrome-linux/chrome"):
                out.append(root / f"chromium-{rev}" / sub)
        elif b.get("name") == "chromium-headless-shell":
            for sub in ("chrome-headless-shell-linux64/chrome-headless-shell",):
                out.append(root / f"chromium_headless_shell-{rev}" / sub)
    return out


def find_browser(setting: str | None = None) -> BrowserChoice:
    """The Chromium to launch; :class:`BrowserNotFound` naming every place tried otherwise.

    An explicit choice (``setting``, else ``$VIBEDRILL_CHROMIUM``) that does not exist is an
    error, not a reason to fall back: the operator asked for that browser.
    """
    explicit = setting or os.environ.get(ENV_VAR)
    if explicit:
        p = _resolve(explicit)
        if p is None:
            src = "the chromium setting" if setting else f"${ENV_VAR}"
            raise BrowserNotFound([f"{explicit} (from {src})"])
        return BrowserChoice(p, "setting")
    tried: list[str] = []
    for p in playwright_candidates():
        if _executable(p):
            return BrowserChoice(p, "playwright")
        tried.append(str(p))
    for name in SYSTEM_CANDIDATES:
        p2 = _resolve(name)
        if p2 is not None:
            return BrowserChoice(p2, "system")
        tried.append(name)
    raise BrowserNotFound(tried)
