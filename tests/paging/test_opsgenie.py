"""OpsgenieTransport against the Alert API stand-in: create, note, acknowledge, close by alias;
de-duplication of a retried create; the asynchronous failure of an action on a missing alias; and
how each documented failure becomes a DeliveryError."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from watchd.core.errors import DeliveryError
from watchd.delivery.notify.messages import Message
from watchd.delivery.paging.opsgenie import OpsgenieSettings, OpsgenieTransport, create_body, priority

from .standins.opsgenie import API_KEY, OpsgenieStandIn

KEY = "watchd-web01-shop-1"
RESPONDERS = ({"type": "team", "name": "ops"}, {"type": "user", "username": "ann@example.com"})


def facts(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "key": KEY,
        "host": "web01",
        "check": "shop",
        "description": "Shop front page",
        "state": "CRITICAL",
        "summary": "HTTP 503",
        "priority": "P2",
        "impact": "high",
        "urgency": "medium",
        "at": 1_700_000_010,
        "respond_by": 1_700_000_900,
        "ticket": "OPS-7",
        "ack_url": "https://watchd.example/ack/abc",
    }
    return base | over


def message(
    subject: str = "P2 web01/shop CRITICAL: HTTP 503", text: str = "The shop answers 503."
) -> Message:
    return Message(subject, text, "<p>The shop</p>")


@pytest.fixture
async def transport(opsgenie_standin: OpsgenieStandIn) -> AsyncIterator[OpsgenieTransport]:
    settings = OpsgenieSettings(
        api_key=API_KEY, url=opsgenie_standin.url, responders=RESPONDERS, tags=("shop",)
    )
    t = OpsgenieTransport(settings)
    yield t
    await t.close()


async def test_create_note_acknowledge_close(
    transport: OpsgenieTransport, opsgenie_standin: OpsgenieStandIn
) -> None:
    await transport(message(), "open", facts(), 1)
    [alert] = opsgenie_standin.by_alias(KEY)
    assert (alert.message, alert.priority, alert.status) == ("P2 web01/shop CRITICAL: HTTP 503", "P2", "open")
    assert alert.body["responders"] == list(RESPONDERS)
    assert alert.body["tags"] == ["shop", "watchd", "P2", "CRITICAL"]
    assert alert.body["entity"] == "web01/shop"
    assert alert.body["source"] == "watchd"
    assert alert.body["details"]["ticket"] == "OPS-7"
    assert opsgenie_standin.seen[0]["headers"]["Authorization"] == f"GenieKey {API_KEY}"

    await transport(message(text="Priority raised to P1."), "raised", facts(priority="P1"), 2)
    assert alert.priority == "P1"  # the alert's own priority follows, not only a note
    await transport(message(), "ack", facts(acked_by="ann"), 3)
    assert alert.acknowledged
    assert alert.status == "open"
    await transport(message(text="Recovered."), "resolve", facts(state="OK"), 4)
    assert alert.status == "closed"
    assert alert.log == ["create", "UpdatePriority", "AddNote", "Acknowledge", "Close"]
    assert alert.notes[0] == "Priority raised to P1."
    assert all(s["query"] == {"identifierType": "alias"} for s in opsgenie_standin.seen[1:])
    assert all(r["success"] for r in opsgenie_standin.requests.values())
    assert opsgenie_standin.violations == []


async def test_retried_create_is_deduplicated(
    transport: OpsgenieTransport, opsgenie_standin: OpsgenieStandIn
) -> None:
    await transport(message(), "open", facts(), 1)
    await transport(message(), "open", facts(), 1)
    [alert] = opsgenie_standin.by_alias(KEY)
    assert alert.count == 2
    for n, event in enumerate(("renotify", "escalate", "resolution_breached", "update"), start=2):
        await transport(message(text=f"{event} text"), event, facts(), n)
    assert alert.notes == ["renotify text", "escalate text", "resolution_breached text", "update text"]
    assert opsgenie_standin.violations == []


async def test_action_on_a_missing_alias_is_accepted_then_fails(
    transport: OpsgenieTransport, opsgenie_standin: OpsgenieStandIn
) -> None:
    """Opsgenie answers 202 and fails later: the transport cannot tell (documented limitation)."""
    await transport(message(), "ack", facts(key="watchd-nowhere-1"), 1)
    [status] = opsgenie_standin.requests.values()
    assert status["success"] is False
    assert status["status"] == "Alert does not exist"


async def test_test_page_gets_its_own_alias_and_stays_open(
    transport: OpsgenieTransport, opsgenie_standin: OpsgenieStandIn
) -> None:
    await transport(message("watchd test page"), "test", facts(), 5)
    [alert] = opsgenie_standin.by_alias(f"{KEY}-test-5")
    assert alert.status == "open"
    assert alert.notes
    assert opsgenie_standin.by_alias(KEY) == []


async def test_limits_are_respected(transport: OpsgenieTransport, opsgenie_standin: OpsgenieStandIn) -> None:
    long = facts(key="k" * 600, host="h" * 400, check="c" * 400, ticket="t" * 9000)
    await transport(message("s" * 500, "x" * 40_000), "open", long, 1)
    await transport(message("s" * 500, "x" * 40_000), "update", long, 2)
    [alert] = opsgenie_standin.alerts
    assert len(alert.message) == 130
    assert len(alert.alias) == 512
    assert len(alert.body["description"]) == 15000
    assert len(alert.notes[0]) == 25000
    assert opsgenie_standin.violations == []


async def test_wrong_key_is_permanent(opsgenie_standin: OpsgenieStandIn) -> None:
    t = OpsgenieTransport(OpsgenieSettings(api_key="not-the-key", url=opsgenie_standin.url))
    try:
        with pytest.raises(DeliveryError) as info:
            await t(message(), "open", facts(), 1)
    finally:
        await t.close()
    assert not info.value.retryable
    assert "401" in info.value.reason
    assert opsgenie_standin.alerts == []


async def test_invalid_field_is_permanent(opsgenie_standin: OpsgenieStandIn) -> None:
    """A 422 (here: a responder Opsgenie does not know how to name) is not retried."""
    bad = OpsgenieSettings(
        api_key=API_KEY, url=opsgenie_standin.url, responders=({"type": "squad", "name": "x"},)
    )
    t = OpsgenieTransport(bad)
    try:
        with pytest.raises(DeliveryError) as info:
            await t(message(), "open", facts(), 1)
    finally:
        await t.close()
    assert not info.value.retryable
    assert "422" in info.value.reason
    assert "responder" in info.value.reason


@pytest.mark.parametrize(
    ("retry_after", "period", "wait"),
    [("12", "60", 12.0), (None, "60", 60.0), (None, "1", 1.0)],
    ids=["retry-after", "minute-bucket", "second-bucket"],
)
async def test_429_is_retryable_with_a_wait(
    transport: OpsgenieTransport,
    opsgenie_standin: OpsgenieStandIn,
    retry_after: str | None,
    period: str,
    wait: float,
) -> None:
    opsgenie_standin.throttle_next, opsgenie_standin.retry_after, opsgenie_standin.period = (
        1,
        retry_after,
        period,
    )
    with pytest.raises(DeliveryError) as info:
        await transport(message(), "open", facts(), 1)
    assert info.value.retryable
    assert info.value.retry_after == wait
    assert "429" in info.value.reason
    await transport(message(), "open", facts(), 1)
    assert len(opsgenie_standin.alerts) == 1


async def test_500_is_retryable(transport: OpsgenieTransport, opsgenie_standin: OpsgenieStandIn) -> None:
    opsgenie_standin.fail_next = 1
    with pytest.raises(DeliveryError) as info:
        await transport(message(), "resolve", facts(), 1)
    assert info.value.retryable
    assert "500" in info.value.reason


async def test_request_status_of_the_standin(opsgenie_standin: OpsgenieStandIn) -> None:
    """The stand-in's Get Request Status answers like Opsgenie's (the transport does not poll it)."""
    t = OpsgenieTransport(OpsgenieSettings(api_key=API_KEY, url=opsgenie_standin.url))
    await t(message(), "open", facts(), 1)
    await t.close()
    [request_id] = opsgenie_standin.requests
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            f"{opsgenie_standin.url}/v2/alerts/requests/{request_id}",
            headers={"Authorization": f"GenieKey {API_KEY}"},
        ) as resp,
    ):
        doc = await resp.json()
    assert doc["data"]["status"] == "Created alert"
    assert doc["data"]["alias"] == KEY


@pytest.mark.parametrize(
    ("p", "state", "want"),
    [
        ("P1", "OK", "P1"),
        ("P4", "", "P4"),
        (None, "CRITICAL", "P1"),
        (None, "OK", "P5"),
        (None, "WARNING", "P3"),
        ("P9", "UNKNOWN", "P2"),
    ],
)
def test_priority_mapping(p: str | None, state: str, want: str) -> None:
    assert priority({"priority": p, "state": state}) == want


def test_create_body_leaves_out_empty_fields() -> None:
    body = create_body(OpsgenieSettings(api_key="k"), Message("s", "", ""), "open", {"key": "k1"}, 1)
    assert "description" not in body
    assert "responders" not in body
    assert "entity" not in body
