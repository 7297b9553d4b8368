"""Schemathesis holds a live gateway (`python -m gateway serve`) to its own /openapi.json.

Every operation, with the admin key, generated and example requests (the examples, coverage
and fuzzing phases, a bounded number of cases each). Checks: no 5xx, every status code and
response documented, every response body and header conforming. Requests are aimed at real
records: path ids are pinned to integrations and subscribers seeded for the run (a DELETE
gets a fresh one of its own), and webhooks are signed as their integration's provider would,
so that every operation answers 2xx at least once (the websocket, which answers 101 to an
upgrade only, excepted). "Every operation" is every one `docs/openapi.json` describes, not
every one that happened to run.

No request leaves the machine: every subscriber URL a request carries is pinned to a
loopback sink before it is sent (schemathesis re-validates the case after the change, so a
negative case made valid is judged as valid).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
import schemathesis
from schemathesis import Case

import signing
from gateway.inbound.openapi import example_bytes
from tests.conftest import ROOT, GatewayProcess, start_gateway

ADMIN_KEY = "schemathesis-admin-key-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
MAX_EXAMPLES = 75
NEGATIVE_REFUSALS = [400, 401, 403, 404, 405, 406, 408, 409, 413, 415, 422, 428, 429]
FORM = "application/x-www-form-urlencoded"
NO_2XX_EXPECTED = {"GET /ws"}  # an upgrade answers 101; schemathesis speaks plain HTTP
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
EXCLUDED_CHECKS = [
    schemathesis.checks.positive_data_acceptance,
    schemathesis.checks.ignored_auth,
    schemathesis.checks.missing_required_header,
]
"""Every other check runs. `positive_data_acceptance` expects whatever the schema admits to
be accepted, but the gateway checks more than a JSON Schema can say: a provider's body shape
and signature, the credentials of each integration kind, rules across fields (`since` or
`afterEventId`). The two auth probes expect 401 to every request without the admin key, but
the gateway throttles failed admin keys per address (429 `rate_limited` after 20 a minute,
documented on every admin route), which probes all sent from 127.0.0.1 soon reach; the admin
key on every route is held by `tests/http/test_route_access.py` instead."""


class _Sink(BaseHTTPRequestHandler):
    """The loopback endpoint every subscriber points at: 204 to whatever comes."""

    received: list[str] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        _Sink.received.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@dataclass
class Seeded:
    """The live gateway, its sink, and the records requests are aimed at."""

    gateway: GatewayProcess
    sink_url: str
    integrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriber_id: str = ""
    hub_id: str = "schemathesis-hub"
    telnyx_private_key: str = ""
    answers: Counter[tuple[str, int]] = field(default_factory=Counter)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(self.gateway.url + path, json=body, headers=ADMIN, timeout=10)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def integration(
        self,
        kind: str,
        hub_id: str | None = None,
        tenant_id: str | None = None,
        **configuration: Any,
    ) -> dict[str, Any]:
        body = {
            "name": kind,
            "kind": kind,
            "hubId": hub_id or self.hub_id,
            "tenantId": tenant_id,
            "configuration": configuration,
        }
        return self.post("/integrations", body)

    def subscriber_urls(self) -> set[str]:
        """The URL of every subscriber the gateway has."""
        urls, page = set(), 0
        while True:
            response = requests.get(
                self.gateway.url + "/subscribers",
                params={"pageNumber": page, "pageSize": 100},
                headers=ADMIN,
                timeout=10,
            )
            results = response.json()["results"]
            urls |= {subscriber["url"] for subscriber in results}
            if len(results) < 100:
                return urls
            page += 1

    def subscriber(self) -> str:
        body = {"url": self.sink_url, "events": ["*"], "hubIds": [self.hub_id]}
        return str(self.post("/subscribers", body)["subscriberId"])


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    gateway = start_gateway(
        env={
            "GATEWAY_ADMIN_KEY": ADMIN_KEY,
            "GATEWAY_JWT_SECRET": "schemathesis-jwt-secret-0123456789abcdef",
            "GATEWAY_ALLOW_PRIVATE_TARGETS": "1",
            "GATEWAY_RETRY_SCHEDULE": "0,1",
        }
    )
    seeded = Seeded(gateway, f"http://127.0.0.1:{sink.server_address[1]}/hook")
    try:
        telnyx = signing.telnyx.generate_key_pair()
        seeded.telnyx_private_key = telnyx.private_key
        hubster = json.loads(example_bytes("hubster-system-messages.json"))
        for kind, configuration in {
            "hubster-system": {"hub_id": hubster["hubId"], "tenant_id": hubster["tenantId"]},
            "scg": {"username": "scg", "password": "scg-password"},
            "standard": {},
            "twilio": {"authToken": "twilio-auth-token"},
            "telnyx": {"publicKey": telnyx.public_key},
        }.items():
            seeded.integrations[kind] = seeded.integration(kind, **configuration)
        seeded.integrations["crud"] = seeded.integration("standard")
        seeded.subscriber_id = seeded.subscriber()
        yield seeded
        assert seeded.subscriber_urls() == {seeded.sink_url}, "a subscriber points elsewhere"
        assert _Sink.received, "nothing was delivered to the sink"
    finally:
        assert gateway.terminate() == 0
        sink.shutdown()
    # Held to the committed document, not to what was run: an operation schemathesis left
    # out is caught here.
    documented = _operations(json.loads((ROOT / "docs" / "openapi.json").read_bytes()))
    requested = {operation for operation, _ in seeded.answers}
    served = {operation for operation, status in seeded.answers if 200 <= status < 300}
    assert documented - requested == set(), "never requested"
    assert documented - served == NO_2XX_EXPECTED, f"no 2xx for {documented - served}"


def _operations(document: dict[str, Any]) -> set[str]:
    """`METHOD /path` of every operation a document describes."""
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


@pytest.fixture(scope="module")
def gateway_schema(seeded: Seeded) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "seed": 1,
            "headers": ADMIN,
            "generation": {"max-examples": MAX_EXAMPLES},
            # Refusals of invalid data: schemathesis' usual ones, plus 408 and 413 (a body
            # generated past the size limit is refused for its size before its content).
            "checks": {"negative_data_rejection": {"expected-statuses": NEGATIVE_REFUSALS}},
            "phases": {"stateful": {"enabled": False}},
        }
    )
    # The document the live gateway serves, loaded as data: loaded from its URL instead,
    # schemathesis would leave out the operation that served it (`GET /openapi.json`).
    response = requests.get(seeded.gateway.url + "/openapi.json", timeout=10)
    assert response.status_code == 200
    return schemathesis.openapi.from_dict(response.json(), config=config)


schema = schemathesis.pytest.from_fixture("gateway_schema")


def _kind_of(body: Any) -> str:
    """Which provider a webhook body looks like (the examples are one of each)."""
    if not isinstance(body, dict):
        return "standard"
    if "activities" in body or "activity" in body:
        return "hubster-system"
    if "evt-tp" in body or ("event" in body and "fld-val-list" in str(body)):
        return "scg"
    if "MessageSid" in body:
        return "twilio"
    if isinstance(body.get("data"), dict) and "event_type" in body["data"]:
        return "telnyx"
    return "standard"


def _signed_webhook(seeded: Seeded, case: Case, request: requests.PreparedRequest) -> None:
    """Aim the webhook at an integration of the kind its body looks like, signed on the
    exact bytes about to be sent, as that provider signs."""
    kind = _kind_of(case.body)
    integration = seeded.integrations[kind]
    configuration = integration["configuration"]
    url = f"{seeded.gateway.url}/webhooks/{integration['integrationId']}"
    body = request.body or b""
    raw = body.encode() if isinstance(body, str) else body
    headers = request.headers
    headers.pop("Authorization", None)
    now = int(time.time())
    if kind == "hubster-system":
        headers["x-hubster-signature"] = signing.hubster.sign(
            raw, configuration["privateSigningKey"]
        )
    elif kind == "scg":
        basic = f"{configuration['username']}:{configuration['password']}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(basic).decode()
    elif kind == "twilio" and case.media_type == FORM:
        fields: dict[str, list[str]] = {}
        for name, value in parse_qsl(raw.decode(), keep_blank_values=True):
            fields.setdefault(name, []).append(value)
        headers["X-Twilio-Signature"] = signing.twilio.sign(url, fields, configuration["authToken"])
    elif kind == "twilio":
        url += "?bodySHA256=" + signing.twilio.body_sha256(raw)
        headers["X-Twilio-Signature"] = signing.twilio.sign(url, None, configuration["authToken"])
    elif kind == "telnyx":
        headers["telnyx-timestamp"] = str(now)
        headers["telnyx-signature-ed25519"] = signing.telnyx.sign(
            now, raw, seeded.telnyx_private_key
        )
    else:
        message_id = "msg_" + uuid.uuid4().hex
        headers["webhook-id"] = message_id
        headers["webhook-timestamp"] = str(now)
        headers["webhook-signature"] = signing.standard.sign(
            message_id, now, raw, [configuration["secret"]]
        )
    request.prepare_url(url, None)


def _aim(seeded: Seeded, case: Case) -> None:
    """Path ids at seeded records (a DELETE at a fresh one); subscriber URLs at the sink."""
    path = case.path_parameters or {}
    if "subscriber_id" in path:
        fresh = case.method == "DELETE"
        path["subscriber_id"] = seeded.subscriber() if fresh else seeded.subscriber_id
    if "integration_id" in path and case.operation.path.startswith("/integrations"):
        fresh = case.method == "DELETE"
        crud = seeded.integration("standard") if fresh else seeded.integrations["crud"]
        path["integration_id"] = crud["integrationId"]
    if "hubId" in path:
        path["hubId"] = seeded.hub_id
    if isinstance(case.body, dict) and isinstance(case.body.get("url"), str):
        case.body["url"] = seeded.sink_url


@schema.parametrize()
def test_the_gateway_answers_as_its_document_says(case: Case, seeded: Seeded) -> None:
    _aim(seeded, case)
    kwargs = case.as_transport_kwargs(base_url=seeded.gateway.url, headers=dict(ADMIN))
    request = requests.Request(**kwargs).prepare()
    if case.operation.path == "/webhooks/{integration_id}":
        _signed_webhook(seeded, case, request)
    with requests.Session() as session:
        response = session.send(request, timeout=30, allow_redirects=False)
    operation = f"{case.operation.method.upper()} {case.operation.path}"
    seeded.answers[(operation, response.status_code)] += 1
    case.validate_response(response, excluded_checks=EXCLUDED_CHECKS)
