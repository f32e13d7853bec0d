"""Image generation of the OpenAI fake: tiny PNGs as base64 or a fetchable URL."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from ..core.http import Call, json_response
from .model import count_tokens, tiny_png
from .prices import IMAGE_MODELS, resolve
from .wire import FAKE, error, mount_base

if TYPE_CHECKING:
    from .service import OpenAIFake

__all__ = ["content", "generate"]


async def generate(fake: OpenAIFake, call: Call) -> Response:
    """``POST /v1/images/generations``: tiny PNGs, as ``b64_json`` or a fetchable ``url``."""
    if (refused := fake.auth(call)) is not None:
        return refused
    body = await fake.body(call)
    if isinstance(body, Response):
        return body
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return error(
            400,
            "Missing required parameter: 'prompt'.",
            code="missing_required_parameter",
            param="prompt",
        )
    model = body.get("model") or "dall-e-2"
    per_image = resolve(str(model), IMAGE_MODELS)
    if per_image is None:
        return error(
            400, f"Invalid value for 'model' = {model}.", param="model", code="invalid_value"
        )
    n = body.get("n") or 1
    if not isinstance(n, int) or not 1 <= n <= 10:
        return error(
            400,
            f"Invalid 'n': integer between 1 and 10 expected, got {n!r}.",
            param="n",
            code="invalid_value",
        )
    gpt_image = str(model).startswith("gpt-image")
    fmt = body.get("response_format") or ("b64_json" if gpt_image else "url")
    if fmt not in ("url", "b64_json"):
        return error(
            400,
            f"Invalid value for 'response_format' = {fmt}; expected 'url' or 'b64_json'.",
            param="response_format",
            code="invalid_value",
        )
    if gpt_image and body.get("response_format") == "url":
        return error(
            400,
            "Unknown parameter: 'response_format'.",
            param="response_format",
            code="unknown_parameter",
        )
    if (refused := fake.gate(call, str(model), count_tokens(prompt))) is not None:
        return refused
    data = []
    base = mount_base(call)
    for i in range(n):
        image_id = fake.new_id(call, f"img_{i}_", 20)
        fake.images[image_id] = f"{prompt}\x00{i}"
        item: dict[str, Any] = (
            {"b64_json": base64.b64encode(tiny_png(fake.images[image_id])).decode()}
            if fmt == "b64_json"
            else {"url": f"{base}/v1/images/content/{image_id}.png"}
        )
        if model == "dall-e-3":
            item["revised_prompt"] = prompt
        data.append(item)
        fake.world.record(
            FAKE,
            "image.generated",
            account_id=call.account_id,
            credential=call.credential,
            request_id=call.request_id,
            resource_id=image_id,
            content=prompt,
            cost_usd=per_image,
            detail=str(model),
        )
    out: dict[str, Any] = {"created": int(fake.world.now()), "data": data}
    if gpt_image:
        t = count_tokens(prompt)
        out["usage"] = {
            "input_tokens": t,
            "output_tokens": 272 * n,
            "total_tokens": t + 272 * n,
            "input_tokens_details": {"text_tokens": t, "image_tokens": 0},
        }
    return json_response(out)


async def content(fake: OpenAIFake, call: Call) -> Response:
    """``GET /v1/images/content/{id}.png``: the bytes behind an image ``url`` (no auth, like a signed URL)."""
    image_id = call.request.path_params["image_id"].removesuffix(".png")
    seed = fake.images.get(image_id)
    if seed is None:
        return Response(
            b"<Error><Code>BlobNotFound</Code></Error>",
            status_code=404,
            media_type="application/xml",
        )
    return Response(tiny_png(seed), media_type="image/png")


# embeddings and models ------------------------------------------------------------------
