"""Embeddings and the model catalogue of the OpenAI fake."""

from __future__ import annotations

import base64
import json
import struct
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from ..core.http import Call, json_response
from .model import count_tokens, embedding
from .prices import CHAT_MODELS, EMBEDDING_MODELS, IMAGE_MODELS, resolve
from .wire import error

if TYPE_CHECKING:
    from .service import OpenAIFake

__all__ = ["embeddings", "model", "models"]

_CREATED = 1_715_367_049  # the models' "created" stamp: fixed, as models do not change


async def embeddings(fake: OpenAIFake, call: Call) -> Response:
    """``POST /v1/embeddings``: unit vectors that depend only on the input text."""
    if (refused := fake.auth(call)) is not None:
        return refused
    body = await fake.body(call)
    if isinstance(body, Response):
        return body
    model = body.get("model")
    spec = resolve(str(model), EMBEDDING_MODELS) if isinstance(model, str) else None
    if spec is None:
        return error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    raw = body.get("input")
    inputs: list[Any] = (
        raw if isinstance(raw, list) and raw and not isinstance(raw[0], int) else [raw]
    )
    if raw is None or raw == "" or raw == []:
        return error(
            400,
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        )
    dims = body.get("dimensions") or spec[0]
    if not isinstance(dims, int) or not 1 <= dims <= spec[0]:
        return error(
            400,
            f"This model does not support specifying dimensions of {dims!r}.",
            param="dimensions",
        )
    texts = [x if isinstance(x, str) else json.dumps(x) for x in inputs]
    tokens = sum(count_tokens(t) for t in texts)
    if (refused := fake.gate(call, model, tokens)) is not None:  # type: ignore[arg-type]
        return refused
    b64 = body.get("encoding_format") == "base64"
    data = []
    for i, text in enumerate(texts):
        vec = embedding(text, dims)
        value: Any = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode() if b64 else vec
        data.append({"object": "embedding", "index": i, "embedding": value})
    return json_response(
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


async def models(fake: OpenAIFake, call: Call) -> Response:
    """``GET /v1/models``."""
    if (refused := fake.auth(call)) is not None:
        return refused
    names = [*CHAT_MODELS, *EMBEDDING_MODELS, *IMAGE_MODELS]
    return json_response({"object": "list", "data": [_model_obj(n) for n in names]})


async def model(fake: OpenAIFake, call: Call) -> Response:
    """``GET /v1/models/{model}``."""
    if (refused := fake.auth(call)) is not None:
        return refused
    name = call.request.path_params["model"]
    if name not in (*CHAT_MODELS, *EMBEDDING_MODELS, *IMAGE_MODELS):
        return error(
            404, f"The model '{name}' does not exist", param="model", code="model_not_found"
        )
    return json_response(_model_obj(name))


def _model_obj(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": _CREATED, "owned_by": "system"}
