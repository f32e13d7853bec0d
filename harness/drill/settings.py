"""The platform settings a scenario needs, as JSON: the same for an in-process drill and for a
platform served with ``vibedrill platform serve --settings FILE``.

Blueprints (one per client and platform, answering the scenario's trigger keyword), budgets and
the text providers' models come from the scenario; accounts, credentials and base URLs come from
the world's roster when the platform is built. ``vibedrill platform settings SCENARIO --world READY`` writes this document.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..scenario import Scenario

__all__ = ["REPLY_TEMPLATE", "blueprints_for", "scenario_settings"]

#: what the drills' blueprints answer
REPLY_TEMPLATE = "Thanks {author}! Prices are on our site."


def blueprints_for(
    clients: Iterable[str], platforms: Iterable[str], keywords: Iterable[str]
) -> list[dict[str, Any]]:
    """One engagement blueprint per client and platform, answering ``keywords``."""
    plats = list(platforms)
    return [
        {
            "id": f"bp-{c}-{p}",
            "client_id": c,
            "platform": p,
            "keywords": list(keywords),
            "reply_template": REPLY_TEMPLATE,
        }
        for c in clients
        for p in plats
    ]


def scenario_settings(scenario: Scenario, clients: Iterable[str]) -> dict[str, Any]:
    """The settings overrides of ``scenario`` for ``clients`` (JSON-ready)."""
    out: dict[str, Any] = {
        "blueprints": blueprints_for(
            clients, scenario.world.platforms, (scenario.workload.trigger_keyword,)
        )
    }
    if scenario.world.budgets:
        out["budgets"] = scenario.world.budgets.model_dump(mode="json", exclude_none=True)
    if scenario.world.pacing:
        out["pacing"] = {
            platform: pacing.as_settings() for platform, pacing in scenario.world.pacing.items()
        }
    if scenario.world.runner_concurrency is not None:
        out["runner_concurrency"] = scenario.world.runner_concurrency
    if scenario.world.text_models:
        out["text_models"] = dict(scenario.world.text_models)
    return out
