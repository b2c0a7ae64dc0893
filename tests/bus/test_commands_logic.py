"""Command verification (pure, injected now) and dispatch to a fake handler; config section reading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from watchd.bus.commands import (
    Ack,
    CommandDispatcher,
    Refusal,
    Refused,
    ReplayCache,
    Run,
    Silence,
    Verified,
    sign,
    signature,
    verify,
)
from watchd.bus.config import MqttConfig, read_mqtt
from watchd.configkit.reader import Reader
from watchd.core.errors import Problem

SECRET = b"0123456789abcdef-shared"
NOW = 1_700_000_000.0


def check(payload: bytes, verb: str = "run", now: float = NOW, cache: ReplayCache | None = None) -> Any:
    return verify(
        payload,
        secret=SECRET,
        host="web-1",
        verb=verb,
        now=now,
        max_age=60,
        cache=ReplayCache() if cache is None else cache,
    )


def signed(verb: str = "run", args: dict[str, Any] | None = None, **kw: Any) -> bytes:
    return sign(
        kw.pop("secret", SECRET), kw.pop("host", "web-1"), verb, {"check": "load"} if args is None else args,
        kw.pop("ts", NOW), kw.pop("nonce", "nonce-0001"),
    )  # fmt: skip


def forged_body(payload: bytes, **changes: Any) -> bytes:
    doc = json.loads(payload)
    body = json.loads(doc["body"])
    body.update(changes)
    doc["body"] = json.dumps(body)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("payload", "verb", "expected"),
    [
        pytest.param(signed(), "run", Run("load"), id="valid run"),
        pytest.param(signed("ack", {"incident": 42, "by": "alice", "comment": "on it"}), "ack",
                     Ack(42, "alice", "on it"), id="valid ack"),
        pytest.param(signed("silence", {"check": "load", "for": "2h"}), "silence",
                     Silence("load", NOW + 7200, ""), id="valid silence for"),
        pytest.param(signed("silence", {"check": "load", "until": "2023-11-14T22:30:00Z"}), "silence",
                     Silence("load", NOW + 1000, ""), id="valid silence until (ISO)"),
        pytest.param(b'{"body": "{}"}', "run", Refusal.UNSIGNED, id="unsigned"),
        pytest.param(b"not json", "run", Refusal.MALFORMED, id="not JSON"),
        pytest.param(signed(secret=b"guessed-wrong-secret"), "run", Refusal.BAD_SIGNATURE, id="wrong key"),
        pytest.param(forged_body(signed(), args={"check": "rm -rf"}), "run", Refusal.BAD_SIGNATURE,
                     id="forged: body altered"),
        pytest.param(signed(host="db-1"), "run", Refusal.WRONG_TARGET, id="signed for another host"),
        pytest.param(signed("ack", {"incident": 1, "by": "x"}), "run", Refusal.WRONG_TARGET,
                     id="signed for another verb"),
        pytest.param(signed(ts=NOW - 61), "run", Refusal.STALE, id="stale"),
        pytest.param(signed(ts=NOW + 61), "run", Refusal.FUTURE, id="from the future"),
        pytest.param(signed(nonce="short"), "run", Refusal.MALFORMED, id="nonce too short"),
        pytest.param(signed("reboot", {}), "reboot", Refusal.UNKNOWN_COMMAND, id="unknown verb"),
        pytest.param(signed("ack", {"incident": "x", "by": "a"}), "ack", Refusal.BAD_ARGS, id="bad incident"),
        pytest.param(signed("silence", {"check": "load"}), "silence", Refusal.BAD_ARGS, id="no time"),
        pytest.param(signed("silence", {"check": "l", "for": "1h", "until": NOW + 5}), "silence",
                     Refusal.BAD_ARGS, id="silence with both"),
        pytest.param(signed("silence", {"check": "l", "until": NOW - 5}), "silence", Refusal.BAD_ARGS,
                     id="silence in the past"),
        pytest.param(signed("run", {"check": "load", "extra": 1}), "run", Refusal.BAD_ARGS, id="unknown arg"),
    ],
)  # fmt: skip
def test_verify(payload: bytes, verb: str, expected: Any) -> None:
    """Only a well-formed command signed with the secret, for this host and verb, and fresh, passes."""
    out = check(payload, verb)
    if isinstance(expected, Refusal):
        assert isinstance(out, Refused)
        assert out.reason is expected
    else:
        assert out == Verified(expected, "nonce-0001")


def test_replay_refused_and_cache_bounded() -> None:
    """A nonce is accepted once; a full cache refuses new commands rather than forget a live nonce;
    expired nonces make room again."""
    cache = ReplayCache(max_entries=2)
    assert isinstance(check(signed(nonce="nonce-0001"), cache=cache), Verified)
    replay = check(signed(nonce="nonce-0001"), cache=cache)
    assert isinstance(replay, Refused)
    assert replay.reason is Refusal.REPLAYED
    assert isinstance(check(signed(nonce="nonce-0002"), cache=cache), Verified)
    full = check(signed(nonce="nonce-0003"), cache=cache)
    assert isinstance(full, Refused)
    assert full.reason is Refusal.REPLAY_CACHE_FULL
    later = NOW + 61  # both nonces' commands are stale now, so they can be forgotten
    assert isinstance(check(signed(nonce="nonce-0004", ts=later), now=later, cache=cache), Verified)
    assert len(cache) == 1


def test_bad_signature_does_not_burn_a_nonce() -> None:
    """Unauthenticated messages never touch the replay cache."""
    cache = ReplayCache()
    check(signed(secret=b"wrong-secret-xxxxxxx", nonce="nonce-0009"), cache=cache)
    assert len(cache) == 0
    assert isinstance(check(signed(nonce="nonce-0009"), cache=cache), Verified)


def test_signature_is_over_the_exact_body() -> None:
    """HMAC-SHA256 of the body text, hex; documented so other tools can sign."""
    doc = json.loads(signed())
    assert doc["sig"] == signature(SECRET, doc["body"])
    assert len(doc["sig"]) == 64


class FakeHandler:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def run_now(self, check: str) -> bool:
        self.calls.append(("run", check))
        return check != "missing"

    async def ack(self, incident_id: int, by: str, comment: str) -> bool:
        self.calls.append(("ack", incident_id, by, comment))
        return True

    async def silence(self, check: str, until: float, comment: str, by: str = "mqtt") -> bool:
        raise RuntimeError("boom")

    async def downtime(
        self, scope: str, target: str, start: float, until: float, comment: str, by: str
    ) -> bool:
        raise RuntimeError("boom")


async def test_dispatcher_calls_the_handler_and_reports() -> None:
    """Verified commands reach the handler; its answer, a refusal or its exception become the outcome."""
    h = FakeHandler()
    d = CommandDispatcher("web-1", SECRET, h, 60)
    ok = await d.handle("run", signed(nonce="nonce-a001"), NOW)
    assert (ok.ok, ok.reason, ok.nonce) == (True, "done", "nonce-a001")
    no = await d.handle("run", signed(args={"check": "missing"}, nonce="nonce-a002"), NOW)
    assert (no.ok, no.reason) == (False, "refused by the daemon")
    boom = await d.handle("silence", signed("silence", {"check": "x", "for": 60}, nonce="nonce-a003"), NOW)
    assert not boom.ok
    assert "boom" in boom.reason
    forged = await d.handle("run", signed(secret=b"nope-nope-nope-nope", nonce="nonce-a004"), NOW)
    assert (forged.ok, forged.reason) == (False, "bad signature")
    assert h.calls == [("run", "load"), ("run", "missing")]
    assert d.refused == {"bad signature": 1}


# -- the mqtt: section ----------------------------------------------------------------------------


def read(data: Any, tmp_path: Path | None = None) -> tuple[MqttConfig | None, list[str]]:
    problems: list[Problem] = []
    file = str(tmp_path / "watchd.yaml") if tmp_path else "?"
    cfg = read_mqtt(Reader(data, "mqtt", problems, file))
    return cfg, [f"{p.path}: {p.message}" for p in problems]


def test_defaults() -> None:
    """An empty section enables the bus with documented defaults; no section or enabled: false, none."""
    cfg, problems = read({})
    assert problems == []
    assert cfg == MqttConfig()
    assert cfg.effective_peer_timeout == 30.0
    assert read(None) == (None, [])
    assert read({"enabled": False}) == (None, [])


def test_full_section(tmp_path: Path) -> None:
    """Every key, relative files resolved beside the config file, tls switching the default port."""
    for name in ("ca.pem", "c.pem", "c.key", "pw", "secret"):
        (tmp_path / name).write_text("x")
    cfg, problems = read(
        {
            "host": "mq", "prefix": "site-a/watchd", "client_id": "w-1", "username": "u",
            "password_file": "pw", "tls": {"ca_file": "ca.pem", "cert_file": "c.pem", "key_file": "c.key"},
            "keepalive": "20s", "heartbeat_interval": "5s", "result_qos": 1, "buffer_size": 500,
            "reconnect": {"min": "2s", "max": "1m"}, "peers": ["web-*", "db-1"], "peer_timeout": "20s",
            "command_secret_file": "secret", "command_max_age": "30s", "protocol": "3.1.1",
        },
        tmp_path,
    )  # fmt: skip
    assert problems == []
    assert cfg is not None
    assert cfg.port == 8883
    assert cfg.prefix == "site-a/watchd/"
    assert cfg.tls is not None
    assert cfg.tls.ca_file == str(tmp_path / "ca.pem")
    assert cfg.peers == ("web-*", "db-1")
    assert (cfg.reconnect_min, cfg.reconnect_max, cfg.keepalive) == (2.0, 60.0, 20)
    assert cfg.protocol == "3.1.1"
    assert cfg.effective_peer_timeout == 20.0


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        pytest.param({"hots": "x"}, "mqtt.hots: unknown key", id="unknown key"),
        pytest.param({"tls": {"ca": "x"}}, "mqtt.tls.ca: unknown key", id="unknown tls key"),
        pytest.param({"port": 0}, "mqtt.port: expected a port", id="port"),
        pytest.param({"result_qos": 3}, "mqtt.result_qos: expected 0, 1 or 2", id="qos"),
        pytest.param({"protocol": 4.0}, "mqtt.protocol: expected 5 or 3.1.1", id="protocol"),
        pytest.param({"prefix": "a/+/"}, "mqtt.prefix: must not contain", id="prefix wildcard"),
        pytest.param({"peers": ["a/b"]}, "mqtt.peers: a peer is a host name", id="peer with slash"),
        pytest.param({"password_file": "/nonexistent"}, "mqtt.password_file: cannot read", id="missing file"),
        pytest.param({"heartbeat_interval": 10, "peer_timeout": 5}, "mqtt.peer_timeout: must be longer",
                     id="timeout shorter than heartbeat"),
        pytest.param({"reconnect": {"min": 10, "max": 5}}, "mqtt.reconnect.min: must not", id="backoff"),
        pytest.param({"tls": {"cert_file": "/etc/hostname"}}, "mqtt.tls.key_file: cert_file needs key_file",
                     id="cert without key"),
    ],
)  # fmt: skip
def test_problems_have_key_paths(data: dict[str, Any], problem: str) -> None:
    """Bad values and unknown keys are reported with their key path."""
    _, problems = read(data)
    assert any(p.startswith(problem) for p in problems), problems


@pytest.mark.parametrize(
    ("value", "peers"),
    [("all", ("*",)), ("web-*", ("web-*",)), (["a", "b"], ("a", "b")), ("none", ()), (False, ())],
)
def test_peers_forms(value: Any, peers: tuple[str, ...]) -> None:
    """`all`, one pattern, a list of names or patterns, or none."""
    cfg, problems = read({"peers": value})
    assert problems == []
    assert cfg is not None
    assert cfg.peers == peers
