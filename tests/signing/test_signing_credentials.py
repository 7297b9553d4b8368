"""HTTP Basic and Bearer checks: rotation, reasons, and caller errors."""

import base64

import pytest

from signing import VerificationError, check_basic, check_basic_any, check_bearer


def _basic(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return "Basic " + base64.b64encode(raw).decode()


def _reason(check: object, *args: object) -> str:
    with pytest.raises(VerificationError) as caught:
        check(*args)  # type: ignore[operator]
    return caught.value.reason


def test_basic_accepts_exact_credentials_any_scheme_case() -> None:
    check_basic(_basic("scg:pässword:with:colons"), "scg", "pässword:with:colons")
    check_basic(_basic("scg:pw").replace("Basic", "bASIC"), "scg", "pw")
    check_basic(_basic("scg:"), "scg", "")


def test_basic_rotation() -> None:
    pairs = [("scg", "old"), ("scg", "new")]
    check_basic_any(_basic("scg:old"), pairs)
    check_basic_any(_basic("scg:new"), pairs)
    assert _reason(check_basic_any, _basic("scg:older"), pairs) == "credential_invalid"


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "missing_header"),
        ("", "missing_header"),
        ("Bearer abc", "malformed_header"),
        ("Basic", "malformed_header"),
        ("Basic ", "malformed_header"),
        ("Basic !!!!", "malformed_header"),
        ("Basic c2NnOnB3MQ", "malformed_header"),  # "scg:pw1" without its padding
        (_basic(b"scg:\xff"), "malformed_header"),
        (_basic("no colon"), "malformed_header"),
        (_basic("scg:PW"), "credential_invalid"),
        (_basic("SCG:pw"), "credential_invalid"),
        (_basic("scg:pw "), "credential_invalid"),
    ],
)
def test_basic_reasons(authorization: str | None, reason: str) -> None:
    assert _reason(check_basic, authorization, "scg", "pw") == reason


def test_bearer() -> None:
    check_bearer("Bearer tok-new", ["tok-old", "tok-new"])
    check_bearer("bearer  tok-old", ["tok-old", "tok-new"])
    assert _reason(check_bearer, "Bearer tok", ["tok-old"]) == "credential_invalid"
    assert _reason(check_bearer, "Bearer \udcff", ["tok-old"]) == "credential_invalid"
    assert _reason(check_bearer, "Basic tok-old", ["tok-old"]) == "malformed_header"
    assert _reason(check_bearer, "Bearer", ["tok-old"]) == "malformed_header"
    assert _reason(check_bearer, None, ["tok-old"]) == "missing_header"


def test_caller_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="':'"):
        check_basic(_basic("a:b:c"), "a:b", "c")
    with pytest.raises(ValueError, match="at least one"):
        check_basic_any(_basic("a:b"), [])
    with pytest.raises(ValueError, match="at least one"):
        check_bearer("Bearer x", "x")
