"""One HTTP request for a delivery (ticket backends, notification webhooks), with transport failures
mapped to a retryable DeliveryError and the answer's body capped. What a status means is the
caller's business (`watchd.errors.http_status_retryable` is the shared rule)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from watchd.core.errors import DeliveryError


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    location: str | None
    body: bytes


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
            return Answer(resp.status, resp.headers.get("Location"), await read_capped(resp, max_body))
    except TimeoutError:
        raise DeliveryError(f"{what}: no answer within {timeout:g}s", retryable=True) from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(f"{what}: {type(exc).__name__}: {exc}", retryable=True) from None


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
