"""The control requests a drill sends are written down with the state read back right after
each — unless another request was in flight, when the state might show that one too."""

from __future__ import annotations

import asyncio
from typing import Any

from harness.drill.control_requests import RecordingPlatformClient
from sandbox.contract import ControlChange


class _Platform:
    """A platform whose control calls wait until let go; its state counts the changes."""

    def __init__(self) -> None:
        self.changes = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.broken = False

    async def call_control(self, name: str, arguments: dict[str, Any]) -> ControlChange:
        await self.gate.wait()
        self.changes += 1
        return ControlChange(
            seq=self.changes, t=0.0, actor="op", reason="r", control="mode", scope={}, value="auto"
        )

    async def controls(self) -> dict[str, Any]:
        if self.broken:
            raise ConnectionError("platform gone")
        return {"modes": [], "changes": self.changes}


async def test_each_request_alone_is_read_back_and_concurrent_ones_are_not() -> None:
    inner = _Platform()
    rec = RecordingPlatformClient(inner, now=lambda: 0.0)  # type: ignore[arg-type]
    await rec.call_control("set_mode", {"mode": "auto", "actor": "op", "reason": "r"})
    assert rec.requests[0]["state_after"] == {"modes": [], "changes": 1}
    inner.gate.clear()
    both = [asyncio.ensure_future(rec.call_control("set_mode", {"mode": "auto"})) for _ in range(2)]
    await asyncio.sleep(0)
    inner.gate.set()
    await asyncio.gather(*both)
    # the first answered while the other was in flight: not read; the last one, alone again,
    # is read with both in the state
    assert [r["state_after"] for r in rec.requests[1:]] == [None, {"modes": [], "changes": 3}]
    inner.broken = True
    await rec.call_control("set_mode", {"mode": "auto"})
    assert rec.requests[3]["state_after"] is None and rec.requests[3]["change_seq"] == 4
