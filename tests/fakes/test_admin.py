"""The admin contract under ``/_fake/`` and the shared request pipeline, in-process (no sockets).

A tiny fake defined here (one route on the name ``x``) stands in for the real fakes, so these
tests exercise only the shared machinery.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from fakes.core.admin import create_admin_app
from fakes.core.clock import ManualClock
from fakes.core.faults import FAULT_KINDS
from fakes.core.http import Call, FakeService, json_response
from fakes.core.roster import Roster
from fakes.core.world import World
from fakes.routing import FakeWorldTransport

ADMIN_TOKEN = "adm-0123456789abcdef"


@dataclass
class Rig:
    world: World
    clock: ManualClock
    slept: list[float]
    http: httpx.AsyncClient

    def token(self, account: str = "acme-x") -> str:
        return self.world.roster.account(account).credential.access_token

    async def ping(self, account: str | None = "acme-x") -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token(account)}"} if account else {}
        return await self.http.post("/x/2/ping", headers=headers, json={"text": "hi"})

    def secrets(self) -> list[str]:
        out = []
        for a in self.world.roster.accounts():
            out.append(a.credential.access_token)
            if a.credential.refresh_token:
                out.append(a.credential.refresh_token)
        return out


def build(
    admin_token: str | None = None,
) -> tuple[World, ManualClock, list[float], Starlette, Starlette]:
    clock = ManualClock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    world = World(
        roster=Roster.generate(clients=2, seed=11),
        now=clock,
        seed=11,
        admin_token=admin_token,
        sleep=sleep,
    )
    svc = FakeService(world, "x", request_id_header="x-request-id")

    @svc.route("/2/ping", "ping.create", ["POST"])
    async def ping(call: Call) -> Any:
        if call.account_id is None:
            return json_response({"title": "Unauthorized", "status": 401}, 401)
        world.record(
            "x",
            "post.created",
            account_id=call.account_id,
            credential=call.credential,
            request_id=call.request_id,
            resource_id=call.request_id,
            content="hi",
        )
        return json_response({"data": {"id": call.request_id}}, 201)

    world.faults.routes["x"] = tuple(svc.route_names)
    fake = svc.asgi()
    app = Starlette(
        routes=[Mount("/_fake", app=create_admin_app(world, {"x": svc})), Mount("/x", app=fake)]
    )
    return world, clock, slept, fake, app


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    world, clock, slept, fake, app = build()
    async with httpx.AsyncClient(
        transport=FakeWorldTransport({"x": fake}, app), base_url="http://fakes"
    ) as http:
        yield Rig(world, clock, slept, http)


@pytest.fixture
async def locked() -> AsyncIterator[Rig]:
    world, clock, slept, fake, app = build(admin_token=ADMIN_TOKEN)
    async with httpx.AsyncClient(
        transport=FakeWorldTransport({"x": fake}, app), base_url="http://fakes"
    ) as http:
        yield Rig(world, clock, slept, http)


async def add(rig: Rig, spec: Any) -> httpx.Response:
    return await rig.http.post("/_fake/faults", json=spec)


async def rules(rig: Rig) -> list[dict[str, Any]]:
    r = await rig.http.get("/_fake/faults")
    assert r.status_code == 200
    return list(r.json()["faults"])


# --- faults ---------------------------------------------------------------------------------


async def test_health_names_the_fakes_and_kinds_lists_every_fault_kind(rig: Rig) -> None:
    health = (await rig.http.get("/_fake/health")).json()
    assert (health["status"], health["fakes"], health["now"]) == ("ok", ["x"], rig.clock())
    kinds = (await rig.http.get("/_fake/faults/kinds")).json()["kinds"]
    assert [k["kind"] for k in kinds] == sorted(FAULT_KINDS)
    assert all(k["description"] for k in kinds)


async def test_a_posted_rule_is_installed_and_listed_with_its_counters(rig: Rig) -> None:
    r = await add(
        rig, {"kind": "http.outage", "match": {"fake": "x", "route": "ping.create"}, "first_n": 1}
    )
    assert r.status_code == 201
    rid = r.json()["id"]
    assert r.json()["rule"]["kind"] == "http.outage"
    [rule] = await rules(rig)
    assert (rule["id"], rule["hits"], rule["matched"], rule["first_hit_at"]) == (rid, 0, 0, None)


@pytest.mark.parametrize(
    ("spec", "path", "value", "says", "valid"),
    [
        ("http.outage", "$", "http.outage", "must be a JSON object", "kind"),
        (
            {"kind": "http.outgae"},
            "kind",
            "http.outgae",
            "did you mean 'http.outage'?",
            "http.outage",
        ),
        (
            {"kind": "http.outage", "match": {"fake": "xx"}},
            "match.fake",
            "xx",
            "did you mean 'x'?",
            "x",
        ),
        (
            {"kind": "http.outage", "match": {"route": "ping.creat"}},
            "match.route",
            "ping.creat",
            "did you mean 'ping.create'?",
            "ping.create",
        ),
        (
            {"kind": "http.outage", "params": {"status": 404}},
            "params.status",
            404,
            "(got 404) for http.outage",
            "status",
        ),
        (
            {"kind": "http.outage", "params": {"stauts": 502}},
            "params.stauts",
            502,
            "did you mean 'status'?",
            "status",
        ),
        ({"kind": "http.outage", "matches": {}}, "matches", {}, "did you mean 'match'?", "match"),
    ],
    ids=[
        "not-an-object",
        "unknown-kind",
        "unknown-fake",
        "unknown-route",
        "bad-param",
        "unknown-param",
        "unknown-key",
    ],
)
async def test_a_bad_rule_is_refused_with_422_naming_the_path_value_and_valid_choices(
    rig: Rig, spec: Any, path: str, value: Any, says: str, valid: str
) -> None:
    r = await add(rig, spec)
    assert r.status_code == 422
    err = r.json()["error"]
    assert (err["path"], err["value"]) == (path, value)
    assert err["message"].startswith(f"{path}: ") and says in err["message"]
    assert valid in err["valid"]
    assert await rules(rig) == []


async def test_a_body_that_is_not_json_is_refused_with_422_showing_it(rig: Rig) -> None:
    r = await rig.http.post("/_fake/faults", content=b"kind: http.outage")
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["path"] == "$" and err["value"] == "kind: http.outage"
    assert "body is not JSON" in err["message"]


async def test_a_list_with_one_bad_rule_installs_nothing_and_names_the_index(rig: Rig) -> None:
    r = await add(
        rig,
        [
            {"kind": "http.outage"},
            {"kind": "http.latency", "params": {"ms": -1}},
            {"kind": "http.reset"},
        ],
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["path"] == "[1].params.ms" and err["value"] == -1
    assert err["message"].startswith("[1].params.ms: ")
    assert await rules(rig) == []
    assert (await rig.ping()).status_code == 201


async def test_a_list_repeating_an_id_installs_nothing(rig: Rig) -> None:
    r = await add(
        rig, [{"id": "storm", "kind": "http.outage"}, {"id": "storm", "kind": "http.reset"}]
    )
    assert r.status_code == 422
    assert r.json()["error"]["path"] == "[1].id"
    assert await rules(rig) == []


async def test_a_list_of_good_rules_is_installed_whole(rig: Rig) -> None:
    r = await add(
        rig,
        [
            {"kind": "http.outage", "first_n": 1},
            {"id": "lag", "kind": "http.latency", "params": {"ms": 10}},
        ],
    )
    assert r.status_code == 201
    assert r.json()["ids"][1] == "lag"
    assert [f["kind"] for f in await rules(rig)] == ["http.outage", "http.latency"]


async def test_delete_removes_one_rule_and_an_unknown_id_is_a_404_with_a_suggestion(
    rig: Rig,
) -> None:
    await add(rig, {"id": "storm", "kind": "http.outage"})
    await add(rig, {"id": "lag", "kind": "http.latency"})
    r = await rig.http.delete("/_fake/faults/strom")
    assert r.status_code == 404
    assert "did you mean 'storm'?" in r.json()["error"]["message"]
    assert sorted(r.json()["error"]["valid"]) == ["lag", "storm"]
    assert (await rig.http.delete("/_fake/faults/storm")).json() == {"deleted": "storm"}
    assert [f["id"] for f in await rules(rig)] == ["lag"]


async def test_delete_all_clears_the_rules_and_history_keeps_their_hits(rig: Rig) -> None:
    await add(rig, {"id": "storm", "kind": "http.outage", "params": {"status": 502}})
    await rig.ping()
    await rig.ping()
    assert (await rig.http.delete("/_fake/faults")).json() == {"deleted": 1}
    assert await rules(rig) == []
    history = (await rig.http.get("/_fake/faults")).json()["history"]
    assert [(h["id"], h["hits"]) for h in history] == [("storm", 2)]
    assert (await rig.ping()).status_code == 201


# --- transport faults in the shared pipeline --------------------------------------------------


async def test_http_latency_delays_by_ms_on_the_injected_sleep(rig: Rig) -> None:
    await add(rig, {"kind": "http.latency", "params": {"ms": 250}})
    before = rig.clock()
    r = await rig.ping()
    assert r.status_code == 201
    assert rig.slept == [0.25] and rig.clock() == before + 0.25
    assert [f["hits"] for f in await rules(rig)] == [1]


async def test_http_latency_jitter_is_seeded(rig: Rig) -> None:
    await add(rig, {"kind": "http.latency", "params": {"ms": 100, "jitter_ms": 50}})
    for _ in range(3):
        await rig.ping()
    world, *_ = build()
    expected = [(100 + world.rng.uniform(0, 50)) / 1000 for _ in range(3)]
    assert rig.slept == pytest.approx(expected)


async def test_http_hang_waits_then_answers_504(rig: Rig) -> None:
    await add(rig, {"kind": "http.hang", "params": {"seconds": 30}})
    r = await rig.ping()
    assert r.status_code == 504
    assert rig.slept == [30]
    assert [f["hits"] for f in await rules(rig)] == [1]


async def test_http_reset_drops_the_connection_mid_response(rig: Rig) -> None:
    rid = (await add(rig, {"kind": "http.reset", "first_n": 1})).json()["id"]
    with pytest.raises(httpx.RemoteProtocolError, match="connection dropped"):
        await rig.ping()
    assert (await rig.ping()).status_code == 201
    [rule] = await rules(rig)
    assert (rule["id"], rule["hits"], rule["matched"]) == (rid, 1, 2)


async def test_a_committed_reset_carries_the_request_out_and_drops_its_answer(rig: Rig) -> None:
    # the connection drops after the API behind it acted: the post lands, the caller sees a
    # protocol error; the plain reset drops the connection before the request is carried out
    rid = (await add(rig, {"kind": "http.reset", "params": {"committed": True}})).json()["id"]
    with pytest.raises(httpx.RemoteProtocolError, match="connection dropped"):
        await rig.ping()
    [entry] = rig.world.ledger
    journal = (await rig.http.get("/_fake/journal")).json()["entries"]
    assert [(e["status"], e["fault_id"], e["request_id"]) for e in journal] == [
        (201, rid, entry.request_id)
    ]


async def test_a_committed_latency_carries_the_request_out_before_its_answer_waits(
    rig: Rig,
) -> None:
    # the API commits, then the answer is slow to come back: the post is in the ledger before
    # the wait (a caller that stops waiting, or a platform that dies, cannot tell it landed);
    # the plain latency waits before the request is carried out
    await add(rig, {"kind": "http.latency", "params": {"ms": 1500, "committed": True}})
    seen: list[int] = []
    sleep = rig.world.sleep

    async def watching(seconds: float) -> None:
        seen.append(len(rig.world.ledger))
        await sleep(seconds)

    rig.world.sleep = watching  # type: ignore[method-assign]
    assert (await rig.ping()).status_code == 201
    assert (seen, rig.slept) == ([1], [1.5])
    rid = (await add(rig, {"kind": "http.latency", "params": {"ms": 1500}})).json()["id"]
    rig.world.faults.remove(next(f["id"] for f in await rules(rig) if f["id"] != rid))
    assert (await rig.ping()).status_code == 201
    assert seen == [1, 1]


async def test_the_journal_names_the_rule_that_shaped_the_answer_not_the_latency_before_it(
    rig: Rig,
) -> None:
    slow = (await add(rig, {"kind": "http.latency", "params": {"ms": 100}})).json()["id"]
    cut = (await add(rig, {"kind": "http.outage", "params": {"status": 503}})).json()["id"]
    assert (await rig.ping()).status_code == 503
    rig.world.faults.remove(cut)
    assert (await rig.ping()).status_code == 201
    journal = (await rig.http.get("/_fake/journal")).json()["entries"]
    assert [(e["status"], e["fault_id"]) for e in journal] == [(503, cut), (201, slow)]


async def test_http_malformed_body_answers_200_with_json_that_does_not_parse(rig: Rig) -> None:
    await add(rig, {"kind": "http.malformed_body"})
    r = await rig.ping()
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        r.json()
    assert [f["hits"] for f in await rules(rig)] == [1]


async def test_http_outage_answers_the_5xx_and_books_nothing(rig: Rig) -> None:
    rid = (
        await add(rig, {"kind": "http.outage", "params": {"status": 502}, "every_nth": 2})
    ).json()["id"]
    statuses = [(await rig.ping()).status_code for _ in range(4)]
    assert statuses == [201, 502, 201, 502]
    [rule] = await rules(rig)
    assert (rule["hits"], rule["matched"]) == (2, 4)
    journal = (await rig.http.get("/_fake/journal")).json()["entries"]
    assert [(e["status"], e["fault_id"]) for e in journal] == [
        (201, None),
        (502, rid),
        (201, None),
        (502, rid),
    ]
    assert len(rig.world.ledger) == 2


async def test_a_committed_outage_carries_the_request_out_and_answers_the_5xx(rig: Rig) -> None:
    # a gateway's 502 after the API behind it committed: the post lands, the caller sees 502
    rid = (
        await add(rig, {"kind": "http.outage", "params": {"status": 502, "committed": True}})
    ).json()["id"]
    r = await rig.ping()
    assert r.status_code == 502 and r.json()["error"]["status"] == 502
    [entry] = rig.world.ledger
    journal = (await rig.http.get("/_fake/journal")).json()["entries"]
    assert [(e["status"], e["fault_id"], e["request_id"]) for e in journal] == [
        (502, rid, entry.request_id)
    ]


async def test_an_outage_that_names_its_length_says_retry_after_on_every_5xx(rig: Rig) -> None:
    # a maintenance window: the 503 says how long it lasts — plain and committed alike
    await add(rig, {"kind": "http.outage", "params": {"retry_after_s": 300}, "first_n": 1})
    await add(
        rig,
        {"kind": "http.outage", "params": {"status": 502, "committed": True, "retry_after_s": 90}},
    )
    first, second = await rig.ping(), await rig.ping()
    assert (first.status_code, first.headers.get("retry-after")) == (503, "300")
    assert (second.status_code, second.headers.get("retry-after")) == (502, "90")
    assert (await rig.http.delete("/_fake/faults")).json() == {"deleted": 2}
    await add(rig, {"kind": "http.outage"})
    assert "retry-after" not in (await rig.ping()).headers


async def test_a_committed_malformed_body_carries_the_request_out_and_cuts_its_answer(
    rig: Rig,
) -> None:
    # the end of the answer is lost on the way back: the post lands, status and headers say so,
    # the body does not parse; the plain fault answers before the request is carried out
    rid = (await add(rig, {"kind": "http.malformed_body", "params": {"committed": True}})).json()[
        "id"
    ]
    r = await rig.ping()
    assert r.status_code == 201
    [entry] = rig.world.ledger
    whole = b'{"data":{"id":"' + entry.request_id.encode() + b'"}}'
    assert r.content == whole[: len(whole) // 2]
    assert r.headers["content-length"] == str(len(whole) // 2)
    with pytest.raises(json.JSONDecodeError):
        r.json()
    journal = (await rig.http.get("/_fake/journal")).json()["entries"]
    assert [(e["status"], e["fault_id"], e["request_id"]) for e in journal] == [
        (201, rid, entry.request_id)
    ]
    rig.world.faults.clear()
    await add(rig, {"kind": "http.malformed_body"})
    assert (await rig.ping()).status_code == 200
    assert len(rig.world.ledger) == 1


async def test_a_rule_for_one_account_spares_the_others(rig: Rig) -> None:
    await add(rig, {"kind": "http.outage", "match": {"account": "northwind-x"}})
    assert (await rig.ping("acme-x")).status_code == 201
    assert (await rig.ping("northwind-x")).status_code == 503


# --- ledger and journal -----------------------------------------------------------------------


async def test_the_ledger_filters_by_fake_action_account_and_since(rig: Rig) -> None:
    for account in ("acme-x", "northwind-x", "acme-x"):
        await rig.ping(account)
    body = (await rig.http.get("/_fake/ledger", params={"account": "acme-x"})).json()
    assert [e["seq"] for e in body["entries"]] == [1, 3]
    assert (body["count"], body["total"]) == (2, 3)
    since = (
        await rig.http.get(
            "/_fake/ledger", params={"since": 1, "fake": "x", "action": "post.created"}
        )
    ).json()
    assert [e["account_id"] for e in since["entries"]] == ["northwind-x", "acme-x"]
    assert (await rig.http.get("/_fake/ledger", params={"action": "tool.called"})).json()[
        "entries"
    ] == []
    first = since["entries"][0]
    assert first["tenant_id"] == "northwind" and first["credential_fp"].startswith("fp_")


async def test_the_ledger_refuses_an_unknown_fake_and_a_bad_since(rig: Rig) -> None:
    r = await rig.http.get("/_fake/ledger", params={"fake": "xx"})
    assert r.status_code == 422 and "did you mean 'x'?" in r.json()["error"]["message"]
    r = await rig.http.get("/_fake/ledger", params={"since": "-1"})
    assert r.status_code == 422
    assert (r.json()["error"]["path"], r.json()["error"]["value"]) == ("since", "-1")


async def test_the_journal_records_every_request_and_filters_by_fake_and_since(rig: Rig) -> None:
    await rig.ping()
    await rig.ping(None)
    await rig.http.post(
        "/x/2/ping", headers={"x-stainless-retry-count": "2", "idempotency-key": "k1"}
    )
    body = (await rig.http.get("/_fake/journal", params={"fake": "x"})).json()
    assert [(e["route"], e["status"], e["account_id"]) for e in body["entries"]] == [
        ("ping.create", 201, "acme-x"),
        ("ping.create", 401, None),
        ("ping.create", 401, None),
    ]
    last = body["entries"][-1]
    assert (last["retry_count"], last["idempotency_key"]) == (2, "k1")
    assert [
        e["seq"]
        for e in (await rig.http.get("/_fake/journal", params={"since": 2})).json()["entries"]
    ] == [3]
    assert (await rig.http.get("/_fake/journal", params={"fake": "toolgate"})).json()[
        "entries"
    ] == []


# --- roster and secrets ---------------------------------------------------------------------


async def every_admin_body(rig: Rig, headers: dict[str, str] | None = None) -> list[str]:
    paths = [
        "/health",
        "/faults/kinds",
        "/faults",
        "/ledger",
        "/journal",
        "/roster",
        "/roster?secrets=0",
    ]
    return [(await rig.http.get(f"/_fake{p}", headers=headers)).text for p in paths]


async def test_no_admin_response_contains_a_secret(rig: Rig) -> None:
    await add(rig, {"kind": "http.latency", "params": {"ms": 1}})
    for account in ("acme-x", "northwind-x"):
        await rig.ping(account)
    bodies = await every_admin_body(rig)
    leaked = [s for s in rig.secrets() for b in bodies if s in b]
    assert leaked == []
    roster = json.loads(bodies[-2])
    cred = roster["clients"][0]["accounts"][0]["credential"]
    assert cred["access_token"].startswith("fp_") and cred["refresh_token"].startswith("fp_")


async def test_secrets_are_shown_only_to_an_authorised_caller_who_asks(locked: Rig) -> None:
    auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    r = await locked.http.get("/_fake/roster", params={"secrets": "1"})
    assert r.status_code == 401
    assert not any(s in r.text for s in locked.secrets())
    bodies = await every_admin_body(locked, auth)
    assert not any(s in b for s in locked.secrets() for b in bodies)
    r = await locked.http.get("/_fake/roster", params={"secrets": "1"}, headers=auth)
    assert r.status_code == 200 and locked.token("acme-x") in r.text


async def test_the_secrets_view_states_when_each_access_token_expires(rig: Rig) -> None:
    # a credential store keeps the token endpoint's expires_in: the platform refreshes ahead
    t0 = rig.clock()
    rig.clock.advance(600)
    r = await rig.http.get("/_fake/roster", params={"secrets": "1"})
    creds = {a["id"]: a["credential"] for c in r.json()["clients"] for a in c["accounts"]}
    x = rig.world.roster.account("acme-x").credential
    assert creds["acme-x"]["expires_at"] == t0 + x.ttl_s == t0 + 7200
    assert all("expires_at" in c for c in creds.values())
    redacted = (await rig.http.get("/_fake/roster")).json()
    assert all(
        "expires_at" not in a["credential"] for c in redacted["clients"] for a in c["accounts"]
    )


async def test_the_admin_token_is_required_on_every_route_when_set(locked: Rig) -> None:
    for method, path in [
        ("GET", "/health"),
        ("GET", "/faults"),
        ("POST", "/faults"),
        ("DELETE", "/faults"),
        ("GET", "/ledger"),
        ("POST", "/reset"),
        ("PUT", "/roster"),
        ("POST", "/inbound"),
    ]:
        for headers in ({}, {"authorization": "Bearer wrong"}):
            r = await locked.http.request(method, f"/_fake{path}", headers=headers)
            assert r.status_code == 401, (method, path, headers)
    r = await locked.http.get("/_fake/health", headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == 200
    assert (await locked.ping()).status_code == 201  # the fakes themselves do not need it


async def test_put_roster_replaces_the_world_and_reissues_tokens(rig: Rig) -> None:
    old = rig.token("acme-x")
    new_roster = Roster.generate(clients=1, seed=99)
    r = await rig.http.put("/_fake/roster", json=new_roster.model_dump(mode="json"))
    assert r.status_code == 200
    assert not any(a.credential.access_token in r.text for a in new_roster.accounts())
    assert [c["id"] for c in r.json()["clients"]] == ["acme", "agency"]
    assert (
        await rig.http.post("/x/2/ping", headers={"authorization": f"Bearer {old}"})
    ).status_code == 401
    assert (await rig.ping("acme-x")).status_code == 201


async def test_put_roster_refuses_a_bad_roster_and_keeps_the_old_one(rig: Rig) -> None:
    bad = {
        "clients": [
            {"id": "acme", "name": "Acme", "accounts": [{"id": "acme-x", "platform": "myspace"}]}
        ]
    }
    r = await rig.http.put("/_fake/roster", json=bad)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["path"].startswith("clients.0.accounts.0.") and err["message"].startswith(
        err["path"]
    )
    assert (await rig.ping("acme-x")).status_code == 201


# --- inbound and reset ----------------------------------------------------------------------


async def test_post_inbound_schedules_comments_and_dms(rig: Rig) -> None:
    r = await rig.http.post(
        "/_fake/inbound",
        json=[
            {
                "fake": "x",
                "kind": "comment",
                "account": "acme-x",
                "text": "price?",
                "post_id": "p1",
            },
            {
                "fake": "x",
                "kind": "dm",
                "account": "acme-x",
                "text": "hello",
                "author": "@bob",
                "at": rig.clock() + 60,
            },
        ],
    )
    assert r.status_code == 201 and len(r.json()["ids"]) == 2
    assert [i.kind for i in rig.world.inbound.visible("x")] == ["comment"]
    rig.clock.advance(60)
    assert [i.author for i in rig.world.inbound.visible("x", kind="dm")] == ["@bob"]


@pytest.mark.parametrize(
    ("item", "path", "says"),
    [
        ("price?", "[1]", "must be an object"),
        (
            {"fake": "x", "account": "acme-x", "text": "hi", "txt": "hi"},
            "[1].txt",
            "did you mean 'text'?",
        ),
        (
            {"fake": "toolgate", "account": "acme-x", "text": "hi"},
            "[1].fake",
            "inbound traffic goes to a social fake",
        ),
        (
            {"fake": "x", "kind": "like", "account": "acme-x", "text": "hi"},
            "[1].kind",
            "not an inbound kind",
        ),
        (
            {"fake": "x", "account": "acme-xx", "text": "hi"},
            "[1].account",
            "did you mean 'acme-x'?",
        ),
        ({"fake": "x", "account": "acme-x", "text": ""}, "[1].text", "non-empty string"),
    ],
    ids=["not-an-object", "unknown-key", "not-social", "bad-kind", "unknown-account", "empty-text"],
)
async def test_post_inbound_refuses_a_bad_item_and_schedules_nothing(
    rig: Rig, item: Any, path: str, says: str
) -> None:
    good = {"fake": "x", "account": "acme-x", "text": "hi"}
    r = await rig.http.post("/_fake/inbound", json=[good, item])
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["path"] == path and says in err["message"]
    assert rig.world.inbound.items == []


async def test_reset_forgets_ledger_journal_faults_and_inbound_but_keeps_the_roster(
    rig: Rig,
) -> None:
    await add(rig, {"kind": "http.latency", "params": {"ms": 1}})
    await rig.ping()
    await rig.http.post("/_fake/inbound", json={"fake": "x", "account": "acme-x", "text": "hi"})
    first_id = rig.world.ledger.entries()[0].request_id
    assert (await rig.http.post("/_fake/reset")).json() == {"reset": True}
    assert len(rig.world.ledger) == 0 and rig.world.inbound.items == [] and await rules(rig) == []
    assert (await rig.http.get("/_fake/faults")).json()["history"] == []
    assert len(rig.world.journal) == 0  # admin requests are not journaled
    r = await rig.ping()
    assert r.status_code == 201 and r.json()["data"]["id"] == first_id
