"""A fault's window is closed on the fakes even when the connection drops under the request."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from harness.drill.engine import DrillEngine
from harness.drill.options import DrillOptions
from harness.errors import DrillError
from harness.scenario import load_scenario
from harness.scenario_sources import builtin_scenarios_dir


def _engine(handler: httpx.MockTransport) -> DrillEngine:
    e = DrillEngine(
        load_scenario(builtin_scenarios_dir() / "rb05_rate_limit_storm.yaml"), DrillOptions()
    )
    e.admin = httpx.AsyncClient(transport=handler, base_url="http://fakes/_fake")
    e.fault_ids = {0: "f1"}
    return e


def test_a_dropped_connection_while_removing_a_fault_is_tried_again() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:  # the server closed the idle connection as the request went out
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(204)

    e = _engine(httpx.MockTransport(handler))
    assert asyncio.run(e._remove(0, "fake", "the fault's window ended"))
    assert calls == ["/_fake/faults/f1", "/_fake/faults/f1"] and 0 in e.healed


def test_a_fault_that_cannot_be_removed_breaks_the_drill_instead_of_staying_on() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    e = _engine(httpx.MockTransport(handler))
    with pytest.raises(DrillError, match="could not remove fault f1"):
        asyncio.run(e._remove(0, "fake", "the fault's window ended"))
    assert 0 not in e.healed  # the final heal tries again, and the drill reports the error
