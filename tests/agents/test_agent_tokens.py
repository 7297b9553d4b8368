"""Token rules: pinned algorithms, required claims, leeway, `none` and key confusion refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from gateway.agents.tokens import TokenError, TokenVerifier, mint
from gateway.config import ConfigError

SECRET = "agents-tests-secret-0123456789abcdef"


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = {"sub": "ann", "aud": "gateway", "exp": int(time.time()) + 300, "hubs": ["hub-a"]}
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _verifier(algorithms: list[str] | None = None, public_pem: str | None = None) -> TokenVerifier:
    return TokenVerifier(
        secret=SECRET,
        public_key_pem=public_pem,
        algorithms=algorithms or ["HS256"],
        audience="gateway",
        leeway_seconds=30,
    )


@pytest.fixture(scope="module")
def rsa_key() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, pem.decode()


@pytest.fixture(scope="module")
def ed_key() -> tuple[ed25519.Ed25519PrivateKey, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, pem.decode()


def _refused(verifier: TokenVerifier, token: str, code: str = "unauthorized") -> None:
    with pytest.raises(TokenError) as caught:
        verifier.verify(token)
    assert caught.value.code == code


def test_minted_token_verifies_to_its_grant() -> None:
    token = mint(
        SECRET,
        agent_id="ann",
        name="Ann Agent",
        hub_ids=["hub-a", "hub-b"],
        conversation_ids=["c1"],
        audience="gateway",
        issued_at=int(time.time()),
        ttl_seconds=600,
    )
    grant = _verifier().verify(token)
    assert grant.agent_id == "ann"
    assert grant.name == "Ann Agent"
    assert grant.hub_ids == {"hub-a", "hub-b"}
    assert grant.conversation_ids == {"c1"}
    assert grant.expires_at == pytest.approx(time.time() + 600, abs=2)


def test_expired_token_is_expired_token_but_leeway_applies() -> None:
    verifier = _verifier()
    _refused(verifier, jwt.encode(_claims(exp=int(time.time()) - 60), SECRET), "expired_token")
    assert verifier.verify(jwt.encode(_claims(exp=int(time.time()) - 10), SECRET)).agent_id == "ann"


@pytest.mark.parametrize(
    "claims",
    [
        _claims(sub=None),
        _claims(exp=None),
        _claims(aud=None),
        _claims(aud="someone-else"),
        _claims(hubs=None),
        _claims(hubs="hub-a"),
        _claims(hubs=["hub-a", 7]),
        _claims(conversations="c1"),
        _claims(name=["not", "a", "name"]),
    ],
    ids=[
        "no-sub",
        "no-exp",
        "no-aud",
        "wrong-aud",
        "no-hubs",
        "hubs-str",
        "hubs-int",
        "conversations-str",
        "name-list",
    ],
)
def test_claims_are_checked(claims: dict[str, Any]) -> None:
    _refused(_verifier(), jwt.encode(claims, SECRET))


def test_empty_hubs_is_a_valid_token_granting_nothing() -> None:
    assert _verifier().verify(jwt.encode(_claims(hubs=[]), SECRET)).hub_ids == frozenset()


def test_wrong_secret_refused() -> None:
    _refused(_verifier(), jwt.encode(_claims(), "another-secret-0123456789abcdef0123"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_alg_none_refused_even_when_configured() -> None:
    head = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    unsigned = f"{head}.{_b64(json.dumps(_claims()).encode())}."
    with pytest.raises(ConfigError, match="unsupported"):
        _verifier(["none"])
    _refused(_verifier(), unsigned)
    _refused(_verifier(), unsigned.rstrip(".") + ".c2ln")


def test_rs256_accepted_with_public_key(rsa_key: tuple[rsa.RSAPrivateKey, str]) -> None:
    key, pem = rsa_key
    token = jwt.encode(_claims(), key, algorithm="RS256")
    assert _verifier(["RS256"], pem).verify(token).agent_id == "ann"
    _refused(_verifier(["HS256"], pem), token)


def test_eddsa_accepted_with_public_key(ed_key: tuple[ed25519.Ed25519PrivateKey, str]) -> None:
    key, pem = ed_key
    token = jwt.encode(_claims(), key, algorithm="EdDSA")
    assert _verifier(["EdDSA"], pem).verify(token).agent_id == "ann"
    _refused(_verifier(["HS256"], pem), jwt.encode(_claims(), key, algorithm="EdDSA"))


def _hs256_signed_with(key: bytes) -> str:
    """What an attacker sends: HS256 with the public PEM as the HMAC key (PyJWT itself
    refuses to build it, so it is assembled by hand)."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims()).encode())
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def test_key_confusion_refused(rsa_key: tuple[rsa.RSAPrivateKey, str]) -> None:
    _, pem = rsa_key
    forged = _hs256_signed_with(pem.encode())
    _refused(_verifier(["RS256"], pem), forged)
    _refused(_verifier(["RS256", "HS256"], pem), forged)


