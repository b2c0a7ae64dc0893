"""What PagerDuty and Opsgenie send back when a person acts on a page: authenticated, parsed into
`InboundAck`s. Pure (no I/O, the clock is a parameter), so the HTTP endpoint stays a thin shell.

PagerDuty V3 webhooks (developer.pagerduty.com, docs/webhooks/01-Overview.md, 02-Behavior.md,
04-Signatures.md): one event per POST, `{"event": {id, event_type, resource_type, occurred_at, agent,
data}}`; `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body>[,v1=...]`, one per signing
secret (several during a secret rotation); at-least-once delivery, retried for about 20 minutes,
bodies up to 256 KB. For incident events `data` is the incident, and `data.incident_key` is its
de-duplication key: for an incident opened by an Events API v2 trigger that is the `dedup_key` we
sent, i.e. our incident key. (The older "v3 Overview" page's sample omits the field; the current
Overview and the REST API's incident object have it. An incident without it, or one made by
merging other alerts, cannot be mapped without a REST call, and is reported as "ignore".) Who
acted is `event.agent.summary` (a user's name for `user_reference` agents; a service or
integration when PagerDuty itself or an Events API resolve did it).

Opsgenie's outgoing Webhook integration (support.atlassian.com/opsgenie/docs/integrate-opsgenie-
with-webhook) is *not* signed: it POSTs `{"action": "Acknowledge"|"Close"|..., "alert": {alertId,
alias, username, userId, updatedAt, ...}, "source": {name, type}}` and lets one add custom headers
(and basic-auth credentials in the URL). So a shared secret is required, sent either as the custom
header `X-Watchd-Token` or as the basic-auth password, and compared in constant time.

Anything malformed raises an `InboundError` (a ValueError), a bad or missing signature or token its
subclass `SignatureError`: the endpoint answers 400/401 instead of crashing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

MAX_BODY = 256 * 1024  # PagerDuty drops webhooks above 256 KB; Opsgenie's are far smaller
MAX_SIGNATURES = 16
MAX_KEY = 512  # Opsgenie aliases go to 512, PagerDuty dedup keys to 255
MAX_WHO = 200
DEFAULT_MAX_AGE = 2 * 3600.0  # PagerDuty retries for ~20 min and queues behind a failing one
MAX_SKEW = 300.0

Action = Literal["acknowledge", "resolve", "ignore"]


class InboundError(ValueError):
    """The request is not a well-formed webhook of the service (answer 400)."""


class SignatureError(InboundError):
    """The request is not authenticated: signature or token missing or wrong (answer 401)."""


@dataclass(frozen=True, slots=True)
class InboundAck:
    key: str  # our incident key (PagerDuty incident_key / Opsgenie alias); "" when unknown
    action: Action  # "ignore": authentic, but nothing for watchd to do (see `detail`)
    by: str  # who acted, as the service names them
    service: Literal["pagerduty", "opsgenie"]
    event_id: str  # stable across redeliveries: replay and duplicate protection
    agent_type: str = ""  # PagerDuty agent.type / Opsgenie source.type, e.g. user_reference, web, api
    detail: str = ""


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name from any mapping (aiohttp's is, a plain dict is not)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == lowered), None)
    return value if isinstance(value, str) else None


def _raw(body: bytes) -> bytes:
    if not isinstance(body, bytes | bytearray):
        raise InboundError("the body must be bytes")
    if len(body) > MAX_BODY:
        raise InboundError(f"body of {len(body)} bytes is larger than {MAX_BODY}")
    return bytes(body)


def _decode(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InboundError(f"body is not JSON: {type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise InboundError("body must be a JSON object")
    return doc


def _obj(doc: dict[str, Any], key: str, required: bool = True) -> dict[str, Any]:
    value = doc.get(key)
    if isinstance(value, dict):
        return value
    if value is None and not required:
        return {}
    raise InboundError(f"{key!r} must be an object")


def _text(doc: dict[str, Any], key: str, limit: int, required: bool = False) -> str:
    value = doc.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise InboundError(f"{key!r} must be a non-empty string" if required else f"{key!r} must be a string")
    if len(value) > limit:
        raise InboundError(f"{key!r} is longer than {limit} characters")
    return value


def _check_age(at: float, now: float, max_age: float, what: str) -> None:
    if at < now - max_age:
        raise InboundError(f"{what} is {now - at:.0f}s old (more than {max_age:.0f}s): a replay?")
    if at > now + MAX_SKEW:
        raise InboundError(f"{what} is {at - now:.0f}s in the future")


# -- PagerDuty ---------------------------------------------------------------------------------------

PD_ACTIONS: dict[str, Action] = {"incident.acknowledged": "acknowledge", "incident.resolved": "resolve"}


def verify_pagerduty(body: bytes, signature: str | None, secrets: Sequence[str]) -> None:
    """SignatureError unless one `v1=` signature is the HMAC-SHA256 of `body` under one secret."""
    keys = [s for s in ([secrets] if isinstance(secrets, str) else secrets) if isinstance(s, str) and s]
    if not keys:
        raise SignatureError("no PagerDuty signing secret is configured")
    if not signature:
        raise SignatureError("X-PagerDuty-Signature is missing")
    parts = [p.strip() for p in signature.split(",", MAX_SIGNATURES)[:MAX_SIGNATURES]]
    given = [p[3:].lower() for p in parts if p.startswith("v1=")]
    if not given:
        raise SignatureError("X-PagerDuty-Signature has no v1 signature")
    for key in keys:
        want = hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()
        # compare against every candidate so the time taken says nothing about which one matched
        if any([hmac.compare_digest(want.encode(), g.encode("ascii", "replace")) for g in given]):
            return
    raise SignatureError("X-PagerDuty-Signature does not match")


def parse_pagerduty(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: float,
    max_age: float = DEFAULT_MAX_AGE,
) -> list[InboundAck]:
    """The acknowledgement or resolution in one V3 webhook delivery (a list: one event per POST today)."""
    raw = _raw(body)
    verify_pagerduty(raw, header(headers, "X-PagerDuty-Signature"), secrets)
    event = _obj(_decode(raw), "event")
    event_type = _text(event, "event_type", 100, required=True)
    event_id = _text(event, "id", 200) or (header(headers, "X-Webhook-Id") or "")[:200]
    if not event_id:
        raise InboundError("event.id is missing")
    occurred = _text(event, "occurred_at", 64, required=True)
    try:
        at = datetime.fromisoformat(occurred.replace("Z", "+00:00"))
    except ValueError:
        raise InboundError(f"event.occurred_at {occurred[:40]!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise InboundError("event.occurred_at has no time zone")
    _check_age(at.timestamp(), now, max_age, "the event")
    agent = _obj(event, "agent", required=False)
    who = _text(agent, "summary", 10_000)[:MAX_WHO]
    agent_type = _text(agent, "type", 100)
    data = _obj(event, "data", required=False)
    action = PD_ACTIONS.get(event_type)
    if action is None:
        return [InboundAck("", "ignore", who, "pagerduty", event_id, agent_type, f"event type {event_type}")]
    key = _text(data, "incident_key", MAX_KEY)
    if not key:
        detail = "the incident has no incident_key: not opened through the Events API?"
        return [InboundAck("", "ignore", who, "pagerduty", event_id, agent_type, detail)]
    return [InboundAck(key, action, who, "pagerduty", event_id, agent_type)]


# -- Opsgenie ----------------------------------------------------------------------------------------

OG_ACTIONS: dict[str, Action] = {"Acknowledge": "acknowledge", "Close": "resolve"}


def verify_opsgenie(headers: Mapping[str, str], secret: str) -> None:
    """SignatureError unless X-Watchd-Token, or the basic-auth password, is the shared secret."""
    if not isinstance(secret, str) or not secret:
        raise SignatureError("no Opsgenie webhook secret is configured")
    want = secret.encode("utf-8")
    token = header(headers, "X-Watchd-Token")
    if token is None:
        auth = header(headers, "Authorization") or ""
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "basic" or not value:
            raise SignatureError("neither X-Watchd-Token nor basic auth was sent")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise SignatureError("the basic-auth header is malformed") from None
        token = decoded.partition(":")[2]
    if not hmac.compare_digest(want, token.encode("utf-8", "replace")):
        raise SignatureError("the Opsgenie webhook token does not match")


def parse_opsgenie(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    now: float,
    max_age: float = DEFAULT_MAX_AGE,
) -> list[InboundAck]:
    """The acknowledgement or close in one Opsgenie Webhook integration POST."""
    raw = _raw(body)
    verify_opsgenie(headers, secret)
    doc = _decode(raw)
    action_name = _text(doc, "action", 100, required=True)
    alert = _obj(doc, "alert")
    source = _obj(doc, "source", required=False)
    who = (_text(alert, "username", 10_000) or _text(source, "name", 10_000))[:MAX_WHO]
    agent_type = _text(source, "type", 100)
    alert_id = _text(alert, "alertId", 200)
    updated = alert.get("updatedAt")
    if isinstance(updated, bool) or not isinstance(updated, int | float | None):
        raise InboundError("'updatedAt' must be a number (milliseconds)")
    if updated is not None:
        if not 0 <= updated <= 1e14:  # epoch milliseconds; also refuses NaN and the infinities
            raise InboundError("'updatedAt' is out of range")
        _check_age(updated / 1000.0, now, max_age, "the alert action")
    if alert_id and updated is not None:
        event_id = f"{alert_id}:{action_name}:{int(updated)}"
    else:  # a redelivery repeats the body byte for byte
        event_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    action = OG_ACTIONS.get(action_name)
    if action is None:
        return [InboundAck("", "ignore", who, "opsgenie", event_id, agent_type, f"action {action_name}")]
    key = _text(alert, "alias", MAX_KEY)
    if not key:
        return [InboundAck("", "ignore", who, "opsgenie", event_id, agent_type, "the alert has no alias")]
    return [InboundAck(key, action, who, "opsgenie", event_id, agent_type)]
