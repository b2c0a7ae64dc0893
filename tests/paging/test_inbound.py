"""Parsing what PagerDuty and Opsgenie send back: signatures and tokens, the key that maps back to our
incident, who acted, and hostile input (never anything but InboundAcks or an InboundError)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchd.delivery.notify.messages import Message
from watchd.delivery.paging.inbound import (
    MAX_BODY,
    InboundAck,
    InboundError,
    SignatureError,
    parse_opsgenie,
    parse_pagerduty,
)
from watchd.delivery.paging.opsgenie import OpsgenieSettings, OpsgenieTransport
from watchd.delivery.paging.pagerduty import PagerDutySettings, PagerDutyTransport

from .standins.opsgenie import API_KEY, WEBHOOK_TOKEN, OpsgenieStandIn
from .standins.pagerduty import ROUTING_KEY, WEBHOOK_SECRET, PagerDutyStandIn

KEY = "watchd-web01-shop-1"
MSG = Message("P1 web01/shop CRITICAL", "down", "<p>down</p>")
FACTS = {
    "key": KEY,
    "host": "web01",
    "check": "shop",
    "state": "CRITICAL",
    "priority": "P1",
    "at": time.time(),
}


def sign(body: bytes, *secrets: str) -> dict[str, str]:
    sigs = ",".join("v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets)
    return {"X-PagerDuty-Signature": sigs}


def pd_event(event_type: str = "incident.acknowledged", occurred: float | None = None, **data: Any) -> bytes:
    at = datetime.fromtimestamp(time.time() if occurred is None else occurred, UTC)
    doc = {
        "event": {
            "id": "01DEN4HPBQAZFPPPTF9XM9JUFR",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": at.isoformat().replace("+00:00", "Z"),
            "agent": {"summary": "Ann Oncall", "type": "user_reference", "id": "PLH1HKV"},
            "data": {"id": "PGR0VU2", "type": "incident", "incident_key": KEY, **data},
        }
    }
    return json.dumps(doc).encode()


# -- PagerDuty ----------------------------------------------------------------------------------------


async def test_pagerduty_round_trip(pagerduty_standin: PagerDutyStandIn) -> None:
    """Our trigger's dedup_key comes back as the V3 webhook's incident_key, with the person's name."""
    t = PagerDutyTransport(PagerDutySettings(routing_key=ROUTING_KEY, url=pagerduty_standin.url))
    await t(MSG, "open", FACTS, 1)
    await t.close()
    body, headers = pagerduty_standin.person(KEY, "acknowledge", "Ann Oncall")
    [ack] = parse_pagerduty(body, headers, [WEBHOOK_SECRET], time.time())
    assert (ack.key, ack.action, ack.by, ack.service, ack.agent_type) == (
        KEY,
        "acknowledge",
        "Ann Oncall",
        "pagerduty",
        "user_reference",
    )
    assert ack.event_id == json.loads(body)["event"]["id"]
    body, headers = pagerduty_standin.person(KEY, "resolve", "Bob")
    assert parse_pagerduty(body, headers, [WEBHOOK_SECRET], time.time())[0].action == "resolve"


def test_pagerduty_secret_rotation_and_header_case() -> None:
    body = pd_event()
    headers = {k.lower(): v for k, v in sign(body, "old-secret", "new-secret").items()}
    assert parse_pagerduty(body, headers, ["new-secret"], time.time())[0].key == KEY
    assert parse_pagerduty(body, headers, ["other", "old-secret"], time.time())[0].key == KEY


@pytest.mark.parametrize(
    ("headers", "secrets"),
    [
        ({}, ["s"]),
        (sign(b"{}", "s"), ["s"]),
        ({"X-PagerDuty-Signature": "v0=abc"}, ["s"]),
        ({"X-PagerDuty-Signature": "v1=zz,v1="}, ["s"]),
        (None, []),
        (None, [""]),
    ],
    ids=["missing", "other-body", "no-v1", "garbage", "no-secret", "empty-secret"],
)
def test_pagerduty_bad_signature(headers: dict[str, str] | None, secrets: list[str]) -> None:
    body = pd_event()
    with pytest.raises(SignatureError):
        parse_pagerduty(body, sign(body, "s") if headers is None else headers, secrets, time.time())


def test_pagerduty_tampered_body() -> None:
    body = pd_event()
    headers = sign(body, "s")
    with pytest.raises(SignatureError):
        parse_pagerduty(body.replace(b"Ann", b"Eve"), headers, ["s"], time.time())


