"""`GATEWAY_HISTORY_MAX_BYTES` on a real `python -m gateway serve`, on either engine: past
the cap the oldest events leave the history first, `/metrics` shows the log back within
the cap, and a resume from the newest event dropped replays exactly the events kept."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tests.engine.test_redis_processes import (
    TIMEOUT,
    agent,
    hubster_integration,
    messages,
    next_frame,
)
from tests.http.hostile_probes import metric
from tests.running_gateway import hubster_system, running

CAP = 12_000
PADDING = "x" * 900


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_past_the_byte_cap_the_oldest_events_go_first(engine_env: dict[str, str]) -> None:
    env = {**engine_env, "GATEWAY_HISTORY_MAX_BYTES": str(CAP)}
    with running(env=env) as gateway:
        hub, integration = hubster_integration(gateway)
        texts = [f"e-{n}-{PADDING}" for n in range(40)]
        seen: list[str] = []
        with agent(gateway, "ann", hub) as ws:
            for n, text in enumerate(texts):
                gateway.post(integration, hubster_system(f"c-{n}", *messages(text), hub=hub))
                seen.append(next_frame(ws, "event")["event"]["id"])
        assert len(texts) * len(PADDING) > 2 * CAP

        log_bytes = "gateway_event_log_bytes"
        wait_for(lambda: 0 < metric(gateway.process, log_bytes) <= CAP, "the log within its cap")
        kept = int(metric(gateway.process, "gateway_event_log_events"))
        assert 0 < kept < len(texts)
        assert metric(gateway.process, log_bytes) > CAP - 2 * (len(PADDING) + 600)  # not far below

        replayed: list[str] = []
        with agent(gateway, "bob", hub, last_event_id=seen[-kept - 1]) as ws:
            while True:
                frame = json.loads(ws.recv(timeout=TIMEOUT))
                if frame["type"] == "recovered":
                    assert (frame["recovered"], frame["count"]) == (True, kept)
                    break
                if frame["type"] == "event":
                    replayed.append(frame["event"]["message"]["text"])
        assert replayed == texts[-kept:]
        with agent(gateway, "cid", hub, last_event_id=seen[0]) as ws:
            frame = next_frame(ws, "recovered")
            assert frame["recovered"] is False  # the oldest are gone
