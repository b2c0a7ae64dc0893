"""PagerDutyTransport against the Events API v2 stand-in: the incident life cycle, de-duplication,
test pages, and how each documented failure becomes a DeliveryError."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from watchd.core.errors import DeliveryError
from watchd.delivery.notify.messages import Message
from watchd.delivery.paging.pagerduty import PagerDutySettings, PagerDutyTransport, event_body, severity

from .standins.pagerduty import ROUTING_KEY, PagerDutyStandIn

KEY = "watchd-web01-shop-1"


def facts(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "key": KEY,
        "host": "web01",
        "check": "shop",
        "description": "Shop front page",
        "state": "CRITICAL",
        "summary": "HTTP 503",
        "priority": "P1",
        "impact": "high",
        "urgency": "high",
        "opened_at": 1_700_000_000,
        "respond_by": 1_700_000_900,
        "resolve_by": 1_700_014_400,
        "at": 1_700_000_010,
        "acked_by": None,
        "why": "state changed",
        "detail": "HTTP/1.1 503 Service Unavailable",
        "ticket": "OPS-7",
        "ack_url": "https://watchd.example/ack/abc",
        "resolve_url": "",
    }
    return base | over


def message(subject: str = "P1 web01/shop CRITICAL: HTTP 503") -> Message:
    return Message(subject, "The shop front page answers 503.\nSince 10:00.", "<p>The shop</p>")


@pytest.fixture
async def transport(pagerduty_standin: PagerDutyStandIn) -> AsyncIterator[PagerDutyTransport]:
    t = PagerDutyTransport(PagerDutySettings(routing_key=ROUTING_KEY, url=pagerduty_standin.url))
    yield t
    await t.close()


async def test_trigger_acknowledge_resolve(
    transport: PagerDutyTransport, pagerduty_standin: PagerDutyStandIn
) -> None:
    """open -> one triggered incident with the documented fields; ack and resolve move it on."""
    await transport(message(), "open", facts(), 1)
    [inc] = pagerduty_standin.by_key(KEY)
    assert (inc.status, inc.severity, inc.summary) == (
        "triggered",
        "critical",
        "P1 web01/shop CRITICAL: HTTP 503",
    )
    assert inc.payload["source"] == "web01"
    assert inc.payload["component"] == "shop"
    assert inc.payload["class"] == "Shop front page"
    details = inc.payload["custom_details"]
    assert details["priority"] == "P1"
    assert details["respond_by"] == "2023-11-14T22:28:20+00:00"
    assert inc.links == [{"href": "https://watchd.example/ack/abc", "text": "Acknowledge in watchd"}]
    assert pagerduty_standin.seen[0]["body"]["client"] == "watchd"

    await transport(message(), "ack", facts(acked_by="ann"), 2)
    assert inc.status == "acknowledged"
    await transport(message(), "resolve", facts(state="OK"), 3)
    assert inc.status == "resolved"
    assert inc.log == ["trigger", "acknowledge", "resolve"]
    ack_body = pagerduty_standin.seen[1]["body"]
    assert ack_body == {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": KEY}
    assert pagerduty_standin.violations == []


async def test_retried_and_follow_up_triggers_stay_one_incident(
    transport: PagerDutyTransport, pagerduty_standin: PagerDutyStandIn
) -> None:
    """A retried open (same op_id) and the events after it add to the open alert, never a second one."""
    await transport(message(), "open", facts(), 1)
    await transport(message(), "open", facts(), 1)  # the outbox retrying after a lost answer
    for n, event in enumerate(("raised", "renotify", "escalate", "resolution_breached", "update"), start=2):
        await transport(message(), event, facts(priority="P2" if event == "update" else "P1"), n)
    [inc] = pagerduty_standin.by_key(KEY)
    assert inc.log == ["trigger"] * 7
    assert inc.severity == "error"  # the open alert follows the latest trigger (update, now P2)
    assert pagerduty_standin.violations == []


async def test_trigger_after_resolve_opens_a_new_incident(
    transport: PagerDutyTransport, pagerduty_standin: PagerDutyStandIn
) -> None:
    await transport(message(), "open", facts(), 1)
    await transport(message(), "resolve", facts(), 2)
    await transport(message(), "open", facts(), 3)
    assert [i.status for i in pagerduty_standin.by_key(KEY)] == ["resolved", "triggered"]


async def test_test_page_has_its_own_dedup_key_and_stays_open(
    transport: PagerDutyTransport, pagerduty_standin: PagerDutyStandIn
) -> None:
    await transport(message(), "open", facts(), 1)
    await transport(message("Test page"), "test", facts(), 9)
    await transport(message("Test page"), "test", facts(), 9)  # retried: still one test incident
    [test] = pagerduty_standin.by_key(f"{KEY}-test-9")
    assert test.status == "triggered"
    assert test.log == ["trigger", "trigger"]
    assert pagerduty_standin.by_key(KEY)[0].log == ["trigger"]


async def test_long_summary_is_cut_to_the_documented_1024(
    transport: PagerDutyTransport, pagerduty_standin: PagerDutyStandIn
) -> None:
    await transport(message("x" * 5000), "open", facts(key="k" * 400, detail="d" * 100_000), 1)
    [inc] = pagerduty_standin.incidents
    assert len(inc.summary) == 1024
    assert len(inc.dedup_key) == 255
    assert pagerduty_standin.violations == []


async def test_wrong_routing_key_is_permanent(pagerduty_standin: PagerDutyStandIn) -> None:
    t = PagerDutyTransport(PagerDutySettings(routing_key="0" * 32, url=pagerduty_standin.url))
    try:
        with pytest.raises(DeliveryError) as info:
            await t(message(), "open", facts(), 1)
    finally:
        await t.close()
    assert not info.value.retryable
    assert "Invalid routing key" in info.value.reason
    assert "400" in info.value.reason
    assert pagerduty_standin.incidents == []


@pytest.mark.parametrize(
    ("header", "wait"), [("7", 7.0), (None, None)], ids=["retry-after", "no-retry-after"]
)
async def test_429_is_retryable_with_its_retry_after(
    transport: PagerDutyTransport, pagerduty_standin: PagerDutyStandIn, header: str | None, wait: float | None
) -> None:
    pagerduty_standin.throttle_next, pagerduty_standin.retry_after = 1, header
    with pytest.raises(DeliveryError) as info:
        await transport(message(), "open", facts(), 1)
    assert info.value.retryable
    assert info.value.retry_after == wait
    assert "429" in info.value.reason
    await transport(message(), "open", facts(), 1)  # the outbox's retry goes through
    assert len(pagerduty_standin.by_key(KEY)) == 1


async def test_500_is_retryable(transport: PagerDutyTransport, pagerduty_standin: PagerDutyStandIn) -> None:
    pagerduty_standin.fail_next = 1
    with pytest.raises(DeliveryError) as info:
        await transport(message(), "ack", facts(), 2)
    assert info.value.retryable
    assert "500" in info.value.reason


async def test_unreachable_is_retryable() -> None:
    t = PagerDutyTransport(
        PagerDutySettings(routing_key=ROUTING_KEY, url="http://127.0.0.1:9/v2/enqueue", timeout=2)
    )
    try:
        with pytest.raises(DeliveryError) as info:
            await t(message(), "open", facts(), 1)
    finally:
        await t.close()
    assert info.value.retryable


def test_unknown_event_is_permanent() -> None:
    with pytest.raises(DeliveryError) as info:
        event_body(PagerDutySettings(ROUTING_KEY), message(), "frobnicate", facts(), 1)
    assert not info.value.retryable


@pytest.mark.parametrize(
    ("priority", "state", "want"),
    [
        ("P1", "OK", "critical"),
        ("P2", "", "error"),
        ("P3", "", "warning"),
        ("P4", "CRITICAL", "info"),
        (None, "CRITICAL", "critical"),
        (None, "WARNING", "warning"),
        (None, "UNKNOWN", "error"),
        ("", "OK", "info"),
    ],
)
def test_severity_from_priority_then_state(priority: str | None, state: str, want: str) -> None:
    assert severity({"priority": priority, "state": state}) == want


def test_source_setting_overrides_host() -> None:
    body = event_body(PagerDutySettings(ROUTING_KEY, source="shop.example"), message(), "open", facts(), 1)
    assert body["payload"]["source"] == "shop.example"
