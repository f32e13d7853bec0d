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

__all__ = ["REPLY_TEMPLATE", "RETIRED_KEYWORD", "blueprints_for", "scenario_settings"]

#: what the drills' blueprints answer
REPLY_TEMPLATE = "Thanks {author}! Prices are on our site."
#: the keyword of each client's second blueprint, a campaign's (no workload comment carries it)
GIVEAWAY_KEYWORD = "giveaway entry"
#: the keyword of each client's third blueprint, a retired campaign's that ships *disabled*
#: (``enabled: false``): some inbound chatter carries it, and nothing may answer it
RETIRED_KEYWORD = "spring sale code"


def blueprints_for(
    clients: Iterable[str], platforms: Iterable[str], keywords: Iterable[str]
) -> list[dict[str, Any]]:
    """Three engagement blueprints per client and platform: a campaign's (``bp-<client>-
    <platform>-giveaway``, listed first, answering a keyword no workload comment carries), the
    one answering ``keywords`` and a synonym (``bp-<client>-<platform>``), and a retired
    campaign's that ships disabled (``bp-<client>-<platform>-retired``, answering
    :data:`RETIRED_KEYWORD`, which some workload chatter carries). A drill that disables the
    campaign's must see the other still answer; no drill may see the retired one answer."""
    plats = list(platforms)
    out: list[dict[str, Any]] = []
    for c in clients:
        for p in plats:
            out.append(
                {
                    "id": f"bp-{c}-{p}-giveaway",
                    "client_id": c,
                    "platform": p,
                    "keywords": [GIVEAWAY_KEYWORD],
                    "reply_template": "Thanks {author}! You are in the draw.",
                }
            )
            out.append(
                {
                    "id": f"bp-{c}-{p}",
                    "client_id": c,
                    "platform": p,
                    # the drill's trigger and a synonym no workload item carries: a blueprint
                    # answers any one of its keywords
                    "keywords": [*keywords, "how much is it"],
                    "reply_template": REPLY_TEMPLATE,
                }
            )
            out.append(
                {
                    "id": f"bp-{c}-{p}-retired",
                    "client_id": c,
                    "platform": p,
                    "keywords": [RETIRED_KEYWORD],
                    "reply_template": "Thanks {author}! Use the code at checkout.",
                    "enabled": False,
                }
            )
    return out


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
    if scenario.world.linkedin_version is not None:
        out["linkedin_version"] = scenario.world.linkedin_version
    if scenario.world.text_models:
        out["text_models"] = dict(scenario.world.text_models)
    return out
