"""Verify cost per scheme for a 1 KB body, with the `standardwebhooks` library beside ours.

Signing is pure CPU, so an in-process timing loop measures it directly: no server, no
generator. Each figure is the best of several rounds (the least disturbed by the machine).
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable

from standardwebhooks.webhooks import Webhook

from bench.context import Context
from bench.payloads import BODY_BYTES
from bench.report import Figure, ScenarioResult
from signing import credentials, hubster, standard, twilio

ROUNDS = 5
TWILIO_URL = "https://gateway.example.com/webhooks/bench"


def cost_us(operation: Callable[[], object], budget_seconds: float) -> float:
    """Microseconds per call: the best round's mean over `ROUNDS` rounds within the budget."""
    calls = 1
    while True:
        started = time.perf_counter()
        for _ in range(calls):
            operation()
        if time.perf_counter() - started > 0.01:
            break
        calls *= 4
    per_round = max(1, int(calls * (budget_seconds / ROUNDS) / 0.01 / 4))
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(per_round):
            operation()
        best = min(best, (time.perf_counter() - started) / per_round)
    return best * 1e6


Case = tuple[str, Callable[[], object], Callable[[], object] | None]
"""(scheme, our verify call, the reference library's call for the same request or None)."""


def _hubster_case(body: bytes) -> Case:
    keys = hubster.generate_key_pair()
    signature = hubster.sign(body, keys.private_signing_key)
    return ("hubster", lambda: hubster.verify(body, signature, [keys.private_signing_key]), None)


def _standard_cases(body: bytes) -> list[Case]:
    secret = standard.generate_secret()
    pair = standard.generate_ed25519_key_pair()
    msg_id, timestamp = "msg_bench", int(time.time())

    def headers(key: str) -> dict[str, str]:
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": standard.sign(msg_id, timestamp, body, [key]),
        }

    v1, v1a = headers(secret), headers(pair.secret)
    library = Webhook(secret)
    return [
        (
            "standard v1",
            lambda: standard.verify(v1, body, [secret]),
            lambda: library.verify(body, v1, json_parse=False),
        ),
        ("standard v1a", lambda: standard.verify(v1a, body, [pair.public]), None),
    ]


def _twilio_case() -> Case:
    """A 1 KB SMS form (the three fields an inbound message is mostly about)."""
    params = {"From": "+15551230000", "To": "+15559870000"}
    params["Body"] = "x" * (BODY_BYTES - sum(len(k) + len(v) for k, v in params.items()) - 4)
    token = secrets.token_hex(16)
    signature = twilio.sign(TWILIO_URL, params, token)
    return ("twilio", lambda: twilio.verify(TWILIO_URL, params, signature, [token]), None)


def _credential_cases() -> list[Case]:
    basic = "Basic " + base64.b64encode(b"bench-user:bench-password").decode()
    return [
        ("basic", lambda: credentials.check_basic(basic, "bench-user", "bench-password"), None),
        ("bearer", lambda: credentials.check_bearer("Bearer bench-token", ["bench-token"]), None),
    ]


async def run(ctx: Context) -> ScenarioResult:
    body = b"x" * BODY_BYTES
    cases = [_hubster_case(body), *_standard_cases(body), _twilio_case(), *_credential_cases()]
    budget = max(0.2, ctx.options.duration / (len(cases) + 1))
    figures = []
    async with ctx.progress.phase("signing: timing loops", budget * (len(cases) + 1)):
        for name, ours, reference in cases:
            baseline = cost_us(reference, budget) if reference is not None else None
            figures.append(Figure(f"{name} verify", cost_us(ours, budget), "us", baseline))
    return ScenarioResult(
        "signing",
        figures=figures,
        notes=[
            "baseline of `standard v1`: standardwebhooks Webhook.verify(json_parse=False), "
            "same body and headers; ratio < 1 means ours is cheaper"
        ],
    )
