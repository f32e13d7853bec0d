"""The honeypot: addresses a platform must never reach, journaled when it does.

A cloud metadata service (``169.254.169.254``, ``metadata.google.internal``) is the classic target
of server-side request forgery: a provider's response (``media.content_url_elsewhere``) hands
the platform a URL there, and a platform that follows it without its egress guard leaks its
cloud credentials. In-process the fakes' transport routes those hosts here; served, the honeypot
is mounted at ``/honeypot`` on the fakes' port (outside every base URL the platform is given).
Every request is journaled under the fake ``honeypot`` (the judge's ground truth for
``nothing_reaches_a_host_it_was_not_given``) and answered with decoy credentials, which are
not anybody's.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .core.http import Call, FakeService, json_response
from .core.world import World

__all__ = ["HONEYPOT_HOSTS", "create"]

#: hosts routed to the honeypot in-process
HONEYPOT_HOSTS = ("169.254.169.254", "metadata.google.internal", "metadata.vibedrill.test")


def _no_credential(_request: Request) -> str | None:
    return None


def create(world: World) -> FakeService:
    """Build the honeypot on ``world``."""
    svc = FakeService(world, "honeypot", credential_of=_no_credential)

    @svc.route("/{path:path}", "metadata", ["GET", "POST", "PUT", "DELETE", "HEAD"])
    async def anything(call: Call) -> Response:
        return json_response(
            {
                "Code": "Success",
                "Type": "AWS-HMAC",
                "AccessKeyId": "ASIAVIBEDRILLHONEYPOT",
                "SecretAccessKey": "honeypot-decoy-not-a-credential",
                "Expiration": "2099-01-01T00:00:00Z",
            }
        )

    return svc
