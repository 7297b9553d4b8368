"""The SSRF guard with `allow_private_targets` off: private targets refused at registration,
and again at delivery time against the address actually connected to (DNS rebinding)."""

from __future__ import annotations

import ipaddress

import pytest

from gateway.config import ConfigError
from gateway.delivery.formats import OutboundRequest
from gateway.delivery.sender import HttpSender
from gateway.delivery.ssrf import is_public
from tests.delivery.support import AUTH, activity, wait_until

PUBLIC = "93.184.216.34"  # never connected to: the tests only ever resolve to it


class FakeDns:
    """An injected resolver whose answers the test changes between calls."""

    def __init__(self, answer: list[str]) -> None:
        self.answer = answer
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if not self.answer:
            raise OSError("no such host")
        return list(self.answer)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9000/hook",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://192.168.1.20/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
async def test_private_literal_targets_are_refused(make_gateway, url):
    gateway = await make_gateway(allow_private_targets=False, resolver=FakeDns([PUBLIC]))
    response = await gateway.client.post(
        "/subscribers", json={"url": url, "events": ["*"]}, headers=AUTH
    )
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_payload"
    assert error["message"].startswith("url:")


@pytest.mark.parametrize("answer", [["10.0.0.5"], [PUBLIC, "127.0.0.1"], ["fe80::1"], []])
async def test_host_names_resolving_to_private_or_nothing_are_refused(make_gateway, answer):
    dns = FakeDns(answer)
    gateway = await make_gateway(allow_private_targets=False, resolver=dns)
    response = await gateway.client.post(
        "/subscribers", json={"url": "https://hooks.example.com/in", "events": ["*"]}, headers=AUTH
    )
    assert response.status == 400
    assert (await response.json())["error"]["message"].startswith("url:")
    assert dns.asked == ["hooks.example.com"]


async def test_patch_to_a_private_url_is_refused(make_gateway):
    gateway = await make_gateway(allow_private_targets=False, resolver=FakeDns([PUBLIC]))
    created = await gateway.create_subscriber(url="https://hooks.example.com/in", events=["*"])
    response = await gateway.client.patch(
        f"/subscribers/{created['subscriberId']}",
        json={"url": "http://127.0.0.1/admin"},
        headers=AUTH,
    )
    assert response.status == 400
    assert (await gateway.subscriber(created["subscriberId"]))["url"] == created["url"]


async def test_non_http_schemes_are_refused(make_gateway):
    gateway = await make_gateway()
    for url in ["file:///etc/passwd", "gopher://x/", "ftp://example.com/", "//x/y", "x"]:
        response = await gateway.client.post(
            "/subscribers", json={"url": url, "events": ["*"]}, headers=AUTH
        )
        assert response.status == 400, url
        assert (await response.json())["error"]["message"].startswith("url:")


async def rebound_subscriber(gateway, sink, dns: FakeDns) -> dict:
    """A subscriber at a name that resolved to a public address when it was registered, and
    that the attacker then re-points at the gateway's own host (where `sink` listens)."""
    port = sink.url().split(":")[2].split("/")[0]
    subscriber = await gateway.create_subscriber(
        url=f"http://rebind.example:{port}/hook", events=["*"]
    )
    dns.answer = ["127.0.0.1"]
    return subscriber


async def test_rebinding_to_loopback_is_refused_at_delivery(make_gateway, make_sink):
    sink = await make_sink()
    dns = FakeDns([PUBLIC])
    gateway = await make_gateway(allow_private_targets=False, resolver=dns)
    subscriber = await rebound_subscriber(gateway, sink, dns)
    await gateway.store(activity())

    subscriber_id = subscriber["subscriberId"]
    await wait_until(lambda: gateway.attempts(subscriber_id, "dead"), message="a dead delivery")
    records = await gateway.attempts(subscriber_id)
    assert [r["status"] for r in records] == ["dead", "failed", "failed"]
    assert all("refused" in r["error"] and r["responseStatus"] is None for r in records)
    assert sink.received == []
    assert dns.asked.count("rebind.example") == 4


