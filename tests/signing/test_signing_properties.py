"""Hypothesis properties: round trips, single-character tampering, and fuzzed input.

Every verifier must accept what its signer produced, reject any one-character change,
and raise nothing but ``VerificationError`` for arbitrary bytes and header strings.
"""

import base64
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from signing import VerificationError, credentials, hubster, standard, telnyx, twilio

NOW = 1_700_000_000
SETTINGS = settings(max_examples=40, deadline=None, database=None)

HUB_KEY = hubster.generate_key_pair().private_signing_key
STD_SECRET = standard.generate_secret()
STD_PAIR = standard.generate_ed25519_key_pair()
TELNYX_PAIR = telnyx.generate_key_pair()
TOKEN = "twilio-auth-token"

# Any code point, lone surrogates included: header strings can hold anything.
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
plain_text = st.text(max_size=30)
header_text = st.one_of(
    any_text,
    st.from_regex(r"(v1a?,[A-Za-z0-9+/]{0,90}={0,2} ?){1,3}", fullmatch=True),
    st.from_regex(r"-?[0-9]{1,30}(\.[0-9]*)?", fullmatch=True),
)
bodies = st.binary(max_size=200)
timestamps = st.integers(NOW - 300, NOW + 300)
std_keys = st.sampled_from([STD_SECRET, STD_PAIR.secret])
twilio_params = st.dictionaries(
    plain_text, st.one_of(plain_text, st.lists(plain_text, max_size=3)), max_size=4
)
urls = st.builds(
    "{}://{}{}/{}?{}".format,
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z0-9.-]{1,20}", fullmatch=True),
    st.sampled_from(["", ":80", ":443", ":8080"]),
    plain_text,
    plain_text,
)


def _fails(check: Callable[[], None]) -> None:
    with pytest.raises(VerificationError):
        check()


def _clock() -> float:
    return NOW


def _change_char(data: st.DataObject, text: str) -> str:
    index = data.draw(st.integers(0, len(text) - 1))
    new = data.draw(st.characters(exclude_categories=()).filter(lambda c: c != text[index]))
    return text[:index] + new + text[index + 1 :]


def _change_byte(data: st.DataObject, raw: bytes) -> bytes:
    index = data.draw(st.integers(0, len(raw) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index]))
    return raw[:index] + bytes([new]) + raw[index + 1 :]


@SETTINGS
@given(bodies, any_text.filter(bool), st.data())
def test_hubster_round_trip_and_tamper(body: bytes, key: str, data: st.DataObject) -> None:
    signature = hubster.sign(body, key)
    hubster.verify(body, signature, [key])
    _fails(lambda: hubster.verify(body, _change_char(data, signature), [key]))
    if body:
        _fails(lambda: hubster.verify(_change_byte(data, body), signature, [key]))


def _std(msg_id: str, ts: str, signature: str, body: bytes) -> Callable[[], None]:
    keys = [STD_SECRET, STD_PAIR.public]
    return lambda: standard.verify_parts(msg_id, ts, signature, body, keys, now=_clock)


@SETTINGS
@given(any_text.filter(bool), timestamps, bodies, std_keys, st.data())
def test_standard_round_trip_and_tamper(
    msg_id: str, ts: int, body: bytes, key: str, data: st.DataObject
) -> None:
    signature = standard.sign(msg_id, ts, body, [key])
    _std(msg_id, str(ts), signature, body)()
    _fails(_std(_change_char(data, msg_id), str(ts), signature, body))
    _fails(_std(msg_id, _change_char(data, str(ts)), signature, body))
    _fails(_std(msg_id, str(ts), _change_char(data, signature), body))
    if body:
        _fails(_std(msg_id, str(ts), signature, _change_byte(data, body)))


@SETTINGS
@given(urls, twilio_params, st.data())
def test_twilio_round_trip_tamper_and_interop(
    url: str, params: dict[str, str | list[str]], data: st.DataObject
) -> None:
    signature = twilio.sign(url, params, TOKEN)
    twilio.verify(url, params, signature, [TOKEN])
    _fails(lambda: twilio.verify(url, params, _change_char(data, signature), [TOKEN]))
    flat = {name: value for name, value in params.items() if isinstance(value, str)}
    assert twilio.sign(url, flat, TOKEN) == RequestValidator(TOKEN).compute_signature(url, flat)
    if flat:
        name = data.draw(st.sampled_from(sorted(flat)))
        changed = {**flat, name: flat[name] + "x"}
        _fails(lambda: twilio.verify(url, changed, twilio.sign(url, flat, TOKEN), [TOKEN]))


