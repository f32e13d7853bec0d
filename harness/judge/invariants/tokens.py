"""Token invariants: a refresh token is redeemed only when the access token needs it."""

from __future__ import annotations

from pydantic import Field

from ..record import DrillRecord
from ..rows import JournalRow, number
from ..timeline import format_offset
from ._base import Findings, NotApplicable, Params, Violation, invariant
from ._facts import evidence

__all__ = ["no_needless_token_refresh"]


class RefreshParams(Params):
    """Parameters of ``no_needless_token_refresh``."""

    routes: tuple[str, ...] = Field(
        ("oauth2.token",), description="journal routes of token refresh requests"
    )
    lifetime_s: float = Field(
        3600.0,
        gt=0,
        description="a refresh this long after the last one may be the token's own expiry "
        "(X's access tokens live two hours; a platform refreshes some minutes early)",
    )


@invariant(RefreshParams)
def no_needless_token_refresh(record: DrillRecord, p: RefreshParams) -> Findings | NotApplicable:
    """An account's token is refreshed again only after its fresh token was rejected (or aged).

    Read from the fakes' journal. After a refresh of an account is answered, the next refresh
    of that account needs a reason: a request with the fresh token answered 401 (it was sent
    after the refresh was answered), or ``lifetime_s`` gone by. A second refresh without one
    is the refresh lock failing: two workers that met the same expired token both redeem
    (rotating tokens under requests in flight, spending the single-use refresh token twice).
    """
    refreshes: dict[str, list[tuple[int, JournalRow]]] = {}
    rejected: dict[str, list[float]] = {}
    for i, j in enumerate(record.journal):
        account = j.get("account_id")
        if account is None:
            continue
        if j.get("route") in p.routes:
            refreshes.setdefault(str(account), []).append((i, j))
        elif j.get("status") == 401:
            rejected.setdefault(str(account), []).append(_started(j))
    judged = {a: r for a, r in refreshes.items() if len(r) > 1}
    if not judged:
        return NotApplicable("no account's token was refreshed more than once")
    out: list[Violation] = []
    checked = 0
    for account, rows in sorted(judged.items()):
        rows.sort(key=lambda r: (_started(r[1]), r[1].get("seq", 0)))
        last_ok: float | None = None
        for i, j in rows:
            start = _started(j)
            if last_ok is not None:
                checked += 1
                why = any(last_ok <= t <= start for t in rejected.get(account, ()))
                if not why and start - last_ok < p.lifetime_s:
                    out.append(
                        Violation(
                            start,
                            ("refresh", "refreshes"),
                            f"of {record.handle(account)}'s token with no rejection since the "
                            f"refresh answered at {format_offset(record.offset(last_ok))}",
                            str(j.get("request_id")),
                            evidence("journal.jsonl", i),
                        )
                    )
            if j.get("status") == 200:
                last_ok = number(j.get("t"), start)
    return Findings(
        checked,
        out,
        f"{checked} repeated refreshes, each after the fresh token was rejected or had aged",
    )


def _started(j: JournalRow) -> float:
    return number(j.get("started"), number(j.get("t"), 0.0))
