"""One HTTP request for a delivery (ticket backends, notification webhooks), with transport failures
mapped to a retryable DeliveryError and the answer's body capped. What a status means is the
caller's business (`watchd.errors.http_status_retryable` is the shared rule); `failure` is the
shared way to turn a non-2xx answer into a DeliveryError that carries the server's `Retry-After`."""

from __future__ import annotations

import json as json_module
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from watchd.core.errors import DeliveryError, http_status_retryable

MAX_RETRY_AFTER = 3600.0  # a server asking for more than an hour is capped: the outbox still alerts


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    location: str | None
    body: bytes
    retry_after: float | None = None  # seconds, from a Retry-After header (delta or HTTP date)
    headers: dict[str, str] = field(default_factory=dict)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date (RFC 9110 10.2.3); None if absent
    or unreadable. Capped at MAX_RETRY_AFTER, never negative."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        import email.utils  # an HTTP date in Retry-After is rare

        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    wait = when.timestamp() - (time.time() if now is None else now)
    return min(max(wait, 0.0), MAX_RETRY_AFTER)


async def call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    what: str,
    timeout: float,
    max_body: int,
    **kw: Any,
) -> Answer:
    """Send one request without following redirects; DeliveryError(retryable) when no answer came."""
    try:
        async with session.request(
            method, url, timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False, **kw
        ) as resp:
            body = await read_capped(resp, max_body)
            return Answer(
                resp.status,
                resp.headers.get("Location"),
                body,
                parse_retry_after(resp.headers.get("Retry-After")),
                {k.lower(): v for k, v in resp.headers.items()},
            )
    except TimeoutError:
        raise DeliveryError(f"{what}: no answer within {timeout:g}s", retryable=True) from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(f"{what}: {type(exc).__name__}: {exc}", retryable=True) from None


def failure(answer: Answer, what: str, detail: str) -> DeliveryError:
    """The DeliveryError for a non-2xx answer: retryable by the shared rule, with the server's
    Retry-After (429, 503) so the outbox waits as long as it was asked to."""
    status = answer.status
    if 300 <= status < 400:
        return DeliveryError(
            f"{what}: redirected ({status}) to {answer.location}; set url to the final address", False
        )
    if status == 401:
        return DeliveryError(f"{what}: 401 unauthorized (check the credentials): {detail}", False)
    retryable = http_status_retryable(status)
    return DeliveryError(
        f"{what}: HTTP {status}: {detail}", retryable, answer.retry_after if retryable else None
    )


async def read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """At most `limit` bytes of the response body (a misbehaving server cannot fill memory)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(16 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any  # decoded JSON, or None for an empty or non-JSON body
    headers: dict[str, str]


class JsonApi:
    """A keep-alive session to one JSON REST API: base URL, fixed headers (auth), a timeout, and
    one rule for failures (`failure`, with the far side's own error text found by `error_detail`).
    The ticket backends build on it; each knows only its paths and payloads."""

    def __init__(
        self,
        base: str,
        label: str,
        headers: dict[str, str],
        *,
        timeout: float,
        max_body: int = 1 << 20,
    ) -> None:
        self.base = base.rstrip("/")
        self.label = label
        self.headers = {"Accept": "application/json", **headers}
        self.timeout = timeout
        self.max_body = max_body
        self._session: aiohttp.ClientSession | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Any = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        allow: tuple[int, ...] = (),
    ) -> Reply:
        """One request; 2xx (and the statuses in `allow`, e.g. 404) come back, anything else is a
        DeliveryError (retryable for 5xx/408/429, with Retry-After)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self.headers)
        answer = await call(
            self._session, method, self.base + path, what=f"{self.label} {what}", timeout=self.timeout,
            max_body=self.max_body, params=params, json=json, headers=headers,
        )  # fmt: skip
        body = decode_json(answer.body)
        if 200 <= answer.status < 300 or answer.status in allow:
            return Reply(answer.status, body, answer.headers)
        raise failure(answer, f"{self.label} {what}", error_detail(body, answer.body))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def decode_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json_module.loads(raw)
    except ValueError:
        return None


def error_detail(body: Any, raw: bytes, limit: int = 300) -> str:
    """The far side's own words for an error, from the shapes ticket APIs use: {"errors": [...]}
    (Redmine), {"errorMessages": [...], "errors": {...}} (Jira), {"error", "description"}
    (Zendesk, Zammad), {"description", "errors": [{"field", "message"}]} (Freshdesk),
    ["ERROR_X", "text"] (GLPI), {"Error": {"ErrorCode", "ErrorMessage"}} (Znuny); else the raw start."""
    parts: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
        elif isinstance(value, list):
            for v in value:
                add(v)
        elif isinstance(value, dict):
            if "field" in value and "message" in value:
                parts.append(f"{value['field']}: {value['message']}")
            elif "ErrorCode" in value:
                parts.append(f"{value.get('ErrorCode')}: {value.get('ErrorMessage', '')}")
            else:
                for k, v in value.items():
                    if isinstance(v, str):
                        parts.append(f"{k}: {v}")
                    else:
                        add(v)

    if isinstance(body, dict):
        for key in ("Error", "error", "error_human", "description", "message", "errorMessages", "errors"):
            if key in body:
                add(body[key])
    elif isinstance(body, list):
        add(body)
    text = "; ".join(dict.fromkeys(parts)) if parts else " ".join(raw.decode("utf-8", "replace").split())
    text = text or "(empty body)"
    return text if len(text) <= limit else text[:limit] + "…"