async def test_sender_refuses_private_literals_without_connecting(make_sink):
    sink = await make_sink()
    sender = HttpSender(FakeDns([]), allow_private=False, timeout=2)
    try:
        result = await sender.send(sink.url(), OutboundRequest(b"{}", {}))
    finally:
        await sender.close()
    assert result.status is None
    assert result.error is not None and "refused" in result.error
    assert sink.received == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        (PUBLIC, True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("224.0.0.251", False),
        ("240.0.0.1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("::1", False),
        ("fc00::1", False),
        ("fe80::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("2002:7f00:1::", False),
    ],
)
def test_address_policy(address, public):
    assert is_public(ipaddress.ip_address(address)) is public


LONG_LABEL = "a" * 64


@pytest.mark.parametrize("url", ["http://a..b.com/hook", f"http://{LONG_LABEL}.example.com/"])
async def test_hosts_the_idna_codec_refuses_are_400_on_create(make_gateway, url):
    gateway = await make_gateway(allow_private_targets=False)  # the real system resolver
    response = await gateway.client.post(
        "/subscribers", json={"url": url, "events": ["*"]}, headers=AUTH
    )
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_payload"
    assert error["message"].startswith("url: host ")
    assert error["message"].endswith("cannot be resolved")


class IdnaDns(FakeDns):
    """Encodes the host as `getaddrinfo` does first (raising UnicodeError as it does)."""

    async def __call__(self, host: str, port: int) -> list[str]:
        host.encode("idna")
        return await super().__call__(host, port)


async def test_an_idna_refused_host_on_patch_is_400(make_gateway):
    gateway = await make_gateway(allow_private_targets=False, resolver=IdnaDns([PUBLIC]))
    created = await gateway.create_subscriber(url="https://hooks.example.com/in", events=["*"])
    response = await gateway.client.patch(
        f"/subscribers/{created['subscriberId']}", json={"url": "http://a..b.com/"}, headers=AUTH
    )
    assert response.status == 400
    assert (await response.json())["error"]["message"].endswith("cannot be resolved")


async def test_an_idna_refused_declared_host_is_a_config_error(make_gateway):
    with pytest.raises(ConfigError, match=r"subscribers\]\] #1: url: host .* cannot be resolved"):
        await make_gateway(
            allow_private_targets=False,
            subscribers=[{"url": "http://a..b.com/", "events": ["*"]}],
        )


FULLWIDTH_LOOPBACK = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in "127.0.0.1")


async def test_fullwidth_digits_are_the_ip_literal_aiohttp_would_connect_to(make_gateway):
    dns = FakeDns([PUBLIC])  # a resolver would be fooled: it is never asked
    gateway = await make_gateway(allow_private_targets=False, resolver=dns)
    response = await gateway.client.post(
        "/subscribers",
        json={"url": f"http://{FULLWIDTH_LOOPBACK}:8080/hook", "events": ["*"]},
        headers=AUTH,
    )
    assert response.status == 400
    assert (await response.json())["error"]["message"] == "url: 127.0.0.1 is not a public address"
    assert dns.asked == []


async def test_the_sender_refuses_fullwidth_loopback_without_connecting(make_sink):
    sink = await make_sink()
    port = sink.url().split(":")[2].split("/")[0]
    sender = HttpSender(FakeDns([PUBLIC]), allow_private=False, timeout=2)
    try:
        url = f"http://{FULLWIDTH_LOOPBACK}:{port}/hook"
        result = await sender.send(url, OutboundRequest(b"{}", {}))
    finally:
        await sender.close()
    assert result.status is None
    assert result.error == "refused: 127.0.0.1 is not a public address"
    assert sink.received == []


@pytest.mark.parametrize("allow_private", [True, False])
async def test_urls_aiohttp_cannot_parse_are_refused_at_registration(make_gateway, allow_private):
    gateway = await make_gateway(allow_private_targets=allow_private, resolver=FakeDns([PUBLIC]))
    response = await gateway.client.post(
        "/subscribers", json={"url": "http://exa\\mple.com/hook", "events": ["*"]}, headers=AUTH
    )
    assert response.status == 400
    assert (await response.json())["error"]["message"].startswith("url: Value error, is not a")
