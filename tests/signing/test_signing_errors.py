"""VerificationError carries a reason and never any input, secret or signature."""

import pickle

import pytest

from signing import VerificationError, credentials, hubster, standard, telnyx, twilio
from signing.errors import Reason

REASONS: list[Reason] = [
    "signature_invalid",
    "timestamp_out_of_tolerance",
    "malformed_header",
    "missing_header",
    "credential_invalid",
]


@pytest.mark.parametrize("reason", REASONS)
def test_reason_str_repr_and_pickle(reason: Reason) -> None:
    error = VerificationError(reason)
    assert error.reason == reason
    assert repr(error) == f"VerificationError({reason!r})"
    assert str(error)
    assert pickle.loads(pickle.dumps(error)).reason == reason  # noqa: S301 - our own bytes


def _failures(now: int) -> list[tuple[VerificationError, list[str]]]:
    """Provoke a failure from every scheme, with the secrets involved in each."""
    hub = hubster.generate_key_pair()
    secret = standard.generate_secret()
    pair = standard.generate_ed25519_key_pair()
    telnyx_pair = telnyx.generate_key_pair()
    good_hub = hubster.sign(b"body", hub.private_signing_key)
    good_std = standard.sign("id", now, b"body", [secret, pair.secret])
    good_twilio = twilio.sign("https://h/x", {"a": "b"}, "tok3n-secret")
    good_telnyx = telnyx.sign(now, b"body", telnyx_pair.private_key)
    attempts = [
        (lambda: hubster.verify(b"other", good_hub, [hub.private_signing_key]), [good_hub]),
        (
            lambda: standard.verify_parts(
                "id", str(now), good_std, b"other", [secret, pair.public], now=lambda: now
            ),
            [good_std, secret.removeprefix("whsec_")],
        ),
        (
            lambda: twilio.verify("https://h/x", {"a": "c"}, good_twilio, ["tok3n-secret"]),
            [good_twilio, "tok3n-secret"],
        ),
        (
            lambda: telnyx.verify(
                {"telnyx-signature-ed25519": good_telnyx, "telnyx-timestamp": str(now)},
                b"other",
                telnyx_pair.public_key,
                now=lambda: now,
            ),
            [good_telnyx],
        ),
        (lambda: credentials.check_basic("Basic dTpw", "u", "s3cret-pw"), ["s3cret-pw"]),
        (lambda: credentials.check_bearer("Bearer guess", ["s3cret-token"]), ["s3cret-token"]),
    ]
    failures = []
    for attempt, secrets in attempts:
        with pytest.raises(VerificationError) as caught:
            attempt()
        failures.append((caught.value, [*secrets, hub.private_signing_key, pair.secret]))
    return failures


def test_no_secret_or_signature_in_messages(now: int) -> None:
    for error, secrets in _failures(now):
        rendered = str(error) + repr(error) + repr(error.args)
        for secret in secrets:
            assert secret not in rendered
            assert secret[6:20] not in rendered


def test_decoding_errors_are_not_chained() -> None:
    with pytest.raises(VerificationError) as caught:
        credentials.check_basic("Basic //79", "u", "p")
    assert caught.value.reason == "malformed_header"
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_key_pair_reprs_hide_private_keys() -> None:
    hub = hubster.generate_key_pair()
    std = standard.generate_ed25519_key_pair()
    tel = telnyx.generate_key_pair()
    assert hub.private_signing_key not in repr(hub) and hub.public_signing_key in repr(hub)
    assert std.secret not in repr(std) and std.public in repr(std)
    assert tel.private_key not in repr(tel) and tel.public_key in repr(tel)
    assert hub.private_signing_key not in str(hub)
