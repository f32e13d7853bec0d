"""Token invariants: a refresh token is redeemed only when the access token needs it, and an
access token is refreshed before it ages out."""

from __future__ import annotations

from pydantic import Field

from ..record import SOCIAL_FAKES, DrillRecord
from ..rows import JournalRow, number
from ..timeline import format_offset
from ._base import Findings, NotApplicable, Params, Violation, invariant
from ._facts import evidence

__all__ = ["no_needless_token_refresh", "tokens_refreshed_before_expiry"]


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


#: what a fault kind's name says when it makes a platform's tokens fail
_TOKEN_FAULT_WORDS: tuple[str, ...] = ("token", "scope", "refresh")


@invariant()
def tokens_refreshed_before_expiry(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """No token ages out in use: a request is refused as unauthorised only where the drill broke tokens.

    The platform knows when each access token expires — the credential store it starts from
    states ``expires_at``, the token endpoint answers ``expires_in`` — and refreshes ahead of
    it (X's tokens live two hours). Read from the fakes' journal: a request to a social platform
    answered 401 before any fault of that platform's tokens was installed (a kind naming a
    token, a scope or a refresh: ``x.token_expired``, ``linkedin.token_revoked``, …) is a token
    that aged out under the platform's feet: the request failed, and its job waited for a
    refresh it could have had before.
    """
    faulted: dict[str, float] = {}
    for r in record.fault_rows():
        fake, _, name = str(r.get("kind")).partition(".")
        if any(w in name for w in _TOKEN_FAULT_WORDS):
            at = number(r.get("installed_at"), number(r.get("start"), record.start_t))
            faulted[fake] = min(at, faulted.get(fake, at))
    out: list[Violation] = []
    checked = 0
    for i, j in enumerate(record.journal):
        fake = str(j.get("fake"))
        if fake not in SOCIAL_FAKES or j.get("account_id") is None:
            continue
        checked += 1
        start = _started(j)
        if j.get("status") != 401 or j.get("fault_id") is not None:
            continue
        if fake in faulted and faulted[fake] <= start:
            continue
        out.append(
            Violation(
                start,
                ("request", "requests"),
                "refused as unauthorised with no fault of the platform's tokens: the token aged "
                "out before the platform refreshed it",
                f"{j.get('request_id')} ({j.get('method')} {j.get('path')} for "
                f"{record.handle(j.get('account_id'))})",
                evidence("journal.jsonl", i),
            )
        )
    if checked == 0:
        return NotApplicable("no request reached a social platform")
    return Findings(
        checked,
        out,
        f"none of {checked} requests to the social platforms met an aged-out token",
    )
