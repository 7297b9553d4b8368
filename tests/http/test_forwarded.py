"""Behind reverse proxies (`GATEWAY_TRUSTED_PROXIES`): forwarding headers are believed only
from trusted peers, walked from the right; what they decide (the access log's
`remoteAddress`, the admin-key throttle's address, the `websocketUrl`) on a real server.
The Twilio signature's URL is tested with the other Twilio tests; the whole path through a
real HAProxy in `tests/deploy/test_load_balancer.py`."""

from __future__ import annotations

import ipaddress
import json
import logging
from io import BytesIO
from typing import Any
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from gateway.config import ConfigError, load_settings
from gateway.http.access_log import AccessLog
from gateway.http.appkeys import ACCESS_LOG
from gateway.http.forwarded import ClientView, TrustedProxies
from gateway.http.routes import ADMIN_FAILURES_PER_MINUTE
from tests.http.conftest import ADMIN_KEY, make_app


def _proxies(*networks: str) -> TrustedProxies:
    return TrustedProxies([ipaddress.ip_network(network) for network in networks])


def _request(peer: str, headers: list[tuple[str, str]], host: str = "gw:8080") -> web.Request:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default
    )
    return make_mocked_request("GET", "/x", headers=[("Host", host), *headers], transport=transport)


PROXY = "10.0.0.5"
TRUSTED = ("10.0.0.0/24", "192.168.7.7")


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        # No trusted proxy in the way: the peer, whatever the headers say.
        ("203.0.113.9", [], ClientView("203.0.113.9", "http", "gw:8080")),
        (
            "203.0.113.9",
            [
                ("X-Forwarded-For", "198.51.100.1"),
                ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "public.example"),
                ("Forwarded", "for=198.51.100.1;proto=https;host=public.example"),
            ],
            ClientView("203.0.113.9", "http", "gw:8080"),
        ),
        # A trusted proxy that says nothing: itself.
        (PROXY, [], ClientView(PROXY, "http", "gw:8080")),
        # One proxy.
        (
            PROXY,
            [
                ("X-Forwarded-For", "198.51.100.1"),
                ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "public.example"),
            ],
            ClientView("198.51.100.1", "https", "public.example"),
        ),
        # What the client wrote itself (left of the proxy's entry) is not believed.
        (
            PROXY,
            [("X-Forwarded-For", "1.2.3.4, 198.51.100.1")],
            ClientView("198.51.100.1", "http", "gw:8080"),
        ),
        # Repeated header lines are one list.
        (
            PROXY,
            [("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-For", "198.51.100.1")],
            ClientView("198.51.100.1", "http", "gw:8080"),
        ),
        # Trusted hops are skipped; proto and host aligned with the client's hop when every
        # proxy appended to every list (the lists are as long as X-Forwarded-For).
        (
            PROXY,
            [
                ("X-Forwarded-For", "198.51.100.1, 192.168.7.7"),
                ("X-Forwarded-Proto", "https, http"),
                ("X-Forwarded-Host", "public.example, inner.lan"),
            ],
            ClientView("198.51.100.1", "https", "public.example"),
        ),
        # Lists of other lengths do not line up: the right-most entry, which the nearest
        # trusted proxy wrote, never one the client may have written.
        (
            PROXY,
            [
                ("X-Forwarded-For", "1.2.3.4, 198.51.100.1, 192.168.7.7"),
                ("X-Forwarded-Proto", "https, http"),
                ("X-Forwarded-Host", "public.example, inner.lan"),
            ],
            ClientView("198.51.100.1", "http", "inner.lan"),
        ),
        (
            PROXY,
            [
                ("X-Forwarded-For", "198.51.100.1, 10.0.0.7"),
                ("X-Forwarded-Proto", "http, http, https"),
                ("X-Forwarded-Host", "evil.example, evil2.example, good.example"),
            ],
            ClientView("198.51.100.1", "https", "good.example"),
        ),
        # A proxy that names no client but says how it was called.
        (PROXY, [("X-Forwarded-Proto", "https")], ClientView(PROXY, "https", "gw:8080")),
        # Ports and IPv6 forms.
        (
            PROXY,
            [("X-Forwarded-For", "198.51.100.1:4711")],
            ClientView("198.51.100.1", "http", "gw:8080"),
        ),
        (
            PROXY,
            [("X-Forwarded-For", "[2001:db8::1]:4711")],
            ClientView("2001:db8::1", "http", "gw:8080"),
        ),
        # Forwarded (RFC 7239) wins over X-Forwarded-*.
        (
            PROXY,
            [
                ("X-Forwarded-For", "1.2.3.4"),
                ("X-Forwarded-Proto", "http"),
                ("Forwarded", 'for="[2001:db8::2]:80";proto=https;host="public.example:8443"'),
            ],
            ClientView("2001:db8::2", "https", "public.example:8443"),
        ),
        (
            PROXY,
            [("Forwarded", "for=1.2.3.4, for=198.51.100.1;proto=https, for=192.168.7.7")],
            ClientView("198.51.100.1", "https", "gw:8080"),
        ),
        # A hidden address ends the walk at the proxy that reported it.
        (PROXY, [("Forwarded", "for=unknown;proto=https")], ClientView(PROXY, "https", "gw:8080")),
        (
            PROXY,
            [("X-Forwarded-For", "198.51.100.1, _hidden")],
            ClientView(PROXY, "http", "gw:8080"),
        ),
        # Values that are not a scheme or a host are ignored.
        (
            PROXY,
            [
                ("X-Forwarded-For", "198.51.100.1"),
                ("X-Forwarded-Proto", "gopher"),
                ("X-Forwarded-Host", "evil.example/path"),
            ],
            ClientView("198.51.100.1", "http", "gw:8080"),
        ),
        # Every hop trusted: the farthest one.
        (
            PROXY,
            [("X-Forwarded-For", "10.0.0.9, 192.168.7.7")],
            ClientView("10.0.0.9", "http", "gw:8080"),
        ),
    ],
)
def test_the_client_a_request_comes_from(
    peer: str, headers: list[tuple[str, str]], expected: ClientView
) -> None:
    proxies = _proxies(*TRUSTED)
    request = _request(peer, headers)
    assert proxies.view(request) == expected
    assert proxies.address(request) == expected.address


