"""A provider's webhook for an integration, signed the way its kind requires: pure (the
integration record, the body, a key, the clock in; the request out), signing through the
`signing` library, so `send` posts exactly what the provider would.

- `hubster-system`, `hubster-direct`: `x-hubster-signature`, HMAC with `privateSigningKey`.
- `standard`: `webhook-*` headers; `v1` with the integration's `secret`, or `v1a` with an
  Ed25519 signing key (`--key whsk_...`) when the gateway holds only the public key.
  `webhook-id` is derived from the body, so sending the same file again is a redelivery.
- `twilio`: a form body (`a=1&b=2`) signed over the URL and its fields; a JSON object body
  signed over the URL carrying its `bodySHA256`.
- `scg`: the Basic or Bearer credential.
- `telnyx`: Ed25519 over `timestamp|body` with the private key (`--key`, Base64 seed).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import signing
from gateway.commands import CommandError

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Integration:
    """What signing needs of an integration record from the admin API."""

    integration_id: str
    kind: str
    configuration: dict[str, Any]

    @classmethod
    def from_record(cls, record: Any) -> Integration:
        """The integration in an admin API answer; `CommandError` when the answer is not
        one (a server that is not the gateway answered, say)."""
        try:
            configuration = dict(record["configuration"])
            return cls(str(record["integrationId"]), str(record["kind"]), configuration)
        except (KeyError, TypeError, ValueError):
            raise CommandError("the answer is not an integration record") from None

    def setting(self, name: str) -> str:
        value = self.configuration.get(name)
        if not isinstance(value, str) or not value:
            raise CommandError(f"integration {self.integration_id} has no {name} to sign with")
        return value


def webhook_request(
    integration: Integration,
    body: bytes,
    *,
    post_url: str,
    signed_url: str,
    key: str | None,
    now: int,
) -> WebhookRequest:
    """The request to POST to `post_url` (the gateway's `/webhooks/{id}`). `signed_url` is
    the URL the provider would sign (Twilio): the gateway's public URL when it has one."""
    sign = _SIGNERS.get(integration.kind)
    if sign is None:
        raise CommandError(f"cannot sign for integration kind {integration.kind!r}")
    return sign(_Draft(integration, body, post_url, signed_url, key, now))


@dataclass(frozen=True, slots=True)
class _Draft:
    integration: Integration
    body: bytes
    post_url: str
    signed_url: str
    key: str | None
    now: int

    def json_request(self, headers: dict[str, str]) -> WebhookRequest:
        return WebhookRequest(self.post_url, {"Content-Type": JSON, **headers}, self.body)


def _hubster(draft: _Draft) -> WebhookRequest:
    integration = draft.integration
    private = draft.key or integration.setting("privateSigningKey")
    headers = {signing.hubster.SIGNATURE_HEADER: signing.hubster.sign(draft.body, private)}
    public = integration.configuration.get("publicSigningKey")
    if isinstance(public, str):
        headers[signing.hubster.PUBLIC_KEY_HEADER] = public
    return draft.json_request(headers)


def _standard(draft: _Draft) -> WebhookRequest:
    key = draft.key
    if key is None:
        if "secret" not in draft.integration.configuration:
            raise CommandError(
                "this standard integration verifies v1a signatures: give --key whsk_... "
                "(the Ed25519 signing key its publicKey belongs to)"
            )
        key = draft.integration.setting("secret")
    msg_id = "msg_" + hashlib.sha256(draft.body).hexdigest()[:32]
    try:
        signature = signing.standard.sign(msg_id, draft.now, draft.body, [key])
    except ValueError as exc:
        raise CommandError(f"--key: {exc}") from None
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(draft.now),
        "webhook-signature": signature,
    }
    return draft.json_request(headers)


def _twilio(draft: _Draft) -> WebhookRequest:
    token = draft.key or draft.integration.setting("authToken")
    if _is_json_object(draft.body):
        query = urlencode(
            {signing.twilio.BODY_HASH_PARAMETER: signing.twilio.body_sha256(draft.body)}
        )
        signature = signing.twilio.sign(f"{draft.signed_url}?{query}", None, token)
        headers = {"Content-Type": JSON, signing.twilio.SIGNATURE_HEADER: signature}
        return WebhookRequest(f"{draft.post_url}?{query}", headers, draft.body)
    try:
        form = draft.body.decode().strip()  # a file's final newline is not part of the form
        fields = parse_qsl(form, keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise CommandError("a twilio body must be a JSON object or form fields (a=1&b=2)") from None
    params: dict[str, list[str]] = {}
    for name, value in fields:
        params.setdefault(name, []).append(value)
    signature = signing.twilio.sign(draft.signed_url, params, token)
    headers = {"Content-Type": FORM, signing.twilio.SIGNATURE_HEADER: signature}
    return WebhookRequest(draft.post_url, headers, form.encode())


def _scg(draft: _Draft) -> WebhookRequest:
    if draft.key is not None:
        raise CommandError("scg integrations take no --key: the credential is read from it")
    config = draft.integration.configuration
    if "username" in config:
        pair = f"{draft.integration.setting('username')}:{draft.integration.setting('password')}"
        credential = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        credential = "Bearer " + draft.integration.setting("bearerToken")
    return draft.json_request({"Authorization": credential})


def _telnyx(draft: _Draft) -> WebhookRequest:
    if draft.key is None:
        raise CommandError(
            "telnyx integrations hold only the public key: give --key with the Base64 "
            "Ed25519 private key"
        )
    try:
        signature = signing.telnyx.sign(draft.now, draft.body, draft.key)
    except ValueError as exc:
        raise CommandError(f"--key: {exc}") from None
    headers = {
        signing.telnyx.SIGNATURE_HEADER: signature,
        signing.telnyx.TIMESTAMP_HEADER: str(draft.now),
    }
    return draft.json_request(headers)


def _is_json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False


_SIGNERS: dict[str, Callable[[_Draft], WebhookRequest]] = {
    "hubster-system": _hubster,
    "hubster-direct": _hubster,
    "standard": _standard,
    "twilio": _twilio,
    "scg": _scg,
    "telnyx": _telnyx,
}
