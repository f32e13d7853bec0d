"""Cost budgets: tokens and USD per episode and per client, and the tool-call recursion cap.

RB-12 (cost runaway) asks for per-episode budgets and a recursion stop condition; RB-09 asks to
pause high-cost generation. The :class:`Budget` is consulted *before* every provider call
(``check``) and charged *after* (``charge``); a tool-call round is counted before the model is
asked again (``tool_round``). Limits come from the control plane through a callable, so a
``set_budget`` control change takes effect on the very next call. With the ``no_budget_stop``
defect the checks still count but never stop anything: the bug RB-12's Diagnosis names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_MAX_TOOL_ROUNDS",
    "PRICES_PER_MTOK",
    "UNKNOWN_MODEL_PRICE",
    "Budget",
    "BudgetExceeded",
    "BudgetLimits",
    "RecursionCapExceeded",
    "Spend",
    "price",
    "priced_as",
]

#: tool-call rounds one episode may run before the platform stops asking the model
DEFAULT_MAX_TOOL_ROUNDS = 8

#: USD per million tokens (input, output) by model family; the platform's own estimate
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-opus-4": (15.00, 75.00),
}
#: what a model the table does not know is priced at: the dearest it knows, so that a budget
#: errs on stopping early, never on overspending (a provider may answer with a model the
#: platform did not ask for — an alias that moved — and bill at that model's price)
UNKNOWN_MODEL_PRICE: tuple[float, float] = (
    max(pin for pin, _ in PRICES_PER_MTOK.values()),
    max(pout for _, pout in PRICES_PER_MTOK.values()),
)
#: USD per generated image by model (1024×1024, standard quality) / per rendered video second
IMAGE_PRICES: dict[str, float] = {
    "dall-e-2": 0.02,
    "dall-e-3": 0.04,
    "gpt-image-1": 0.042,
    "gpt-image-1-mini": 0.011,
}
#: the model the platform generates images with (``sandbox.providers.OpenAIClient.image_model``)
IMAGE_USD = IMAGE_PRICES["gpt-image-1"]
VIDEO_USD_PER_S = 0.05


def priced_as(model: str) -> str | None:
    """The name in the price table ``model`` is priced as (longest matching prefix), if any."""
    best = ""
    for name in PRICES_PER_MTOK:
        if model.startswith(name) and len(name) > len(best):
            best = name
    return best or None


def price(model: str, tokens_in: int, tokens_out: int) -> float:
    """Estimate the USD cost of a completion from the price table (longest matching prefix);
    a model the table does not know is priced as the dearest it knows."""
    pin, pout = PRICES_PER_MTOK.get(priced_as(model) or "", UNKNOWN_MODEL_PRICE)
    return (tokens_in * pin + tokens_out * pout) / 1_000_000


class BudgetExceeded(Exception):
    """A provider call was refused because a budget would be exceeded."""

    def __init__(
        self, scope: str, key: str, unit: str, limit: float, spent: float, needed: float
    ) -> None:
        self.scope, self.key, self.unit = scope, key, unit
        self.limit, self.spent, self.needed = limit, spent, needed
        super().__init__(
            f"{scope} budget of {key!r} exhausted: {spent:g} {unit} spent + {needed:g} needed "
            f"> limit {limit:g} {unit}"
        )


class RecursionCapExceeded(Exception):
    """An episode asked for more tool-call rounds than the cap allows."""

    def __init__(self, episode_id: str, rounds: int, cap: int) -> None:
        self.episode_id, self.rounds, self.cap = episode_id, rounds, cap
        super().__init__(
            f"episode {episode_id!r} reached tool-call round {rounds}, above the cap of {cap}; "
            "the model keeps asking for tools (recursion stop)"
        )


@dataclass(frozen=True)
class BudgetLimits:
    """Limits in force; ``None`` means unlimited. Per-client limits may differ by client."""

    episode_tokens: int | None = None
    episode_usd: float | None = None
    client_tokens: int | None = None
    client_usd: float | None = None
    max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS


@dataclass
class Spend:
    """Tokens and USD spent so far by one episode or one client."""

    tokens: int = 0
    usd: float = 0.0
    calls: int = 0
    tool_rounds: int = 0


LimitsOf = Callable[[str], BudgetLimits]


@dataclass
class Budget:
    """Tracks spend per episode and per client and refuses calls that would go over a limit.

    ``limits_of(client_id)`` returns the limits in force for a client (per-client overrides
    already applied). ``enforce()`` returns False under the ``no_budget_stop`` defect.
    """

    limits_of: LimitsOf = field(default=lambda _c: BudgetLimits())
    enforce: Callable[[], bool] = field(default=lambda: True)
    episodes: dict[str, Spend] = field(default_factory=dict)
    clients: dict[str, Spend] = field(default_factory=dict)
    #: times a check would have stopped a call (counted even when the defect lets it through)
    overruns: int = 0
    #: estimates of calls in flight, per ("episode"|"client", id): (tokens, usd). Two calls that
    #: both fit the remaining budget may not both start: the second sees the first's estimate.
    held: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)

    def hold(self, client_id: str, episode_id: str, *, tokens: int = 0, usd: float = 0.0) -> None:
        """Count a checked call's estimate against its budgets until :meth:`release`."""
        for k in (("episode", episode_id), ("client", client_id)):
            t, u = self.held.get(k, (0, 0.0))
            self.held[k] = (t + tokens, u + usd)

    def release(
        self, client_id: str, episode_id: str, *, tokens: int = 0, usd: float = 0.0
    ) -> None:
        """The call of :meth:`hold` ended (its real cost is charged by :meth:`charge`)."""
        for k in (("episode", episode_id), ("client", client_id)):
            t, u = self.held.get(k, (0, 0.0))
            if t - tokens <= 0 and u - usd <= 1e-12:
                self.held.pop(k, None)
            else:
                self.held[k] = (max(0, t - tokens), max(0.0, u - usd))

    def episode(self, episode_id: str) -> Spend:
        """The spend of one episode (created empty on first use)."""
        return self.episodes.setdefault(episode_id, Spend())

    def client(self, client_id: str) -> Spend:
        """The spend of one client (created empty on first use)."""
        return self.clients.setdefault(client_id, Spend())

    def check(self, client_id: str, episode_id: str, *, tokens: int = 0, usd: float = 0.0) -> None:
        """Raise :class:`BudgetExceeded` if spending ``tokens``/``usd`` more would break a limit."""
        lim = self.limits_of(client_id)
        ep, cl = self.episode(episode_id), self.client(client_id)
        het, heu = self.held.get(("episode", episode_id), (0, 0.0))
        hct, hcu = self.held.get(("client", client_id), (0, 0.0))
        checks: tuple[tuple[str, str, str, float | None, float, float], ...] = (
            ("episode", episode_id, "tokens", lim.episode_tokens, ep.tokens + het, tokens),
            ("episode", episode_id, "USD", lim.episode_usd, ep.usd + heu, usd),
            ("client", client_id, "tokens", lim.client_tokens, cl.tokens + hct, tokens),
            ("client", client_id, "USD", lim.client_usd, cl.usd + hcu, usd),
        )
        for scope, key, unit, limit, spent, needed in checks:
            if limit is not None and spent + needed > limit:
                self.overruns += 1
                if self.enforce():
                    raise BudgetExceeded(scope, key, unit, limit, spent, needed)
                return

    def charge(self, client_id: str, episode_id: str, *, tokens: int, usd: float) -> None:
        """Add a finished call's tokens and cost to its episode and client."""
        for s in (self.episode(episode_id), self.client(client_id)):
            s.tokens += tokens
            s.usd += usd
            s.calls += 1

    def tool_round(self, client_id: str, episode_id: str) -> int:
        """Count one more tool-call round; raise :class:`RecursionCapExceeded` above the cap."""
        ep = self.episode(episode_id)
        ep.tool_rounds += 1
        cap = self.limits_of(client_id).max_tool_rounds
        if ep.tool_rounds > cap:
            self.overruns += 1
            if self.enforce():
                raise RecursionCapExceeded(episode_id, ep.tool_rounds, cap)
        return ep.tool_rounds
