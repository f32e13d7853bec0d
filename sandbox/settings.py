"""The platform's settings: where the outside world is, who the clients are, and the policies.

The platform reaches the outside world only through ``base_urls`` (and the egress guard refuses
every other host). Secrets never live in :class:`Settings`: accounts name a ``credential_ref``
and the keyring resolves it from the secrets mapping handed to the platform separately.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from .budget import PRICES_PER_MTOK, priced_as

__all__ = [
    "SOCIAL_PLATFORMS",
    "AccountSettings",
    "BaseUrls",
    "Blueprint",
    "BudgetSettings",
    "ClientSettings",
    "CredentialSecret",
    "PacingSettings",
    "ProviderAccount",
    "RetryPolicy",
    "Settings",
    "VerificationPolicy",
]

SOCIAL_PLATFORMS: tuple[str, ...] = ("x", "instagram", "linkedin")
PROVIDER_NAMES: tuple[str, ...] = ("openai", "anthropic", "media", "toolgate")


class _M(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BaseUrls(_M):
    """Base URL of every outside service; defaults are the real hostnames."""

    x: str = "https://api.x.com"
    instagram: str = "https://graph.facebook.com/v21.0"
    linkedin: str = "https://api.linkedin.com"
    openai: str = "https://api.openai.com/v1"
    anthropic: str = "https://api.anthropic.com"
    media: str = "https://api.media.vibedrill.test"
    toolgate: str = "https://toolgate.vibedrill.test/mcp"

    def of(self, service: str) -> str:
        """The base URL of ``service`` without a trailing slash; ValueError naming valid ones."""
        if service not in type(self).model_fields:
            raise ValueError(
                f"{service!r} is not a service; valid: {', '.join(type(self).model_fields)}"
            )
        return str(getattr(self, service)).rstrip("/")


class AccountSettings(_M):
    """One social account of a client, as the platform knows it (no secret: a ref)."""

    platform: Literal["x", "instagram", "linkedin"]
    account_id: str
    platform_user_id: str
    handle: str
    credential_ref: str


class ClientSettings(_M):
    """A tenant and its accounts."""

    client_id: str
    name: str
    accounts: tuple[AccountSettings, ...] = ()

    def account(self, platform: str) -> AccountSettings | None:
        """The client's account on ``platform``, if any."""
        return next((a for a in self.accounts if a.platform == platform), None)


class ProviderAccount(_M):
    """The agency-wide account at a provider (LLM, media, tool gateway)."""

    provider: str
    account_id: str
    credential_ref: str


class Blueprint(_M):
    """An engagement blueprint: reply with ``reply_template`` to inbound text matching a keyword."""

    id: str
    client_id: str
    platform: Literal["x", "instagram", "linkedin"]
    keywords: tuple[str, ...] = ()
    reply_template: str = "Thanks {author}!"
    enabled: bool = True


class PacingSettings(_M):
    """Pacing of side effects on one platform; intervals and caps apply per account."""

    concurrency: int = Field(4, ge=1, le=256)
    min_interval_s: float = Field(0.0, ge=0)
    jitter_s: float = Field(0.0, ge=0)
    #: action type (publish, reply, dm, like) → max per account per UTC day
    daily_caps: dict[str, int] = Field(default_factory=dict)


class RetryPolicy(_M):
    """Retries of retryable failures: exponential backoff with seeded jitter."""

    max_attempts: int = Field(4, ge=1, le=50)
    base_delay_s: float = Field(2.0, ge=0)
    max_delay_s: float = Field(600.0, ge=0)
    jitter: float = Field(0.2, ge=0, le=1)

    #: seconds a job keeps retrying a platform outage (5xx, timeout, dropped or refused
    #: connection) with back-off before those failures count against ``max_attempts``: four
    #: quick attempts lost publishes to a 15-minute outage before anyone could act (0: off)
    outage_window_s: float = Field(3600.0, ge=0)

    def backoff(self, attempt: int, u: float) -> float:
        """Delay before attempt ``attempt + 1`` (attempt ≥ 1), with ``u`` ∈ [0, 1) from the RNG."""
        d = min(self.base_delay_s * 2.0 ** (attempt - 1), self.max_delay_s)
        return float(d * (1 + self.jitter * u))


class VerificationPolicy(_M):
    """How a publish is verified: wait ``delay_s``, then up to ``attempts`` lookups ``interval_s`` apart."""

    delay_s: float = Field(2.0, ge=0)
    attempts: int = Field(3, ge=1, le=50)
    interval_s: float = Field(10.0, ge=0)


class BudgetSettings(_M):
    """Default cost budgets (None = unlimited)."""

    episode_tokens: int | None = None
    episode_usd: float | None = None
    client_tokens: int | None = None
    client_usd: float | None = None


class CredentialSecret(_M):
    """A secret behind a credential_ref. Lives only in the keyring; never in settings or logs."""

    access_token: str
    refresh_token: str | None = None
    #: unix seconds; None when unknown (the platform refreshes on a 401 instead)
    expires_at: float | None = None

    def __repr__(self) -> str:
        return "CredentialSecret(<redacted>)"

    __str__ = __repr__


