"""The runbook library searched by symptom: what a participant types ("429", "wrong account")
ranked against each runbook's title, incident types and symptoms (names, descriptions, the
errors, alerts and metrics they watch)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..runbooks import Runbook, runbooks

__all__ = ["Hit", "search_runbooks", "words_of"]

_WORD = re.compile(r"[a-z0-9]+")
#: words too common to rank by
_STOP = frozenset({"a", "an", "the", "of", "on", "in", "to", "and", "or", "is", "are", "for", "s"})


def words_of(text: str) -> list[str]:
    """Lower-case words of ``text`` (``rate_limited_responses`` → rate, limited, responses)."""
    return [w for w in _WORD.findall(text.lower().replace("_", " ")) if w not in _STOP]


@dataclass(frozen=True)
class Hit:
    """One runbook that matches a query: its score and the symptoms that matched."""

    runbook: Runbook
    score: float
    symptoms: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        rb = self.runbook
        return {
            "id": rb.id,
            "title": rb.title,
            "severity": rb.severity,
            "types": list(rb.types),
            "score": self.score,
            "matched_symptoms": list(self.symptoms),
        }


def _symptom_text(rb: Runbook) -> list[tuple[str, str]]:
    out = []
    for s in rb.symptoms:
        bits = [s.name, s.description, s.action or "", s.outcome or "", s.error or ""]
        bits += [s.alert or "", s.metric or ""]
        label = s.description or s.name.replace("_", " ")
        out.append((label, " ".join(bits)))
    return out


def _matches(word: str, words: set[str]) -> bool:
    # a query word matches a word it starts (``tenan`` → tenancy) or that starts it
    return any(w.startswith(word) or (len(w) >= 4 and word.startswith(w)) for w in words)


def search_runbooks(query: str, library: dict[str, Runbook] | None = None) -> list[Hit]:
    """Runbooks ranked by how many query words their symptoms (weight 2) and title/types
    (weight 1) contain; an empty query lists every runbook in order."""
    lib = runbooks() if library is None else library
    q = words_of(query)
    hits: list[Hit] = []
    for rb in lib.values():
        if not q:
            hits.append(Hit(rb, 0.0, ()))
            continue
        head = set(words_of(f"{rb.title} {' '.join(rb.types)} {rb.id}"))
        score = 0.0
        matched: list[str] = []
        for label, text in _symptom_text(rb):
            words = set(words_of(text))
            n = sum(1 for w in q if _matches(w, words))
            if n:
                score += 2.0 * n
                matched.append(label)
        score += sum(1.0 for w in q if _matches(w, head))
        if score > 0:
            hits.append(Hit(rb, score, tuple(dict.fromkeys(matched))))
    hits.sort(key=lambda h: (-h.score, h.runbook.id))
    return hits