SPOOFED_FORWARDED = ("Forwarded", "for=6.6.6.6;proto=https;host=evil.example")


@pytest.mark.parametrize(
    ("believed", "expected"),
    [
        # The contract's default: Forwarded wins, so a trusted proxy that passes a client's
        # own Forwarded through lets the client name itself (docs/deploy.md: remove it).
        ("both", ClientView("6.6.6.6", "https", "evil.example")),
        # For such proxies: only X-Forwarded-*, which the proxy wrote.
        ("x-forwarded", ClientView("198.51.100.1", "http", "gw:8080")),
        ("forwarded", ClientView("6.6.6.6", "https", "evil.example")),
    ],
)
def test_which_kind_of_forwarding_header_is_believed(believed: str, expected: ClientView) -> None:
    networks = [ipaddress.ip_network(network) for network in TRUSTED]
    request = _request(PROXY, [("X-Forwarded-For", "198.51.100.1"), SPOOFED_FORWARDED])
    assert TrustedProxies(networks, believed).view(request) == expected


def test_a_forwarded_only_setting_ignores_x_forwarded_headers() -> None:
    networks = [ipaddress.ip_network(network) for network in TRUSTED]
    request = _request(PROXY, [("X-Forwarded-For", "198.51.100.1")])
    assert TrustedProxies(networks, "forwarded").view(request) == ClientView(
        PROXY, "http", "gw:8080"
    )


def test_the_header_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().trusted_proxy_headers == "both"
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXY_HEADERS", "x-forwarded")
    assert load_settings().trusted_proxy_headers == "x-forwarded"
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXY_HEADERS", "all")
    with pytest.raises(ConfigError, match="trusted_proxy_headers"):
        load_settings()