def test_pagerduty_stale_and_future_events_are_refused() -> None:
    now = time.time()
    for occurred in (now - 3 * 3600, now + 3600):
        body = pd_event(occurred=occurred)
        with pytest.raises(InboundError) as info:
            parse_pagerduty(body, sign(body, "s"), ["s"], now)
        assert not isinstance(info.value, SignatureError)


def test_pagerduty_other_events_and_missing_key_are_ignored() -> None:
    body = pd_event("incident.priority_updated")
    [ack] = parse_pagerduty(body, sign(body, "s"), ["s"], time.time())
    assert ack.action == "ignore"
    assert "priority_updated" in ack.detail
    body = pd_event(incident_key=None)
    [ack] = parse_pagerduty(body, sign(body, "s"), ["s"], time.time())
    assert ack.action == "ignore"
    assert ack.key == ""
    assert "incident_key" in ack.detail


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"event": []}',
        b'{"event": {"event_type": 5}}',
        b"\xff\xfe",
        b"[" * 100_000,
        json.dumps(
            {"event": {"id": "x", "event_type": "incident.resolved", "occurred_at": "yesterday"}}
        ).encode(),
        json.dumps(
            {"event": {"id": "x", "event_type": "incident.resolved", "occurred_at": "2024-01-01T00:00:00"}}
        ).encode(),
    ],
    ids=["text", "list", "event-list", "type-int", "bad-utf8", "deep", "bad-time", "naive-time"],
)
def test_pagerduty_malformed_but_signed(body: bytes) -> None:
    with pytest.raises(InboundError) as info:
        parse_pagerduty(body, sign(body, "s"), ["s"], time.time())
    assert not isinstance(info.value, SignatureError)


def test_oversized_bodies_are_refused_before_anything_else() -> None:
    body = b" " * (MAX_BODY + 1)
    with pytest.raises(InboundError, match="larger"):
        parse_pagerduty(body, sign(body, "s"), ["s"], time.time())
    with pytest.raises(InboundError, match="larger"):
        parse_opsgenie(body, {"X-Watchd-Token": "t"}, "t", time.time())


# -- Opsgenie -----------------------------------------------------------------------------------------


async def test_opsgenie_round_trip(opsgenie_standin: OpsgenieStandIn) -> None:
    t = OpsgenieTransport(OpsgenieSettings(api_key=API_KEY, url=opsgenie_standin.url))
    await t(MSG, "open", FACTS, 1)
    await t.close()
    body, headers = opsgenie_standin.person(KEY, "Acknowledge", "ann@example.com")
    [ack] = parse_opsgenie(body, headers, WEBHOOK_TOKEN, time.time())
    assert ack == InboundAck(KEY, "acknowledge", "ann@example.com", "opsgenie", ack.event_id, "web")
    assert ack.event_id.startswith(json.loads(body)["alert"]["alertId"] + ":Acknowledge:")
    assert parse_opsgenie(body, headers, WEBHOOK_TOKEN, time.time())[0].event_id == ack.event_id  # redelivery
    body, headers = opsgenie_standin.person(KEY, "Close", "bob@example.com")
    assert parse_opsgenie(body, headers, WEBHOOK_TOKEN, time.time())[0].action == "resolve"


def og_body(action: str = "Acknowledge", **alert: Any) -> bytes:
    doc = {
        "action": action,
        "alert": {"alertId": "a1", "alias": KEY, "username": "ann", **alert},
        "source": {"name": "", "type": "web"},
    }
    return json.dumps(doc).encode()


def test_opsgenie_basic_auth_password_is_the_secret() -> None:
    auth = "Basic " + base64.b64encode(b"watchd:s3cret").decode()
    assert parse_opsgenie(og_body(), {"authorization": auth}, "s3cret", time.time())[0].key == KEY


@pytest.mark.parametrize(
    ("headers", "secret"),
    [
        ({}, "t"),
        ({"X-Watchd-Token": "nope"}, "t"),
        ({"X-Watchd-Token": ""}, ""),
        ({"Authorization": "Basic !!!"}, "t"),
        ({"Authorization": "Bearer t"}, "t"),
        ({"Authorization": "Basic " + base64.b64encode(b"t:wrong").decode()}, "t"),
    ],
    ids=["missing", "wrong", "no-secret", "bad-basic", "bearer", "wrong-password"],
)
def test_opsgenie_bad_token(headers: dict[str, str], secret: str) -> None:
    with pytest.raises(SignatureError):
        parse_opsgenie(og_body(), headers, secret, time.time())


