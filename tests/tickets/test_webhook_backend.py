"""The webhook backend against a real aiohttp receiver that verifies signatures independently."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest
from tickethelpers import WEBHOOK_SECRET, MakeIntent, Receiver, Reply, free_port

from watchd.core.errors import DeliveryError, ParamError
from watchd.delivery.tickets.webhook import SCHEMA, WebhookBackend

V1_KEYS = {
    "schema", "kind", "key", "ref", "incident_id", "op_id", "host", "check", "priority", "state",
    "subject", "body", "at", "respond_by", "resolve_by", "fields",
}  # fmt: skip


@pytest.fixture
async def backend(receiver: Receiver) -> Any:
    b = WebhookBackend(receiver.url, WEBHOOK_SECRET, timeout=2.0, clock=lambda: 1714564900.0)
    yield b
    await b.close()


async def test_delivers_schema_v1_document(
    backend: WebhookBackend, receiver: Receiver, make_intent: MakeIntent
) -> None:
    """One POST carries every v1 field, UTC ISO times, the fields mapping, and the idempotency key."""
    await backend.deliver(
        make_intent("update", op_id=42, priority="P1", fields={"impact": "high", "previous_priority": "P2"}),
        "T-9",
    )
    [req] = receiver.received
    doc = req.document
    assert set(doc) == V1_KEYS
    assert doc["schema"] == SCHEMA == "watchd.ticket/v1"
    assert (doc["kind"], doc["key"], doc["op_id"], doc["ref"]) == (
        "update",
        "watchd-web01-disk_root-17",
        42,
        "T-9",
    )
    assert (doc["host"], doc["check"], doc["priority"], doc["state"]) == (
        "web01",
        "disk_root",
        "P1",
        "CRITICAL",
    )
    assert (doc["at"], doc["respond_by"], doc["resolve_by"]) == (
        "2024-05-01T12:00:00Z",
        "2024-05-01T13:00:00Z",
        None,
    )
    assert doc["fields"] == {"impact": "high", "previous_priority": "P2"}
    assert req.headers["Idempotency-Key"] == "watchd-web01-disk_root-17:42"
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["X-Watchd-Timestamp"] == "1714564900"


async def test_signature_verifies_independently(
    backend: WebhookBackend, receiver: Receiver, make_intent: MakeIntent
) -> None:
    """The receiver's own HMAC over `timestamp.body` matches, and would not match another body."""
    await backend.deliver(make_intent(), None)
    [req] = receiver.received
    assert req.verified
    sig = req.headers["X-Watchd-Signature"]
    assert sig.startswith("sha256=")
    other = hmac.new(WEBHOOK_SECRET.encode(), b"1714564900." + req.raw + b" ", hashlib.sha256).hexdigest()
    assert not hmac.compare_digest(sig, "sha256=" + other)


async def test_wrong_secret_is_refused_permanently(receiver: Receiver, make_intent: MakeIntent) -> None:
    """A receiver that cannot verify the signature answers 401, which is not retried."""
    b = WebhookBackend(receiver.url, "not-the-secret")
    try:
        with pytest.raises(DeliveryError) as err:
            await b.deliver(make_intent(), None)
    finally:
        await b.close()
    assert not err.value.retryable
    assert "401" in err.value.reason
    assert not receiver.received[0].verified


@pytest.mark.parametrize(
    ("reply", "ref", "expected"),
    [
        pytest.param(Reply(201, '{"ticket": "HD-1234"}'), None, "HD-1234", id="ticket-ref-in-response"),
        pytest.param(Reply(200, '{"ticket": 77}'), None, "77", id="numeric-ticket-ref"),
        pytest.param(Reply(202, ""), None, "watchd-web01-disk_root-17", id="no-body-key-is-ref"),
        pytest.param(Reply(200, "ok", "text/plain"), None, "watchd-web01-disk_root-17", id="not-json"),
        pytest.param(Reply(204, ""), "HD-1", "HD-1", id="keeps-known-ref"),
    ],
)
async def test_2xx_is_delivered(
    backend: WebhookBackend,
    receiver: Receiver,
    make_intent: MakeIntent,
    reply: Reply,
    ref: str | None,
    expected: str,
) -> None:
    """Any 2xx is delivered; the ref is the receiver's ticket if named, else the known ref, else the key."""
    receiver.replies.append(reply)
    assert await backend.deliver(make_intent(), ref) == expected


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        pytest.param(400, False, id="400-permanent"),
        pytest.param(404, False, id="404-permanent"),
        pytest.param(422, False, id="422-permanent"),
        pytest.param(302, False, id="redirect-permanent"),
        pytest.param(408, True, id="408-retry"),
        pytest.param(429, True, id="429-retry"),
        pytest.param(500, True, id="500-retry"),
        pytest.param(503, True, id="503-retry"),
    ],
)
async def test_http_errors(
    backend: WebhookBackend, receiver: Receiver, make_intent: MakeIntent, status: int, retryable: bool
) -> None:
    """Non-2xx answers fail with the status and a body snippet; only 5xx, 408 and 429 are retried."""
    receiver.replies.append(Reply(status, '{"error": "queue is closed for maintenance"}'))
    with pytest.raises(DeliveryError) as err:
        await backend.deliver(make_intent(), None)
    assert err.value.retryable is retryable
    assert str(status) in err.value.reason
    if status != 302:
        assert "queue is closed" in err.value.reason


