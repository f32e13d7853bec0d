"""Who takes part in a game day, what each role may do, and the console's refusals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import BadInputError

__all__ = [
    "ACTING_ROLES",
    "MAX_TEXT",
    "ROLES",
    "GamedayRefused",
    "Participant",
    "checked_name",
    "checked_text",
]

ROLES: tuple[str, ...] = ("Incident Commander", "Ops Lead", "Scribe", "Comms")
#: who may send control actions (the Ops Lead executes, the IC makes the calls)
ACTING_ROLES = frozenset({"Incident Commander", "Ops Lead"})
_NAME = re.compile(r"^[\w][\w .'-]{0,39}$")
MAX_TEXT = 2000


class GamedayRefused(BadInputError):
    """A console request that cannot be done: the message says why (HTTP 4xx)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Participant:
    """Someone who joined: a display name and one of :data:`ROLES`."""

    id: str
    name: str
    role: str
    joined_t: float

    @property
    def actor(self) -> str:
        """How the person appears on the timeline and in the platform's control changes."""
        return f"{self.name} ({self.role})"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "actor": self.actor}


def checked_name(name: str, role: str) -> str:
    """The display name with its spaces folded; :class:`GamedayRefused` for a bad name or role."""
    name = " ".join(str(name).split())
    if not _NAME.match(name):
        raise GamedayRefused(
            f"name: {name!r} must be 1-40 letters, digits, spaces or . ' - (starting with a letter or digit)"
        )
    if role not in ROLES:
        raise GamedayRefused(f"role: {role!r} is not a role; valid: {', '.join(ROLES)}")
    return name


def checked_text(text: Any, what: str) -> str:
    """A participant's free text, stripped; refused when empty or over :data:`MAX_TEXT`."""
    s = str(text or "").strip()
    if not s:
        raise GamedayRefused(f"{what}: give some text")
    if len(s) > MAX_TEXT:
        raise GamedayRefused(f"{what}: {len(s)} characters, at most {MAX_TEXT}")
    return s
