"""The defect catalogue: named, documented bugs the platform can be started with.

A drill needs a real mess: each defect is a real bug behind a switch, the root cause that a
runbook's Diagnosis names. A defect is declared by subclassing :class:`Defect` anywhere in
``sandbox`` (the class registers itself by ``name``; its docstring's first line says what is
broken, ``runbook`` says which Diagnosis names it)::

    class ToolgateFailOpen(Defect, name="toolgate_fail_open", runbook="RB-08"):
        \"\"\"Tool gateway failures are treated as success; dependent side effects go ahead.\"\"\"

Code that implements the bug asks ``platform.defects.on("toolgate_fail_open")``. The platform
imports its optional component modules (see ``sandbox.platform.COMPONENT_MODULES``) before it
validates the names it was started with, so defects declared there are known.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, ClassVar

__all__ = ["DEFECTS", "Defect", "Defects", "UnknownDefectError", "did_you_mean"]

#: defect name → its class, filled by :meth:`Defect.__init_subclass__`
DEFECTS: dict[str, type[Defect]] = {}


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """A "; did you mean 'x'?" suffix for an error message, or "" when nothing is close."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class UnknownDefectError(ValueError):
    """A defect name that is not in the catalogue."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.valid = sorted(DEFECTS)
        super().__init__(
            f"{name!r} is not a defect{did_you_mean(name, DEFECTS)}; valid: {', '.join(self.valid)}"
        )


class Defect:
    """Base of every defect; subclasses register themselves by ``name``."""

    name: ClassVar[str]
    runbook: ClassVar[str]

    def __init_subclass__(cls, *, name: str, runbook: str, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if name in DEFECTS:
            prev = DEFECTS[name]
            raise TypeError(
                f"defect {name!r} defined twice: {prev.__module__}.{prev.__qualname__} "
                f"and {cls.__module__}.{cls.__qualname__}"
            )
        if not (cls.__doc__ or "").strip():
            raise TypeError(
                f"defect {name!r} ({cls.__qualname__}) needs a docstring saying what is broken"
            )
        cls.name = name
        cls.runbook = runbook
        DEFECTS[name] = cls

    @classmethod
    def summary(cls) -> str:
        """The first line of the docstring: what is broken."""
        return (cls.__doc__ or "").strip().splitlines()[0]

    @classmethod
    def describe(cls) -> dict[str, str]:
        """The defect as listed at run time."""
        doc = " ".join(line.strip() for line in (cls.__doc__ or "").strip().splitlines())
        return {"name": cls.name, "runbook": cls.runbook, "summary": cls.summary(), "doc": doc}


class Defects:
    """The defects one platform instance was started with (fixed for its lifetime)."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        names = list(names)
        for n in names:
            if n not in DEFECTS:
                raise UnknownDefectError(n)
        self.enabled: frozenset[str] = frozenset(names)

    def on(self, name: str) -> bool:
        """Whether the defect ``name`` is switched on; a typo in code is a bug, so it raises."""
        if name not in DEFECTS:
            raise UnknownDefectError(name)
        return name in self.enabled

    def listing(self) -> dict[str, Any]:
        """What ``defects()`` on the platform contract returns: the catalogue and what is on."""
        return {
            "enabled": sorted(self.enabled),
            "catalogue": [DEFECTS[n].describe() for n in sorted(DEFECTS)],
        }


# ---- the core platform's defects -------------------------------------------------------------


class TenancyGuardOff(Defect, name="tenancy_guard_off", runbook="RB-01"):
    """The tenancy guard is switched off: no check that the job's account belongs to its client
    and that the credential belongs to that account before a side effect (RB-01 Diagnosis:
    request-scoped client_id, credentialRef resolution)."""


class CredentialCrossWire(Defect, name="credential_cross_wire", runbook="RB-01"):
    """credentialRef resolution hands out another client's secret for every 3rd X job, under the
    requested ref's label, so checks that trust the keyring (and its per-ref identity cache) pass
    and the post lands on another tenant's account (RB-01 Diagnosis: credentialRef resolution,
    keyring resolution)."""