async def test_the_access_log_of_an_x_forwarded_only_gateway_ignores_forwarded(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.access")
    stream = BytesIO()
    app = _app_logging_to(
        stream, trusted_proxies=["127.0.0.1"], trusted_proxy_headers="x-forwarded"
    )
    client = await aiohttp_client(app)
    headers = {"X-Forwarded-For": "198.51.100.1", SPOOFED_FORWARDED[0]: SPOOFED_FORWARDED[1]}
    assert (await client.get("/healthz", headers=headers)).status == 200
    client.server.app[ACCESS_LOG].flush()
    [line] = _logged(stream)
    assert line["remoteAddress"] == "198.51.100.1"


def test_without_trusted_proxies_no_header_is_read() -> None:
    request = _request(PROXY, [("X-Forwarded-For", "198.51.100.1"), ("Forwarded", "for=1.2.3.4")])
    assert _proxies().view(request) == ClientView(PROXY, "http", "gw:8080")


def test_an_ipv4_mapped_peer_is_its_ipv4_address() -> None:
    request = _request("::ffff:10.0.0.5", [("X-Forwarded-For", "198.51.100.1")])
    assert _proxies(*TRUSTED).address(request) == "198.51.100.1"


def test_the_walk_is_bounded() -> None:
    chain = ", ".join(["10.0.0.9"] * 10_000)
    request = _request(PROXY, [("X-Forwarded-For", "198.51.100.1, " + chain)])
    assert _proxies(*TRUSTED).address(request) == "10.0.0.9"


def test_the_setting_takes_addresses_and_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.3,::1")
    assert [str(n) for n in load_settings().trusted_proxies] == [
        "10.0.0.0/8",
        "127.0.0.3/32",
        "::1/128",
    ]
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "10.0.0.300")
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_settings()


# On a real server: the test client's peer address is 127.0.0.1.


def _app_logging_to(stream: BytesIO, **settings: Any) -> web.Application:
    app = make_app(**settings)
    app[ACCESS_LOG] = AccessLog(stream)
    return app


def _logged(stream: BytesIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


FORWARDED = {"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"}


@pytest.mark.parametrize(
    ("trusted", "expected"), [(["127.0.0.1"], "198.51.100.1"), ([], "127.0.0.1")]
)
async def test_the_access_log_names_the_client(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, trusted: list[str], expected: str
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.access")
    stream = BytesIO()
    client = await aiohttp_client(_app_logging_to(stream, trusted_proxies=trusted))
    response = await client.get("/healthz", headers=FORWARDED)
    assert response.status == 200
    client.server.app[ACCESS_LOG].flush()
    [line] = _logged(stream)
    assert line["remoteAddress"] == expected


async def test_the_admin_throttle_counts_by_the_forwarded_client(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app(trusted_proxies=["127.0.0.1"]))
    wrong = {"Authorization": "Bearer wrong-key-that-is-long-enough-to-look-real"}

    async def status(client_address: str, headers: dict[str, str]) -> int:
        forwarded = {"X-Forwarded-For": client_address}
        return (await client.get("/integrations", headers={**forwarded, **headers})).status

    for _ in range(ADMIN_FAILURES_PER_MINUTE):
        assert await status("198.51.100.1", wrong) == 401
    assert await status("198.51.100.1", wrong) == 429
    # Another client behind the same proxy is not held back by the first one's failures.
    assert await status("198.51.100.2", wrong) == 401
    assert await status("198.51.100.1", {"Authorization": f"Bearer {ADMIN_KEY}"}) == 200


async def test_the_websocket_url_follows_a_trusted_proxy(aiohttp_client: Any) -> None:
    body = {"agentId": "ann", "hubIds": ["hub-a"]}
    headers = {
        "Authorization": f"Bearer {ADMIN_KEY}",
        "Forwarded": "for=198.51.100.1;proto=https;host=events.example",
    }
    trusting = await aiohttp_client(make_app(trusted_proxies=["127.0.0.1"]))
    answer = await (await trusting.put("/agent/auth", json=body, headers=headers)).json()
    assert answer["agentAuth"]["websocketUrl"] == "wss://events.example/ws"

    distrusting = await aiohttp_client(make_app(trusted_proxies=["10.0.0.0/8"]))
    answer = await (await distrusting.put("/agent/auth", json=body, headers=headers)).json()
    own = f"ws://{distrusting.host}:{distrusting.port}/ws"
    assert answer["agentAuth"]["websocketUrl"] == own

    configured = await aiohttp_client(
        make_app(trusted_proxies=["127.0.0.1"], public_url="https://gw.example.com/")
    )
    answer = await (await configured.put("/agent/auth", json=body, headers=headers)).json()
    assert answer["agentAuth"]["websocketUrl"] == "wss://gw.example.com/ws"
