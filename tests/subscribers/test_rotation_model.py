"""Rotation on the subscriber record: previous credentials kept while in grace, at most
`MAX_PREVIOUS_CREDENTIALS`, and they survive the registry's JSON round trip."""

from __future__ import annotations

import orjson

from gateway.subscribers.bodies import SubscriberCreate
from gateway.subscribers.model import MAX_PREVIOUS_CREDENTIALS, Subscriber, new_subscriber


def test_rotations_keep_the_newest_previous_credentials_in_grace():
    body = SubscriberCreate(url="http://a.example/", events=["*"])
    subscriber = new_subscriber("s1", body, 1000.0)
    secrets = [subscriber.credential.secret]
    for step in range(5):
        subscriber = subscriber.rotated(1000.0 + step, grace_seconds=100.0)
        secrets.append(subscriber.credential.secret)

    signing = [credential.secret for credential in subscriber.credentials(1005.0)]
    assert signing == secrets[::-1][: MAX_PREVIOUS_CREDENTIALS + 1]
    assert subscriber.view(1005.0)["previousSecretExpiresAt"] == "1970-01-01T00:18:24.000Z"
    assert subscriber.view(1104.0)["previousSecretExpiresAt"] is None
    assert [c.secret for c in subscriber.credentials(1104.0)] == [secrets[-1]]

    record = orjson.loads(orjson.dumps(subscriber.to_record()))
    assert Subscriber.from_record(record) == subscriber
    assert "previousSecretExpiresAt" not in new_subscriber("s2", body, 0.0).view(0.0)