class RetryNotIdempotent(Defect, name="retry_not_idempotent", runbook="RB-02"):
    """A publish whose outcome is unknown (timeout, dropped connection, 5xx) is simply posted again,
    without an idempotency check against the platform: double posts (RB-02 Fix: implement retry
    policy (idempotent))."""


class VerificationSkipped(Defect, name="verification_skipped", runbook="RB-03"):
    """Publishes are marked succeeded as soon as the platform returns an id; the visibility lookup
    is skipped (RB-03 Diagnosis: verification method broken)."""


class RefreshRace(Defect, name="refresh_race", runbook="RB-04"):
    """Token refresh has no per-account lock: two workers spend the same single-use refresh token,
    one gets invalid_request and the account's auth breaks (RB-04 Diagnosis/Fix: patch refresh
    scheduler)."""


class RetryAfterIgnored(Defect, name="retry_after_ignored", runbook="RB-05"):
    """429 responses' Retry-After / x-rate-limit-reset / usage headers are ignored: retries come
    back after the short default backoff and pacing never adapts (RB-05 Diagnosis: action cadence
    vs policy; Fix: adaptive pacing)."""


class FifoQueue(Defect, name="fifo_queue", runbook="RB-07"):
    """The runner takes jobs strictly in arrival order: publish jobs wait behind long generation
    and engagement work (RB-07: ensure publish jobs prioritized; Fix: rebalance queues)."""


class AuditDropped(Defect, name="audit_dropped", runbook="RB-11"):
    """Every 4th successful side effect's outcome AuditEvent is silently dropped (RB-11 Diagnosis:
    instrumentation regression)."""


class KillSwitchIgnoredByEngagement(
    Defect, name="kill_switch_ignored_by_engagement", runbook="RB-10"
):
    """The engagement engine does not consult the kill switches before replies, DMs and likes;
    engagement continues after the switch is engaged (RB-10 Immediate actions: engagement kill
    switch ON)."""


# ---- the browser lane's defects (sandbox.lanes.browser) ----------------------------------------


class ControlsForgottenOnRestart(Defect, name="controls_forgotten_on_restart", runbook="RB-02"):
    """A platform restarted on its storage restores its jobs and audit log but not its controls:
    every kill switch, mode, pause, cap and budget an operator set before the restart is gone
    and the work they held goes out (RB-02 Fix: a deploy or crash mid-incident)."""


class RateLimitsForgottenOnRestart(
    Defect, name="rate_limits_forgotten_on_restart", runbook="RB-05"
):
    """A platform restarted on its storage forgets the Retry-After of the 429s it received before
    the restart: it calls the throttled endpoints again at once, before the reset the platform
    named (RB-05 Diagnosis: Retry-After not respected)."""


class BrowserProfileMixup(Defect, name="browser_profile_mixup", runbook="RB-01"):
    """Browser profile selection reuses a warm profile of another client on the same platform for
    every 2nd browser job, and trusts a warm profile without re-checking whose session it holds:
    the side effect lands on the other tenant's account (RB-01 Diagnosis: browser profile
    selection logic)."""


class BrowserChallengeIgnored(Defect, name="browser_challenge_ignored", runbook="RB-06"):
    """The browser lane reports a "confirm you are human" challenge and halts nothing: once the
    page is back it goes on posting, replying and sending DMs as if a person had answered it
    (RB-06: a challenge needs a person; the lane stops side effects on that platform)."""


class BrittleSelectors(Defect, name="brittle_selectors", runbook="RB-06"):
    """The browser lane finds controls by position and CSS class only, with no fallbacks and no
    check of the element's role or label before acting: after a UI change it can click a
    different control (delete or like where it meant to publish) (RB-06 Fix: resilient locator
    strategy)."""
