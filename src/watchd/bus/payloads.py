"""JSON payloads on the bus. Every message carries `"schema": "watchd.<kind>/v1"`; a consumer checks the
kind and the major version and ignores fields it does not know (fields are only ever added within v1).

Encoding is compact JSON in UTF-8. Decoding (only status messages are decoded by watchd itself:
heartbeats are counted by topic alone) is lenient about extra fields and strict about the few it uses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from watchd.core.model import CheckResult, CheckStatus, Incident

VERSION = "v1"
ONLINE = "online"
OFFLINE = "offline"
REASON_LOST = "connection lost"  # the last will: the broker publishes it when the connection dies
REASON_SHUTDOWN = "shutdown"  # a clean stop publishes this itself


def schema(kind: str) -> str:
    return f"watchd.{kind}/{VERSION}"


def encode(kind: str, body: dict[str, Any]) -> bytes:
    return json.dumps({"schema": schema(kind), **body}, separators=(",", ":"), allow_nan=False).encode()


def status_online(
    host: str,
    version: str,
    started_at: float,
    at: float,
    heartbeat_interval: float,
    peers: Iterable[str] = (),
    claims: Iterable[str] = (),
) -> bytes:
    """Retained on `<host>/status`. A watcher adds `fleet`: the peer patterns it watches and the dead
    peers it currently reports (its claims; see fleet.py for the election that uses them)."""
    body: dict[str, Any] = {
        "host": host,
        "status": ONLINE,
        "version": version,
        "started_at": started_at,
        "at": at,
        "heartbeat_interval": heartbeat_interval,
    }
    peers = list(peers)
    if peers:
        body["fleet"] = {"peers": peers, "claims": sorted(claims)}
    return encode("status", body)


def status_offline(host: str, version: str, started_at: float, reason: str, at: float | None = None) -> bytes:
    """The last will (reason "connection lost", no `at`: the broker sends it later) or a clean stop."""
    body: dict[str, Any] = {
        "host": host,
        "status": OFFLINE,
        "reason": reason,
        "version": version,
        "started_at": started_at,
    }
    if at is not None:
        body["at"] = at
    return encode("status", body)


def heartbeat(host: str, seq: int, at: float, interval: float) -> bytes:
    return encode("heartbeat", {"host": host, "seq": seq, "at": at, "interval": interval})


def check_state(host: str, status: CheckStatus, at: float) -> bytes:
    return encode(
        "state",
        {
            "host": host,
            "check": status.check,
            "hard_state": status.hard_state.name,
            "state": status.state.name,
            "state_type": status.state_type.value,
            "attempt": status.attempt,
            "summary": status.summary,
            "flapping": status.flapping,
            "last_check": status.last_check,
            "last_change": status.last_change,
            "last_hard_change": status.last_hard_change,
            "at": at,
        },
    )


def check_result(host: str, result: CheckResult) -> bytes:
    return encode(
        "result", {"host": host, "check": result.check, "started_at": result.started_at, **result.to_dict()}
    )


def incident(action: str, inc: Incident) -> bytes:
    return encode("incident", incident_fields(action, inc))


def incident_fields(action: str, inc: Incident) -> dict[str, Any]:
    """The incident's own fields; the retained snapshot (bus.snapshots) adds its deliveries."""
    return {
        "action": action,
        "id": inc.id,
        "key": inc.key,
        "host": inc.host,
        "check": inc.check,
        "status": inc.status.value,
        "priority": inc.priority,
        "impact": inc.impact,
        "urgency": inc.urgency,
        "state": inc.state.name,
        "summary": inc.summary,
        "opened_at": inc.opened_at,
        "updated_at": inc.updated_at,
        "respond_by": inc.respond_by,
        "resolve_by": inc.resolve_by,
        "resolved_at": inc.resolved_at,
        "acked_at": inc.acked_at,
        "acked_by": inc.acked_by,
        "flapping": inc.flapping,
        "reopened": inc.reopened,
        "suppressed_by": inc.suppressed_by,
    }


def command_result(
    host: str, command: str, ok: bool, reason: str, at: float, nonce: str | None = None
) -> bytes:
    return encode(
        "command_result",
        {"host": host, "command": command, "ok": ok, "reason": reason, "nonce": nonce, "at": at},
    )


# -- decoding -------------------------------------------------------------------------------------


def parse_json(payload: bytes | str) -> Any:
    """The JSON value in `payload`; ValueError for anything that is not JSON. Every decoder of bus
    input goes through here: json.loads also raises RecursionError (a payload of a thousand `[`)
    and UnicodeDecodeError, and neither may escape into the message loop."""
    try:
        return json.loads(payload)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"not JSON: {exc}") from None


MAX_INTERVAL = 86400.0  # a heartbeat interval beyond a day is no heartbeat: judged by the timeout alone


@dataclass(frozen=True, slots=True)
class Status:
    """What a watcher needs from a peer's status message."""

    online: bool
    reason: str = ""
    heartbeat_interval: float | None = None
    peers: tuple[str, ...] = ()  # non-empty: the peer is a watcher too
    claims: frozenset[str] = frozenset()


def decode_status(payload: bytes) -> Status | None:
    """A status message, or None if it is not one (wrong schema, not JSON, missing fields)."""
    try:
        doc = parse_json(payload)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("schema") != schema("status"):
        return None
    status = doc.get("status")
    if status not in (ONLINE, OFFLINE):
        return None
    interval = doc.get("heartbeat_interval")
    if (
        not isinstance(interval, int | float)
        or isinstance(interval, bool)
        or not 0 < interval <= MAX_INTERVAL  # also refuses NaN: an Infinity would never time out
    ):
        interval = None
    fleet = doc.get("fleet")
    peers: tuple[str, ...] = ()
    claims: frozenset[str] = frozenset()
    if isinstance(fleet, dict):
        p, c = fleet.get("peers"), fleet.get("claims")
        if isinstance(p, list):
            peers = tuple(str(x) for x in p)
        if isinstance(c, list):
            claims = frozenset(str(x) for x in c)
    reason = doc.get("reason")
    return Status(
        online=status == ONLINE,
        reason=reason if isinstance(reason, str) else "",
        heartbeat_interval=float(interval) if interval is not None else None,
        peers=peers,
        claims=claims,
    )


def decode_heartbeat_seq(payload: bytes) -> int | None:
    """The sequence number of a heartbeat message, or None if it is not one."""
    try:
        doc = parse_json(payload)
    except ValueError:
        return None
    seq = doc.get("seq") if isinstance(doc, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None
