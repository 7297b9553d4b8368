"""Failed admin-key attempts from one address are throttled, against a real
`python -m gateway serve`: 401 for the first 20 in a minute, then 429 `rate_limited` with
`Retry-After`; the right key is never slowed, even from that address."""

from __future__ import annotations

import urllib.error
import urllib.request

import orjson

from tests.conftest import GatewayProcess
from tests.http.hostile_probes import ADMIN_KEY


def list_integrations(gateway: GatewayProcess, key: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        gateway.url + "/integrations", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_twenty_failures_a_minute_then_429_and_the_right_key_still_passes(
    gateway_factory,  # type: ignore[no-untyped-def]
) -> None:
    gateway = gateway_factory(env={"GATEWAY_ADMIN_KEY": ADMIN_KEY})
    wrong = "not-the-admin-key-but-long-enough-to-look-like-one"
    failures = [list_integrations(gateway, wrong)[0] for _ in range(20)]
    assert failures == [401] * 20
    status, headers, body = list_integrations(gateway, wrong)
    assert status == 429, body
    assert orjson.loads(body)["error"]["code"] == "rate_limited"
    assert int(headers["Retry-After"]) >= 1
    assert headers["UC-REST-ERROR"]
    for _ in range(5):
        assert list_integrations(gateway, ADMIN_KEY)[0] == 200
    assert list_integrations(gateway, wrong)[0] == 429
    assert list_integrations(gateway, "")[0] == 429