@SETTINGS
@given(bodies, st.data())
def test_twilio_json_round_trip_and_tamper(body: bytes, data: st.DataObject) -> None:
    url = f"https://example.com/hook?bodySHA256={twilio.body_sha256(body)}"
    signature = twilio.sign(url, None, TOKEN)
    twilio.verify_json(url, body, signature, [TOKEN])
    _fails(lambda: twilio.verify_json(url, body, _change_char(data, signature), [TOKEN]))
    if body:
        _fails(lambda: twilio.verify_json(url, _change_byte(data, body), signature, [TOKEN]))


def _telnyx(signature: str, ts: str, body: bytes) -> Callable[[], None]:
    headers = {telnyx.SIGNATURE_HEADER: signature, telnyx.TIMESTAMP_HEADER: ts}
    return lambda: telnyx.verify(headers, body, TELNYX_PAIR.public_key, now=_clock)


@SETTINGS
@given(timestamps, bodies, st.data())
def test_telnyx_round_trip_and_tamper(ts: int, body: bytes, data: st.DataObject) -> None:
    signature = telnyx.sign(ts, body, TELNYX_PAIR.private_key)
    _telnyx(signature, str(ts), body)()
    _fails(_telnyx(_change_char(data, signature), str(ts), body))
    _fails(_telnyx(signature, _change_char(data, str(ts)), body))
    if body:
        _fails(_telnyx(signature, str(ts), _change_byte(data, body)))


@SETTINGS
@given(
    plain_text.filter(lambda u: ":" not in u),
    plain_text,
    st.from_regex(r"[!-~]{1,40}", fullmatch=True),
    st.data(),
)
def test_credentials_round_trip_and_tamper(
    user: str, password: str, token: str, data: st.DataObject
) -> None:
    basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    credentials.check_basic(basic, user, password)
    # Only the credential is changed: the scheme name is case-insensitive.
    tampered = "Basic " + _change_char(data, basic.removeprefix("Basic "))
    _fails(lambda: credentials.check_basic(tampered, user, password))
    credentials.check_bearer(f"Bearer {token}", [token])
    _fails(lambda: credentials.check_bearer(f"Bearer {_change_char(data, token)}", [token]))


header_names = st.sampled_from(
    [
        "webhook-id",
        "Webhook-Timestamp",
        "webhook-signature",
        "svix-id",
        "SVIX-TIMESTAMP",
        "svix-signature",
        telnyx.SIGNATURE_HEADER,
        telnyx.TIMESTAMP_HEADER,
    ]
)
headers = st.dictionaries(st.one_of(header_names, any_text), header_text, max_size=8)


@SETTINGS
@given(headers, bodies, header_text, header_text)
def test_fuzzed_input_raises_only_verification_error(
    fuzzed: dict[str, str], body: bytes, text: str, other: str
) -> None:
    keys = [STD_SECRET, STD_PAIR.public]
    checks: list[Callable[[], None]] = [
        lambda: hubster.verify(body, text, [HUB_KEY]),
        lambda: standard.verify(fuzzed, body, keys, now=_clock),
        lambda: standard.verify_parts(text, str(NOW), other, body, keys, now=_clock),
        lambda: standard.verify_parts("id", text, other, body, keys, now=_clock),
        lambda: telnyx.verify(fuzzed, body, TELNYX_PAIR.public_key, now=_clock),
        lambda: twilio.verify(text, {text: other}, other, [TOKEN]),
        lambda: twilio.verify_json(text, body, other, [TOKEN]),
        lambda: twilio.verify_json(f"https://h/?bodySHA256={text}", body, other, [TOKEN]),
        lambda: credentials.check_basic(text, "user", "password"),
        lambda: credentials.check_basic("Basic " + other, "user", "password"),
        lambda: credentials.check_bearer(text, ["token"]),
    ]
    for check in checks:
        _fails(check)
