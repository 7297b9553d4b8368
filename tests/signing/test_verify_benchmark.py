"""Cost of one successful verification of a 1 KB body, per scheme.

Runs once as a plain test by default (``--benchmark-disable`` in pyproject); measure with
``python -m pytest tests/signing/test_verify_benchmark.py --benchmark-enable -q``.
The ``standardwebhooks`` reference ``Webhook.verify`` on the same input is the yardstick:
with ``json_parse=False`` (verification only, like ours) and with its default JSON parsing.
"""

import base64
import time
from collections.abc import Callable

import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from standardwebhooks.webhooks import Webhook

from signing import check_basic, check_bearer, hubster, standard, telnyx, twilio

MSG_ID = "msg_2Lf8z1bench"
TOKEN = "twilio-auth-token"


@pytest.fixture(scope="module")
def ts() -> int:
    return int(time.time())


def _standard_headers(ts: int, body: bytes, key: str) -> dict[str, str]:
    signature = standard.sign(MSG_ID, ts, body, [key])
    return {"webhook-id": MSG_ID, "webhook-timestamp": str(ts), "webhook-signature": signature}


def _cases(ts: int, body: bytes) -> dict[str, Callable[[], object]]:
    hub_key = hubster.generate_key_pair().private_signing_key
    hub_signature = hubster.sign(body, hub_key)
    secret = standard.generate_secret()
    v1_headers = _standard_headers(ts, body, secret)
    pair = standard.generate_ed25519_key_pair()
    v1a_headers = _standard_headers(ts, body, pair.secret)
    url = f"https://example.com/twilio?bodySHA256={twilio.body_sha256(body)}"
    twilio_signature = twilio.sign(url, None, TOKEN)
    form_url = "https://example.com/twilio"
    form = {"From": "+15551230000", "To": "+15559870000", "Body": body.decode()[:960]}
    form_signature = twilio.sign(form_url, form, TOKEN)
    telnyx_pair = telnyx.generate_key_pair()
    telnyx_headers = {
        telnyx.SIGNATURE_HEADER: telnyx.sign(ts, body, telnyx_pair.private_key),
        telnyx.TIMESTAMP_HEADER: str(ts),
    }
    basic = "Basic " + base64.b64encode(b"scg-user:scg-password-0123456789").decode()
    reference = Webhook(secret)
    return {
        "hubster": lambda: hubster.verify(body, hub_signature, [hub_key]),
        "standard_v1": lambda: standard.verify(v1_headers, body, [secret]),
        "standard_v1a": lambda: standard.verify(v1a_headers, body, [pair.public]),
        "twilio_form": lambda: twilio.verify(form_url, form, form_signature, [TOKEN]),
        "twilio_json": lambda: twilio.verify_json(url, body, twilio_signature, [TOKEN]),
        "telnyx": lambda: telnyx.verify(telnyx_headers, body, telnyx_pair.public_key),
        "basic": lambda: check_basic(basic, "scg-user", "scg-password-0123456789"),
        "bearer": lambda: check_bearer("Bearer tok-0123456789abcdef", ["tok-0123456789abcdef"]),
        "standardwebhooks_lib_v1": lambda: reference.verify(body, v1_headers, json_parse=False),
        "standardwebhooks_lib_v1_json": lambda: reference.verify(body, v1_headers),
    }


CASES = [
    "hubster",
    "standard_v1",
    "standard_v1a",
    "twilio_form",
    "twilio_json",
    "telnyx",
    "basic",
    "bearer",
    "standardwebhooks_lib_v1",
    "standardwebhooks_lib_v1_json",
]


@pytest.mark.parametrize("case", CASES)
def test_verify_1kb(benchmark: BenchmarkFixture, case: str, ts: int, body_1k: bytes) -> None:
    assert len(body_1k) == 1024
    benchmark.group = "verify 1 KB"
    benchmark(_cases(ts, body_1k)[case])
