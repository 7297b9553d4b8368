"""Credentials per integration kind: validated when given, generated when absent, and
regenerated on `regenerateKeys`. Generation uses the `signing` library's own generators."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

import signing
from gateway.errors import describe_validation_error, invalid_payload
from gateway.integrations.model import Kind

Configuration = dict[str, Any]
_HEX_KEY = r"^[0-9A-F]{32}$"


def _problem(message: str) -> PydanticCustomError:
    """A validator's refusal worded as given (a ValueError would read "Value error, ...")."""
    return PydanticCustomError("configuration", message)


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HubsterConfig(_Config):
    publicSigningKey: str | None = Field(None, pattern=_HEX_KEY)
    privateSigningKey: str | None = Field(None, pattern=_HEX_KEY)

    @model_validator(mode="after")
    def _both_or_neither(self) -> HubsterConfig:
        if (self.publicSigningKey is None) != (self.privateSigningKey is None):
            raise _problem("give both publicSigningKey and privateSigningKey, or neither")
        return self


class ScgConfig(_Config):
    username: str | None = Field(None, min_length=1, pattern=r"^[^:]*$")
    password: str | None = Field(None, min_length=1)
    bearerToken: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _basic_pairs(self) -> ScgConfig:
        if (self.username is None) != (self.password is None):
            raise _problem("give both username and password, or neither")
        return self


class StandardConfig(_Config):
    secret: str | None = None
    publicKey: str | None = None

    @field_validator("secret")
    @classmethod
    def _hmac_secret(cls, value: str | None) -> str | None:
        # The prefix is required: a public key pasted without its prefix would otherwise be
        # taken as an HMAC secret that anyone who knows the public key could sign with.
        if value is not None and (not value.startswith("whsec_") or not _loads(value)):
            raise _problem("must be a whsec_ secret (base64 of 24..64 bytes)")
        return value

    @field_validator("publicKey")
    @classmethod
    def _ed25519_public(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("whpk_") or not _loads(value)):
            raise _problem("must be whpk_ + base64 of a 32-byte Ed25519 public key")
        return value


class TwilioConfig(_Config):
    authToken: str = Field(min_length=1)


class TelnyxConfig(_Config):
    """Telnyx signs with its account key pair and publishes only the public half (portal,
    "Public Key"): the gateway cannot generate it, so it is required."""

    publicKey: str

    @field_validator("publicKey")
    @classmethod
    def _ed25519_public(cls, value: str) -> str:
        try:
            signing.telnyx.load_public_key(value)
        except ValueError:
            raise _problem("must be Telnyx's Ed25519 public key: base64 of 32 bytes") from None
        return value


def _loads(key: str) -> bool:
    try:
        signing.standard.load_key(key)
    except ValueError:
        return False
    return True


_MODELS: dict[str, type[_Config]] = {
    "hubster-system": HubsterConfig,
    "hubster-direct": HubsterConfig,
    "scg": ScgConfig,
    "standard": StandardConfig,
    "telnyx": TelnyxConfig,
    "twilio": TwilioConfig,
}


def _token() -> str:
    return secrets.token_urlsafe(32)


def _hubster_pair() -> Configuration:
    pair = signing.hubster.generate_key_pair()
    return {
        "publicSigningKey": pair.public_signing_key,
        "privateSigningKey": pair.private_signing_key,
    }


def _validated(kind: Kind, configuration: Configuration) -> Configuration:
    try:
        model = _MODELS[kind].model_validate(configuration)
    except ValidationError as exc:
        # A field's problem reads `configuration.<field>: ...`, the whole object's
        # `configuration: ...`.
        joint = "." if exc.errors()[0]["loc"] else ": "
        raise invalid_payload("configuration" + joint + describe_validation_error(exc)) from None
    return model.model_dump(exclude_none=True)


def complete_configuration(kind: Kind, configuration: Configuration) -> Configuration:
    """The configuration checked for `kind`, with the credentials it lacks generated."""
    config = _validated(kind, configuration)
    if kind in ("hubster-system", "hubster-direct") and not config:
        config = _hubster_pair()
    elif kind == "scg" and "username" not in config and "bearerToken" not in config:
        config["bearerToken"] = _token()
    elif kind == "standard" and not config:
        config["secret"] = signing.standard.generate_secret()
    return config


def _regenerate_scg(config: Configuration) -> Configuration:
    fresh = dict(config)
    if "bearerToken" in fresh:
        fresh["bearerToken"] = _token()
    if "password" in fresh:
        fresh["password"] = _token()
    return fresh


def _regenerate_standard(config: Configuration) -> Configuration:
    if "secret" not in config:
        raise invalid_payload(
            "regenerateKeys: a publicKey belongs to the sender; PATCH configuration.publicKey"
        )
    return {**config, "secret": signing.standard.generate_secret()}


def _issued_by(provider: str, field: str) -> Callable[[Configuration], Configuration]:
    """A regenerator that refuses: the provider issues this credential, not the gateway."""

    def refuse(config: Configuration) -> Configuration:
        raise invalid_payload(
            f"regenerateKeys: {provider} issues the {field}; PATCH configuration.{field}"
        )

    return refuse


_REGENERATORS: dict[str, Callable[[Configuration], Configuration]] = {
    "hubster-system": lambda config: {**config, **_hubster_pair()},
    "hubster-direct": lambda config: {**config, **_hubster_pair()},
    "scg": _regenerate_scg,
    "standard": _regenerate_standard,
    "telnyx": _issued_by("Telnyx", "publicKey"),
    "twilio": _issued_by("Twilio", "authToken"),
}


def regenerated(kind: Kind, configuration: Configuration) -> Configuration:
    """New secrets for `regenerateKeys`; 400 for kinds whose secret the sender owns."""
    return _REGENERATORS[kind](configuration)


def merged(configuration: Configuration, patch: Configuration) -> Configuration:
    """JSON merge patch of the configuration: a key set to null is removed."""
    result = dict(configuration)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result