async def test_timeout_is_retryable(receiver: Receiver, make_intent: MakeIntent) -> None:
    """A receiver that does not answer within the timeout gives a retryable failure."""
    receiver.replies.append(Reply(hang=True))
    b = WebhookBackend(receiver.url, WEBHOOK_SECRET, timeout=0.3)
    try:
        with pytest.raises(DeliveryError) as err:
            await b.deliver(make_intent(), None)
    finally:
        await b.close()
    assert err.value.retryable
    assert "0.3s" in err.value.reason


async def test_connection_refused_is_retryable(make_intent: MakeIntent) -> None:
    """Nothing listening on the port is a retryable failure."""
    b = WebhookBackend(f"http://127.0.0.1:{free_port()}/hook", WEBHOOK_SECRET, timeout=2.0)
    try:
        with pytest.raises(DeliveryError) as err:
            await b.deliver(make_intent(), None)
    finally:
        await b.close()
    assert err.value.retryable


async def test_one_session_reuses_the_connection(
    backend: WebhookBackend, receiver: Receiver, make_intent: MakeIntent
) -> None:
    """Two deliveries from one backend arrive over one kept-alive connection; close() ends the session."""
    await backend.deliver(make_intent(op_id=1), None)
    await backend.deliver(make_intent("update", op_id=2), "x")
    assert len({r.client_port for r in receiver.received}) == 1
    await backend.close()
    await backend.deliver(make_intent("resolve", op_id=3), "x")  # a closed backend opens a new session
    assert len(receiver.received) == 3


def test_from_config_reads_secret_file(tmp_path: Path) -> None:
    """The secret comes from a file (stripped), relative to the config directory."""
    (tmp_path / "hook.secret").write_text("  abc\n")
    params = {"url": "https://hd.example/hook", "secret_file": "hook.secret", "timeout": 5}
    b = WebhookBackend.from_config(params, base_dir=str(tmp_path))
    assert (b.url, b.timeout, b._secret) == ("https://hd.example/hook", 5.0, "abc")


def test_from_config_reads_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secret may come from a named environment variable."""
    monkeypatch.setenv("HOOK_SECRET", "from-env")
    b = WebhookBackend.from_config({"url": "http://127.0.0.1/hook", "secret_env": "HOOK_SECRET"})
    assert b._secret == "from-env"


@pytest.mark.parametrize(
    ("params", "key"),
    [
        pytest.param({"secret_env": "X"}, "url", id="url-required"),
        pytest.param({"url": "ftp://x", "secret_env": "HOME"}, "url", id="url-scheme"),
        pytest.param({"url": "http://x"}, "secret_file", id="secret-required"),
        pytest.param({"url": "http://x", "secret": "inline"}, "secret", id="inline-secret-refused"),
        pytest.param({"url": "http://x", "secret_env": "WATCHD_TEST_UNSET"}, "secret_env", id="env-unset"),
        pytest.param({"url": "http://x", "secret_file": "/nonexistent/s"}, "secret_file", id="file-missing"),
        pytest.param({"url": "http://x", "secret_env": "HOME", "timeout": 0}, "timeout", id="timeout-range"),
        pytest.param({"url": "http://x", "secret_env": "HOME", "retries": 3}, "retries", id="unknown-key"),
    ],
)
def test_from_config_errors(params: dict[str, Any], key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad or unknown keys raise ParamError naming the key."""
    monkeypatch.delenv("WATCHD_TEST_UNSET", raising=False)
    with pytest.raises(ParamError) as err:
        WebhookBackend.from_config(params)
    assert err.value.key == key
