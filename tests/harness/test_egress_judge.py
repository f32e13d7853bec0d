"""Server-side request forgery, judged: the honeypot, ``media.content_url_elsewhere`` and
``nothing_reaches_a_host_it_was_not_given`` — shown to hold on the healthy platform and to fail
when the egress guard slips (a realistic one-line bug, not a defect of ``sandbox/defects.py``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from _recordkit import T0, record

from fakes import FakeWorld
from fakes.core import ManualClock, World
from fakes.core.roster import Roster
from harness.drill.run import DrillOptions, run_drill
from harness.judge.invariants import evaluate
from harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def _journal_row(n: int, fake: str, path: str) -> dict[str, object]:
    return {
        "seq": n,
        "t": T0 + n,
        "fake": fake,
        "method": "GET",
        "path": path,
        "route": "metadata" if fake == "honeypot" else "tweets.create",
        "status": 200,
        "request_id": f"req-{n}",
    }


def test_a_request_that_reached_the_honeypot_is_a_violation_naming_it() -> None:
    rec = record(
        journal=[
            _journal_row(1, "x", "/2/tweets"),
            _journal_row(2, "honeypot", "/latest/meta-data/iam/security-credentials/"),
        ]
    )
    r = evaluate("nothing_reaches_a_host_it_was_not_given", rec)
    assert r.verdict == "violated"
    assert "/latest/meta-data/iam/security-credentials/" in r.detail
    assert r.first_violation is not None and "journal.jsonl#L2" in str(r.first_violation)


def test_requests_only_to_the_fakes_hold_and_no_request_is_not_applicable() -> None:
    held = evaluate(
        "nothing_reaches_a_host_it_was_not_given",
        record(journal=[_journal_row(1, "x", "/2/tweets")]),
    )
    assert held.verdict == "held"
    assert evaluate("nothing_reaches_a_host_it_was_not_given", record()).verdict == "not_applicable"


def test_a_request_outside_the_base_path_the_platform_was_given_is_a_violation() -> None:
    given = {
        "openai": ("https://api.openai.com/v1",),
        "x": ("https://api.x.com", "http://127.0.0.1:8000/x"),
    }
    rec = record(
        journal=[
            _journal_row(1, "openai", "/v1/chat/completions"),
            _journal_row(2, "openai", "/v2/organization/admin_api_keys"),
            _journal_row(3, "openai", "/v1"),
            _journal_row(4, "x", "/2/tweets"),
            _journal_row(5, "openai", "/v1x/models"),
        ],
        given_urls=given,
    )
    r = evaluate("nothing_reaches_a_host_it_was_not_given", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "2 requests reached openai outside the base URL the platform was given (…/v1): ids "
        "GET /v2/organization/admin_api_keys (req-2), GET /v1x/models (req-5)"
    )
    # without the base URLs (a platform served elsewhere) only the honeypot is judged
    rec2 = record(journal=rec.journal)
    assert evaluate("nothing_reaches_a_host_it_was_not_given", rec2).verdict == "held"


def test_a_request_that_reached_the_admin_api_or_a_dot_segment_inside_the_base_path_is_a_violation() -> (
    None
):
    # a content URL spelled /v1/%2E%2E/%5Ffake/roster: under the base path as written, the
    # fakes' admin API once decoded (the journal keeps the decoded path)
    rec = record(
        journal=[
            _journal_row(1, "media", "/v1/../_fake/roster"),
            _journal_row(2, "media", "/v1/renders/r1"),
            _journal_row(3, "media", "/_fake/reset"),
        ],
        given_urls={"media": ("https://api.media.vibedrill.test/v1",)},
    )
    r = evaluate("nothing_reaches_a_host_it_was_not_given", rec)
    assert r.verdict == "violated"
    assert r.detail == (
        "2 requests reached media by a path the egress guard must refuse (the fakes' admin API "
        "or a dot segment): ids GET /v1/../_fake/roster (req-1), GET /_fake/reset (req-3)"
    )


async def test_the_metadata_address_and_other_ports_of_known_hosts_are_the_honeypot() -> None:
    w = World(roster=Roster.generate(clients=1, seed=0), now=ManualClock(), seed=0)
    async with FakeWorld(w).client() as c:
        a = await c.get("http://169.254.169.254/latest/meta-data/")
        b = await c.get("https://api.media.vibedrill.test:8443/admin")
        normal = await c.get("https://api.x.com/2/users/me")  # the X fake: 401 without a token
    assert a.status_code == b.status_code == 200
    assert normal.status_code == 401
    assert [(j.fake, j.path) for j in w.journal.entries()] == [
        ("honeypot", "/latest/meta-data/"),
        ("honeypot", "/admin"),
        ("x", "/2/users/me"),
    ]


def _drill(tmp_path: Path) -> dict[str, object]:
    s = load_scenario(ROOT / "scenarios" / "rb09_render_url_elsewhere.yaml")
    r = run_drill(s, DrillOptions(reports_dir=tmp_path, write=False))
    return r.verdict_json


@pytest.mark.slow
def test_the_healthy_platform_refuses_every_url_it_was_not_given(tmp_path: Path) -> None:
    v = _drill(tmp_path)
    assert v["verdict"] == "held", v
    inv = {i["name"]: i["verdict"] for i in v["invariants"]}  # type: ignore[union-attr]
    assert inv["nothing_reaches_a_host_it_was_not_given"] == "held"
    assert inv["every_side_effect_audited"] == "held"  # renders made and billed are still claimed


@pytest.mark.slow
@pytest.mark.parametrize(
    "slip",
    ["host_only", "guard_bypassed", "paths_unchecked"],
)
def test_an_egress_guard_slip_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slip: str
) -> None:
    import sandbox.egress as egress

    real = egress._refusal
    if slip == "host_only":  # ports dropped "to simplify" (realistic bug 25)

        def refusal(
            url: httpx.URL, allowed: dict[tuple[str, str, int], tuple[str, ...]]
        ) -> str | None:
            same_host = {
                (s, h, o[2]): p
                for (s, h, _), p in allowed.items()
                for o in [egress.origin_of(url)]
                if h == o[1]
            }
            return real(url, {**allowed, **same_host})

    elif slip == "paths_unchecked":  # the origin is allowed, so every path of it is

        def refusal(
            url: httpx.URL, allowed: dict[tuple[str, str, int], tuple[str, ...]]
        ) -> str | None:
            return real(url, {o: ("",) for o in allowed})

    else:  # a URL taken from a response skips the guard ("it came from our own provider")

        def refusal(
            url: httpx.URL, allowed: dict[tuple[str, str, int], tuple[str, ...]]
        ) -> str | None:
            return None if "meta-data" in str(url) else real(url, allowed)

    monkeypatch.setattr(egress, "_refusal", refusal)
    v = _drill(tmp_path)
    assert v["verdict"] == "violated"
    bad = [i["name"] for i in v["invariants"] if i["verdict"] == "violated"]  # type: ignore[union-attr]
    assert "nothing_reaches_a_host_it_was_not_given" in bad
