"""Contract tests of the OpenAI fake with the official ``openai`` SDK, unmodified, over loopback.

The SDK sends through httpx2, which in-process routing cannot intercept, so these run against
the session's served fakes (``served_fakes`` in conftest). Retries are kept fast with a short
``retry_after_s``: the SDK honours ``retry-after-ms``.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from _sdk_errors import connection_error
from openai import OpenAI

from fakes.core.clock import ManualClock
from fakes.core.world import World
from fakes.openai import Limits, OpenAIFake
from fakes.openai.model import go_duration
from fakes.openai.prices import CHAT_MODELS

served = pytest.mark.served

MODEL = "gpt-4o-mini"
HELLO = [{"role": "user", "content": "Write a caption for our weekend bake sale."}]
KB_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "kb_search",
        "description": "Search the brand knowledge base",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    },
}


@pytest.fixture
def client(served_fakes: dict[str, Any], served_key: Callable[[str], str]) -> Iterator[OpenAI]:
    with OpenAI(
        base_url=served_fakes["fakes"]["openai"], api_key=served_key("agency-openai"), max_retries=2
    ) as c:
        yield c


def install(admin: httpx.Client, kind: str, **params: Any) -> str:
    r = admin.post("/faults", json={"kind": kind, "params": params, "match": {"fake": "openai"}})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def hits(admin: httpx.Client, rule_id: str) -> int:
    rules = {f["id"]: f for f in admin.get("/faults").json()["faults"]}
    return int(rules[rule_id]["hits"])


def journal(admin: httpx.Client) -> list[dict[str, Any]]:
    return list(admin.get("/journal", params={"fake": "openai"}).json()["entries"])


def ledger(admin: httpx.Client, action: str = "llm.completion") -> list[dict[str, Any]]:
    return list(admin.get("/ledger", params={"fake": "openai", "action": action}).json()["entries"])


@served
def test_a_chat_completion_is_deterministic_and_booked_with_its_cost(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    first = client.chat.completions.with_raw_response.create(model=MODEL, messages=HELLO)
    again = client.chat.completions.create(model=MODEL, messages=HELLO)
    done = first.parse()
    assert done.choices[0].message.content == again.choices[0].message.content
    assert done.choices[0].finish_reason == "stop"
    assert (
        done.usage is not None
        and done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    )
    assert first.headers["x-request-id"] == first.request_id
    assert first.headers["x-ratelimit-limit-requests"] == "10000"
    assert int(first.headers["x-ratelimit-remaining-requests"]) == 9999
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")
    entries = ledger(fake_admin)
    assert len(entries) == 2
    e = entries[0]
    assert e["request_id"] == first.request_id
    assert (e["account_id"], e["tenant_id"], e["detail"]) == ("agency-openai", "agency", MODEL)
    assert (e["tokens_in"], e["tokens_out"]) == (
        done.usage.prompt_tokens,
        done.usage.completion_tokens,
    )
    assert e["cost_usd"] == CHAT_MODELS[MODEL].cost(e["tokens_in"], e["tokens_out"])


@served
def test_a_stream_ends_with_a_usage_chunk_only_when_include_usage_is_set(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    plain = client.chat.completions.create(model=MODEL, messages=HELLO)
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens  # type: ignore[union-attr]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    bare = list(client.chat.completions.create(model=MODEL, messages=HELLO, stream=True))
    assert all(c.choices and c.usage is None for c in bare)
    assert len(ledger(fake_admin)) == 3


@served
def test_a_wrong_key_gets_the_real_401_body_and_a_request_id(
    served_fakes: dict[str, Any], fake_admin: httpx.Client
) -> None:
    with (
        OpenAI(
            base_url=served_fakes["fakes"]["openai"],
            api_key="sk-not-a-real-key-000000",
            max_retries=0,
        ) as bad,
        pytest.raises(openai.AuthenticationError) as err,
    ):
        bad.chat.completions.create(model=MODEL, messages=HELLO)
    assert err.value.code == "invalid_api_key" and err.value.type == "invalid_request_error"
    assert "sk-not-a-real-key-000000" not in err.value.message
    assert err.value.request_id is not None and err.value.request_id.startswith("req_")
    assert ledger(fake_admin) == []


@served
def test_an_unknown_model_is_a_404_model_not_found(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-imaginary", messages=HELLO)
    assert err.value.code == "model_not_found"


@served
def test_images_come_back_as_a_b64_png_or_a_url_that_serves_one(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    b64 = client.images.generate(model="gpt-image-1", prompt="a croissant on a marble table")
    assert b64.data and b64.data[0].b64_json
    assert base64.b64decode(b64.data[0].b64_json).startswith(b"\x89PNG\r\n\x1a\n")
    assert b64.usage is not None
    two = client.images.generate(model="dall-e-2", prompt="a croissant", n=2, response_format="url")
    assert two.data is not None and len(two.data) == 2
    png = httpx.get(str(two.data[0].url))
    assert (
        png.status_code == 200
        and png.headers["content-type"] == "image/png"
        and png.content.startswith(b"\x89PNG")
    )
    images = ledger(fake_admin, "image.generated")
    assert [(e["detail"], e["cost_usd"]) for e in images] == [
        ("gpt-image-1", 0.042),
        ("dall-e-2", 0.02),
        ("dall-e-2", 0.02),
    ]


@served
def test_embeddings_are_unit_vectors_that_depend_only_on_the_text(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    out = client.embeddings.create(
        model="text-embedding-3-small", input=["bake sale", "bake sale", "yoga"]
    )
    a, b, c = (d.embedding for d in out.data)
    assert len(a) == 1536 and a == b and a != c
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-3)
    small = client.embeddings.create(
        model="text-embedding-3-large", input="x", dimensions=8, encoding_format="float"
    )
    assert len(small.data[0].embedding) == 8


@served
def test_models_list_and_retrieve(client: OpenAI, fake_admin: httpx.Client) -> None:
    ids = [m.id for m in client.models.list()]
    assert {"gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "gpt-image-1"} <= set(ids)
    assert client.models.retrieve("gpt-4o").owned_by == "system"


@served
def test_the_responses_api_answers_text_and_function_calls(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    r = client.responses.create(model=MODEL, input="Write a caption for our weekend bake sale.")
    assert r.status == "completed" and r.output_text
    assert r.usage is not None and r.usage.total_tokens > 0
    tool = {
        "type": "function",
        "name": "kb_search",
        "parameters": KB_TOOL["function"]["parameters"],
    }
    called = client.responses.create(
        model=MODEL, input="please kb_search our opening hours", tools=[tool]
    )  # type: ignore[list-item]
    assert called.output[0].type == "function_call" and called.output[0].name == "kb_search"
    assert len(ledger(fake_admin)) == 2


@served
def test_tools_are_called_when_named_and_a_tool_result_gets_a_text_answer(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    plain = client.chat.completions.create(model=MODEL, messages=HELLO, tools=[KB_TOOL])
    assert plain.choices[0].finish_reason == "stop" and plain.choices[0].message.content
    ask = [{"role": "user", "content": "Use kb_search to find our opening hours."}]
    called = client.chat.completions.create(model=MODEL, messages=ask, tools=[KB_TOOL])  # type: ignore[arg-type]
    tc = called.choices[0].message.tool_calls
    assert (
        called.choices[0].finish_reason == "tool_calls"
        and tc
        and tc[0].function.name == "kb_search"
    )  # type: ignore[union-attr]
    follow: Any = [
        *ask,
        called.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": tc[0].id, "content": "9 to 5"},
    ]
    answer = client.chat.completions.create(model=MODEL, messages=follow, tools=[KB_TOOL])
    assert answer.choices[0].finish_reason == "stop" and answer.choices[0].message.content
    # the result sent back in another role (or not at all) answers no call: OpenAI's 400
    for wrong in ({**follow[-1], "role": "function", "name": "kb_search"}, None):
        sent = [*follow[:-1], wrong] if wrong else follow[:-1]
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(model=MODEL, messages=sent, tools=[KB_TOOL])
        assert err.value.status_code == 400
        assert err.value.param == f"messages.[{len(follow) - 1}].role"
        assert (
            "An assistant message with 'tool_calls' must be followed by tool messages "
            f"responding to each 'tool_call_id'. The following tool_call_ids did not have "
            f"response messages: {tc[0].id}"
        ) in str(err.value)


# --- faults --------------------------------------------------------------------------------


@served
def test_rate_limited_is_retried_by_the_sdk_then_raises_rate_limit_error(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "openai.rate_limited", retry_after_s=0.05)
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model=MODEL, messages=HELLO)
    assert err.value.code == "rate_limit_exceeded"
    assert err.value.response.headers["retry-after-ms"] == "50"
    assert err.value.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert [(e["retry_count"], e["status"], e["fault_id"]) for e in journal(fake_admin)] == [
        (0, 429, rid),
        (1, 429, rid),
        (2, 429, rid),
    ]
    assert hits(fake_admin, rid) == 3
    assert ledger(fake_admin) == []


@served
def test_quota_exhausted_is_not_retried_by_the_sdk(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "openai.quota_exhausted")
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model=MODEL, messages=HELLO)
    assert err.value.code == "insufficient_quota" and err.value.type == "insufficient_quota"
    assert [e["retry_count"] for e in journal(fake_admin)] == [0]
    assert hits(fake_admin, rid) == 1


@served
def test_a_prompt_over_the_window_is_a_400_the_sdk_does_not_retry(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "openai.context_too_long", window=128_000)
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=MODEL, messages=HELLO)
    assert (err.value.status_code, err.value.code, err.value.param) == (
        400,
        "context_length_exceeded",
        "messages",
    )
    assert "maximum context length is 128000 tokens" in err.value.message
    assert [e["retry_count"] for e in journal(fake_admin)] == [0]
    assert hits(fake_admin, rid) == 1 and ledger(fake_admin) == []


@served
def test_a_revoked_key_is_a_401_invalid_api_key_and_nothing_is_billed(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "openai.key_revoked")
    with pytest.raises(openai.AuthenticationError) as err:
        client.chat.completions.create(model=MODEL, messages=HELLO)
    assert err.value.status_code == 401 and err.value.code == "invalid_api_key"
    assert "Incorrect API key provided" in err.value.message
    assert [e["status"] for e in journal(fake_admin)] == [401]
    assert hits(fake_admin, rid) == 1 and ledger(fake_admin) == []


@served
def test_a_stream_cut_by_an_error_event_raises_mid_stream_and_bills_what_was_sent(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "openai.stream_cut", after_chunks=4, mode="error_event")
    got: list[str] = []
    with pytest.raises(openai.APIError, match="server had an error"):
        for chunk in client.chat.completions.create(model=MODEL, messages=HELLO, stream=True):
            got.append(chunk.choices[0].delta.content or "")
    assert len(got) == 4 and "".join(got)
    assert hits(fake_admin, rid) == 1
    (entry,) = ledger(fake_admin)
    assert entry["detail"] == f"{MODEL};partial" and 0 < entry["tokens_out"] < 10


@served
def test_a_stream_cut_by_a_dropped_connection_raises_a_connection_error(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "openai.stream_cut", after_chunks=3, mode="drop")
    got: list[str] = []
    with pytest.raises(Exception) as raised:
        for chunk in client.chat.completions.create(model=MODEL, messages=HELLO, stream=True):
            got.append(chunk.choices[0].delta.content or "")
    assert connection_error(raised.value, openai.APIConnectionError), repr(raised.value)
    assert len(got) == 3
    assert hits(fake_admin, rid) == 1
    [entry] = journal(fake_admin)
    assert entry["fault_kind"] == "openai.stream_cut"


@served
def test_token_bloat_multiplies_usage_and_cost(client: OpenAI, fake_admin: httpx.Client) -> None:
    normal = client.chat.completions.create(model=MODEL, messages=HELLO)
    rid = install(fake_admin, "openai.token_bloat", factor=50)
    bloated = client.chat.completions.create(model=MODEL, messages=HELLO)
    assert normal.usage is not None and bloated.usage is not None
    assert bloated.usage.completion_tokens == 50 * normal.usage.completion_tokens
    assert bloated.usage.prompt_tokens == 50 * normal.usage.prompt_tokens
    before, after = ledger(fake_admin)
    assert (after["tokens_in"], after["tokens_out"]) == (
        50 * before["tokens_in"],
        50 * before["tokens_out"],
    )
    assert after["cost_usd"] == CHAT_MODELS[MODEL].cost(after["tokens_in"], after["tokens_out"])
    assert after["cost_usd"] > 40 * before["cost_usd"]
    assert hits(fake_admin, rid) == 1


@served
def test_a_moved_alias_answers_and_bills_as_the_model_it_now_names(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "openai.alias_moved", to="gpt-4.1")
    out = client.chat.completions.create(model=MODEL, messages=HELLO)
    streamed = list(
        client.chat.completions.create(
            model=MODEL, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )
    assert out.model == "gpt-4.1" and {c.model for c in streamed} == {"gpt-4.1"}
    entries = ledger(fake_admin)
    assert [e["detail"] for e in entries] == ["gpt-4.1", "gpt-4.1"]
    assert entries[0]["cost_usd"] == CHAT_MODELS["gpt-4.1"].cost(
        entries[0]["tokens_in"], entries[0]["tokens_out"]
    )
    assert hits(fake_admin, rid) == 2


def test_a_moved_alias_must_name_a_model_of_its_provider(fake_admin: httpx.Client) -> None:
    r = fake_admin.post(
        "/faults",
        json={
            "kind": "openai.alias_moved",
            "match": {"fake": "openai"},
            "params": {"to": "claude-haiku-4-5"},
        },
    )
    assert r.status_code == 422, r.text
    assert "'claude-haiku-4-5' is not a model of the openai fake" in r.text and "gpt-4.1" in r.text


@served
def test_a_rambling_answer_runs_to_max_tokens_and_no_further(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    normal = client.chat.completions.create(model=MODEL, messages=HELLO)
    install(fake_admin, "openai.token_bloat", factor=20, output_only=True)
    capped = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=60)
    free = client.chat.completions.create(model=MODEL, messages=HELLO)
    assert normal.usage is not None and capped.usage is not None and free.usage is not None
    # the prompt is billed as sent; the answer runs on until the request's cap stops it
    assert capped.usage.prompt_tokens == free.usage.prompt_tokens == normal.usage.prompt_tokens
    assert (capped.usage.completion_tokens, capped.choices[0].finish_reason) == (60, "length")
    assert free.usage.completion_tokens == 20 * normal.usage.completion_tokens > 60


@served
def test_tool_call_loop_answers_every_turn_with_the_same_tool_call(
    client: OpenAI, fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "openai.tool_call_loop", tool="kb_search")
    messages: Any = list(HELLO)
    for turn in range(3):
        out = client.chat.completions.create(model=MODEL, messages=messages, tools=[KB_TOOL])
        choice = out.choices[0]
        assert choice.finish_reason == "tool_calls", turn
        calls = choice.message.tool_calls
        assert calls and calls[0].function.name == "kb_search"  # type: ignore[union-attr]
        messages += [
            choice.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": calls[0].id, "content": "no results"},
        ]
    streamed = list(
        client.chat.completions.create(model=MODEL, messages=messages, tools=[KB_TOOL], stream=True)
    )
    assert [c.choices[0].finish_reason for c in streamed][-1] == "tool_calls"
    assert hits(fake_admin, rid) == 4


@served
def test_an_outage_answers_openai_5xx_body_and_the_sdk_raises_internal_server_error(
    served_fakes: dict[str, Any], served_key: Callable[[str], str], fake_admin: httpx.Client
) -> None:
    rid = install(fake_admin, "http.outage", status=503)
    with (
        OpenAI(
            base_url=served_fakes["fakes"]["openai"],
            api_key=served_key("agency-openai"),
            max_retries=0,
        ) as c,
        pytest.raises(openai.InternalServerError) as err,
    ):
        c.chat.completions.create(model=MODEL, messages=HELLO)
    assert err.value.status_code == 503 and err.value.type == "server_error"
    assert hits(fake_admin, rid) == 1


# --- in process: the limits themselves -------------------------------------------------------


async def test_an_empty_request_bucket_is_a_real_429_that_refills_with_time() -> None:
    clock = ManualClock()
    world = World(now=clock)
    app = OpenAIFake(world, Limits(requests_per_window=2, requests_window_s=60)).service.asgi()
    key = world.roster.account("agency-openai").credential.access_token
    body = {"model": MODEL, "messages": HELLO}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="https://api.openai.com",
        headers={"authorization": f"Bearer {key}"},
    ) as c:
        codes = [(await c.post("/v1/chat/completions", json=body)).status_code for _ in range(3)]
        refused = await c.post("/v1/chat/completions", json=body)
        assert codes == [200, 200, 429]
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert float(refused.headers["retry-after"]) > 0
        clock.advance(30)
        ok = await c.post("/v1/chat/completions", json=body)
        assert ok.status_code == 200 and ok.headers["x-ratelimit-remaining-requests"] == "0"
        assert ok.headers["x-ratelimit-reset-requests"] == "1m0s"


async def test_remaining_budget_counts_down_with_use_and_the_reset_counts_down_with_time() -> None:
    clock = ManualClock()
    world = World(now=clock)
    app = OpenAIFake(
        world, Limits(requests_per_window=100, tokens_per_window=10_000, tokens_window_s=600)
    ).service.asgi()
    key = world.roster.account("agency-openai").credential.access_token
    body = {"model": MODEL, "messages": HELLO}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="https://api.openai.com",
        headers={"authorization": f"Bearer {key}"},
    ) as c:
        a, b = [(await c.post("/v1/chat/completions", json=body)).headers for _ in range(2)]
        assert (a["x-ratelimit-remaining-requests"], b["x-ratelimit-remaining-requests"]) == (
            "99",
            "98",
        )
        assert (
            int(b["x-ratelimit-remaining-tokens"]) < int(a["x-ratelimit-remaining-tokens"]) < 10_000
        )
        assert (a["x-ratelimit-reset-requests"], b["x-ratelimit-reset-requests"]) == (
            "600ms",
            "1.2s",
        )
        spent = 10_000 - int(b["x-ratelimit-remaining-tokens"])
        assert b["x-ratelimit-reset-tokens"] == go_duration(spent * 600 / 10_000)
        clock.advance(1)
        later = (await c.post("/v1/chat/completions", json=body)).headers
        assert later["x-ratelimit-reset-requests"] == "800ms"  # 1.2 s owed, 1 s repaid, 0.6 s added
