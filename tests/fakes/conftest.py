"""Shared fixtures of the fakes' tests: one served outside world for the official clients.

- ``served_fakes`` (session): the fakes that official SDK clients talk to — ``openai``,
  ``anthropic``, ``media``, ``toolgate`` — served once per session by
  :class:`fakes.serve.ServedFakes` on ``127.0.0.1`` (a free port, wall-clock time, seed 0). It
  yields the ready document: ``served_fakes["fakes"]["openai"]`` is the ``base_url`` for
  ``OpenAI(...)``, ``["anthropic"]`` for ``Anthropic(...)``, ``["toolgate"]`` the MCP endpoint,
  ``served_fakes["admin"]`` the ``/_fake`` admin API. Use it only from tests marked
  ``@pytest.mark.served``.
- ``fake_admin`` (function): an ``httpx.Client`` on that admin API that has just reset the world
  (``POST /_fake/reset``: ledger, journal, faults, every fake's state), so each test starts
  from nothing and may inspect ``/faults``, ``/journal`` and ``/ledger`` of its own requests.
- ``served_key`` (function): ``served_key("agency-openai")`` is that account's API key, read
  from ``GET /_fake/roster?secrets=1``.

The world is shared by every served test of the session; tests that use ``served_fakes`` must
therefore take ``fake_admin`` (or reset themselves) and not run in parallel with each other.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from fakes import admin_headers
from fakes.app import FAKE_MODULES
from fakes.serve import ServedFakes

#: the fakes official clients (openai, anthropic, mcp) and the media provider speak to
SERVED = ("openai", "anthropic", "media", "toolgate")


@pytest.fixture(scope="session")
def served_fakes() -> Iterator[dict[str, Any]]:
    """The provider fakes served on loopback for the whole session; yields the ready document."""
    only = [n for n in SERVED if importlib.util.find_spec(FAKE_MODULES[n]) is not None]
    with ServedFakes(only=only, seed=0) as doc:
        yield doc


@pytest.fixture
def fake_admin(served_fakes: dict[str, Any]) -> Iterator[httpx.Client]:
    """An admin client on the served fakes, after a reset of the whole world."""
    with httpx.Client(
        base_url=served_fakes["admin"], timeout=10, headers=admin_headers()
    ) as client:
        client.post("/reset").raise_for_status()
        yield client


@pytest.fixture
def served_key(fake_admin: httpx.Client) -> Callable[[str], str]:
    """Look up the API key (access token) of a roster account of the served world."""
    roster = fake_admin.get("/roster", params={"secrets": "1"}).json()
    keys = {
        a["id"]: a["credential"]["access_token"] for c in roster["clients"] for a in c["accounts"]
    }

    def key(account_id: str) -> str:
        if account_id not in keys:
            raise KeyError(f"no account {account_id!r} in the served roster; known: {sorted(keys)}")
        return str(keys[account_id])

    return key
