"""Finding known secrets in text — whole, or any run of :data:`FRAGMENT_CHARS` of their secret part.

A bug rarely prints a whole token: it prints ``token[:16]`` "to tell tokens apart", or the tail
of a refresh token cut by a log formatter. :class:`SecretIndex` therefore looks for every run of
at least :data:`FRAGMENT_CHARS` (12) consecutive characters of a secret's **secret part** — the
secret without its public prefix (:func:`public_prefix`: ``xat-``, ``instagramrt-``,
``sk-openai-`` …, the text every token of a kind starts with and that says nothing about the
token). Twelve characters of a hex token are 48 bits: enough to recognise it in a log, never a
coincidence in a drill's artifacts (a ``fp_`` fingerprint is a hash, not a piece of the token),
and more than the conventional "last four" hint (the OpenAI fake's ``sk-****…abcd``) or a
fingerprint that an operator needs.

How: every n-gram of every secret part goes into one dict (n-gram → secret). A fragment of a
secret lies inside a run of characters that secret parts are made of (hex digits for the fakes'
tokens), so only those runs are scanned, one dict lookup per position — linear in the text, no
matter how many secrets the drill knows.

Most such runs hold no secret at all (trace ids, span ids, content hashes), so each run is first
probed at every ``s``-th position only, with the shorter ``m``-grams of the secret parts
(``m = n - s + 1``): any n characters of a secret starting at ``i`` cover ``s`` consecutive
positions, one of them a probe, and the probe's m characters lie inside those n — so a run
without a probe hit holds no fragment, and only runs with one are scanned position by position.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["FRAGMENT_CHARS", "SecretHit", "SecretIndex", "public_prefix", "secret_fp"]

#: the shortest run of a secret's secret part that counts as a leak
FRAGMENT_CHARS = 12

#: how long the probes of a run are (a hex probe of 6 is 24 bits: a rare false hit, never a miss)
_PROBE_CHARS = 6

#: ``xat-``, ``linkedinrt-``, ``sk-openai-``: words ending in ``-`` at the start of a token
_PREFIX = re.compile(r"(?:[A-Za-z]+-)+")


def secret_fp(secret: str) -> str:
    """The fingerprint reports show instead of a secret (``fp_`` + 12 hex of its SHA-256)."""
    return "fp_" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def public_prefix(secret: str, n: int = FRAGMENT_CHARS) -> str:
    """The public prefix of ``secret`` (leading ``word-`` groups), kept only if n chars remain."""
    m = _PREFIX.match(secret)
    if m is None or len(secret) - m.end() < n:
        return ""
    return m.group(0)


@dataclass(frozen=True, slots=True)
class SecretHit:
    """One secret found in a text: the whole of it, or its longest fragment (``chars`` long)."""

    secret: str
    whole: bool
    chars: int
    start: int
    end: int

    @property
    def fp(self) -> str:
        return secret_fp(self.secret)


class SecretIndex:
    """Every known secret and every ``n``-character run of its secret part, ready to scan text."""

    def __init__(self, secrets: Iterable[str], n: int = FRAGMENT_CHARS) -> None:
        if n < 4:
            raise ValueError(f"a fragment must be at least 4 characters long, got {n}")
        self.n = n
        self.secrets: tuple[str, ...] = tuple(dict.fromkeys(s for s in secrets if s))
        self._grams: dict[str, int] = {}
        #: secrets whose secret part is shorter than n: only whole matches count
        self._short: list[int] = []
        chars: set[str] = set()
        for k, s in enumerate(self.secrets):
            body = s[len(public_prefix(s, n)) :]
            if len(body) < n:
                self._short.append(k)
                continue
            chars.update(body)
            for i in range(len(body) - n + 1):
                self._grams.setdefault(body[i : i + n], k)
        cls = "".join(re.escape(c) for c in sorted(chars))
        self._runs = re.compile(f"[{cls}]{{{n},}}") if cls else None
        #: the probe stride and the probes' shorter grams (see the module's docstring)
        self._step = max(1, n - _PROBE_CHARS + 1)
        m = n - self._step + 1
        self._probes: frozenset[str] = frozenset(
            g[i : i + m] for g in self._grams for i in range(n - m + 1)
        )

        #: texts already scanned (a report's rows are judged twice and its files scrubbed after
        #: being judged): text → spans, the largest ones only, up to MEMO_CHARS in all
        self._memo: dict[str, tuple[tuple[int, int, int], ...]] = {}
        self._memo_chars = 0

    #: texts shorter than this are scanned again rather than remembered
    MEMO_MIN_CHARS = 4096
    #: characters of text remembered at most (the oldest texts go first)
    MEMO_CHARS = 32_000_000

    @classmethod
    def of(cls, secrets: Iterable[str]) -> SecretIndex:
        """The index of these secrets: the one built last time when they are the same secrets
        (a drill's judge and its report writer ask for the same one)."""
        key = tuple(dict.fromkeys(s for s in secrets if s))
        with _LOCK:
            got = _INDEXES.get(key)
            if got is None:
                got = cls(key)
                _INDEXES.clear()  # one drill's secrets at a time: the texts it remembers go too
                _INDEXES[key] = got
        return got

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def spans(self, text: str) -> list[tuple[int, int, int]]:
        """(secret index, start, end) of every maximal stretch of ``text`` made of one secret's n-grams."""
        if len(text) < self.MEMO_MIN_CHARS:
            return self._spans(text)
        got = self._memo.get(text)
        if got is None:
            got = tuple(self._spans(text))
            with _LOCK:
                while self._memo and self._memo_chars + len(text) > self.MEMO_CHARS:
                    oldest = next(iter(self._memo))
                    del self._memo[oldest]
                    self._memo_chars -= len(oldest)
                if len(text) <= self.MEMO_CHARS and text not in self._memo:
                    self._memo[text] = got
                    self._memo_chars += len(text)
        return list(got)

    def _spans(self, text: str) -> list[tuple[int, int, int]]:
        out: list[tuple[int, int, int]] = []
        if self._runs is not None:
            n, grams, probes, step = self.n, self._grams, self._probes, self._step
            pm = n - step + 1
            for m in self._runs.finditer(text):
                a, b = m.start(), m.end()
                if not any(text[p : p + pm] in probes for p in range(a, b - pm + 1, step)):
                    continue
                cur: tuple[int, int, int] | None = None
                for i in range(a, b - n + 1):
                    k = grams.get(text[i : i + n])
                    if k is None:
                        continue
                    if cur is not None and cur[0] == k and i <= cur[2]:
                        cur = (k, cur[1], i + n)
                    else:
                        if cur is not None:
                            out.append(cur)
                        cur = (k, i, i + n)
                if cur is not None:
                    out.append(cur)
        for k in self._short:
            s = self.secrets[k]
            at = text.find(s)
            while at >= 0:
                out.append((k, at, at + len(s)))
                at = text.find(s, at + 1)
        return out

    def find(self, text: str) -> list[SecretHit]:
        """Each secret found in ``text`` once: whole if it appears whole, else its longest fragment."""
        best: dict[int, SecretHit] = {}
        for k, a, b in self.spans(text):
            s = self.secrets[k]
            whole = s in text
            hit = SecretHit(s, whole, len(s) if whole else b - a, a, b)
            old = best.get(k)
            if old is None or hit.chars > old.chars:
                best[k] = hit
        return [best[k] for k in sorted(best)]

    def scrub(self, text: str) -> str:
        """``text`` with every secret replaced by ``[redacted fp_…]`` and every fragment by
        ``[redacted part of fp_…]`` (whole secrets first, longest first)."""
        for s in sorted(self.secrets, key=len, reverse=True):
            if s in text:
                text = text.replace(s, f"[redacted {secret_fp(s)}]")
        spans = self.spans(text)
        if not spans:
            return text
        parts: list[str] = []
        pos = 0
        for k, a, b in sorted(spans, key=lambda x: (x[1], -x[2])):
            if a < pos:  # overlaps a stretch already redacted
                a = pos
                if a >= b:
                    continue
            parts.append(text[pos:a])
            parts.append(f"[redacted part of {secret_fp(self.secrets[k])}]")
            pos = b
        parts.append(text[pos:])
        return "".join(parts)


#: the index :meth:`SecretIndex.of` built last, by its secrets
_INDEXES: dict[tuple[str, ...], SecretIndex] = {}
_LOCK = threading.Lock()
