"""Proof and evidence from the browser lane: screenshots and DOM snapshots, scrubbed, on disk.

Every side effect of the browser lane is proven by a screenshot, a DOM snapshot and the page's
URL; every failure (a selector miss, a challenge, a block) leaves the same evidence of what the
page looked like. Files go under the artifacts directory, one folder per client and platform.
DOM snapshots are scrubbed of every secret the platform knows and of the browser's own cookie
values before they are written; the session cookie is HttpOnly and never rendered, and the lane
never screenshots the login form.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..audit import REDACTED, Scrubber

if TYPE_CHECKING:
    from playwright.async_api import Page

__all__ = ["EvidenceStore"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class EvidenceStore:
    """Writes evidence files and remembers them by resource id and by job id."""

    root: Path
    scrubber: Scrubber
    by_resource: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    by_job: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def capture(
        self,
        page: Page,
        *,
        client_id: str,
        platform: str,
        action: str,
        tag: str,
        job_id: str | None = None,
        resource_id: str | None = None,
    ) -> dict[str, Any]:
        """Screenshot and scrubbed DOM of ``page``; returns the proof entry (paths, URL, version)."""
        folder = self.root / _SAFE.sub("_", client_id) / _SAFE.sub("_", platform)
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{next(self._seq):04d}-{_SAFE.sub('_', action)}-{_SAFE.sub('_', tag)}"
        png, html = folder / f"{stem}.png", folder / f"{stem}.html"
        secrets = [c["value"] for c in await page.context.cookies() if len(c["value"]) >= 8]
        await page.screenshot(path=str(png), full_page=True)
        dom = self.scrub(await page.content(), secrets)
        html.write_text(dom, encoding="utf-8")
        version = await page.evaluate(
            "() => document.body ? document.body.dataset.uiVersion || null : null"
        )
        entry: dict[str, Any] = {
            "screenshot": str(png),
            "dom_snapshot": str(html),
            "url": self.scrub(page.url, secrets),
            "ui_version": version,
            "tag": tag,
        }
        if job_id is not None:
            self.by_job.setdefault(job_id, []).append(entry)
        if resource_id is not None:
            self.by_resource[(platform, resource_id)] = entry
        return entry

    def scrub(self, text: str, extra: list[str] | tuple[str, ...] = ()) -> str:
        """``text`` without any known secret or cookie value."""
        for s in extra:
            text = text.replace(s, REDACTED)
        return self.scrubber.text(text)

    def for_proof(
        self, platform: str, resource_id: str | None, job_id: str | None
    ) -> dict[str, Any] | None:
        """The evidence to attach to an AuditEvent's proof, if any."""
        if resource_id is not None and (platform, resource_id) in self.by_resource:
            return self.by_resource[(platform, resource_id)]
        if job_id is not None and self.by_job.get(job_id):
            return self.by_job[job_id][-1]
        return None
