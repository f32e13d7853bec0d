"""The browser lane's versioned selector map: how to find each control, in order of trust.

Every control the lane touches is a :class:`Target`: an ordered list of locators (test id, then
role and accessible name, then label, then visible text), the roles and names the element must
have before the lane acts on it, and optionally a control that reveals it (an overflow menu).
The first locator is the *expected* one; finding the element by a later one is a *fallback*
and is reported, because it means the page changed.

:data:`BRITTLE` is what the ``brittle_selectors`` defect uses instead: one positional or class
selector per control, no fallbacks, no role or name check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "BRITTLE",
    "SELECTOR_MAP_VERSION",
    "Locator",
    "SelectorMap",
    "Target",
    "selector_map",
]

#: bump when the map changes; recorded with every fallback and miss
SELECTOR_MAP_VERSION = "2026.11-v1"

Strategy = Literal["testid", "role", "label", "text", "css"]


@dataclass(frozen=True)
class Locator:
    """One way to find a control."""

    strategy: Strategy
    #: the test id, label/text pattern (a regex, matched case-insensitively), or CSS
    value: str
    #: the ARIA role, for ``role`` locators
    role: str | None = None

    def describe(self) -> str:
        """A short human-readable form, for telemetry and error messages."""
        if self.strategy == "role":
            return f"role={self.role}[name=/{self.value}/i]"
        return f"{self.strategy}={self.value!r}"


@dataclass(frozen=True)
class Target:
    """A control the lane acts on or reads."""

    name: str
    locators: tuple[Locator, ...]
    #: roles the element must have before the lane acts on it (empty = no check)
    roles: frozenset[str] = frozenset()
    #: the accessible name it must have (regex, case-insensitive, full match); None = no check
    accessible_name: str | None = None
    #: a target to click first when this one is not visible (e.g. an overflow menu)
    reveal: str | None = None

    def name_ok(self, name: str) -> bool:
        """Whether an element's accessible name is what this target means."""
        if self.accessible_name is None:
            return True
        return re.fullmatch(self.accessible_name, name.strip(), re.IGNORECASE) is not None


@dataclass(frozen=True)
class SelectorMap:
    """All targets of one platform's web UI, at one version."""

    platform: str
    version: str
    targets: dict[str, Target] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Target:
        try:
            return self.targets[name]
        except KeyError:
            raise KeyError(
                f"no selector target {name!r} for {self.platform}; known: {sorted(self.targets)}"
            ) from None


def _t(name: str, *locs: Locator, roles: tuple[str, ...] = (), accessible_name: str | None = None, reveal: str | None = None) -> Target:  # fmt: skip
    return Target(name, locs, frozenset(roles), accessible_name, reveal)


def tid(v: str) -> Locator:
    """A ``data-testid`` locator."""
    return Locator("testid", v)


def role(r: str, v: str) -> Locator:
    """A role and accessible-name locator."""
    return Locator("role", v, r)


def label(v: str) -> Locator:
    """A label locator."""
    return Locator("label", v)


def text(v: str) -> Locator:
    """A visible-text locator."""
    return Locator("text", v)


def css(v: str) -> Locator:
    """A CSS locator (structural, used only where no name exists)."""
    return Locator("css", v)


def _map(platform: str, composer: str, publish: str) -> SelectorMap:
    targets = [
        _t("login.username", tid("login-username"), role("textbox", r"^username$"), label(r"^username$"), roles=("textbox",)),
        _t("login.password", tid("login-password"), label(r"^password$"), css('input[type="password"]'), roles=("textbox",)),
        _t("login.submit", tid("login-submit"), role("button", r"^log ?in$"), roles=("button",), accessible_name=r"log ?in"),
        _t("identity", tid("account-handle"), label(r"^signed in as$")),
        _t("composer.text", tid("composer-text"), role("textbox", f"^{composer}$"), label(f"^{composer}$"), roles=("textbox",), accessible_name=composer),
        _t("composer.publish", tid("publish-button"), role("button", f"^{publish}$"), role("menuitem", f"^{publish}$"), text(f"^{publish}$"), roles=("button", "menuitem"), accessible_name=publish, reveal="composer.more"),
        _t("composer.more", role("button", r"^(more|more actions|more options)$"), css('[aria-haspopup="menu"]'), roles=("button",), accessible_name=r"more|more actions|more options|options|…|\.\.\."),
        _t("interstitial.dismiss", tid("interstitial-dismiss"), role("button", r"^(not now|dismiss|close|no thanks|maybe later)$"), roles=("button",), accessible_name=r"not now|dismiss|close|no thanks|maybe later"),
        _t("challenge", tid("captcha"), role("heading", r"confirm you are human|verify you are human|security check|are you a robot"), text(r"i'm not a robot|i am not a robot")),
        _t("blocked.banner", tid("action-blocked"), text(r"we restrict certain activity|action blocked|try again later")),
        _t("reply.text", tid("reply-text"), role("textbox", r"^reply to\b"), label(r"^reply to\b"), roles=("textbox",), accessible_name=r"reply to\b.*"),
        _t("reply.submit", tid("reply-button"), role("button", r"^reply$"), roles=("button",), accessible_name=r"reply"),
        _t("dm.to", tid("dm-to"), role("textbox", r"^recipient$"), label(r"^recipient$"), roles=("textbox",), accessible_name=r"recipient"),
        _t("dm.text", tid("dm-text"), role("textbox", r"^message$"), label(r"^message$"), roles=("textbox",), accessible_name=r"message"),
        _t("dm.send", tid("dm-send"), role("button", r"^send$"), roles=("button",), accessible_name=r"send"),
        _t("post.like", tid("like-button"), role("button", r"^like$"), roles=("button",), accessible_name=r"like"),
        _t("post.delete", tid("delete-button"), role("button", r"^delete$"), roles=("button",), accessible_name=r"delete"),
    ]  # fmt: skip
    return SelectorMap(platform, SELECTOR_MAP_VERSION, {t.name: t for t in targets})


_MAPS: dict[str, SelectorMap] = {
    "x": _map("x", r"what's happening\?", r"post|post now|publish"),
    "instagram": _map(
        "instagram", r"write a caption…?|write a caption\.\.\.", r"share|publish|post"
    ),
}

#: the ``brittle_selectors`` defect's map: positional and class selectors, nothing else
BRITTLE: dict[str, str] = {
    "login.username": "form input >> nth=0",
    "login.password": "form input >> nth=1",
    "login.submit": "form button >> nth=0",
    "composer.text": "main form textarea >> nth=0",
    "composer.publish": ".btn-primary >> nth=0",
    "reply.text": "textarea >> nth=0",
    "reply.submit": "form button >> nth=0",
    "dm.to": "form input[type=text] >> nth=-1",
    "dm.text": "textarea >> nth=-1",
    "dm.send": "form button >> nth=-1",
    "post.like": "article form button >> nth=0",
    "post.delete": "article form button >> nth=1",
}


def selector_map(platform: str, version: str = SELECTOR_MAP_VERSION) -> SelectorMap:
    """The selector map of ``platform``'s web UI at ``version``."""
    m = _MAPS.get(platform)
    if m is None:
        raise KeyError(f"no selector map for {platform!r}; known: {sorted(_MAPS)}")
    if version != m.version:
        raise KeyError(f"selector map {platform!r} has version {m.version!r}, not {version!r}")
    return m
