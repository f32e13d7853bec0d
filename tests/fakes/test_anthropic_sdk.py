"""Contract tests of the Anthropic fake with the official ``anthropic`` SDK, unmodified, over loopback.

The SDK sends through httpx2, so these run against the session's served fakes. Models are ids
the installed SDK does not flag as deprecated (it warns, and warnings are errors here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import pytest
from _sdk_errors import connection_error
from anthropic import Anthropic

from fakes.anthropic import MODELS

served = pytest.mark.served

MODEL = "claude-sonnet-4-6"
HELLO: Any = [{"role": "user", "content": "Write a caption for our weekend bake sale."}]
KB_TOOL: Any = {
    "name": "kb_search",
    "description": "Search the brand knowledge base",
    "input_schema": {
        "type": "object",
        "properties": {"query": {"type": "string"}},
        "required": ["query"],
    },
}


@pytest.fixture
def client(served_fakes: dict[str, Any], served_key: Callable[[str], str]) -> Iterator[Anthropic]:
    with Anthropic(
        base_url=served_fakes["fakes"]["anthropic"],
        api_key=served_key("agency-anthropic"),
        max_retries=2,
    ) as c:
        yield c


def install(admin: httpx.Client, kind: str, **params: Any) -> str:
    r = admin.post("/faults", json={"kind": kind, "params": params, "match": {"fake": "anthropic"}})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def hits(admin: httpx.Client, rule_id: str) -> int:
    return int({f["id"]: f for f in admin.get("/faults").json()["faults"]}[rule_id]["hits"])


def journal(admin: httpx.Client) -> list[dict[str, Any]]:
    return list(admin.get("/journal", params={"fake": "anthropic"}).json()["entries"])


def ledger(admin: httpx.Client) -> list[dict[str, Any]]:
    return list(
        admin.get("/ledger", params={"fake": "anthropic", "action": "llm.completion"}).json()[
            "entries"
        ]
    )


@served
def test_a_message_is_deterministic_and_booked_with_its_cost(
    client: Anthropic, fake_admin: httpx.Client
) -> None:
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=200, messages=HELLO)
    msg = raw.parse()
    again = client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)
    assert msg.content[0].type == "text" and msg.content[0].text == again.content[0].text  # type: ignore[union-attr]
    assert msg.stop_reason == "end_turn" and msg.id.startswith("msg_01")
    assert raw.headers["request-id"] == msg._request_id
    assert raw.headers["anthropic-ratelimit-requests-limit"] == "4000"
    assert raw.headers["anthropic-ratelimit-requests-remaining"] == "3999"
    first, _ = ledger(fake_admin)
    assert (first["request_id"], first["resource_id"], first["detail"]) == (
        msg._request_id,
        msg.id,
        MODEL,
    )
    assert (first["tokens_in"], first["tokens_out"]) == (
        msg.usage.input_tokens,
        msg.usage.output_tokens,
    )
    assert first["cost_usd"] == MODELS[MODEL][1].cost(
        msg.usage.input_tokens, msg.usage.output_tokens
    )


@served
def test_max_tokens_cuts_the_answer_with_stop_reason_max_tokens(
    client: Anthropic, fake_admin: httpx.Client
) -> None:
    msg = client.messages.create(model=MODEL, max_tokens=3, messages=HELLO)
    assert msg.stop_reason == "max_tokens" and msg.usage.output_tokens <= 3


@served
def test_a_stream_follows_the_real_event_sequence_and_adds_up_to_the_message(
    client: Anthropic, fake_admin: httpx.Client
) -> None:
    whole = client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)
    events = list(client.messages.create(model=MODEL, max_tokens=200, messages=HELLO, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    with client.messages.stream(model=MODEL, max_tokens=200, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == whole.content[0].text  # type: ignore[union-attr]
    assert (
        final.usage.output_tokens == whole.usage.output_tokens and final.stop_reason == "end_turn"
    )
    assert len(ledger(fake_admin)) == 3


@served
def test_tools_are_used_when_named_and_a_tool_result_gets_a_text_answer(
    client: Anthropic, fake_admin: httpx.Client
) -> None:
    ask: Any = [{"role": "user", "content": "Use kb_search to find our opening hours."}]
    used = client.messages.create(model=MODEL, max_tokens=200, messages=ask, tools=[KB_TOOL])
    block = used.content[0]
    assert used.stop_reason == "tool_use" and block.type == "tool_use" and block.name == "kb_search"
    assert isinstance(block.input, dict) and isinstance(block.input["query"], str)
    follow: Any = [
        *ask,
        {"role": "assistant", "content": [block.model_dump()]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "9 to 5"}],
        },
    ]
    answer = client.messages.create(model=MODEL, max_tokens=200, messages=follow, tools=[KB_TOOL])
    assert answer.stop_reason == "end_turn" and answer.content[0].type == "text"


@served
def test_models_are_listed(client: Anthropic, fake_admin: httpx.Client) -> None:
    ids = [m.id for m in client.models.list()]
    assert MODEL in ids and "claude-haiku-4-5" in ids


@served
def test_a_wrong_key_is_an_authentication_error_with_the_real_body(
    served_fakes: dict[str, Any], fake_admin: httpx.Client
) -> None:
    with (
        Anthropic(
            base_url=served_fakes["fakes"]["anthropic"], api_key="sk-ant-nope", max_retries=0
        ) as bad,
        pytest.raises(anthropic.AuthenticationError) as err,
    ):
        bad.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    assert err.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
        "request_id": err.value.request_id,
    }


@served
def test_a_request_without_anthropic_version_is_refused(
    served_fakes: dict[str, Any], served_key: Callable[[str], str], fake_admin: httpx.Client
) -> None:
    r = httpx.post(
        f"{served_fakes['fakes']['anthropic']}/v1/messages",
        headers={"x-api-key": served_key("agency-anthropic")},
        json={"model": MODEL, "max_tokens": 5, "messages": HELLO},
    )
    assert r.status_code == 400
    assert r.json()["error"] == {
        "type": "invalid_request_error",
        "message": "anthropic-version: header is required",
    }
    assert r.headers["request-id"] == r.json()["request_id"]


# --- faults --------------------------------------------------------------------------------


@served
def test_rate_limited_is_retried_by_the_sdk_then_raises_rate_limit_error(
    client: Anthropic, fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "anthropic.rate_limited", retry_after_s=0.05)
    with pytest.raises(anthropic.RateLimitError) as err:
        client.messages.create(model=MODEL, max_tokens=50, messages=HELLO)
    assert err.value.response.headers["retry-after"] == "0.05"
    assert err.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert [(e["retry_count"], e["status"]) for e in journal(fake_admin)] == [
        (0, 429),
        (1, 429),
        (2, 429),
    ]
    assert hits(fake_admin, rid) == 3


@served
def test_a_prompt_over_the_window_is_a_400_the_sdk_does_not_retry(
    client: Anthropic, fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "anthropic.context_too_long", window=200_000)
    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(model=MODEL, max_tokens=50, messages=HELLO)
    assert err.value.status_code == 400
    body = err.value.body["error"]  # type: ignore[index]
    assert body["type"] == "invalid_request_error"
    assert (
        body["message"].startswith("prompt is too long: ") and "> 200000 maximum" in body["message"]
    )
    assert [e["retry_count"] for e in journal(fake_admin)] == [0]
    assert hits(fake_admin, rid) == 1 and ledger(fake_admin) == []


@served
def test_overloaded_is_a_529_the_sdk_raises_as_overloaded_error(
    served_fakes: dict[str, Any], served_key: Callable[[str], str], fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "anthropic.overloaded")
    with (
        Anthropic(
            base_url=served_fakes["fakes"]["anthropic"],
            api_key=served_key("agency-anthropic"),
            max_retries=0,
        ) as c,
        pytest.raises(anthropic.OverloadedError) as err,
    ):
        c.messages.create(model=MODEL, max_tokens=50, messages=HELLO)
    assert isinstance(err.value, anthropic.InternalServerError) and err.value.status_code == 529
    assert err.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}  # type: ignore[index]
    assert hits(fake_admin, rid) == 1


@served
def test_a_revoked_key_is_a_401_authentication_error(
    served_fakes: dict[str, Any], served_key: Callable[[str], str], fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "anthropic.key_revoked")
    with (
        Anthropic(
            base_url=served_fakes["fakes"]["anthropic"],
            api_key=served_key("agency-anthropic"),
            max_retries=0,
        ) as c,
        pytest.raises(anthropic.AuthenticationError) as err,
    ):
        c.messages.create(model=MODEL, max_tokens=50, messages=HELLO)
    assert err.value.status_code == 401
    assert err.value.body["error"] == {  # type: ignore[index]
        "type": "authentication_error",
        "message": "invalid x-api-key",
    }
    assert hits(fake_admin, rid) == 1


@served
def test_an_outage_is_anthropic_5xx_body_and_the_sdk_raises_internal_server_error(
    served_fakes: dict[str, Any], served_key: Callable[[str], str], fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "http.outage", status=500)
    with (
        Anthropic(
            base_url=served_fakes["fakes"]["anthropic"],
            api_key=served_key("agency-anthropic"),
            max_retries=0,
        ) as c,
        pytest.raises(anthropic.InternalServerError) as err,
    ):
        c.messages.create(model=MODEL, max_tokens=50, messages=HELLO)
    assert err.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert hits(fake_admin, rid) == 1


@served
def test_a_stream_cut_by_an_error_event_raises_mid_stream(
    client: Anthropic, fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "anthropic.stream_cut", after_chunks=5, mode="error_event")
    got: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError, match="overloaded_error"),
        client.messages.stream(model=MODEL, max_tokens=200, messages=HELLO) as stream,
    ):
        got.extend(stream.text_stream)
    assert len(got) == 2  # message_start, content_block_start, ping, then two text deltas
    assert hits(fake_admin, rid) == 1
    (entry,) = ledger(fake_admin)
    assert entry["detail"] == f"{MODEL};partial"


@served
def test_a_stream_cut_by_a_dropped_connection_ends_the_stream_with_a_connection_error(
    client: Anthropic, fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "anthropic.stream_cut", after_chunks=4, mode="drop")
    got: list[str] = []
    with (
        pytest.raises(Exception) as raised,
        client.messages.stream(model=MODEL, max_tokens=200, messages=HELLO) as stream,
    ):
        got.extend(stream.text_stream)
    assert connection_error(raised.value, anthropic.APIConnectionError), repr(raised.value)
    assert len(got) == 1  # the stream ended early: one text delta, then the cut
    assert hits(fake_admin, rid) == 1
    [entry] = journal(fake_admin)
    assert (entry["route"], entry["fault_kind"]) == ("messages.create", "anthropic.stream_cut")


@served
def test_token_bloat_multiplies_usage_and_cost(client: Anthropic, fake_admin: httpx.Client) -> None:
    normal = client.messages.create(model=MODEL, max_tokens=4000, messages=HELLO)
    rid = install(fake_admin, "anthropic.token_bloat", factor=20)
    bloated = client.messages.create(model=MODEL, max_tokens=4000, messages=HELLO)
    assert bloated.usage.output_tokens == 20 * normal.usage.output_tokens
    before, after = ledger(fake_admin)
    assert (after["tokens_in"], after["tokens_out"]) == (
        20 * before["tokens_in"],
        20 * before["tokens_out"],
    )
    assert after["cost_usd"] == MODELS[MODEL][1].cost(after["tokens_in"], after["tokens_out"])
    assert hits(fake_admin, rid) == 1


@served
def test_a_moved_alias_answers_and_bills_as_the_model_it_now_names(
    client: Anthropic, fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "anthropic.alias_moved")
    out = client.messages.create(model="claude-3-5-haiku-latest", max_tokens=400, messages=HELLO)
    assert out.model == "claude-haiku-4-5"
    [entry] = ledger(fake_admin)
    assert entry["detail"] == "claude-haiku-4-5"
    assert entry["cost_usd"] == MODELS["claude-haiku-4-5"][1].cost(
        entry["tokens_in"], entry["tokens_out"]
    )
    assert hits(fake_admin, rid) == 1


@served
def test_a_bloated_answer_stops_at_max_tokens(client: Anthropic, fake_admin: httpx.Client) -> None:
    install(fake_admin, "anthropic.token_bloat", factor=20, output_only=True)
    capped = client.messages.create(model=MODEL, max_tokens=60, messages=HELLO)
    assert (capped.usage.output_tokens, capped.stop_reason) == (60, "max_tokens")
    [entry] = ledger(fake_admin)
    assert entry["tokens_out"] == 60 and entry["tokens_in"] == capped.usage.input_tokens < 60


@served
def test_tool_call_loop_answers_every_turn_with_a_tool_use_block(
    client: Anthropic, fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "anthropic.tool_call_loop", tool="kb_search")
    messages: Any = list(HELLO)
    for turn in range(3):
        out = client.messages.create(
            model=MODEL, max_tokens=200, messages=messages, tools=[KB_TOOL]
        )
        block = out.content[0]
        assert (
            out.stop_reason == "tool_use" and block.type == "tool_use" and block.name == "kb_search"
        ), turn
        messages += [
            {"role": "assistant", "content": [block.model_dump()]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": block.id, "content": "no results"}
                ],
            },
        ]
    with client.messages.stream(
        model=MODEL, max_tokens=200, messages=messages, tools=[KB_TOOL]
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use" and final.content[0].type == "tool_use"
    assert hits(fake_admin, rid) == 4