def test_token_for_another_key_type_refused(
    rsa_key: tuple[rsa.RSAPrivateKey, str], ed_key: tuple[ed25519.Ed25519PrivateKey, str]
) -> None:
    rsa_private, _ = rsa_key
    _, ed_pem = ed_key
    _refused(_verifier(["EdDSA"], ed_pem), jwt.encode(_claims(), rsa_private, algorithm="RS256"))


def test_garbage_refused() -> None:
    for token in ["", "abc", "a.b.c", "....."]:
        _refused(_verifier(), token)


def _hs256(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": str(int(time.time()) + 300)},
        {"exp": True},
        {"iat": str(int(time.time()))},
        {"nbf": str(int(time.time()))},
        {"iat": False},
    ],
    ids=["exp-string", "exp-bool", "iat-string", "nbf-string", "iat-bool"],
)
def test_numeric_date_claims_must_be_json_numbers(overrides: dict[str, Any]) -> None:
    with pytest.raises(TokenError) as caught:
        _verifier().verify(_hs256(_claims(**overrides)))
    assert caught.value.code == "unauthorized"
    assert "must be a number" in caught.value.message


@pytest.mark.parametrize("exp", [10**15, 253402300800, 10**400], ids=["1e15", "year-10000", "huge"])
def test_an_absurd_exp_is_unauthorized(exp: int) -> None:
    with pytest.raises(TokenError) as caught:
        _verifier().verify(_hs256(_claims(exp=exp)))
    assert caught.value.code == "unauthorized"


def test_non_finite_dates_are_unauthorized() -> None:
    for claim in ("exp", "nbf", "iat"):
        token = _hs256({**_claims(), claim: 1}).split(".")
        payload = json.loads(base64.urlsafe_b64decode(token[1] + "=="))
        raw = json.dumps({**payload, claim: float("inf")}).encode()  # `Infinity`, as Python reads
        body = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        signing_input = f"{token[0]}.{body}".encode()
        signature = hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest()
        forged = f"{token[0]}.{body}." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
        with pytest.raises(TokenError) as caught:
            _verifier().verify(forged)
        assert caught.value.code == "unauthorized"


def test_float_exp_within_ten_years_is_accepted() -> None:
    grant = _verifier().verify(_hs256(_claims(exp=time.time() + 9 * 365 * 86400)))
    assert grant.agent_id == "ann"


def test_public_key_algorithm_without_its_key_is_a_config_error(
    rsa_key: tuple[rsa.RSAPrivateKey, str],
) -> None:
    with pytest.raises(ConfigError, match="RS256 needs GATEWAY_JWT_PUBLIC_KEY"):
        _verifier(["HS256", "RS256"])
    with pytest.raises(ConfigError, match="EdDSA needs GATEWAY_JWT_PUBLIC_KEY"):
        _verifier(["EdDSA"])
    with pytest.raises(ConfigError, match="not a key for JWT algorithm EdDSA"):
        _verifier(["EdDSA"], rsa_key[1])
    with pytest.raises(ConfigError, match="GATEWAY_JWT_PUBLIC_KEY"):
        _verifier(["RS256"], "not a pem")
    assert _verifier(["RS256"], rsa_key[1]) is not None
