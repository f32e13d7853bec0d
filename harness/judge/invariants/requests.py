"""Request invariants: the platform sends only requests the APIs accept as well formed."""

from __future__ import annotations

from pydantic import Field

from ...durations import format_duration
from ..record import PROVIDER_FAKES, SOCIAL_FAKES, DrillRecord
from ..rows import JournalRow, number
from ._base import Findings, NotApplicable, Params, Violation, invariant
from ._facts import evidence

__all__ = ["BUSINESS_REFUSALS", "requests_well_formed", "requests_within_quota"]

#: statuses an API answers a request it will not carry out as sent (401 and 429 are judged by
#: the token and rate invariants; 409 and 5xx say nothing about the request's form)
_CLIENT_ERRORS = frozenset({400, 403, 404, 405, 411, 413, 414, 415, 422, 426, 431})

#: Graph's throttling codes: whatever the status, a throttle (judged by the rate invariants)
_GRAPH_THROTTLES = frozenset({"4", "17", "32", "613", "80002"})

#: the refusals of a well-formed request, by fake: ``(status, code)`` → the routes where the API
#: answers it to a careful client (``*`` any route; a code of None: an answer without one).
#: Everything else in ``_CLIENT_ERRORS`` says the request itself was wrong.
BUSINESS_REFUSALS: dict[str, dict[tuple[int, str | None], frozenset[str]]] = {
    "x": {
        # the same text posted twice, the automation filter, a reply to a deleted post
        (403, "duplicate"): frozenset({"*"}),
        (403, "spam"): frozenset({"*"}),
        (403, "reply-not-visible"): frozenset({"*"}),
        # a refresh token that was revoked or already redeemed (X says "invalid_request")
        (400, "invalid_request:token"): frozenset({"oauth2.token"}),
        (400, "invalid_grant"): frozenset({"oauth2.token"}),
    },
    "instagram": {
        # the 24-hour publishing cap, a container not finished yet, a duplicate caption
        (400, "9/2207042"): frozenset({"media.publish"}),
        (400, "9007/2207027"): frozenset({"media.publish"}),
        (400, "506"): frozenset({"media.publish"}),
        # a media node that does not exist (yet, or any more): only a read may meet one
        (400, "100/33"): frozenset({"node.get", "comments.list", "media.list"}),
        # an action blocked by Instagram's integrity checks
        (400, "4/2207051"): frozenset({"*"}),
        (400, "368"): frozenset({"*"}),
    },
    "linkedin": {
        # a post not visible yet (or deleted): reads of it and of its comments
        (404, "NOT_FOUND"): frozenset({"posts.get", "comments.list"}),
        (422, "DUPLICATE_POST"): frozenset({"posts.create"}),
    },
}


#: refusals of every social platform's web UI (the browser lane's pages): a post's page that
#: is not there (not visible yet, or deleted) is what a person would see too
_WEB_REFUSALS: dict[tuple[int, str | None], frozenset[str]] = {
    (404, None): frozenset({"web.post"}),
}


def _business(j: JournalRow, status: int, code: str | None) -> bool:
    fake = str(j.get("fake"))
    web = _WEB_REFUSALS.get((status, code)) if fake in SOCIAL_FAKES else None
    if web is not None and str(j.get("route")) in web:
        return True
    if fake == "instagram":
        if code is not None and (code.split("/", 1)[0] in _GRAPH_THROTTLES):
            return True
        if code is not None and code.startswith(("190", "104/")):
            return True  # a token problem (judged by the token invariants)
    routes = BUSINESS_REFUSALS.get(fake, {}).get((status, code))
    return routes is not None and ("*" in routes or str(j.get("route")) in routes)


@invariant()
def requests_well_formed(record: DrillRecord, p: Params) -> Findings | NotApplicable:
    """The APIs refuse none of the platform's requests as malformed, misaddressed or not allowed.

    Read from the fakes' journal, which keeps each error answer's code as the API spelled it
    (never its message). A 400, 403, 404, 405, 413, 415 or 422 that no fault caused and that is
    not one of the refusals a careful client meets with a well-formed request (a duplicate post,
    the daily publishing cap, a container not finished, a post not visible yet, a revoked refresh
    token: ``BUSINESS_REFUSALS``) says the platform built the request wrong — a parameter
    spelled or formatted as the API does not take it (a bare member id where LinkedIn wants the
    member's URN), a path the API does not have, another account's object, a body that does not
    parse. 401 and 429 are left to the token and rate invariants. A request on which a fault of
    another kind than latency acted is left out (the fault answered it).
    """
    fakes = frozenset((*SOCIAL_FAKES, *PROVIDER_FAKES))
    out: list[Violation] = []
    checked = 0
    for i, j in enumerate(record.journal):
        if j.get("fake") not in fakes:
            continue
        checked += 1
        status = j.get("status")
        if not isinstance(status, int) or status not in _CLIENT_ERRORS:
            continue
        kind = j.get("fault_kind")
        if kind is not None and kind != "http.latency":
            continue
        code = j.get("error")
        if _business(j, status, code):
            continue
        said = f"{status} {code}" if code else str(status)
        out.append(
            Violation(
                float(j.get("t") or 0.0),
                ("request", "requests"),
                f"the API refused as not well formed ({j.get('fake')} {j.get('route')} "
                f"answered {said})",
                f"{j.get('method', 'GET')} {j.get('path')} ({j.get('request_id')})",
                evidence("journal.jsonl", i),
            )
        )
    if not checked:
        return NotApplicable("no request reached the APIs' fakes")
    return Findings(
        checked,
        out,
        f"the APIs refused none of {checked} requests as not well formed",
    )


class QuotaParams(Params):
    """Parameters of ``requests_within_quota``."""

    per_hour: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "'<fake> <route>' (e.g. 'linkedin comments.list') → the requests an account may "
            "make an hour (an API's quota, as the drill's length allows it)"
        ),
    )


@invariant(QuotaParams)
def requests_within_quota(record: DrillRecord, p: QuotaParams) -> Findings | NotApplicable:
    """The platform's own traffic stays within the API quotas the scenario states: no account
    makes more requests of a route than ``per_hour`` allows over the drill's length.

    An API's daily limits (LinkedIn's per member and app, reset at midnight UTC with a bare
    429) are spent by every request, a read as much as a post: a page loop, a read repeated for
    every remembered post at every poll, a cursor that never advances burn them on the
    platform's own reads until the account is held and its posts and replies stop (RB-05).
    """
    if not p.per_hour:
        return NotApplicable("the scenario states no API quota")
    hours = max(record.end_t - record.start_t, 1.0) / 3600.0
    counts: dict[tuple[str, str], int] = {}
    last: dict[tuple[str, str], int] = {}
    for i, j in enumerate(record.journal):
        key = f"{j.get('fake')} {j.get('route')}"
        if key in p.per_hour:
            k = (key, str(j.get("account_id")))
            counts[k] = counts.get(k, 0) + 1
            last[k] = i
    out: list[Violation] = []
    for (key, account), n in sorted(counts.items()):
        allowed = p.per_hour[key] * hours
        if n > allowed:
            i = last[(key, account)]
            out.append(
                Violation(
                    number(record.journal[i].get("t")),
                    ("account", "accounts"),
                    f"made {n} {key} requests in {format_duration(record.end_t - record.start_t)}, "
                    f"where the quota allows {allowed:.0f} ({p.per_hour[key]:g} an hour)",
                    record.handle(account),
                    evidence("journal.jsonl", i),
                )
            )
    return Findings(
        sum(counts.values()),
        out,
        f"every account's {', '.join(sorted(p.per_hour))} requests stayed within the quota",
    )
