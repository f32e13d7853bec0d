"""The browser lane's runtime: one Chromium, one isolated context per (client, account) profile.

Pages are reused: an operation borrows an idle page of its profile's context (or opens one)
and hands it back when it ends cleanly, so a drill pays for a new tab only when operations of
one profile overlap; a page that saw an error is closed instead of reused.

Each profile keeps its own storage state (cookies, local storage) in its own directory under
``profiles_dir/<client>/<account>/``, so sessions of different tenants never share a jar. The
browser can reach only the hosts of the platform's base URLs: every other request is aborted,
and host resolution is disabled for any other name.

Stopping never hangs on a wedged browser: the closes get :data:`CLOSE_TIMEOUT_S`, and then every
process of this runtime's Chromium is killed (:meth:`BrowserRuntime.kill`). Each runtime launches
its Chromium with its own tag switch (``--vibedrill-browser=<tag>``, which Chromium ignores) so
that its processes can be found in ``/proc`` and killed without a PID from Playwright and without
touching any other browser on the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .browser_select import find_browser

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright, Route

__all__ = [
    "CLOSE_TIMEOUT_S",
    "IDLE_PAGES",
    "LAUNCH_ARGS",
    "BrowserRuntime",
    "Profile",
    "kill_tagged",
]

#: idle pages kept per profile for reuse (more concurrent operations open, then close, extra tabs)
IDLE_PAGES = 2

LAUNCH_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
)

#: how long stopping may wait for Chromium and Playwright to close before the processes are killed
CLOSE_TIMEOUT_S = 15.0
#: the switch that tags a runtime's Chromium processes (Chromium ignores switches it does not know)
TAG_SWITCH = "--vibedrill-browser"


def kill_tagged(tag: str) -> list[int]:
    """Kill (SIGKILL) every process whose command line carries ``--vibedrill-browser=<tag>``;
    their PIDs. Reads ``/proc`` (Linux); elsewhere there is nothing to read and nothing is killed.
    Chromium's helper processes (zygote, renderers) end when the browser process they serve dies."""
    needle = f"{TAG_SWITCH}={tag}".encode()
    killed: list[int] = []
    proc = "/proc"
    if not tag or not os.path.isdir(proc):
        return killed
    for name in os.listdir(proc):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(os.path.join(proc, name, "cmdline"), "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if needle in argv:
            with contextlib.suppress(OSError):
                os.kill(int(name), signal.SIGKILL)
                killed.append(int(name))
    return killed


@dataclass(frozen=True)
class Profile:
    """A browser profile: the storage of one client's session on one account."""

    client_id: str
    account_id: str
    platform: str
    directory: Path

    @property
    def key(self) -> tuple[str, str]:
        """(client, account): what keeps profiles apart."""
        return (self.client_id, self.account_id)

    @property
    def state_path(self) -> Path:
        """Where the profile's storage state (cookies) is kept between runs."""
        return self.directory / "storage-state.json"


class BrowserRuntime:
    """Starts Chromium lazily; hands out one context per profile; closes everything on stop."""

    def __init__(
        self, allowed_hosts: set[str], *, chromium: str | None, headless: bool, timeout_s: float
    ) -> None:
        self.allowed_hosts = allowed_hosts
        self.chromium = chromium
        self.headless = headless
        self.timeout_s = timeout_s
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._contexts: dict[tuple[str, str], BrowserContext] = {}
        self._idle: dict[tuple[str, str], list[Page]] = {}
        self._lock = asyncio.Lock()
        #: requests the browser tried to make outside the allowed hosts (aborted)
        self.refused: list[str] = []
        self.launches = 0
        #: pages opened (a reused page is not counted again)
        self.pages_opened = 0
        #: this runtime's tag on its Chromium's command line (see :func:`kill_tagged`)
        self.tag = uuid.uuid4().hex[:16]

    async def browser(self) -> Browser:
        """The running Chromium (launched on first use)."""
        async with self._lock:
            if self._browser is None:
                from playwright.async_api import async_playwright

                choice = find_browser(self.chromium)
                self._pw = await async_playwright().start()
                rules = "MAP * ~NOTFOUND, " + ", ".join(
                    f"EXCLUDE {h}" for h in sorted(self.allowed_hosts)
                )
                self._browser = await self._pw.chromium.launch(
                    executable_path=str(choice.executable),
                    headless=self.headless,
                    args=[
                        *LAUNCH_ARGS,
                        f"--host-resolver-rules={rules}",
                        f"{TAG_SWITCH}={self.tag}",
                    ],
                )
                self.launches += 1
            return self._browser

    async def _guard(self, route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in self.allowed_hosts or route.request.url.startswith(("data:", "about:")):
            await route.continue_()
        else:
            self.refused.append(host)
            await route.abort("blockedbyclient")

    async def context(self, profile: Profile) -> BrowserContext:
        """The profile's context, created from its stored state on first use."""
        ctx = self._contexts.get(profile.key)
        if ctx is not None:
            return ctx
        browser = await self.browser()
        profile.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(profile.directory, 0o700)
        kw: dict[str, Any] = {
            "viewport": {"width": 1000, "height": 800},
            "service_workers": "block",
        }
        if profile.state_path.exists():
            kw["storage_state"] = str(profile.state_path)
        ctx = await browser.new_context(**kw)
        ctx.set_default_timeout(self.timeout_s * 1000)
        await ctx.route("**/*", self._guard)
        self._contexts[profile.key] = ctx
        return ctx

    async def page(self, profile: Profile) -> Page:
        """A page of the profile's context: an idle one when there is one, else a new one."""
        idle = self._idle.get(profile.key)
        while idle:
            page = idle.pop()
            if not page.is_closed():
                return page
        ctx = await self.context(profile)
        self.pages_opened += 1
        return await ctx.new_page()

    async def release(self, profile: Profile, page: Page, *, reuse: bool) -> None:
        """Hand a borrowed page back: kept for the profile's next operation when ``reuse`` (and
        fewer than :data:`IDLE_PAGES` are idle), closed otherwise."""
        idle = self._idle.setdefault(profile.key, [])
        if reuse and not page.is_closed() and len(idle) < IDLE_PAGES:
            idle.append(page)
            return
        if not page.is_closed():
            await page.close()

    def warm(self) -> list[tuple[str, str]]:
        """Profiles with an open context, oldest first."""
        return list(self._contexts)

    async def save(self, profile: Profile) -> None:
        """Persist the profile's storage state (after a login)."""
        ctx = self._contexts.get(profile.key)
        if ctx is not None:
            await ctx.storage_state(path=str(profile.state_path))
            os.chmod(profile.state_path, 0o600)

    async def stop(self) -> None:
        """Close every context, the browser and Playwright; a close that does not finish within
        :data:`CLOSE_TIMEOUT_S` gives way to :meth:`kill` (stopping never hangs)."""
        self._idle.clear()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._close()
        except TimeoutError:
            self.kill()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await self._close()
        finally:
            self._contexts.clear()
            self._browser = None
            self._pw = None

    async def _close(self) -> None:
        for key, ctx in list(self._contexts.items()):
            await ctx.close()
            del self._contexts[key]
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._pw is not None:
            await self._pw.stop()
            self._pw = None

    def kill(self) -> list[int]:
        """Kill this runtime's Chromium processes at once (a wedged browser, an aborted run);
        their PIDs. Playwright's pending calls then fail as the browser closed."""
        return kill_tagged(self.tag) if self.launches else []
