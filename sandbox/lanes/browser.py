"""The browser lane: the platform acting on a social platform's web UI through Playwright.

It implements :class:`~sandbox.lanes.base.Lane` on the platform's web pages (``<base>/web/``):
one persistent profile per client and account (see :mod:`.browser_runtime`), controls found
through the versioned selector map with fallbacks (:mod:`.selectors`) and reported when a
fallback or a miss happens, the element's role and accessible name checked before every click,
the kill switch checked (``scope.check``) immediately before every click that has a side
effect, and proof (screenshot, DOM snapshot, permalink) captured for every side effect and
every failure (:mod:`.browser_evidence`).

It fails safe: when no locator finds a control, or the one found is not what it means to click,
it does nothing, raises an alert, keeps the evidence and blocks the job for rerouting
(``lane_unavailable``). A challenge (captcha) halts the lane's side effects on that platform
until a person resumes it. ``read_only`` keeps ingest (verify, inbound) and refuses side effects.

Defects: ``browser_challenge_ignored`` (a challenge halts nothing), ``brittle_selectors`` (positional and class selectors, no fallbacks, no role check) and
``browser_profile_mixup`` (another client's warm profile for every 2nd job, trusted unchecked).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .. import alerts as _alerts
from ..errors import Ambiguous, Blocked, Fatal, RateLimited, SandboxError
from .base import Credential, InboundMessage, Lookup, SendResult, SideEffectScope
from .browser_runtime import Profile
from .browser_settings import BrowserDeps, BrowserSettings, web_base
from .selectors import BRITTLE, Locator, SelectorMap, Target, selector_map

if TYPE_CHECKING:
    from playwright.async_api import Locator as PwLocator
    from playwright.async_api import Page


__all__ = [
    "BROWSER_ALERTS",
    "BrowserDeps",
    "BrowserLane",
    "BrowserSettings",
    "SelectorMiss",
    "web_base",
]

#: alerts the browser lane raises (added to the platform's alert catalogue on import)
BROWSER_ALERTS: tuple[str, ...] = (
    "browser_selector_drift",
    "browser_selector_miss",
    "browser_wrong_control",
    "browser_captcha",
    "browser_action_blocked",
)
_alerts.ALERT_NAMES = tuple(dict.fromkeys((*_alerts.ALERT_NAMES, *BROWSER_ALERTS)))

_ROLE_AND_NAME = """el => {
  const tag = el.tagName.toLowerCase(); const type = (el.getAttribute('type') || '').toLowerCase();
  let role = el.getAttribute('role');
  if (!role) {
    if (tag === 'button' || (tag === 'input' && ['submit', 'button', 'reset'].includes(type))) role = 'button';
    else if (tag === 'textarea' || (tag === 'input' && ['', 'text', 'password', 'email', 'search'].includes(type))) role = 'textbox';
    else if (tag === 'a' && el.hasAttribute('href')) role = 'link';
    else if (/^h[1-6]$/.test(tag)) role = 'heading';
    else role = tag;
  }
  let name = el.getAttribute('aria-label');
  if (!name && el.getAttribute('aria-labelledby')) name = el.getAttribute('aria-labelledby').split(/\\s+/).map(i => (document.getElementById(i) || {}).textContent || '').join(' ');
  if (!name && el.labels && el.labels.length) name = Array.from(el.labels).map(l => l.textContent).join(' ');
  if (!name && role !== 'textbox') name = el.textContent || el.value || '';
  return {role, name: (name || '').trim().replace(/\\s+/g, ' ')};
}"""


#: lane operations that only read (not counted as jobs by the profile mix-up defect)
_READS: frozenset[str] = frozenset({"post.verify", "post.find", "inbound.list"})


class SelectorMiss(Fatal):
    """No locator of a target found a visible element (the page changed beyond the map)."""


@dataclass
class _Op:
    """One lane operation on one page: who for, which job, what it found on the way."""

    cred: Credential
    page: Page
    profile: Profile
    action: str
    job_id: str | None
    fallbacks: list[dict[str, Any]] = field(default_factory=list)


class BrowserLane:
    """The Playwright lane for one platform (x or instagram)."""

    name = "browser"
    dedupes_identical_text = False

    def __init__(self, platform: str, deps: BrowserDeps) -> None:
        self.platform = platform
        self.d = deps
        self.base = deps.browser.web_base_urls.get(platform) or web_base(
            deps.settings.base_urls.of(platform)
        )
        self.map: SelectorMap = selector_map(platform, deps.browser.selector_version)
        self.read_only = deps.browser.read_only
        #: why side effects are halted on this platform (a challenge), until :meth:`resume`
        self.halted: str | None = None
        #: every fallback, miss, wrong control, obstacle and profile pick (newest last)
        self.events: list[dict[str, Any]] = []
        self._picks = 0

    # controls -------------------------------------------------------------------------------
    def set_read_only(self, on: bool) -> None:
        """Ingest only (RB-06): verify and inbound keep working; side effects are refused."""
        self.read_only = on

    def resume(self) -> None:
        """A person cleared the challenge: side effects may run again."""
        self.halted = None

    def _event(self, kind: str, **kw: Any) -> dict[str, Any]:
        ev = {"t": self.d.now(), "kind": kind, "platform": self.platform, **kw}
        self.events.append(ev)
        self.d.telemetry.mark(f"browser_{kind}:{self.platform}")
        return ev

    def _refuse_unless_may_act(self, action: str, scope: SideEffectScope) -> None:
        """:meth:`_may_act` before the side effect's scope opens: a refusal is audited."""
        try:
            self._may_act(action)
        except Blocked as e:
            scope.refused(action, e.error)
            raise

    def _may_act(self, action: str) -> None:
        if self.read_only:
            raise Blocked(
                f"{self.platform}.browser.read_only: the browser lane is read-only (ingest only); {action} refused",
                reason="browser_read_only",
            )
        if self.halted is not None and not self.d.defects.on("browser_challenge_ignored"):
            raise Blocked(
                f"{self.platform}.browser.halted: {self.halted}; {action} waits for a person",
                reason="browser_halted",
            )

    # profiles -------------------------------------------------------------------------------
    def _profile(self, client_id: str, account_id: str) -> Profile:
        root = self.d.browser.profiles_dir
        return Profile(client_id, account_id, self.platform, root / client_id / account_id)

    def select_profile(self, cred: Credential, action: str = "") -> tuple[Profile, bool]:
        """The profile for this credential's client and account, and whether it is trusted unchecked.

        (With ``browser_profile_mixup`` every 2nd side-effect job gets another client's warm
        profile; reads — verify, find, inbound — are not counted, so the pattern follows jobs.)"""
        own = self._profile(cred.client_id, cred.account.account_id)
        if self.d.defects.on("browser_profile_mixup") and action not in _READS:
            self._picks += 1
            if self._picks % 2 == 0:
                for client_id, account_id in reversed(self.d.runtime.warm()):
                    if client_id != cred.client_id and account_id.endswith(f"-{self.platform}"):
                        self._event("profile_picked", wanted=own.key, got=(client_id, account_id))
                        return self._profile(client_id, account_id), True
        return own, False

    # pages ----------------------------------------------------------------------------------
    async def _open(
        self, cred: Credential, path: str, action: str, scope: SideEffectScope | None
    ) -> _Op:
        profile, trusted = self.select_profile(cred, action)
        page = await self.d.runtime.page(profile)
        page.set_default_navigation_timeout(self.d.browser.navigation_timeout_s * 1000)
        job = getattr(getattr(scope, "job", None), "id", None)
        op = _Op(cred, page, profile, action, job)
        try:
            await page.goto(f"{self.base}/{path}")
            if "/web/login" in page.url:
                await self._login(op)
                await page.goto(f"{self.base}/{path}")
            await self._obstacles(op)
            if not trusted:
                await self._check_identity(op)
        except BaseException:
            await self.d.runtime.release(profile, page, reuse=False)
            raise
        return op

    @contextlib.asynccontextmanager
    async def _using(self, op: _Op) -> AsyncIterator[_Op]:
        """The operation's page until the block ends: reused after a clean end, closed after an error."""
        clean = False
        try:
            yield op
            clean = True
        finally:
            await self.d.runtime.release(op.profile, op.page, reuse=clean)

    async def _login(self, op: _Op) -> None:
        page = op.page
        await (await self._find(op, "login.username", first=True)).fill(op.cred.account.handle)
        await (await self._find(op, "login.password")).fill(op.cred.access_token)
        submit = await self._find(op, "login.submit")
        async with page.expect_navigation():
            await submit.click()
        if "/web/login" in page.url:
            raise Fatal(
                f"{self.platform}.browser.login_failed: {op.cred.account.handle} could not log in"
            )
        await self.d.runtime.save(op.profile)
        self._event("login", account_id=op.profile.account_id, client_id=op.profile.client_id)

    async def _check_identity(self, op: _Op) -> None:
        el = await self._find(op, "identity", first=True)
        shown = (await el.inner_text()).strip()
        if shown != op.cred.account.handle:
            await self._evidence(op, "identity_mismatch")
            self.d.alerts.fire(
                "tenancy_mismatch",
                f"browser profile of {op.profile.client_id}/{op.profile.account_id} is signed in as {shown}, "
                f"not {op.cred.account.handle}",
                client_id=op.cred.client_id,
                platform=self.platform,
            )
            raise Blocked(
                f"{self.platform}.browser.identity: the page is signed in as {shown}, not {op.cred.account.handle}",
                reason="tenancy",
            )

    async def _visible(self, loc: PwLocator) -> bool:
        return await loc.count() > 0 and await loc.first.is_visible()

    async def _obstacles(self, op: _Op) -> None:
        """A challenge halts the lane; an interstitial is dismissed (after checking its button)."""
        page = op.page
        challenge = await self._any(page, self.map["challenge"])
        dialog = page.get_by_role("dialog")
        if await challenge.or_(dialog).filter(visible=True).count() == 0:
            return  # the usual case: one round trip shows a clean page
        if await self._visible(challenge):
            await self._evidence(op, "captcha")
            self.halted = f"a challenge (captcha) on {self.platform} needs a person"
            self._event("captcha", url=page.url, client_id=op.cred.client_id)
            self.d.alerts.fire(
                "browser_captcha",
                f"{self.platform}: the web UI asks to confirm we are human; browser side effects halted",
                platform=self.platform,
            )
            raise Blocked(
                f"{self.platform}.web.captcha: challenge page; not solving it, escalated to a person",
                reason="captcha",
            )
        if await self._visible(dialog):
            button = await self._find(op, "interstitial.dismiss", within=dialog.first)
            await button.click()
            await dialog.first.wait_for(
                state="hidden", timeout=self.d.browser.step_timeout_s * 1000
            )
            self._event("interstitial_dismissed", url=page.url)

    async def _any(self, root: Any, target: Target) -> PwLocator:
        locs = [self._build(root, loc) for loc in target.locators]
        out = locs[0]
        for extra in locs[1:]:
            out = out.or_(extra)
        return out

    @staticmethod
    def _build(root: Any, loc: Locator) -> PwLocator:
        pat = re.compile(loc.value, re.IGNORECASE)
        if loc.strategy == "testid":
            return root.get_by_test_id(loc.value)  # type: ignore[no-any-return]
        if loc.strategy == "role":
            return root.get_by_role(loc.role, name=pat)  # type: ignore[no-any-return]
        if loc.strategy == "label":
            return root.get_by_label(pat)  # type: ignore[no-any-return]
        if loc.strategy == "text":
            return root.get_by_text(pat)  # type: ignore[no-any-return]
        return root.locator(loc.value)  # type: ignore[no-any-return]

    async def _find(
        self, op: _Op, name: str, *, first: bool = False, within: Any = None
    ) -> PwLocator:
        """The control ``name``: by the map's locators in order (a later one is a reported
        fallback), revealing it if needed, and checked for its role and name before use."""
        if self.d.defects.on("brittle_selectors") and name in BRITTLE:
            loc = (within or op.page).locator(BRITTLE[name]).first
            wait = self.d.browser.render_timeout_s if first else self.d.browser.step_timeout_s
            try:
                await loc.wait_for(state="attached", timeout=wait * 1000)
            except Exception as e:
                raise await self._miss(op, name, [BRITTLE[name]]) from e
            return loc
        target = self.map[name]
        found = await self._locate(op, target, first=first, within=within)
        if found is None and target.reveal is not None:
            opener = await self._find(op, target.reveal, within=within)
            await opener.click()
            self._event("revealed", target=name, via=target.reveal)
            found = await self._locate(op, target, first=False, within=within)
        if found is None:
            raise await self._miss(op, name, [loc.describe() for loc in target.locators])
        index, el = found
        if index > 0:
            used = target.locators[index].describe()
            op.fallbacks.append({"target": name, "used": used})
            self._event(
                "selector_fallback",
                target=name,
                used=used,
                expected=target.locators[0].describe(),
                map=self.map.version,
            )
            self.d.alerts.fire(
                "browser_selector_drift",
                f"{self.platform}: {name} found by fallback {used}, not {target.locators[0].describe()} (selector map {self.map.version})",
                severity="ticket",
                platform=self.platform,
            )
        await self._check_control(op, target, el)
        return el

    async def _locate(
        self, op: _Op, target: Target, *, first: bool, within: Any
    ) -> tuple[int, PwLocator] | None:
        root = within or op.page
        wait = self.d.browser.render_timeout_s if first else self.d.browser.step_timeout_s
        try:
            await (
                (await self._any(root, target))
                .filter(visible=True)
                .first.wait_for(state="visible", timeout=wait * 1000)
            )
        except Exception:
            return None
        for i, loc in enumerate(target.locators):
            cand = self._build(root, loc).filter(visible=True)
            if await cand.count() > 0:
                return i, cand.first
        return None

    async def _check_control(self, op: _Op, target: Target, el: PwLocator) -> None:
        if not target.roles and target.accessible_name is None:
            return
        info = await el.evaluate(_ROLE_AND_NAME)
        role, name = str(info["role"]), str(info["name"])
        if (target.roles and role not in target.roles) or not target.name_ok(name):
            await self._evidence(op, f"wrong_control_{target.name}")
            self._event("wrong_control", target=target.name, role=role, name=name)
            self.d.alerts.fire(
                "browser_wrong_control",
                f"{self.platform}: {target.name} resolved to {role} {name!r}; not acting on it",
                platform=self.platform,
            )
            raise Blocked(
                f"{self.platform}.web.wrong_control: {target.name} resolved to {role} {name!r}, expected "
                f"{sorted(target.roles)} named /{target.accessible_name}/; nothing clicked",
                reason="lane_unavailable",
            )

    async def _miss(self, op: _Op, name: str, tried: list[str]) -> SandboxError:
        await self._evidence(op, f"miss_{name}")
        version = await op.page.evaluate(
            "() => document.body ? document.body.dataset.uiVersion || null : null"
        )
        self._event(
            "selector_miss",
            target=name,
            tried=tried,
            url=op.page.url,
            ui_version=version,
            map=self.map.version,
        )
        self.d.alerts.fire(
            "browser_selector_miss",
            f"{self.platform}: no locator found {name} (tried {', '.join(tried)}; page UI {version}, "
            f"selector map {self.map.version}); nothing clicked",
            platform=self.platform,
        )
        return Blocked(
            f"{self.platform}.web.selector_miss: {name} not found (tried {', '.join(tried)}); nothing clicked",
            reason="lane_unavailable",
        )

    async def _evidence(self, op: _Op, tag: str, resource_id: str | None = None) -> dict[str, Any]:
        return await self.d.evidence.capture(
            op.page, client_id=op.cred.client_id, platform=self.platform, action=op.action, tag=tag,
            job_id=op.job_id, resource_id=resource_id,
        )  # fmt: skip

    async def _submit(
        self, op: _Op, el: PwLocator, scope: SideEffectScope, expect: str
    ) -> dict[str, list[str]]:
        """Check the kill switch, click, and read where the platform sent us; ``expect`` is a
        path fragment of success (``/web/post/``)."""
        await self._obstacles(op)
        scope.check(op.action)
        page = op.page
        async with page.expect_navigation() as nav:
            await el.click()
        resp = await nav.value
        status = resp.status if resp is not None else 0
        url = urlsplit(page.url)
        if "/web/login" in url.path:
            # the click was sent: the form may have been taken and only the page it led to
            # asked for a login (a session that ended on the way) — what landed is looked for
            # before anything is sent again
            raise Ambiguous(
                f"{self.platform}.web.session_expired: logged out while sending {op.action}"
            )
        if await self._visible(await self._any(page, self.map["challenge"])):
            await self._obstacles(op)
        if await self._visible(await self._any(page, self.map["blocked.banner"])):
            await self._evidence(op, "action_blocked")
            self._event("action_blocked", action=op.action, client_id=op.cred.client_id)
            self.d.telemetry.mark(f"rate_limited:{self.platform}")
            self.d.alerts.fire(
                "browser_action_blocked",
                f"{self.platform}: the web UI restricts activity ({op.action} refused)",
                platform=self.platform,
            )
            raise RateLimited(
                f"{self.platform}.web.action_blocked: 'we restrict certain activity' banner",
                self.d.browser.action_blocked_backoff_s,
            )
        if expect not in url.path:
            await self._evidence(op, "unexpected_page")
            if status >= 400:
                raise Fatal(f"{self.platform}.web.refused: HTTP {status} at {url.path}")
            raise Ambiguous(
                f"{self.platform}.web.unexpected_page: {op.action} ended at {url.path}, not {expect}"
            )
        return parse_qs(url.query)

    # Lane -----------------------------------------------------------------------------------
    async def publish(
        self, cred: Credential, text: str, scope: SideEffectScope, *, media_url: str | None = None
    ) -> SendResult:
        """Compose and publish through the web UI; the permalink page is the proof."""
        self._refuse_unless_may_act("post.create", scope)
        async with (
            scope.side_effect("post.create", lambda: self._may_act("post.create")),
            self.d.io(),
        ):
            op = await self._open(cred, "home", "post.create", scope)
            async with self._using(op):
                box = await self._find(op, "composer.text", first=True)
                await box.fill(text)
                button = await self._find(op, "composer.publish")
                await self._submit(op, button, scope, "/web/post/")
                pid = urlsplit(op.page.url).path.rsplit("/", 1)[-1]
                permalink = await self._permalink(op)
                proof = await self._evidence(op, "published", resource_id=pid)
        return SendResult(
            pid, permalink, None, {"lane": "browser", "evidence": proof, "fallbacks": op.fallbacks}
        )

    async def _permalink(self, op: _Op) -> str | None:
        """The post's public permalink as its page links it; None when the page shows none (a
        post not visible yet): the page's own address is not the platform's permalink."""
        link = op.page.locator("article[data-post-id] a[href^='https://']")
        if await link.count():
            return await link.first.get_attribute("href")
        return None

    async def verify(self, cred: Credential, resource_id: str, scope: SideEffectScope) -> Lookup:
        """Open the post's page: visible when it shows the post."""
        async with self.d.io():
            try:
                op = await self._open(cred, f"post/{resource_id}", "post.verify", scope)
            except Blocked as e:
                return Lookup(None, error=e.error)
            async with self._using(op):
                art = op.page.locator(f'article[data-post-id="{resource_id}"]')
                if await art.count() == 0:
                    return Lookup(False, error=f"{self.platform}.web.not_visible: {resource_id}")
                return Lookup(True, await self._permalink(op))

    async def find_published(
        self, cred: Credential, text: str, scope: SideEffectScope
    ) -> SendResult | None:
        """A post of ours with exactly ``text`` on the home timeline, if any."""
        async with self.d.io():
            op = await self._open(cred, "home", "post.find", scope)
            async with self._using(op):
                rows = await op.page.eval_on_selector_all(
                    "article[data-post-id]",
                    "els => els.map(e => [e.dataset.postId, e.querySelector('p').textContent])",
                )
        for pid, body in rows:
            if body == text:
                return SendResult(str(pid), None)
        return None

    async def _inbox_action(
        self,
        cred: Credential,
        scope: SideEffectScope,
        action: str,
        fill: list[tuple[str, str]],
        submit: str,
        within_id: str | None,
    ) -> SendResult:
        self._refuse_unless_may_act(action, scope)
        async with scope.side_effect(action, lambda: self._may_act(action)), self.d.io():
            op = await self._open(cred, "inbox", action, scope)
            async with self._using(op):
                within = None
                if within_id is not None:
                    within = op.page.locator(f'article[data-inbound-id="{within_id}"]')
                    if await within.count() == 0:
                        await self._evidence(op, "target_missing")
                        raise Fatal(
                            f"{self.platform}.web.not_found: {within_id} is not in the inbox"
                        )
                    within = within.first
                for i, (target, value) in enumerate(fill):
                    await (await self._find(op, target, first=i == 0, within=within)).fill(value)
                button = await self._find(op, submit, within=within)
                q = await self._submit(op, button, scope, "/web/inbox")
                rid = (q.get("sent") or [""])[0]
                proof = await self._evidence(op, "sent", resource_id=rid)
        return SendResult(
            rid, None, None, {"lane": "browser", "evidence": proof, "fallbacks": op.fallbacks}
        )

    async def reply(
        self, cred: Credential, target_id: str, text: str, scope: SideEffectScope
    ) -> SendResult:
        """Reply to an inbound comment from the inbox."""
        return await self._inbox_action(
            cred, scope, "reply.create", [("reply.text", text)], "reply.submit", target_id
        )

    async def dm(
        self, cred: Credential, recipient_id: str, text: str, scope: SideEffectScope
    ) -> SendResult:
        """Send a direct message from the inbox's new-message form."""
        return await self._inbox_action(
            cred, scope, "dm.send", [("dm.to", recipient_id), ("dm.text", text)], "dm.send", None
        )

    async def _post_action(
        self,
        cred: Credential,
        post_id: str,
        scope: SideEffectScope,
        action: str,
        target: str,
        expect: str,
    ) -> dict[str, Any]:
        self._refuse_unless_may_act(action, scope)
        async with scope.side_effect(action, lambda: self._may_act(action)), self.d.io():
            op = await self._open(cred, f"post/{post_id}", action, scope)
            async with self._using(op):
                button = await self._find(op, target, first=True)
                await self._submit(op, button, scope, expect)
                return await self._evidence(op, "done", resource_id=post_id)

    async def like(self, cred: Credential, target_id: str, scope: SideEffectScope) -> SendResult:
        """Like a post from its page."""
        proof = await self._post_action(
            cred, target_id, scope, "like.create", "post.like", "/web/post/"
        )
        return SendResult(target_id, None, None, {"lane": "browser", "evidence": proof})

    async def delete(self, cred: Credential, resource_id: str, scope: SideEffectScope) -> bool:
        """Delete a post of ours from its page."""
        await self._post_action(cred, resource_id, scope, "post.delete", "post.delete", "/web/home")
        return True

    async def list_inbound(
        self,
        cred: Credential,
        scope: SideEffectScope,
        *,
        since: str | None = None,
        also: Collection[str] = (),
    ) -> list[InboundMessage]:
        """Comments and DMs from the inbox page, oldest first (read-only; works in read-only mode)."""
        async with self.d.io():
            op = await self._open(cred, "inbox", "inbound.list", scope)
            async with self._using(op):
                rows = await op.page.eval_on_selector_all(
                    "article[data-inbound-id]",
                    "els => els.map(e => ({id: e.dataset.inboundId, kind: e.dataset.kind, author: e.dataset.author,"
                    " author_id: e.dataset.authorId, post_id: e.dataset.postId || null, at: parseFloat(e.dataset.at),"
                    " text: e.querySelector('p span').textContent}))",
                )
        out = [
            InboundMessage(
                r["id"],
                r["kind"],
                r["text"],
                r["author_id"],
                r["author"],
                r["post_id"],
                None,
                r["at"],
            )
            for r in rows
        ]
        if since is not None:
            ids = [m.id for m in out]
            out = out[ids.index(since) + 1 :] if since in ids else out
        return out
