"""HMAC (RFC 2104) with each key's padded states hashed once and reused per message.

OpenSSL 3's one-shot ``hmac.digest`` spends about 1.5 µs per call setting up before it
hashes a byte; copying two hash objects already fed ``key ^ ipad`` and ``key ^ opad``
costs a fraction of that, which is most of a 1 KB verification. The tests check the
result against ``hmac.digest`` for keys shorter than, equal to and longer than a block.
"""

import functools
import hashlib

_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))


class PreparedHmac:
    """An HMAC key ready to authenticate many messages; holds no reference to the key."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes, algorithm: str) -> None:
        inner, outer = hashlib.new(algorithm), hashlib.new(algorithm)
        if len(key) > inner.block_size:
            key = hashlib.new(algorithm, key).digest()
        key = key.ljust(inner.block_size, b"\0")
        inner.update(key.translate(_IPAD))
        outer.update(key.translate(_OPAD))
        self._inner, self._outer = inner, outer

    def digest(self, *parts: bytes) -> bytes:
        """The HMAC of the concatenation of ``parts``, without concatenating them."""
        inner = self._inner.copy()
        for part in parts:
            inner.update(part)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def __repr__(self) -> str:
        return "PreparedHmac(<redacted>)"


@functools.lru_cache(maxsize=64)
def prepared(key: bytes, algorithm: str) -> PreparedHmac:
    """Memoised: a gateway authenticates with the same few keys on every request."""
    return PreparedHmac(key, algorithm)
