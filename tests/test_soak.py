"""The soak: one real `python -m gateway serve` (memory engine) takes mixed good and hostile
traffic at once for about half a minute, on loopback.

Hostile, round after round: silent sockets, headers, bodies and chunks trickled a byte at a
time, idle kept-alive connections, oversized bodies, malformed requests and bodies, bad
signatures, unauthenticated 1 MiB SCG bodies, a multiplying Hubster body, and websockets
that flood `status` frames, flood huge filter lists, send frames over 64 KiB or not UTF-8,
or upgrade without authenticating past the cap. Good, beside them: a provider posting
signed Hubster webhooks, a normal agent on a websocket and a normal subscriber (a real
aiohttp sink verifying every signature).

Held: the agent receives every event of its hub in order, none missing, none twice; the
subscriber every event exactly once, signed; the gateway's RSS grows by at most 64 MiB
after the warm-up; every hostile socket gets its answer and is closed by the limit meant
for it (within `SLACK`); `/metrics` counts each refusal exactly and no 500; the log holds
no traceback and no error. Deadlines are short (set by environment) so rounds are quick."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from soak_traffic import (
    AUTH,
    BODY,
    HEADER,
    KEEPALIVE,
    MIB,
    SEND,
    UNREAD,
    Agent,
    Hostile,
    Probe,
    Sink,
    agent_websocket,
    hostile_requests,
    http_probe,
    hubster_activities,
    hubster_body,
    hubster_signed,
    unread_probe,
    watch,
)

from tests.conftest import GatewayProcess, start_gateway
from tests.http.hostile_probes import SCG_PASSWORD, SCG_USER
from tests.running_gateway import ADMIN_KEY, GATEWAY_ENV, agent_token

UNAUTHENTICATED_CAP = 4
ENV = {
    **GATEWAY_ENV,
    "GATEWAY_HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER),
    "GATEWAY_HTTP_BODY_TIMEOUT_SECONDS": str(BODY),
    "GATEWAY_HTTP_SEND_TIMEOUT_SECONDS": str(SEND),
    "GATEWAY_HTTP_KEEPALIVE_SECONDS": str(KEEPALIVE),
    "GATEWAY_WS_AUTH_TIMEOUT_SECONDS": str(AUTH),
    "GATEWAY_WS_MAX_UNAUTHENTICATED": str(UNAUTHENTICATED_CAP),
    "GATEWAY_ALLOW_PRIVATE_TARGETS": "true",
}
WARM_UP_SECONDS = 5.0
SOAK_SECONDS = 20.0
RSS_GROWTH_LIMIT = 64 * MIB
HUB = "3bc1e69f-c520-446f-ab2c-01751fd66a31"
WEBHOOKS = 'gateway_http_requests_total{method="POST",route="/webhooks/{integration_id}",'
FILTER_FRAMES = 20


def rss_bytes(process: GatewayProcess) -> int:
    for line in Path(f"/proc/{process.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Soak:
    """The gateway, its integrations, and everything the traffic recorded."""

    def __init__(self, process: GatewayProcess, client: aiohttp.ClientSession) -> None:
        self.process = process
        self.client = client
        self.address = (process.host, process.port)
        self.ws_url = f"ws://{process.host}:{process.port}/ws"
        self.probes: list[Probe] = []
        self.posted: list[str] = []  # the good events' texts, in the order stored
        self.webhooks_posted = 0
        self.filter_errors: list[str] = []
        self.rss: list[int] = []
        self.hubster: dict[str, Any] = {}
        self.hostile: list[Hostile] = []

    async def set_up(self, sink_url: str) -> str:
        """The integrations the traffic goes to, and a subscriber sending every event of
        the hub to `sink_url`; its secret."""
        body = {"name": "hub", "kind": "hubster-system", "hubId": HUB}
        self.hubster = await self.admin("POST", "/integrations", body)
        configuration = {"username": SCG_USER, "password": SCG_PASSWORD}
        body = {"name": "sms", "kind": "scg", "hubId": "sms-hub", "configuration": configuration}
        scg = await self.admin("POST", "/integrations", body)
        self.hostile = hostile_requests(
            HUB,
            f"/webhooks/{self.hubster['integrationId']}",
            self.hubster["configuration"]["privateSigningKey"],
            f"/webhooks/{scg['integrationId']}",
        )
        subscriber = {"url": sink_url, "events": ["*"], "hubIds": [HUB]}
        return str((await self.admin("POST", "/subscribers", subscriber))["secret"])

    async def admin(self, method: str, path: str, body: Any) -> Any:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with self.client.request(
            method, self.process.url + path, json=body, headers=headers
        ) as answer:
            assert answer.status == 201, await answer.text()
            return await answer.json()

    async def metrics(self) -> dict[str, float]:
        async with self.client.get(self.process.url + "/metrics") as answer:
            text = await answer.text()
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    # -- good traffic ----------------------------------------------------------------

    async def provider(self, until: float) -> None:
        """Signed Hubster webhooks of one to three messages each, one after the other."""
        key = self.hubster["configuration"]["privateSigningKey"]
        url = f"{self.process.url}/webhooks/{self.hubster['integrationId']}"
        n = 0
        while time.monotonic() < until:
            texts = [f"good-{len(self.posted) + i}" for i in range(n % 3 + 1)]
            first_id = 1_764_000_000_000 + len(self.posted)
            body = hubster_body(HUB, f"soak-{n % 4}", hubster_activities("c", texts, first_id))
            signature = hubster_signed(key, body).partition(": ")[2]
            headers = {"Content-Type": "application/json", "x-hubster-signature": signature}
            async with self.client.post(url, data=body, headers=headers) as answer:
                assert answer.status == 202, await answer.text()
                assert await answer.json() == {"accepted": len(texts), "duplicates": 0}
            self.posted += texts
            self.webhooks_posted += 1
            n += 1
            await asyncio.sleep(0.05)

    # -- hostile HTTP ----------------------------------------------------------------

    async def http_rounds(self, until: float) -> None:
        while time.monotonic() < until:
            round_ = [
                unread_probe(self.address, UNREAD),
                *(
                    http_probe(self.address, hostile)
                    for hostile in self.hostile
                    for _ in range(hostile.copies)
                ),
            ]
            self.probes += await asyncio.gather(*round_)

    # -- hostile websockets ----------------------------------------------------------

    async def status_flood(self) -> Probe:
        ws = await agent_websocket(self.client, self.ws_url, agent_token("flooder", [HUB]))
        frames = [
            f'{{"type": "status", "status": "{("busy", "available")[n % 2]}"}}' for n in range(400)
        ]
        return await watch(ws, Probe("status flood", 4429, 1.0), frames, 0.005)

    async def refused_frame(self, kind: str, frame: bytes) -> Probe:
        ws = await agent_websocket(self.client, self.ws_url, agent_token("sender", [HUB]))
        return await watch(ws, Probe(kind, 4400, 0), [frame])

    async def filter_flood(self) -> None:
        """Distinct lists of 600 long filters (60 KB a frame), within the frame rate: each
        refused, nothing kept, the session as it was."""
        ws = await agent_websocket(self.client, self.ws_url, agent_token("filters", [HUB]))
        for n in range(FILTER_FRAMES):
            filters = [f"message:{n}-{i}-{'x' * 90}" for i in range(600)]
            await ws.send_str(orjson.dumps({"type": "subscribe", "events": filters}).decode())
            self.filter_errors.append(await _answer_to_subscribe(ws))
            await asyncio.sleep(0.1)
        await ws.send_str('{"type": "subscribe", "events": ["*"]}')
        self.filter_errors.append(await _answer_to_subscribe(ws))
        await ws.close()

    async def unauthenticated(self) -> list[Probe]:
        """The cap's worth of websockets that never authenticate (closed 4001 at the auth
        deadline), and one upgrade more, refused 503 before any upgrade."""
        while (await self.metrics()).get("gateway_ws_unauthenticated", 0) != 0:
            await asyncio.sleep(0.05)
        waiting = [
            await self.client.ws_connect(self.ws_url, heartbeat=None)
            for _ in range(UNAUTHENTICATED_CAP)
        ]
        refused = Probe("upgrade past the unauthenticated cap", 503, 0)
        started = time.monotonic()
        try:
            extra = await self.client.ws_connect(self.ws_url, heartbeat=None)
        except aiohttp.WSServerHandshakeError as error:
            refused.got = error.status
            refused.closed_after = time.monotonic() - started
        else:
            await extra.close()
        return [
            refused,
            *await asyncio.gather(
                *(watch(ws, Probe("never authenticated", 4001, AUTH)) for ws in waiting)
            ),
        ]

    async def ws_rounds(self, until: float) -> None:
        oversized = b'{"type": "pong", "pad": "' + b"x" * 70_000 + b'"}'
        while time.monotonic() < until:
            *probes, unauthenticated, _ = await asyncio.gather(
                self.status_flood(),
                self.refused_frame("frame over 64 KiB", oversized),
                self.refused_frame("frame not UTF-8", b'"\xff\xfe"'),
                self.unauthenticated(),
                self.filter_flood(),
            )
            self.probes += [*probes, *unauthenticated]

    # -- the phases ------------------------------------------------------------------

    async def sample_rss(self, until: float) -> None:
        while time.monotonic() < until:
            self.rss.append(rss_bytes(self.process))
            await asyncio.sleep(0.25)

    async def phase(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(self.provider(until), self.http_rounds(until), self.ws_rounds(until))


async def _answer_to_subscribe(ws: aiohttp.ClientWebSocketResponse) -> str:
    """`subscribed`, or the code of the error frame answering a `subscribe`."""
    while True:
        frame = await ws.receive_json(timeout=10)
        if frame["type"] == "subscribed":
            return "subscribed"
        if frame["type"] == "error":
            return str(frame["error"]["code"])


async def until_true(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def test_good_traffic_is_served_whole_beside_hostile_traffic(tmp_path: Path) -> None:
    started = time.monotonic()
    log_file = tmp_path / "gateway.log"
    process = start_gateway(env=ENV, log_file=log_file)
    sink = Sink()
    sink_app = web.Application()
    sink_app.router.add_post("/hook", sink.receive)
    runner = web.AppRunner(sink_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with aiohttp.ClientSession() as client:
            soak = Soak(process, client)
            sink.secret = await soak.set_up(f"http://127.0.0.1:{site.port}/hook")
            await run(soak, sink, started)
    finally:
        await runner.cleanup()
        if process.proc.poll() is None:
            process.terminate()
    log = log_file.read_text()
    assert "Traceback" not in log
    levels = Counter(orjson.loads(line)["level"] for line in log.splitlines() if line.strip())
    assert levels["error"] == levels["critical"] == 0, levels


async def run(soak: Soak, sink: Sink, started: float) -> None:
    agent = Agent(await agent_websocket(soak.client, soak.ws_url, agent_token("agent", [HUB])))
    following = asyncio.create_task(agent.follow())

    await soak.phase(WARM_UP_SECONDS)
    warm = rss_bytes(soak.process)
    until = time.monotonic() + SOAK_SECONDS
    await asyncio.gather(soak.phase(SOAK_SECONDS), soak.sample_rss(until))
    everything = len(soak.posted)
    await until_true(lambda: len(agent.texts) >= everything and len(sink.ids) >= everything, 30)
    await asyncio.sleep(0.5)  # anything sent twice would be in by now
    metrics = await soak.metrics()
    following.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await following

    grown = max(soak.rss) - warm
    print(
        f"\nsoak: {time.monotonic() - started:.1f} s, {everything} events, "
        f"{len(soak.probes)} hostile sockets, RSS {warm / MIB:.1f} MiB after warm-up, "
        f"grew {grown / MIB:.1f} MiB at most"
    )

    # The normal agent: every event of its hub, in order, none twice, never dropped.
    assert agent.closed is None
    assert agent.texts == soak.posted
    assert agent.ids == sorted(set(agent.ids))
    # The normal subscriber: every event once, each signature verified.
    assert sink.refused == []
    assert sorted(sink.texts) == sorted(soak.posted)
    assert sorted(sink.ids) == sorted(set(agent.ids))

    assert grown <= RSS_GROWTH_LIMIT, f"RSS grew {grown / MIB:.1f} MiB"

    # Every hostile socket answered as it should be and closed by its deadline.
    wrong = [probe for probe in soak.probes if probe.got != probe.expected]
    assert wrong == [], wrong[:10]
    late = [probe for probe in soak.probes if not probe.closed_in_time]
    assert late == [], late[:10]
    rounds = len(soak.filter_errors) // (FILTER_FRAMES + 1)
    assert soak.filter_errors == (["invalid_payload"] * FILTER_FRAMES + ["subscribed"]) * rounds
    warned = {(probe.kind, *probe.notes) for probe in soak.probes if probe.notes}
    assert warned == {
        ("status flood", "rate_limited"),
        ("frame over 64 KiB", "invalid_payload"),
        ("frame not UTF-8", "invalid_payload"),
    }

    # Each refusal counted exactly, and no 500 anywhere.
    kinds = Counter(probe.kind for probe in soak.probes)
    webhook_statuses = {
        "202": soak.webhooks_posted,
        "400": kinds["malformed JSON, signed"],
        "401": kinds["unauthenticated 1 MiB SCG body"],
        "403": kinds["bad signature"],
        "408": kinds["body trickle"] + kinds["chunked trickle"],
        "413": kinds["oversized, declared"]
        + kinds["oversized, chunked"]
        + kinds["multiplying Hubster body"],
        "415": kinds["undecodable gzip"] + kinds["wrong media type"],
    }
    for status, count in webhook_statuses.items():
        assert metrics.get(WEBHOOKS + f'status="{status}"}}', 0) == count, status
    assert metrics['gateway_http_refused_total{reason="send_timeout"}'] == kinds[UNREAD.kind]
    refused = 'gateway_ws_refused_total{reason="%s"}'
    assert metrics[refused % "rate_limited"] == kinds["status flood"]
    upgrades_refused = kinds["upgrade past the unauthenticated cap"]
    assert metrics[refused % "unauthenticated_limit"] == upgrades_refused
    failures = {
        name: value
        for name, value in metrics.items()
        if ('status="500"' in name or 'outcome="internal_server_error"' in name) and value
    }
    assert failures == {}