def test_opsgenie_other_actions_and_missing_alias_are_ignored() -> None:
    [ack] = parse_opsgenie(og_body("AddNote"), {"X-Watchd-Token": "t"}, "t", time.time())
    assert ack.action == "ignore"
    assert "AddNote" in ack.detail
    [ack] = parse_opsgenie(og_body(alias=None), {"X-Watchd-Token": "t"}, "t", time.time())
    assert ack.action == "ignore"
    assert ack.key == ""


def test_opsgenie_who_falls_back_to_the_source_name() -> None:
    doc = {"action": "Close", "alert": {"alias": KEY}, "source": {"name": "Slack", "type": "slack"}}
    [ack] = parse_opsgenie(json.dumps(doc).encode(), {"X-Watchd-Token": "t"}, "t", time.time())
    assert (ack.by, ack.agent_type) == ("Slack", "slack")
    assert ack.event_id.startswith("sha256:")


def test_opsgenie_stale_action_is_refused() -> None:
    old = int((time.time() - 3 * 3600) * 1000)
    with pytest.raises(InboundError, match="replay"):
        parse_opsgenie(og_body(updatedAt=old), {"X-Watchd-Token": "t"}, "t", time.time())


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b'{"action": "Close"}',
        b'{"action": 1, "alert": {}}',
        og_body(alias=["x"]),
        og_body(updatedAt="soon"),
        og_body(updatedAt=10**30),
        og_body(username=5),
        og_body(updatedAt=float("nan")),
        og_body(updatedAt=float("inf")),
        b'{"action": "Close", "alert": {"alias": "k", "updatedAt": 1e400}}',
    ],
    ids=[
        "empty",
        "null",
        "no-alert",
        "action-int",
        "alias-list",
        "updated-text",
        "updated-huge",
        "user-int",
        "updated-nan",
        "updated-inf",
        "updated-overflow",
    ],
)
def test_opsgenie_malformed(body: bytes) -> None:
    with pytest.raises(InboundError) as info:
        parse_opsgenie(body, {"X-Watchd-Token": "t"}, "t", time.time())
    assert not isinstance(info.value, SignatureError)


# -- hostile input, generated -------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=5),
    max_leaves=30,
)
NAMES = st.sampled_from(
    [
        "event",
        "event_type",
        "id",
        "occurred_at",
        "agent",
        "summary",
        "type",
        "data",
        "incident_key",
        "action",
        "alert",
        "alias",
        "username",
        "updatedAt",
        "source",
        "name",
    ]
)
# documents shaped like the real ones, so the parsers get past the first checks
SHAPED = st.recursive(
    st.none()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(
        ["incident.acknowledged", "incident.resolved", "Acknowledge", "Close", "2024-01-01T00:00:00Z"]
    ),
    lambda kids: st.dictionaries(NAMES, kids, max_size=6) | st.lists(kids, max_size=3),
    max_leaves=25,
)


def outcome(parse: Any, body: bytes, headers: dict[str, str], secret: Any) -> None:
    try:
        result = parse(body, headers, secret, 1_704_067_200.0)
    except InboundError:
        return
    assert isinstance(result, list)
    assert all(isinstance(a, InboundAck) for a in result)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=300)
    | JSON.map(lambda v: json.dumps(v).encode())
    | SHAPED.map(lambda v: json.dumps(v).encode())
)
def test_hostile_pagerduty_bodies(body: bytes) -> None:
    outcome(parse_pagerduty, body, sign(body, "s"), ["s"])  # validly signed: the parser itself is tested
    outcome(parse_pagerduty, body, {}, ["s"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=300)
    | JSON.map(lambda v: json.dumps(v).encode())
    | SHAPED.map(lambda v: json.dumps(v).encode())
)
def test_hostile_opsgenie_bodies(body: bytes) -> None:
    outcome(parse_opsgenie, body, {"X-Watchd-Token": "t"}, "t")


@settings(max_examples=200, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(["X-PagerDuty-Signature", "x-watchd-token", "Authorization", "X"]),
        st.text(max_size=80),
        max_size=4,
    )
)
def test_hostile_headers(headers: dict[str, str]) -> None:
    outcome(parse_pagerduty, pd_event(), headers, ["s"])
    outcome(parse_opsgenie, og_body(), headers, "t")