class Settings(_M):
    """Everything the platform needs to run, except secrets."""

    base_urls: BaseUrls = BaseUrls()
    clients: tuple[ClientSettings, ...] = ()
    providers: tuple[ProviderAccount, ...] = ()
    blueprints: tuple[Blueprint, ...] = ()
    #: platform → pacing; platforms not named use ``default_pacing``
    pacing: dict[str, PacingSettings] = Field(default_factory=dict)
    default_pacing: PacingSettings = PacingSettings()
    retry: RetryPolicy = RetryPolicy()
    verification: VerificationPolicy = VerificationPolicy()
    budgets: BudgetSettings = BudgetSettings()
    #: text provider → the model it is asked for (priced by ``sandbox.budget.price``); a
    #: provider not named gets its client's default (gpt-4o-mini, claude-3-5-haiku-latest)
    text_models: dict[
        Literal["openai", "anthropic"],
        Annotated[str, StringConstraints(min_length=1, max_length=200)],
    ] = Field(default_factory=dict)

    @field_validator("text_models")
    @classmethod
    def _priced(cls, v: dict[str, str]) -> dict[str, str]:
        for provider, model in v.items():
            if priced_as(model) is None:
                raise ValueError(
                    f"{provider}: {model!r} has no price in the platform's table, so its budgets "
                    f"could not be kept; priced: {', '.join(PRICES_PER_MTOK)} (and dated "
                    "snapshots of them)"
                )
        return v

    #: capability → ordered providers (failover order)
    provider_routing: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "text": ("openai", "anthropic"),
            "image": ("openai",),
            "video": ("media",),
        }
    )
    #: jobs the runner works on at once
    runner_concurrency: int = Field(16, ge=1, le=4096)
    #: seconds before an outbound request is abandoned (its outcome is then unknown)
    request_timeout_s: float = Field(30.0, gt=0)
    #: seconds to open a connection (at most ``request_timeout_s``)
    connect_timeout_s: float = Field(5.0, gt=0)
    #: seconds a provider request (LLM, image, a media render's submit, poll or fetch) may take
    provider_timeout_s: float = Field(60.0, gt=0)
    #: seconds the tool gateway (MCP) may take to answer one message
    tool_timeout_s: float = Field(30.0, gt=0)
    #: seconds between evaluations of the platform's own alert rules
    alert_interval_s: float = Field(30.0, gt=0)
    #: OAuth client id the platform uses for X token refresh
    x_oauth_client_id: str = "vibedrill-sandbox"
    #: ``Linkedin-Version`` to send (YYYYMM); None = the month before the current one (UTC)
    linkedin_version: str | None = None
    #: the platform checks the X token's identity with GET /2/users/me before side effects
    x_identity_check: bool = True

    def client(self, client_id: str) -> ClientSettings:
        """The client ``client_id``; KeyError naming the known ids otherwise."""
        for c in self.clients:
            if c.client_id == client_id:
                return c
        raise KeyError(
            f"no client {client_id!r}; known: {sorted(c.client_id for c in self.clients)}"
        )

    def account(self, account_id: str) -> tuple[ClientSettings, AccountSettings]:
        """The (owner, account) of ``account_id``; KeyError naming the known ids otherwise."""
        for c in self.clients:
            for a in c.accounts:
                if a.account_id == account_id:
                    return c, a
        known = sorted(a.account_id for c in self.clients for a in c.accounts)
        raise KeyError(f"no account {account_id!r}; known: {known}")

    def pacing_for(self, platform: str) -> PacingSettings:
        """The pacing configured for ``platform``."""
        return self.pacing.get(platform, self.default_pacing)

    # construction from a fake world ---------------------------------------------------------
    @classmethod
    def from_roster(
        cls, roster_json: Mapping[str, Any], **overrides: Any
    ) -> tuple[Settings, dict[str, CredentialSecret]]:
        """Settings and keyring secrets from a roster document (``GET /_fake/roster?secrets=1``).

        A credential's ``expires_at`` (when its access token expires, as the credential store
        keeps it) lets the keyring refresh before the first expiry instead of meeting a 401.

        Each social account gets ``credential_ref = "vault://<client>/<platform>"``; provider
        accounts (client ``agency``) become :class:`ProviderAccount` entries.
        """
        clients: list[ClientSettings] = []
        providers: list[ProviderAccount] = []
        secrets: dict[str, CredentialSecret] = {}
        for c in roster_json.get("clients", ()):
            accounts: list[AccountSettings] = []
            for a in c.get("accounts", ()):
                cred = a.get("credential") or {}
                ref = f"vault://{c['id']}/{a['platform']}"
                if "access_token" in cred:
                    secrets[ref] = CredentialSecret(
                        access_token=cred["access_token"],
                        refresh_token=cred.get("refresh_token"),
                        expires_at=cred.get("expires_at"),
                    )
                if a["platform"] in PROVIDER_NAMES:
                    providers.append(
                        ProviderAccount(
                            provider=a["platform"], account_id=a["id"], credential_ref=ref
                        )
                    )
                elif a["platform"] in SOCIAL_PLATFORMS:
                    accounts.append(
                        AccountSettings(
                            platform=a["platform"],
                            account_id=a["id"],
                            platform_user_id=str(a["platform_user_id"]),
                            handle=a["handle"],
                            credential_ref=ref,
                        )
                    )
            if accounts:
                clients.append(
                    ClientSettings(
                        client_id=c["id"], name=c.get("name", c["id"]), accounts=tuple(accounts)
                    )
                )
        return cls(clients=tuple(clients), providers=tuple(providers), **overrides), secrets

    @classmethod
    def from_world_ready(
        cls, doc: Mapping[str, Any], roster_json: Mapping[str, Any], **overrides: Any
    ) -> tuple[Settings, dict[str, CredentialSecret]]:
        """Settings for a served world: base URLs from a ``vibedrill serve`` ready doc, accounts
        and secrets from its roster (``GET <admin>/roster?secrets=1``)."""
        fakes = doc.get("fakes") or {}
        urls = {k: str(v) for k, v in fakes.items() if k in BaseUrls.model_fields}
        return cls.from_roster(roster_json, base_urls=BaseUrls(**urls), **overrides)
