"""Standard Webhooks: interop with the reference libraries, rotation, tolerance, order."""

import base64
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks.webhooks import Webhook as StandardWebhook
from svix.webhooks import Webhook as SvixWebhook

from signing import VerificationError, standard

BODY = b'{"type":"message.created","data":{"text":"hello"}}'
MSG_ID = "msg_2Lf8z1"


def _headers(msg_id: str, timestamp: int | str, signature: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def _reason(check: Callable[[], None]) -> str:
    with pytest.raises(VerificationError) as caught:
        check()
    return caught.value.reason


def test_reference_library_signatures_verify() -> None:
    secret = standard.generate_secret()
    ts = int(time.time())
    when = datetime.fromtimestamp(ts, tz=UTC)
    theirs = StandardWebhook(secret).sign(MSG_ID, when, BODY.decode())
    standard.verify(_headers(MSG_ID, ts, theirs), BODY, [secret])
    svix_sig = SvixWebhook(secret).sign(MSG_ID, when, BODY.decode())
    svix_headers = {"svix-id": MSG_ID, "svix-timestamp": str(ts), "svix-signature": svix_sig}
    standard.verify(svix_headers, BODY, [secret])


def test_our_signatures_verify_with_reference_libraries() -> None:
    secret = standard.generate_secret()
    ts = int(time.time())
    signature = standard.sign(MSG_ID, ts, BODY, [secret])
    assert StandardWebhook(secret).verify(BODY, _headers(MSG_ID, ts, signature)) == {
        "type": "message.created",
        "data": {"text": "hello"},
    }
    SvixWebhook(secret).verify(BODY, _headers(MSG_ID, ts, signature))


@pytest.mark.parametrize("form", ["raw", "unpadded"])
def test_secret_without_prefix_like_reference_library(form: str, now: int) -> None:
    raw = base64.b64encode(b"k" * 24 + b"z").decode()  # 25 bytes: padded base64
    secret = raw if form == "raw" else raw.rstrip("=")
    when = datetime.fromtimestamp(now, tz=UTC)
    theirs = StandardWebhook(secret).sign(MSG_ID, when, BODY.decode())
    standard.verify_parts(MSG_ID, str(now), theirs, BODY, [secret], now=lambda: now)
    standard.verify_parts(MSG_ID, str(now), theirs, BODY, ["whsec_" + raw], now=lambda: now)


def test_ed25519_signature_made_with_cryptography_verifies(now: int) -> None:
    private = Ed25519PrivateKey.generate()
    public = "whpk_" + base64.b64encode(private.public_key().public_bytes_raw()).decode()
    raw = private.sign(f"{MSG_ID}.{now}.".encode() + BODY)
    signature = "v1a," + base64.b64encode(raw).decode()
    standard.verify(_headers(MSG_ID, now, signature), BODY, [public], now=lambda: now)


def test_v1a_round_trip_and_signing_key_accepted_for_verify(now: int) -> None:
    pair = standard.generate_ed25519_key_pair()
    signature = standard.sign(MSG_ID, now, BODY, [pair.secret])
    assert signature.startswith("v1a,")
    for key in (pair.public, pair.secret):
        standard.verify(_headers(MSG_ID, now, signature), BODY, [key], now=lambda: now)


def test_rotation_several_entries_and_several_keys(now: int) -> None:
    old, new = standard.generate_secret(), standard.generate_secret()
    pair = standard.generate_ed25519_key_pair()
    signature = standard.sign(MSG_ID, now, BODY, [old, new, pair.secret])
    assert len(signature.split(" ")) == 3
    for keys in ([old], [new], [pair.public], [standard.generate_secret(), new]):
        standard.verify(_headers(MSG_ID, now, signature), BODY, keys, now=lambda: now)
    only_old = standard.sign(MSG_ID, now, BODY, [old])
    standard.verify(_headers(MSG_ID, now, only_old), BODY, [new, old], now=lambda: now)
    assert (
        _reason(
            lambda: standard.verify_parts(MSG_ID, str(now), only_old, BODY, [new], now=lambda: now)
        )
        == "signature_invalid"
    )


def test_unknown_versions_and_extra_spaces_are_ignored(now: int) -> None:
    secret = standard.generate_secret()
    good = standard.sign(MSG_ID, now, BODY, [secret])
    header = f"v2,whatever  v1a,{'A' * 86}== {good} "
    standard.verify_parts(MSG_ID, str(now), header, BODY, [secret], now=lambda: now)


def test_headers_case_insensitive_and_webhook_names_win_over_svix(now: int) -> None:
    secret = standard.generate_secret()
    good = standard.sign(MSG_ID, now, BODY, [secret])
    headers = {"Webhook-ID": MSG_ID, "WEBHOOK-TIMESTAMP": str(now), "Webhook-Signature": good}
    standard.verify(headers, BODY, [secret], now=lambda: now)
    headers["svix-id"] = "other"
    standard.verify(headers, BODY, [secret], now=lambda: now)
    svix_only = {"svix-id": "other", "svix-timestamp": str(now), "svix-signature": good}
    reason = _reason(lambda: standard.verify(svix_only, BODY, [secret], now=lambda: now))
    assert reason == "signature_invalid"


@pytest.mark.parametrize(
    ("offset", "accepted"), [(300, True), (-300, True), (301, False), (-301, False)]
)
def test_tolerance_edges(offset: int, accepted: bool, now: int) -> None:
    secret = standard.generate_secret()
    ts = now + offset
    headers = _headers(MSG_ID, ts, standard.sign(MSG_ID, ts, BODY, [secret]))
    verify = lambda: standard.verify(headers, BODY, [secret], now=lambda: float(now))  # noqa: E731
    if accepted:
        verify()
    else:
        assert _reason(verify) == "timestamp_out_of_tolerance"


def test_custom_tolerance_and_fractional_clock(now: int) -> None:
    secret = standard.generate_secret()
    signature = standard.sign(MSG_ID, now, BODY, [secret])
    check = lambda tol, at: standard.verify_parts(  # noqa: E731
        MSG_ID, str(now), signature, BODY, [secret], tolerance_seconds=tol, now=lambda: at
    )
    check(10, now + 10.0)
    assert _reason(lambda: check(10, now + 10.5)) == "timestamp_out_of_tolerance"
    assert _reason(lambda: check(10, float("nan"))) == "timestamp_out_of_tolerance"


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        ("9" * 19, "timestamp_out_of_tolerance"),
        ("0", "timestamp_out_of_tolerance"),
        ("9" * 20, "malformed_header"),
        ("9" * 5000, "malformed_header"),
        ("-1700000000", "malformed_header"),
        ("1700000000.0", "malformed_header"),
        ("1e9", "malformed_header"),
        ("01700000000", "malformed_header"),
        (" 1700000000", "malformed_header"),
        ("\u0661\u0667" + "\u0660" * 8, "malformed_header"),  # Arabic-Indic digits
        ("inf", "malformed_header"),
        ("nan", "malformed_header"),
    ],
)
def test_absurd_timestamps(timestamp: str, reason: str, now: int) -> None:
    secret = standard.generate_secret()
    signature = standard.sign(MSG_ID, now, BODY, [secret])
    check = lambda: standard.verify_parts(  # noqa: E731
        MSG_ID, timestamp, signature, BODY, [secret], now=lambda: now
    )
    assert _reason(check) == reason


