"""A replay's time range maps exactly onto event ids (to the millisecond, both ends)."""

from __future__ import annotations

from gateway.engine.ids import event_id_at
from gateway.subscribers.api import ReplayRequest


def test_since_and_until_bound_ids_to_the_millisecond():
    request = ReplayRequest.model_validate(
        {"since": "2026-11-23T10:15:02.114Z", "until": "2026-11-23T12:15:02.114+02:00"}
    )
    assert request.after_cursor() == event_id_at(1795428902113, 999999)
    assert request.last_id() == event_id_at(1795428902114, 999999)


def test_after_event_id_is_the_cursor():
    request = ReplayRequest.model_validate({"afterEventId": "1795428902114-000007"})
    assert request.after_cursor() == "1795428902114-000007"
    assert request.last_id() is None
