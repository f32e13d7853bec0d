"""The media provider's render-job client: submit, poll until done, fetch (``video.generate``).

Errors are :class:`sandbox.providers.ProviderError`, as for every provider; routing, budgets and
audit live in :mod:`sandbox.generation`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from .providers import ProviderError, Rendered, Sleep, _json, _request_id, _send

__all__ = ["MediaClient"]


@dataclass
class MediaClient:
    """The media provider's async render jobs: submit, poll until done, fetch the content."""

    http: httpx.AsyncClient
    base_url: str
    api_key: Callable[[], str]
    sleep: Sleep
    poll_interval_s: float = 5.0
    #: a render still not done after this long is given up (and failed over, if possible)
    deadline_s: float = 900.0
    timeout: float = 60.0
    name: str = "media"
    #: render id → the request id of the first submit answer that named it, kept by the caller
    #: across retries: a render created by a submit whose poll then failed is replayed (same
    #: ``Idempotency-Key``) by the retry, and its proof must name the request that created it
    submitted: dict[str, str] = field(default_factory=dict)

    def _h(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key()}"}

    async def render(
        self,
        script: str,
        *,
        client_id: str,
        duration_s: float = 10.0,
        kind: str = "video",
        idempotency_key: str | None = None,
        retry: int = 0,
    ) -> Rendered:
        """Submit ``POST /v1/renders``, poll ``GET /v1/renders/{id}``, fetch ``…/content``.

        The ``Idempotency-Key`` makes a retried submit return the same render, not a second one.
        """
        base = f"{self.base_url.rstrip('/')}/v1/renders"
        headers = self._h()
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        body = {
            "kind": kind,
            "script": script[:5000],
            "client_id": client_id,
            "duration_s": duration_s,
        }
        resp = await _send(
            self.http,
            self.name,
            "POST",
            base,
            retry=retry,
            request_timeout=self.timeout,
            json=body,
            headers=headers,
        )
        job = _json(self.name, resp)
        rid = _request_id(resp)
        render_id = str(job.get("id", ""))
        if not render_id:
            raise ProviderError(
                self.name, f"render submit answered without an id: {job!r}", request_id=rid
            )
        if rid is not None:
            rid = self.submitted.setdefault(render_id, rid)
        waited = 0.0
        status = str(job.get("status", "queued"))
        while status not in ("succeeded", "completed", "failed", "canceled", "cancelled"):
            if waited >= self.deadline_s:
                raise ProviderError(
                    self.name,
                    f"render {render_id} still {status!r} after {waited:g} s",
                    code="render_timeout",
                    request_id=rid,
                )
            await self.sleep(self.poll_interval_s)
            waited += self.poll_interval_s
            poll = await _send(
                self.http,
                self.name,
                "GET",
                f"{base}/{render_id}",
                retry=0,
                request_timeout=self.timeout,
                headers=self._h(),
            )
            job = _json(self.name, poll)
            status = str(job.get("status", status))
        if status != "succeeded" and status != "completed":
            # ended for good and never billed: nothing of it is left to claim
            self.submitted.pop(render_id, None)
            err = job.get("error")
            msg = err.get("message") if isinstance(err, dict) else err
            raise ProviderError(
                self.name,
                f"render {render_id} ended {status!r}: {msg or 'no detail'}",
                code="render_failed",
                request_id=rid,
            )
        # the render says where its content is (as real render APIs and signed storage URLs do):
        # a URL taken from a response, so it goes through the egress guard like any other
        given = job.get("content_url")
        url = given if isinstance(given, str) and given else f"{base}/{render_id}/content"
        try:
            content = await _send(
                self.http,
                self.name,
                "GET",
                url,
                retry=0,
                request_timeout=self.timeout,
                headers=self._h(),
            )
        except ProviderError as e:  # rendered and billed, content out of reach: still claimed
            raise ProviderError(
                self.name,
                f"render {render_id} finished but its content could not be fetched: {e}",
                code="content_unavailable",
                retryable=False,
                failover=False,
                request_id=rid,
                resource_id=render_id,
            ) from None
        return Rendered(
            self.name,
            render_id,
            content.content,
            rid,
            {"duration_s": duration_s, "polled_s": waited},
        )
