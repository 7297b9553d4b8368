"""Agent JWTs: minting (HS256) and verification of tokens minted here or elsewhere.

Pure rules, no I/O. The accepted algorithms are pinned by configuration and each one is tied
to one key: HMAC algorithms to the shared secret, RSA/EdDSA/ECDSA to the configured public key.
A token's own `alg` header only picks among the configured ones, so `none` and key confusion
(an HS256 token "signed" with the public key's PEM) are refused by construction.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from gateway.config import ConfigError
from gateway.errors import TokenError

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
_PUBLIC_KEY_TYPES: dict[str, tuple[type[Any], ...]] = {
    "RS256": (rsa.RSAPublicKey,),
    "RS384": (rsa.RSAPublicKey,),
    "RS512": (rsa.RSAPublicKey,),
    "PS256": (rsa.RSAPublicKey,),
    "PS384": (rsa.RSAPublicKey,),
    "PS512": (rsa.RSAPublicKey,),
    "ES256": (ec.EllipticCurvePublicKey,),
    "ES384": (ec.EllipticCurvePublicKey,),
    "ES512": (ec.EllipticCurvePublicKey,),
    "EdDSA": (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey),
}
MINT_ALGORITHM = "HS256"
MAX_EXPIRY_AHEAD_SECONDS = 10 * 365 * 86400
"""An `exp` further ahead than this is refused: no real token lives that long, and a huge one
cannot even be written as a timestamp."""
NUMERIC_DATE_CLAIMS = ("exp", "iat", "nbf")


@dataclass(frozen=True, slots=True)
class AgentGrant:
    """What a verified token allows. `conversation_ids` None means every conversation of
    the hubs; an empty `hub_ids` is a valid token that grants nothing (closed 4003)."""

    agent_id: str
    name: str | None
    hub_ids: frozenset[str]
    conversation_ids: frozenset[str] | None
    expires_at: float


class TokenVerifier:
    """Verifies agent JWTs against the configured algorithms and keys."""

    def __init__(
        self,
        *,
        secret: str,
        public_key_pem: str | None,
        algorithms: Iterable[str],
        audience: str,
        leeway_seconds: float,
    ) -> None:
        """Raises `ConfigError` for a configuration that could never verify a token: an
        unknown algorithm, or a public-key algorithm without a public key of its type."""
        allowed = [alg for alg in algorithms if alg in HMAC_ALGORITHMS or alg in _PUBLIC_KEY_TYPES]
        unknown = set(algorithms) - set(allowed)
        if unknown:
            raise ConfigError(f"unsupported JWT algorithms: {', '.join(sorted(unknown))}")
        self._algorithms = frozenset(allowed)
        self._secret = secret.encode()
        self._public_key = _public_key(public_key_pem)
        for alg in sorted(self._algorithms - HMAC_ALGORITHMS):
            if self._public_key is None:
                raise ConfigError(f"JWT algorithm {alg} needs GATEWAY_JWT_PUBLIC_KEY")
            if not isinstance(self._public_key, _PUBLIC_KEY_TYPES[alg]):
                raise ConfigError(f"GATEWAY_JWT_PUBLIC_KEY is not a key for JWT algorithm {alg}")
        self._audience = audience
        self._leeway = leeway_seconds

    def _key_for(self, alg: str) -> Any:
        if alg not in self._algorithms:
            raise TokenError("unauthorized", f"The token's algorithm {alg!r} is not accepted.")
        return self._secret if alg in HMAC_ALGORITHMS else self._public_key

    def verify(self, token: str) -> AgentGrant:
        """The grant of a valid token, else `TokenError`."""
        try:
            header = jwt.get_unverified_header(token)
            alg = header.get("alg")
            if not isinstance(alg, str):
                raise TokenError("unauthorized", "The token names no algorithm.")
            _check_numeric_dates(jwt.decode(token, options={"verify_signature": False}))
            claims = jwt.decode(
                token,
                self._key_for(alg),
                algorithms=[alg],
                audience=self._audience,
                leeway=self._leeway,
                options={"require": ["sub", "exp", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("expired_token", "The token has expired.") from None
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise TokenError("unauthorized", f"The token is not valid: {exc}.") from None
        return _grant_from(claims)


def _public_key(pem: str | None) -> Any:
    if not pem:
        return None
    try:
        return load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid JWT configuration: GATEWAY_JWT_PUBLIC_KEY: {exc}") from None


def _check_numeric_dates(claims: Any) -> None:
    """`exp`, `iat` and `nbf` must be JSON numbers (PyJWT would take the string "123"), finite,
    and `exp` within `MAX_EXPIRY_AHEAD_SECONDS`. Checked on the unverified claims, before
    PyJWT compares them with the clock."""
    if not isinstance(claims, dict):
        raise TokenError("unauthorized", "The token's claims must be a JSON object.")
    for name in NUMERIC_DATE_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        finite = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
        if isinstance(value, bool) or not finite:
            raise TokenError("unauthorized", f"The token's {name!r} claim must be a number.")
    exp = claims.get("exp")
    if exp is not None and exp > time.time() + MAX_EXPIRY_AHEAD_SECONDS:
        raise TokenError("unauthorized", "The token's 'exp' claim is too far in the future.")


def _string_list(claims: dict[str, Any], name: str) -> frozenset[str]:
    value = claims[name]
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise TokenError("unauthorized", f"The token's {name!r} claim must be a list of strings.")
    return frozenset(value)


def _grant_from(claims: dict[str, Any]) -> AgentGrant:
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub:
        raise TokenError("unauthorized", "The token's 'sub' claim must be the agent id.")
    if "hubs" not in claims:
        raise TokenError("unauthorized", "The token has no 'hubs' claim.")
    name = claims.get("name")
    if name is not None and not isinstance(name, str):
        raise TokenError("unauthorized", "The token's 'name' claim must be a string.")
    conversations = _string_list(claims, "conversations") if "conversations" in claims else None
    return AgentGrant(
        agent_id=sub,
        name=name,
        hub_ids=_string_list(claims, "hubs"),
        conversation_ids=conversations,
        expires_at=float(claims["exp"]),
    )


def mint(
    secret: str,
    *,
    agent_id: str,
    name: str | None,
    hub_ids: Sequence[str],
    conversation_ids: Sequence[str] | None,
    audience: str,
    issued_at: int,
    ttl_seconds: int,
) -> str:
    """An HS256 agent token this gateway (or any holder of the secret) verifies."""
    claims: dict[str, Any] = {
        "sub": agent_id,
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        "hubs": list(hub_ids),
    }
    if name is not None:
        claims["name"] = name
    if conversation_ids is not None:
        claims["conversations"] = list(conversation_ids)
    return jwt.encode(claims, secret.encode(), algorithm=MINT_ALGORITHM)