@pytest.mark.parametrize(
    ("msg_id", "timestamp", "signature", "reason"),
    [
        (None, "bad", "bad", "missing_header"),
        ("id", "", "v1,AAAA", "missing_header"),
        ("id", "1700000000", None, "missing_header"),
        ("id", "x", "v1,AAAA", "malformed_header"),
        ("id", "1700000000", "   ", "malformed_header"),
        ("id", "1700000000", "v1", "malformed_header"),
        ("id", "1700000000", ",AAAA", "malformed_header"),
        ("id", "1700000000", "v1,not-base64", "malformed_header"),
        ("id", "1700000000", " ".join(["v1,AAAA"] * 17), "malformed_header"),
        ("id", "1", "v1,not-base64", "malformed_header"),
        ("id", "1", "v1,AAAA", "timestamp_out_of_tolerance"),
        ("id", "1700000000", "v1,AAAA", "signature_invalid"),
        ("id", "1700000000", "v2,AAAA", "signature_invalid"),
    ],
)
def test_check_order(
    msg_id: str | None, timestamp: str, signature: str | None, reason: str, now: int
) -> None:
    secret = standard.generate_secret()
    check = lambda: standard.verify_parts(  # noqa: E731
        msg_id, timestamp, signature, BODY, [secret], now=lambda: now
    )
    assert _reason(check) == reason


@pytest.mark.parametrize(
    "key",
    ["whsec_", "whsec_!!!!", "", "whpk_" + "A" * 40, "whsk_AAAA", "whpk_not base64"],
)
def test_malformed_keys_raise_value_error(key: str, now: int) -> None:
    with pytest.raises(ValueError) as caught:
        standard.load_key(key)
    assert not isinstance(caught.value, VerificationError)
    with pytest.raises(ValueError):
        standard.verify_parts(MSG_ID, str(now), "v1,AAAA", BODY, [key], now=lambda: now)


def test_sign_refuses_public_keys_and_negative_timestamps(now: int) -> None:
    with pytest.raises(ValueError, match="public key"):
        standard.sign(MSG_ID, now, BODY, [standard.generate_ed25519_key_pair().public])
    with pytest.raises(ValueError, match="non-negative"):
        standard.sign(MSG_ID, -1, BODY, [standard.generate_secret()])


def test_generated_material_shapes() -> None:
    secret = standard.generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    pair = standard.generate_ed25519_key_pair()
    assert len(base64.b64decode(pair.secret.removeprefix("whsk_"))) == 32
    assert len(base64.b64decode(pair.public.removeprefix("whpk_"))) == 32
    assert isinstance(standard.load_key(pair.secret), Ed25519PrivateKey)


def test_v1a_work_per_request_is_bounded(now: int) -> None:
    pair = standard.generate_ed25519_key_pair()
    junk = [f"v1a,{base64.b64encode(bytes([n]) * 64).decode()}" for n in range(5)]
    headers = _headers(MSG_ID, now, " ".join(junk))
    check = lambda: standard.verify(headers, BODY, [pair.public], now=lambda: now)  # noqa: E731
    assert _reason(check) == "malformed_header"
    real = standard.sign(MSG_ID, now, BODY, [pair.secret])
    repeated = " ".join([junk[0]] * 6 + ["v1a,c2hvcnQ=", real])
    standard.verify(_headers(MSG_ID, now, repeated), BODY, [pair.public], now=lambda: now)
