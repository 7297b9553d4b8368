"""Secrets at rest: the credentials member of every registry record, sealed with AES-GCM
under the master keys (`GATEWAY_MASTER_KEYS`).

The secret part of an integration or subscriber record is exactly one member,
`RECORD_MEMBER`; `SealedRegistry` wraps an engine's registry and seals that member on every
write and opens it on every read, so the stores above it and the engine below it never
change. A sealed member is one string::

    aesgcm1.<key id>.<base64url(nonce || ciphertext || tag)>

- a random 96-bit nonce per seal (a record is sealed at most a few times per change, far
  from the 2^32 seals per key where random nonces start to risk repeating);
- the key id (8 hex digits of a digest of the master key, which tells nothing of the key)
  picks the key that opens it, so keys can be rotated: the first master key seals, every
  one opens, and `python -m gateway reencrypt` seals everything again under the first;
- the associated data is the record's kind and id, so a sealed member copied into another
  record (or kind) does not open.

A record whose member is still plain JSON (written before master keys were configured)
reads as it is, and is sealed on its next write or by `reencrypt`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
from collections.abc import Sequence
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.config import ConfigError
from gateway.credentials.rotation import RECORD_MEMBER
from gateway.engine.base import EngineUnavailable
from gateway.engine.registry import Record, Registry, Versioned, update

log = logging.getLogger("gateway.credentials")

ID_MEMBERS = {"integration": "integrationId", "subscriber": "subscriberId"}
"""The registry kinds whose records carry credentials, each with the member holding the
record's id (the id a sealed member is bound to; `list` gives records without their ids)."""
KEY_BYTES = 32
NONCE_BYTES = 12
SCHEME = "aesgcm1"
MAKE_A_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
_KEY_TEXT = re.compile(r"^[A-Za-z0-9_-]{43}=?$")


class SealError(EngineUnavailable):
    """A sealed member this process cannot open: its key is not among the master keys, or
    the blob was altered or moved to another record. To its callers it is the engine being
    unavailable (a request answers 503 and the provider retries once the operator fixes
    `GATEWAY_MASTER_KEYS`; a loop backs off); `detail` says which record and key, never
    anything secret, and is logged once."""


def key_id(key: bytes) -> str:
    """A short public name of a master key: which key sealed a blob, nothing about the key."""
    return hashlib.blake2b(key, digest_size=4, person=b"gw-master-key").hexdigest()


def parse_master_keys(values: Sequence[str]) -> list[bytes]:
    """The keys of `GATEWAY_MASTER_KEYS` (each 32 bytes in URL-safe base64, padded or not,
    as `secrets.token_urlsafe(32)` and Fernet's `generate_key()` make them); `ConfigError`
    naming the position of a bad one, never its text."""
    keys = []
    for position, text in enumerate(values, start=1):
        if not _KEY_TEXT.match(text):
            raise ConfigError(
                f"GATEWAY_MASTER_KEYS: key {position} is not 32 bytes in URL-safe base64 "
                f"(make one with {MAKE_A_KEY})"
            )
        keys.append(base64.urlsafe_b64decode(text.rstrip("=") + "="))
    if len({key_id(key) for key in keys}) != len(keys):
        raise ConfigError("GATEWAY_MASTER_KEYS: a key is listed twice")
    return keys


def _parts(sealed: str) -> tuple[str, str, str]:
    """A sealed member's scheme, key id and blob."""
    scheme, _, rest = sealed.partition(".")
    kid, _, blob = rest.partition(".")
    return scheme, kid, blob


def _key_id_of(sealed: str) -> str:
    return _parts(sealed)[1]


def _context(kind: str, record_id: str) -> bytes:
    return kind.encode() + b"\x00" + record_id.encode()


