"""Credential schemes: the fields of each kind of credential, how a given one is checked,
how a missing one is generated, and what `regenerated` issues.

Integrations pick a scheme by kind, subscribers by format (`standard` signs with a
`StandardKeys` secret, `hubster` with a `HubsterKeys` pair), so a `whsec_` secret or a
Hubster key given to either is checked by the same validator and refused with the same
words. Generation uses the `signing` library's own generators.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

import signing
from gateway.errors import describe_validation_error, invalid_payload

Fields = dict[str, str]
"""One credential: field name -> text, as an integration's `configuration` shows it."""

SECRET_BYTES = (24, 64)
"""How many bytes a `whsec_` secret decodes to (Standard Webhooks)."""
_HUBSTER_KEY = re.compile(r"^[0-9A-F]{32}$")


def _problem(message: str) -> PydanticCustomError:
    """A validator's refusal worded as given (a ValueError would read "Value error, ...")."""
    return PydanticCustomError("credential", message)


def _webhook_secret(value: str) -> str:
    """`whsec_` + base64 of 24..64 bytes. The prefix is required: a public key pasted
    without its prefix would otherwise be taken as an HMAC secret that anyone who knows the
    public key could sign with."""
    low, high = SECRET_BYTES
    refusal = _problem(f"must be a whsec_ secret (base64 of {low}..{high} bytes)")
    if not value.startswith("whsec_"):
        raise refusal
    try:
        key = signing.standard.load_key(value)
    except ValueError:
        raise refusal from None
    if not isinstance(key, bytes) or not low <= len(key) <= high:
        raise refusal
    return value


def _hubster_key(value: str) -> str:
    if not _HUBSTER_KEY.fullmatch(value):
        raise _problem("must be 32 upper-case hex characters")
    return value


def _standard_public_key(value: str) -> str:
    refusal = _problem("must be whpk_ + base64 of a 32-byte Ed25519 public key")
    if not value.startswith("whpk_"):
        raise refusal
    try:
        signing.standard.load_key(value)
    except ValueError:
        raise refusal from None
    return value


def _telnyx_public_key(value: str) -> str:
    try:
        signing.telnyx.load_public_key(value)
    except ValueError:
        raise _problem("must be Telnyx's Ed25519 public key: base64 of 32 bytes") from None
    return value


WebhookSecret = Annotated[
    str,
    AfterValidator(_webhook_secret),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^whsec_",
            "description": "`whsec_` + base64 of 24 to 64 bytes.",
        }
    ),
]
HubsterKey = Annotated[
    str,
    AfterValidator(_hubster_key),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9A-F]{32}(?![\\s\\S])",
            "description": "32 upper-case hex characters.",
        }
    ),
]
Token = Annotated[str, Field(min_length=1)]


def check_key_pair(public: str | None, private: str | None) -> None:
    """A Hubster key pair is given whole or not at all."""
    if (public is None) != (private is None):
        raise _problem("give both publicSigningKey and privateSigningKey, or neither")


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Scheme(BaseModel):
    """One scheme's fields as given (each checked); `completed` and `regenerated` give the
    credential to store."""

    model_config = ConfigDict(extra="forbid")

    def fields(self) -> Fields:
        return self.model_dump(exclude_none=True)

    def completed(self) -> Fields:
        """The credential with whatever the gateway generates when absent generated."""
        return self.fields()

    def regenerated(self) -> Fields:
        """New secrets in place of these (`regenerateKeys`, a subscriber's rotation); 400
        where the sender owns the secret."""
        raise NotImplementedError


class _IssuedByProvider(Scheme):
    """A credential the provider issues and the gateway only checks: it cannot regenerate
    it, the operator PATCHes in the new one."""

    provider: ClassVar[str]
    field: ClassVar[str]

    def regenerated(self) -> Fields:
        raise invalid_payload(
            f"regenerateKeys: {self.provider} issues the {self.field}; "
            f"PATCH configuration.{self.field}"
        )


class HubsterKeys(Scheme):
    publicSigningKey: HubsterKey | None = None
    privateSigningKey: HubsterKey | None = None

    @model_validator(mode="after")
    def _whole_pair(self) -> HubsterKeys:
        check_key_pair(self.publicSigningKey, self.privateSigningKey)
        return self

    def completed(self) -> Fields:
        return self.fields() or self.regenerated()

    def regenerated(self) -> Fields:
        pair = signing.hubster.generate_key_pair()
        return {
            "publicSigningKey": pair.public_signing_key,
            "privateSigningKey": pair.private_signing_key,
        }


class StandardKeys(Scheme):
    """A `whsec_` HMAC secret (generated when neither is given), or the `whpk_` Ed25519
    public key of a sender that signs `v1a`."""

    secret: WebhookSecret | None = None
    publicKey: Annotated[str, AfterValidator(_standard_public_key)] | None = None

    def completed(self) -> Fields:
        return self.fields() or {"secret": signing.standard.generate_secret()}

    def regenerated(self) -> Fields:
        if self.secret is None:
            raise invalid_payload(
                "regenerateKeys: a publicKey belongs to the sender; PATCH configuration.publicKey"
            )
        return {**self.fields(), "secret": signing.standard.generate_secret()}


class ScgCredentials(Scheme):
    """Basic `username` + `password`, or a `bearerToken` (generated when neither is given)."""

    username: Annotated[str, Field(min_length=1, pattern=r"^[^:]*$")] | None = None
    password: Token | None = None
    bearerToken: Token | None = None

    @model_validator(mode="after")
    def _basic_pair(self) -> ScgCredentials:
        if (self.username is None) != (self.password is None):
            raise _problem("give both username and password, or neither")
        return self

    def completed(self) -> Fields:
        if self.username is None and self.bearerToken is None:
            return {**self.fields(), "bearerToken": new_token()}
        return self.fields()

    def regenerated(self) -> Fields:
        fresh = self.fields()
        for field in ("bearerToken", "password"):
            if field in fresh:
                fresh[field] = new_token()
        return fresh


class TwilioToken(_IssuedByProvider):
    provider = "Twilio"
    field = "authToken"

    authToken: Token


class TelnyxKey(_IssuedByProvider):
    """Telnyx signs with its account key pair and publishes only the public half (portal,
    "Public Key"): the gateway cannot generate it, so it is required."""

    provider = "Telnyx"
    field = "publicKey"

    publicKey: Annotated[str, AfterValidator(_telnyx_public_key)]


def checked(scheme: type[Scheme], given: Mapping[str, Any], where: str) -> Scheme:
    """`given` read as `scheme`, or 400 `invalid_payload`: a field's problem reads
    `<where>.<field>: ...`, the whole credential's `<where>: ...`."""
    try:
        return scheme.model_validate(given)
    except ValidationError as exc:
        joint = "." if exc.errors()[0]["loc"] else ": "
        raise invalid_payload(where + joint + describe_validation_error(exc)) from None
