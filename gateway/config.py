"""Settings: a TOML file, then `GATEWAY_*` environment variables on top, then CLI flags.

In the file each setting is a top-level key named like its variable without the prefix, in
lower case; `[[integrations]]` and `[[subscribers]]` take the admin API's create bodies.
"""

from __future__ import annotations

import secrets
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, IPvAnyNetwork, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

TEN_YEARS_SECONDS = 10 * 365 * 86400
MIN_SECRET_BYTES = 32
"""The admin key and the HS256 JWT secret: RFC 7518 asks for a key at least as long as the
hash (32 bytes for HS256); anything shorter can be brute-forced offline from one token."""
DEFAULT_RETRY_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)

_file_values: ContextVar[dict[str, Any]] = ContextVar("gateway_config_file")


class ConfigError(Exception):
    """A configuration the gateway cannot start with; the message is one printable line."""


class _ConfigFileSource(PydanticBaseSettingsSource):
    """The TOML file's values, lowest precedence; set per load through a context variable."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_values.get({}))


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting, with its default (config/gateway.example.toml explains each)."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", extra="forbid", frozen=True, allow_inf_nan=False
    )

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = None
    redis_url: str | None = None
    redis_key_prefix: str = Field("gw", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    redis_tls_ca_file: str | None = None
    redis_tls_cert_file: str | None = None
    redis_tls_key_file: str | None = None
    redis_pool_size: int = Field(64, ge=2, le=10000)
    redis_connect_timeout_seconds: float = Field(2, gt=0, le=300)
    redis_timeout_seconds: float = Field(5, gt=0, le=300)
    redis_wait_replicas: int = Field(0, ge=0, le=100)
    redis_wait_timeout_seconds: float = Field(1, gt=0, le=300)
    # Secrets at rest (gateway/credentials/sealing.py): the first key seals, every one opens.
    master_keys: Annotated[list[str], NoDecode] = Field([], repr=False)
    admin_key: str | None = Field(None, repr=False)
    log_level: str = "INFO"
    # Many processes (docs/deploy.md): worker processes sharing one port (Redis engine
    # only), and the peers whose X-Forwarded-* / Forwarded headers are believed.
    workers: int = Field(1, ge=1, le=256)
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = []
    # Which of their headers: `Forwarded` and `X-Forwarded-*` (Forwarded wins), or one kind
    # only, for proxies that pass the other kind through from the client untouched.
    trusted_proxy_headers: Literal["both", "forwarded", "x-forwarded"] = "both"
    allow_private_targets: bool = False
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"

    jwt_secret: str | None = Field(None, repr=False)
    jwt_public_key: str | None = None
    jwt_algorithms: Annotated[list[str], NoDecode] = ["HS256"]
    jwt_audience: str = "gateway"
    jwt_leeway_seconds: float = Field(30, ge=0, le=TEN_YEARS_SECONDS)

    retry_schedule: Annotated[list[float], NoDecode] = list(DEFAULT_RETRY_SCHEDULE)
    delivery_timeout_seconds: float = Field(15, gt=0, le=TEN_YEARS_SECONDS)
    rotation_grace_seconds: float = Field(86400, ge=0, le=TEN_YEARS_SECONDS)
    history_seconds: float = Field(86400, gt=0, le=TEN_YEARS_SECONDS)
    history_max_bytes: int = Field(268435456, gt=0)
    dedup_seconds: float = Field(259200, gt=0, le=TEN_YEARS_SECONDS)
    max_body_bytes: int = Field(1048576, gt=0)
    shutdown_timeout_seconds: float = Field(30, gt=0, le=TEN_YEARS_SECONDS)

    subscriber_max_queued_bytes: int = Field(67108864, gt=0)
    subscriber_max_dead_bytes: int = Field(67108864, gt=0)
    delivery_lease_margin_seconds: float = Field(30, ge=0, le=TEN_YEARS_SECONDS)
    enqueuer_lease_seconds: float = Field(10, gt=0, le=3600)

    ws_max_backlog_bytes: int = Field(1048576, gt=0)
    # Agent websockets against hostile clients (docs/security.md): upgrades waiting for their
    # auth frame at once (more are answered 503), client frames a session may send per
    # second (twice that in a burst; beyond it `rate_limited`, then close 4429), and the
    # filters a `subscribe` or `auth` frame may list in `events` (each at most 128
    # characters).
    ws_max_unauthenticated: int = Field(1000, gt=0)
    ws_client_frames_per_second: float = Field(20, gt=0, le=1_000_000)
    ws_max_filters: int = Field(64, gt=0, le=10_000)
    ws_heartbeat_seconds: float = Field(25, gt=0, le=TEN_YEARS_SECONDS)
    ws_auth_timeout_seconds: float = Field(10, gt=0, le=TEN_YEARS_SECONDS)
    ws_refresh_grace_seconds: float = Field(25, ge=0, le=TEN_YEARS_SECONDS)

    # Hostile clients (docs/security.md): how long a connection may take over its request's
    # headers and body, leave an answer untaken, stay idle between requests, and how many
    # may be open at once; how many activities one webhook may carry and how many bytes
    # they may normalise to.
    http_header_timeout_seconds: float = Field(10, gt=0, le=TEN_YEARS_SECONDS)
    http_body_timeout_seconds: float = Field(30, gt=0, le=TEN_YEARS_SECONDS)
    http_send_timeout_seconds: float = Field(30, gt=0, le=TEN_YEARS_SECONDS)
    http_keepalive_seconds: float = Field(75, gt=0, le=TEN_YEARS_SECONDS)
    max_connections: int = Field(10000, gt=0)
    max_activities_per_webhook: int = Field(100, gt=0)
    max_normalised_bytes: int = Field(4194304, gt=0)

    integrations: list[dict[str, Any]] = []
    subscribers: list[dict[str, Any]] = []

    @field_validator(
        "jwt_algorithms", "retry_schedule", "trusted_proxies", "master_keys", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("retry_schedule")
    @classmethod
    def _non_negative_schedule(cls, value: list[float]) -> list[float]:
        if not value or any(not 0 <= step <= TEN_YEARS_SECONDS for step in value):
            raise ValueError("needs at least one delay, each from 0 to ten years")
        return value

    @field_validator("admin_key", "jwt_secret")
    @classmethod
    def _long_enough(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"must be at least {MIN_SECRET_BYTES} bytes")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of debug, info, warning, error, critical")
        return level

    @model_validator(mode="after")
    def _dedup_covers_history(self) -> Settings:
        """A redelivery of an event still in the history must be recognised."""
        if self.dedup_seconds < self.history_seconds:
            raise ValueError(
                f"dedup_seconds ({self.dedup_seconds:g}) must be at least history_seconds "
                f"({self.history_seconds:g})"
            )
        return self

    @model_validator(mode="after")
    def _workers_share_redis(self) -> Settings:
        """Worker processes share state only through Redis: with the memory engine each
        would hold its own event log, dedup keys and sessions."""
        if self.workers > 1 and not self.redis_url:
            raise ValueError(
                f"workers = {self.workers} needs the Redis engine (GATEWAY_REDIS_URL): "
                "with the memory engine every worker would keep its own events"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _ConfigFileSource(settings_cls)


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with Path(path).open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"configuration file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    if not where:
        return str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        return f"unknown setting '{where}'"
    return f"setting '{where}': {first['msg']}"


def load_settings(config_path: str | None = None, **overrides: Any) -> Settings:
    """Load settings from the file, the environment and explicit overrides (highest first)."""
    file_values = _read_toml(config_path) if config_path else {}
    token = _file_values.set(file_values)
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {_describe(exc)}") from None
    except SettingsError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None
    finally:
        _file_values.reset(token)


def generated_secret() -> str:
    """A per-run secret for an admin key or JWT secret the operator did not set."""
    return secrets.token_urlsafe(32)
