"""What the subscribers admin API answers with, as models: the OpenAPI document describes its
answers with these, and the tests validate real answers against them. The handlers build
the JSON themselves (`Subscriber.view`, the attempt records of the delivery queue)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel

from gateway.delivery.outcome import AttemptStatus
from gateway.subscribers.bodies import Format

DisabledReason = Literal["gone", "failing"]


class _SubscriberView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscriberId: str
    url: str
    events: list[str]
    hubIds: list[str] | None = Field(description="null: every hub.")
    format: Format
    ordered: bool
    rateLimitPerSecond: float | None
    disableAfterSeconds: float
    description: str | None
    enabled: bool
    disabledReason: DisabledReason | None = Field(
        description="Why it is disabled: `gone` (it answered 410) or `failing` (every "
        "delivery failed for `disableAfterSeconds`)."
    )
    createdAt: AwareDatetime
    previousSecretExpiresAt: AwareDatetime | None = Field(
        description="Until when the previous secret (or key pair) still signs, after a "
        "rotation; null when none does."
    )


class StandardSubscriberView(_SubscriberView):
    """A subscriber of the `standard` format (Standard Webhooks)."""

    format: Literal["standard"]
    secret: str = Field(description="The `whsec_` secret deliveries are signed with.")


class HubsterSubscriberView(_SubscriberView):
    """A subscriber of the `hubster` format (Hubster System webhooks)."""

    format: Literal["hubster"]
    publicSigningKey: str = Field(description="Sent in `x-hubster-public-key`.")
    privateSigningKey: str = Field(description="The HMAC key of `x-hubster-signature`.")


class SubscriberView(
    RootModel[
        Annotated[StandardSubscriberView | HubsterSubscriberView, Field(discriminator="format")]
    ]
):
    """A subscriber as the admin API shows it, with its credentials."""


class AttemptRecord(BaseModel):
    """One delivery attempt (or a delivery still pending), as `/deliveries` lists it."""

    model_config = ConfigDict(extra="forbid")

    eventId: str
    attempt: int = Field(ge=1)
    status: AttemptStatus = Field(
        description="`pending` (not tried yet), `succeeded`, `failed` (will be retried) or "
        "`dead` (the last attempt; kept for replay)."
    )
    responseStatus: int | None = Field(description="The subscriber's HTTP status, if any.")
    error: str | None = Field(description="Why no status came (timeout, refused, ...).")
    at: AwareDatetime
    nextAttemptAt: AwareDatetime | None


class ExampleAttempt(AttemptRecord):
    """The attempt `POST /subscribers/{id}/test` made, with what it took and got back."""

    latencyMs: float = Field(ge=0, description="From sending to the answer (or the failure).")
    responseExcerpt: str | None = Field(
        description="The start of the subscriber's response body (null when none came)."
    )


class ReplayEnqueued(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enqueued: int = Field(ge=0, description="How many deliveries the replay queued.")