class MasterKeys:
    """The first key seals; every key opens."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one master key")
        self._ciphers = {key_id(key): AESGCM(key) for key in keys}
        self.current_id = key_id(keys[0])

    def seal(self, value: Any, kind: str, record_id: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current_id].encrypt(
            nonce, orjson.dumps(value), _context(kind, record_id)
        )
        blob = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()
        return f"{SCHEME}.{self.current_id}.{blob}"

    def open(self, sealed: str, kind: str, record_id: str) -> Any:
        """The value sealed, or `SealError`."""
        scheme, kid, blob = _parts(sealed)
        cipher = self._ciphers.get(kid)
        where = f"{kind} {record_id}"
        if scheme != SCHEME:
            raise SealError(f"{where}: credentials in an unknown format")
        if cipher is None:
            raise SealError(
                f"{where}: credentials sealed under master key id {kid}, which is not in "
                "GATEWAY_MASTER_KEYS"
            )
        try:
            raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _context(kind, record_id))
        except (InvalidTag, ValueError, binascii.Error):
            raise SealError(
                f"{where}: credentials do not open under master key id {kid} (altered, "
                "or moved from another record)"
            ) from None
        return orjson.loads(plain)

    def holds(self, kid: str) -> bool:
        return kid in self._ciphers

    def sealed_by(self, member: Any) -> str | None:
        """The key id a stored member is sealed under; None when it is plain."""
        return _key_id_of(member) if isinstance(member, str) else None


class SealedRegistry:
    """A registry whose records carry their credentials member sealed (see the module)."""

    def __init__(self, inner: Registry, keys: MasterKeys) -> None:
        self.inner = inner
        self.keys = keys
        self._reported: set[str] = set()

    def _seal(self, kind: str, record_id: str, record: Record) -> Record:
        if kind not in ID_MEMBERS or RECORD_MEMBER not in record:
            return record
        sealed = self.keys.seal(record[RECORD_MEMBER], kind, record_id)
        return {**record, RECORD_MEMBER: sealed}

    def _open(self, kind: str, record_id: str, versioned: Versioned) -> Versioned:
        member = versioned.record.get(RECORD_MEMBER)
        if kind not in ID_MEMBERS or not isinstance(member, str):
            return versioned
        try:
            value = self.keys.open(member, kind, record_id)
        except SealError as exc:
            self._report(exc)
            raise
        return Versioned({**versioned.record, RECORD_MEMBER: value}, versioned.version)

    def _report(self, exc: SealError) -> None:
        """One log line per problem (a handful at most: one per record kind and key)."""
        problem = exc.detail.partition(": ")[2]
        if problem not in self._reported and len(self._reported) < 64:
            self._reported.add(problem)
            log.error("cannot use stored credentials: %s", exc.detail)

    async def create(self, kind: str, record_id: str, record: Record) -> tuple[Versioned, bool]:
        stored, created = await self.inner.create(
            kind, record_id, self._seal(kind, record_id, record)
        )
        return self._open(kind, record_id, stored), created

    async def get(self, kind: str, record_id: str) -> Versioned | None:
        found = await self.inner.get(kind, record_id)
        return None if found is None else self._open(kind, record_id, found)

    async def replace(
        self, kind: str, record_id: str, record: Record, expected_version: int
    ) -> Versioned:
        stored = await self.inner.replace(
            kind, record_id, self._seal(kind, record_id, record), expected_version
        )
        return self._open(kind, record_id, stored)

    async def list(self, kind: str) -> list[Versioned]:
        items = await self.inner.list(kind)
        return [self._open(kind, _record_id(kind, item), item) for item in items]

    async def delete(self, kind: str, record_id: str) -> bool:
        return await self.inner.delete(kind, record_id)

    async def changes(self, kind: str) -> int:
        return await self.inner.changes(kind)

    async def check(self) -> None:
        """At start-up: every stored record's credentials were sealed under a key this
        process holds, and one record per key opens; `ConfigError` (one line) otherwise,
        since a gateway with the wrong master keys must not serve."""
        opened: set[str] = set()
        for kind in ID_MEMBERS:
            for item in await self.inner.list(kind):
                member = item.record.get(RECORD_MEMBER)
                kid = self.keys.sealed_by(member)
                if not isinstance(member, str) or kid in opened:
                    continue
                try:
                    self.keys.open(member, kind, _record_id(kind, item))
                except SealError as exc:
                    raise ConfigError(
                        f"cannot use the stored credentials: {exc.detail} (wrong "
                        "GATEWAY_MASTER_KEYS?)"
                    ) from None
                opened.add(_key_id_of(member))

    async def reencrypt(self) -> dict[str, int]:
        """Seal again, under the first master key, every record sealed under another or
        not sealed at all; by compare-and-set, so a change landing meanwhile is kept.
        Returns how many records of each kind were rewritten."""
        rewritten = dict.fromkeys(ID_MEMBERS, 0)
        for kind in ID_MEMBERS:
            for item in await self.inner.list(kind):
                if not self._stale(item.record):
                    continue
                changed = await update(self, kind, _record_id(kind, item), lambda record: record)
                if changed is not None:
                    rewritten[kind] += 1
        return rewritten

    def _stale(self, record: Record) -> bool:
        if RECORD_MEMBER not in record:
            return False
        return self.keys.sealed_by(record[RECORD_MEMBER]) != self.keys.current_id


def _record_id(kind: str, item: Versioned) -> str:
    record_id = item.record.get(ID_MEMBERS.get(kind, ""))
    return record_id if isinstance(record_id, str) else ""
