"""Token invariants: a refresh token is redeemed only when the access token needs it, and an
access token is refreshed before it ages out."""

from __future__ import annotations

from pydantic import Field

from ..record import SOCIAL_FAKES, DrillRecord
from ..rows import JournalRow, number
from ..timeline import format_offset
from ._base import Findings, NotApplicable, Params, Violation, invariant
from ._facts import evidence
from .recovery import real_slack

__all__ = [
    "no_needless_token_refresh",
    "refused_tokens_not_resent",
    "tokens_refreshed_before_expiry",
]


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


@invariant()
def refused_tokens_not_resent(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """A job does not send again a token that was refused once a refresh had replaced it.

    Read from the fakes' journal, which tells which of an account's access tokens each request
    carried (its generation, never the token) and whether a refresh had already replaced it when
    the request arrived. Within one job (the trace id of its ``traceparent``; the requests of no
    job, such as an identity check, as one sequence per account), after a request
    with token generation *g* was answered 401, a later request of the job with the same *g*
    that arrived after a refresh had replaced *g* is a job resending a token it knew was refused
    while a fresh one was there to take: the refresh lock's loser kept its stale copy (RB-04),
    each such job takes a second 401 and an auth back-off for nothing, and the auth-failure count
    grows although the refresh worked. On X a job that sends the refused token again within a
    second with no refresh at all (it took its stale copy for one another worker had made) is one
    too. And on X, once the refresh a 401 set off has failed (the token endpoint down, hanging
    or refusing), the keyring knows the token is refused: another job that sends it later
    instead of refreshing first (and ending unsent when it cannot) sends it into a certain 401.
    """
    refused: dict[tuple[str, str], dict[int, tuple[float, str]]] = {}
    #: (account, token generation) → when X first refused it, that request, and its job's trace
    refused_on_x: dict[tuple[str, int], tuple[float, str, str]] = {}
    #: account → (started, answered, status) of each of its X token refreshes
    refreshes: dict[str, list[tuple[float, float, int]]] = {}
    for j in record.journal:
        if j.get("fake") == "x" and j.get("route") == "oauth2.token" and j.get("account_id"):
            refreshes.setdefault(str(j["account_id"]), []).append(
                (_started(j), number(j.get("t"), _started(j)), int(number(j.get("status"), 0)))
            )
    out: list[Violation] = []
    checked = 0
    for i, j in enumerate(record.journal):
        gen, trace = j.get("token_gen"), _trace(j.get("traceparent"))
        account = j.get("account_id")
        if gen is None or account is None or j.get("fake") not in SOCIAL_FAKES:
            continue
        # a request outside any job (the keyring's identity check) is its caller's own sequence
        key = (trace or "", str(account))
        seen = refused.get(key)
        replaced = j.get("token_replaced_at")
        if seen and int(gen) in seen and replaced is None and j.get("fake") == "x":
            # … or sends it again at once with no refresh at all: on X a 401 is answered by a
            # refresh, never by the same token a second later (a keyring that took its stale
            # copy for a refresh another worker had made)
            at, rid = seen[int(gen)]
            if 0.0 <= _started(j) - at <= 1.0:
                checked += 1
                out.append(
                    Violation(
                        _started(j),
                        ("request", "requests"),
                        f"sent {record.handle(account)}'s token again at once after it was "
                        f"refused at {format_offset(record.offset(at))} ({rid}), without a "
                        "refresh",
                        f"{j.get('request_id')} ({j.get('method')} {j.get('path')})",
                        evidence("journal.jsonl", i),
                    )
                )
        if seen and int(gen) in seen and replaced is not None:
            checked += 1
            at, rid = seen[int(gen)]
            if _started(j) >= at:
                out.append(
                    Violation(
                        _started(j),
                        ("request", "requests"),
                        f"sent {record.handle(account)}'s token again after it was refused at "
                        f"{format_offset(record.offset(at))} ({rid}), although the refresh "
                        f"answered at {format_offset(record.offset(number(replaced)))} had "
                        "replaced it",
                        f"{j.get('request_id')} ({j.get('method')} {j.get('path')})",
                        evidence("journal.jsonl", i),
                    )
                )
        known = refused_on_x.get((str(account), int(gen)))
        if known is not None and j.get("fake") == "x" and known[2] != key[0]:
            # … nor does another job once the refresh the refusal set off had failed: the keyring
            # knows the token is refused and refreshes it before anything is sent with it (a
            # refresh that cannot be had ends the job unsent); only a request already on its
            # way may still carry it
            at, rid, _ = known
            failed = _failed_refresh_after(refreshes.get(str(account), []), at)
            if failed is not None and _started(j) > failed + real_slack(record):
                checked += 1
                out.append(
                    Violation(
                        _started(j),
                        ("request", "requests"),
                        f"sent {record.handle(account)}'s token after X had refused it at "
                        f"{format_offset(record.offset(at))} ({rid}, another job's request) and "
                        f"its refresh had failed at {format_offset(record.offset(failed))}: the "
                        "platform knew it was refused and sent it without refreshing first",
                        f"{j.get('request_id')} ({j.get('method')} {j.get('path')})",
                        evidence("journal.jsonl", i),
                    )
                )
        if j.get("status") == 401:
            answered = number(j.get("t"), _started(j))
            refused.setdefault(key, {}).setdefault(int(gen), (answered, str(j.get("request_id"))))
            if j.get("fake") == "x":
                refused_on_x.setdefault(
                    (str(account), int(gen)), (answered, str(j.get("request_id")), key[0])
                )
    if not refused:
        return NotApplicable("no job's request to a social platform was answered 401")
    return Findings(
        checked,
        out,
        f"no job resent a refused token a refresh had replaced ({checked} resends of a refused "
        "token checked)",
    )


#: seconds after X's 401 within which the refresh it sets off starts
REFRESH_AFTER_401_S = 1.0


def _failed_refresh_after(refreshes: list[tuple[float, float, int]], at: float) -> float | None:
    """When the refresh an X 401 at ``at`` set off was answered with a failure (not 200),
    or None when none started right after it or it succeeded."""
    for started, answered, status in refreshes:
        if at <= started <= at + REFRESH_AFTER_401_S:
            return None if status == 200 else answered
    return None


def _trace(traceparent: object) -> str | None:
    """The trace id of a W3C ``traceparent`` (``00-<trace id>-<span>-<flags>``), or None."""
    parts = str(traceparent).split("-") if traceparent else []
    return parts[1] if len(parts) == 4 else None


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
