"""Tickets by signed JSON POST to any receiver: schema `watchd.ticket/v1` (see docs/tickets.md).

Each delivery is one POST of `payload(intent, ref)` with

    Content-Type: application/json
    Idempotency-Key: <key>:<op_id>             the same on every retry of one operation
    X-Watchd-Timestamp: <unix seconds>         when this attempt was sent
    X-Watchd-Signature: sha256=<hex>           HMAC-SHA256(secret, timestamp + "." + raw body)

A 2xx answer is delivered; its JSON may name the receiver's ticket (`{"ticket": "<ref>"}`), which
becomes the ref passed back with later intents (else the ref we had, else the incident key). 5xx,
408, 429, timeouts and connection errors are retried; any other answer is a permanent failure.
Exactly-once is the receiver's half: it must treat a repeated Idempotency-Key as already done.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from watchd import __version__
from watchd.core.errors import DeliveryError, ParamError, http_status_retryable
from watchd.delivery import httpcall
from watchd.delivery.tickets import TicketIntent
from watchd.delivery.tickets.render import Options, iso_utc

SCHEMA = "watchd.ticket/v1"
MAX_RESPONSE = 64 * 1024


def payload(intent: TicketIntent, ref: str | None) -> dict[str, Any]:
    """The v1 document: the intent's fields, times as ISO-8601 UTC strings, and the known ref."""
    return {
        "schema": SCHEMA,
        "kind": intent.kind,
        "key": intent.key,
        "ref": ref,
        "incident_id": intent.incident_id,
        "op_id": intent.op_id,
        "host": intent.host,
        "check": intent.check,
        "priority": intent.priority,
        "state": intent.state,
        "subject": intent.subject,
        "body": intent.body,
        "at": iso_utc(intent.at),
        "respond_by": iso_utc(intent.respond_by),
        "resolve_by": iso_utc(intent.resolve_by),
        "fields": intent.fields,
    }


def encode(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON with sorted keys (receivers must verify the raw bytes, not a re-encoding)."""
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 of `timestamp + "." + body` keyed with the shared secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookBackend:
    """POSTs each intent to one URL, signed with a shared secret; one HTTP session per instance."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("the webhook secret must not be empty")
        self.url = url
        self.timeout = timeout
        self._secret = secret
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_config(cls, params: Mapping[str, Any], *, base_dir: str | None = None) -> WebhookBackend:
        """Build from a config mapping (`url`, `secret_file`/`secret_env`, `timeout`); ParamError if bad."""
        o = Options(params, base_dir)
        url = o.required("url")
        if not url.startswith(("http://", "https://")):
            raise ParamError("url", f"expected an http:// or https:// URL, got {url!r}")
        secret = o.secret("secret", required=True)
        assert secret is not None
        timeout = o.number("timeout", 10.0, low=0.5, high=300.0)
        o.done()
        return cls(url, secret, timeout=timeout)

    async def deliver(self, intent: TicketIntent, ref: str | None) -> str:
        body = encode(payload(intent, ref))
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"watchd/{__version__}",
            "Idempotency-Key": f"{intent.key}:{intent.op_id}",
            "X-Watchd-Timestamp": timestamp,
            "X-Watchd-Signature": signature(self._secret, timestamp, body),
        }
        answer = await httpcall.call(
            self._client(), "POST", self.url, what="webhook", timeout=self.timeout, max_body=MAX_RESPONSE,
            data=body, headers=headers,
        )  # fmt: skip
        status, location, raw = answer.status, answer.location, answer.body
        if 200 <= status < 300:
            return _ticket_ref(raw) or ref or intent.key
        if 300 <= status < 400:
            raise DeliveryError(
                f"webhook: HTTP {status} redirect to {location}; set url to the final address",
                retryable=False,
            )
        raise DeliveryError(
            f"webhook: HTTP {status}: {_snippet(raw)}", retryable=http_status_retryable(status)
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session


def _ticket_ref(raw: bytes) -> str | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    ticket = data.get("ticket") if isinstance(data, dict) else None
    if isinstance(ticket, bool) or not isinstance(ticket, str | int) or ticket == "":
        return None
    return str(ticket)


def _snippet(raw: bytes, limit: int = 200) -> str:
    text = " ".join(raw.decode("utf-8", "replace").split())
    return (text if len(text) <= limit else text[:limit] + "…") or "(empty body)"
