"""The prepared-pad HMAC must equal the standard library's, for every key length."""

import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from signing._hmac import PreparedHmac, prepared


@settings(max_examples=100, deadline=None, database=None)
@given(
    key=st.one_of(st.binary(max_size=200), st.binary(min_size=63, max_size=65)),
    parts=st.lists(st.binary(max_size=300), max_size=3),
    algorithm=st.sampled_from(["sha256", "sha1"]),
)
def test_matches_hmac_digest(key: bytes, parts: list[bytes], algorithm: str) -> None:
    expected = hmac.digest(key, b"".join(parts), algorithm)
    assert PreparedHmac(key, algorithm).digest(*parts) == expected
    assert prepared(key, algorithm).digest(*parts) == expected


def test_prepared_is_reusable_and_repr_hides_key() -> None:
    mac = prepared(b"secret-key", "sha256")
    assert mac.digest(b"a") == mac.digest(b"a") == hmac.digest(b"secret-key", b"a", "sha256")
    assert "secret" not in repr(mac)
