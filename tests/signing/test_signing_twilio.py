"""Twilio: interop with the ``twilio`` package, ports, repeated params and JSON bodies."""

from collections.abc import Sequence

import pytest
from twilio.request_validator import RequestValidator

from signing import VerificationError, twilio

TOKEN = "12345abcdef"
PARAMS = {"From": "+15551230000", "To": "+15559870000", "Body": "hi ü", "MessageSid": "SM1"}


class MultiDict(dict[str, list[str]]):
    """The Flask-style multidict the ``twilio`` package reads repeated names from."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def _reason(url: str, params: twilio.Params | None, signature: str | None) -> str:
    with pytest.raises(VerificationError) as caught:
        twilio.verify(url, params, signature, [TOKEN])
    return caught.value.reason


@pytest.mark.parametrize(
    ("signed_url", "request_url"),
    [
        ("https://example.com/sms?x=1", "https://example.com/sms?x=1"),
        ("https://example.com:443/sms?x=1", "https://example.com/sms?x=1"),
        ("https://example.com/sms?x=1", "https://example.com:443/sms?x=1"),
        ("http://example.com:80/sms", "http://example.com/sms"),
        ("http://example.com/sms", "http://example.com:8080/sms"),
        ("https://example.com:8443/sms", "https://example.com:8443/sms"),
    ],
)
def test_twilio_package_signatures_verify(signed_url: str, request_url: str) -> None:
    validator = RequestValidator(TOKEN)
    signature = validator.compute_signature(signed_url, PARAMS)
    assert validator.validate(request_url, PARAMS, signature)
    twilio.verify(request_url, PARAMS, signature, [TOKEN])


def test_sign_matches_twilio_package_including_repeated_names() -> None:
    params = MultiDict({"b": ["2", "1", "2"], "a": ["z"], "c": []})
    ours: dict[str, Sequence[str]] = dict(params)
    url = "https://example.com/x"
    expected = RequestValidator(TOKEN).compute_signature(url, params)
    assert twilio.sign(url, ours, TOKEN) == expected
    twilio.verify(url, ours, expected, [TOKEN])
    assert twilio.sign(url, None, TOKEN) == RequestValidator(TOKEN).compute_signature(url, {})


def test_our_signature_validates_with_twilio_package() -> None:
    url = "https://example.com/sms"
    assert RequestValidator(TOKEN).validate(url, PARAMS, twilio.sign(url, PARAMS, TOKEN))


def test_port_stripped_correctly_with_userinfo_and_ipv6() -> None:
    for bare, with_port in [
        ("https://user:pw@example.com/x", "https://user:pw@example.com:8443/x"),
        ("https://[::1]/x", "https://[::1]:8443/x"),
    ]:
        twilio.verify(with_port, PARAMS, twilio.sign(bare, PARAMS, TOKEN), [TOKEN])


def test_url_as_given_is_tried_too() -> None:
    url = "HTTPS://example.com/sms?"  # urlparse would drop the "?" and lower-case the scheme
    twilio.verify(url, PARAMS, twilio.sign(url, PARAMS, TOKEN), [TOKEN])


def test_rotation_and_tampering() -> None:
    url = "https://example.com/sms"
    signature = twilio.sign(url, PARAMS, TOKEN)
    twilio.verify(url, PARAMS, signature, ["old-token", TOKEN])
    assert _reason(url, {**PARAMS, "Body": "bye"}, signature) == "signature_invalid"
    assert _reason(url + "?x", PARAMS, signature) == "signature_invalid"


@pytest.mark.parametrize(
    ("url", "signature", "reason"),
    [
        ("https://example.com/", None, "missing_header"),
        ("https://example.com/", "", "missing_header"),
        ("https://example.com/", "****", "malformed_header"),
        ("https://example.com:99999/", "AAAA", "malformed_header"),
        ("https://example.com:port/", "AAAA", "malformed_header"),
        ("http://[::1/", "AAAA", "malformed_header"),
        ("https://example.com/", "AAAA", "signature_invalid"),
    ],
)
def test_bad_requests(url: str, signature: str | None, reason: str) -> None:
    assert _reason(url, PARAMS, signature) == reason


JSON_BODY = '{"MessageSid":"SM1","Body":"hé"}'


@pytest.mark.parametrize("port", ["", ":443"])
def test_json_body_with_twilio_package(port: str) -> None:
    validator = RequestValidator(TOKEN)
    body_hash = validator.compute_hash(JSON_BODY)
    assert twilio.body_sha256(JSON_BODY.encode()) == body_hash
    url = f"https://example.com{port}/hook?bodySHA256={body_hash}"
    signature = validator.compute_signature(url, {})
    twilio.verify_json(url.replace(port, ""), JSON_BODY.encode(), signature, [TOKEN])
    assert validator.validate(url, JSON_BODY, twilio.sign(url, None, TOKEN))


def test_json_body_tampering_and_missing_hash() -> None:
    body = JSON_BODY.encode()
    url = f"https://example.com/hook?bodySHA256={twilio.body_sha256(body)}"
    signature = twilio.sign(url, None, TOKEN)
    for bad_url, bad_body in [
        (url, body + b" "),
        ("https://example.com/hook", body),
        (url.upper(), body),
    ]:
        with pytest.raises(VerificationError) as caught:
            twilio.verify_json(bad_url, bad_body, twilio.sign(bad_url, None, TOKEN), [TOKEN])
        assert caught.value.reason == "signature_invalid"
    with pytest.raises(VerificationError):
        twilio.verify_json(url, body, signature, ["other"])
