"""The one exception a verifier raises, with a machine-readable reason.

Messages are fixed per reason so that no secret, signature or key can ever leak into logs
through ``str`` or ``repr``.
"""

from typing import Literal

Reason = Literal[
    "signature_invalid",
    "timestamp_out_of_tolerance",
    "malformed_header",
    "missing_header",
    "credential_invalid",
]

_MESSAGES: dict[Reason, str] = {
    "signature_invalid": "no signature matched",
    "timestamp_out_of_tolerance": "timestamp outside the allowed tolerance",
    "malformed_header": "header could not be parsed",
    "missing_header": "required header missing",
    "credential_invalid": "credential not accepted",
}


class VerificationError(Exception):
    """A request failed authentication; ``reason`` says why, without revealing any input."""

    reason: Reason

    def __init__(self, reason: Reason) -> None:
        # args holds only the reason, so pickling round-trips and nothing else can leak.
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return _MESSAGES[self.reason]

    def __repr__(self) -> str:
        return f"VerificationError({self.reason!r})"
