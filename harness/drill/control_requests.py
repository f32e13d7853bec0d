"""The control requests a drill sends, recorded: what the operator asked, so the judge need not
take the platform's word for it.

:class:`RecordingPlatformClient` wraps the contract client the drill talks to the platform
through. Every control call (``call_control``: kill switches, modes, pacing, budgets, …, from
the scenario's operator steps, the automated Ops Lead, a game day's people or the drill's own
arrangement) is written down with its time, actor, reason, arguments and the ``seq`` of the
ControlChange the platform answered with — or the error it raised — and the platform's
control state read back right after it answered. Everything else passes through unchanged. The judge's ``controls_as_requested`` replays these requests over the
platform's control state at the start and compares what the platform then reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sandbox.contract import ControlChange, PlatformClient

from ..judge.rows import ControlRequestRow, Json, JsonObject
from .passthrough import PassThroughPlatformClient

__all__ = ["RecordingPlatformClient", "request_arguments"]


def _json(value: object) -> Json:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        value = dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def request_arguments(arguments: Mapping[str, Any]) -> JsonObject:
    """A control call's arguments as JSON, without ``actor`` and ``reason`` (kept apart)."""
    return {k: _json(v) for k, v in arguments.items() if k not in ("actor", "reason")}


class RecordingPlatformClient(PassThroughPlatformClient):
    """The platform contract, writing down every control request (see the module docstring)."""

    def __init__(self, inner: PlatformClient, now: Callable[[], float]) -> None:
        super().__init__(inner)
        self.now = now
        self.requests: list[ControlRequestRow] = []
        self._in_flight = 0

    async def call_control(self, name: str, arguments: dict[str, Any]) -> ControlChange:
        row = ControlRequestRow(
            seq=len(self.requests) + 1,
            t=self.now(),
            actor=str(arguments.get("actor") or ""),
            reason=str(arguments.get("reason") or ""),
            name=name,
            arguments=request_arguments(arguments),
            change_seq=None,
            error=None,
        )
        self.requests.append(row)
        self._in_flight += 1
        try:
            try:
                change = await self.inner.call_control(name, arguments)
            except Exception as e:
                row["error"] = f"{type(e).__name__}: {e}"[:300]
                raise
            row["change_seq"] = change.seq
            row["state_after"] = await self._read_back(row)
            return change
        finally:
            self._in_flight -= 1

    async def _read_back(self, row: ControlRequestRow) -> JsonObject | None:
        """The platform's control state right after ``row`` was answered, as an operator's
        console shows it after the click (a control that took effect but reads back otherwise
        misleads whoever looks next) — None when another request was in flight meanwhile (the
        state might show it too) or the platform could not say."""

        def alone() -> bool:
            return self._in_flight == 1 and len(self.requests) == row.get("seq")

        if not alone():
            return None
        try:
            state = {str(k): _json(v) for k, v in dict(await self.inner.controls()).items()}
        except Exception:  # a platform that cannot say: judged on its changes and end state
            return None
        return state if alone() else None
