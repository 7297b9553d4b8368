"""Text/bytes conversions shared by the schemes, written so they cannot raise on odd input."""

import binascii


def utf8(text: str) -> bytes:
    """Encode as UTF-8; lone surrogates pass through instead of raising, so never matching."""
    return text.encode("utf-8", "surrogatepass")


def b64encode(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).decode("ascii")


def b64decode_canonical(text: str) -> bytes | None:
    """Decode padded standard base64, or ``None`` if ``text`` is not its canonical encoding.

    Rejecting non-canonical forms (stray padding bits, whitespace) means two different
    header strings can never carry the same signature.
    """
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        return None
    return raw if binascii.b2a_base64(raw, newline=False) == text.encode("ascii") else None


def b64decode_key(text: str, what: str) -> bytes:
    """Decode a caller-supplied base64 key, tolerating missing padding; ``ValueError`` if bad."""
    raw = b64decode_canonical(text + "=" * (-len(text) % 4))
    if not raw:
        raise ValueError(f"{what} is not valid non-empty base64")
    return raw
