"""Property tests of every bus payload decoder (issue 12): arbitrary bytes and generated near-valid
JSON never raise; each decoder answers with its documented refusal (a Refused, None) or a value
within the documented bounds. Bounded and derandomized (tests/fuzzing.py)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fuzzing import JSON_VALUES, NASTY_NUMBERS, NASTY_TEXT, SCALARS, bounded, dumps
from watchd.bus import payloads
from watchd.bus.commands import (
    VERBS,
    CommandDispatcher,
    Refused,
    ReplayCache,
    Silence,
    Verified,
    schema,
    signature,
    verify,
)
from watchd.bus.fleet import FleetWatcher
from watchd.bus.topics import Topics
from watchd.core import timespec
from watchd.core.model import State

SECRET = b"0123456789abcdef-shared"
NOW = 1_700_000_000.0
DEEP = b"[" * 5000  # json.loads raises RecursionError on this, not ValueError


def sealed(body: bytes | str) -> bytes:
    """A command message around `body`, correctly signed: the fuzzing reaches past the signature."""
    text = body.decode(errors="surrogateescape") if isinstance(body, bytes) else body
    try:
        sig = signature(SECRET, text)
    except UnicodeEncodeError:
        sig = "0" * 64  # a lone surrogate cannot be signed; still a message to decode
    return json.dumps({"body": text, "sig": sig}).encode()


ARGS = st.dictionaries(
    st.sampled_from(["check", "until", "for", "comment", "incident", "by", "x"]),
    st.one_of(SCALARS, NASTY_NUMBERS, NASTY_TEXT, JSON_VALUES),
    max_size=4,
)
BODIES = st.fixed_dictionaries(
    {
        "schema": st.sampled_from([schema("command"), "watchd.command/v2", 1]),
        "host": st.sampled_from(["web-1", "db-1", None]),
        "command": st.sampled_from([*VERBS, "reboot", ""]),
        "ts": st.one_of(st.just(NOW), st.floats(NOW - 100, NOW + 100), NASTY_NUMBERS, NASTY_TEXT),
        "nonce": st.one_of(st.text(min_size=8, max_size=20), NASTY_TEXT, st.integers()),
        "args": st.one_of(ARGS, JSON_VALUES),
    },
    optional={"extra": JSON_VALUES},
)


GOOD = {"schema": schema("command"), "host": "web-1", "ts": NOW, "nonce": "nonce-0001"}


def check_verify(payload: bytes, verb: str) -> Verified | Refused:
    out = verify(payload, secret=SECRET, host="web-1", verb=verb, now=NOW, max_age=60, cache=ReplayCache())
    assert isinstance(out, Verified | Refused)
    if isinstance(out, Verified) and isinstance(out.command, Silence):  # the one command with a time
        assert NOW < out.command.until <= NOW + timespec.MAX_SPAN
        assert timespec.EARLIEST <= out.command.until < timespec.LATEST
    return out


@bounded(300)
@given(payload=st.binary(max_size=300), verb=st.sampled_from(VERBS))
@example(payload=DEEP, verb="run")
@example(payload=b'{"body": "{}", "sig": "\\u00e9"}', verb="run")  # compare_digest: TypeError
@example(payload=b"\xff\xfe\x00", verb="run")
def test_verify_arbitrary_bytes(payload: bytes, verb: str) -> None:
    """Any bytes are verified or refused, nothing else."""
    check_verify(payload, verb)


@bounded(400)
@given(body=BODIES, verb=st.sampled_from(VERBS))
@example(body={**GOOD, "command": "silence", "args": {"check": "l", "for": math.nan}}, verb="silence")
@example(body={**GOOD, "command": "ack", "args": {"incident": "²", "by": "a"}}, verb="ack")
def test_verify_signed_near_valid_bodies(body: dict[str, Any], verb: str) -> None:
    """Signed bodies with generated fields and arguments: verified within bounds, or refused."""
    check_verify(sealed(dumps(body)), verb)


@bounded(100)
@given(body=st.one_of(st.binary(max_size=200), st.just(DEEP), JSON_VALUES.map(dumps)))
def test_verify_signed_arbitrary_bodies(body: bytes) -> None:
    """A correctly signed body that is anything at all is refused, never an exception."""
    check_verify(sealed(body), "run")


class Handler:
    async def run_now(self, check: str) -> bool:
        return True

    async def ack(self, incident_id: int, by: str, comment: str) -> bool:
        return True

    async def silence(self, check: str, until: float, comment: str, by: str = "mqtt") -> bool:
        return math.isfinite(until)

    async def downtime(
        self, scope: str, target: str, start: float, until: float, comment: str, by: str
    ) -> bool:
        return math.isfinite(until)


@bounded(100)
@given(payload=st.one_of(st.binary(max_size=200), BODIES.map(lambda b: sealed(dumps(b)))),
       verb=st.sampled_from([*VERBS, "", "x/y"]))  # fmt: skip
async def test_dispatcher_never_raises(payload: bytes, verb: str) -> None:
    """The dispatcher turns any message into an outcome."""
    out = await CommandDispatcher("web-1", SECRET, Handler(), 60).handle(verb, payload, NOW)
    assert isinstance(out.reason, str)
    payloads.command_result("web-1", verb, out.ok, out.reason, NOW, out.nonce)  # and it can be answered


NAMES = st.one_of(JSON_VALUES, st.lists(st.text(max_size=8), max_size=3))
STATUS = st.fixed_dictionaries(
    {
        "schema": st.sampled_from([payloads.schema("status"), "watchd.status/v2"]),
        "status": st.sampled_from([payloads.ONLINE, payloads.OFFLINE, "x", None]),
    },
    optional={
        "heartbeat_interval": st.one_of(SCALARS, NASTY_NUMBERS),
        "reason": st.one_of(SCALARS, st.sampled_from([payloads.REASON_SHUTDOWN, payloads.REASON_LOST])),
        "fleet": st.one_of(
            JSON_VALUES,
            st.fixed_dictionaries({"peers": NAMES, "claims": NAMES}),
        ),
        "host": SCALARS,
    },
)


@bounded(300)
@given(payload=st.one_of(st.binary(max_size=200), STATUS.map(dumps), JSON_VALUES.map(dumps)))
@example(payload=DEEP)
@example(payload=dumps({"schema": "watchd.status/v1", "status": "online", "heartbeat_interval": math.inf}))
def test_decode_status(payload: bytes) -> None:
    """A status message decodes to a Status whose interval is finite and sane, or to None."""
    status = payloads.decode_status(payload)
    assert status is None or isinstance(status, payloads.Status)
    if status is not None and status.heartbeat_interval is not None:
        assert 0 < status.heartbeat_interval <= payloads.MAX_INTERVAL


HEARTBEATS = SCALARS.map(lambda v: dumps({"seq": v}))


@bounded(200)
@given(payload=st.one_of(st.binary(max_size=100), JSON_VALUES.map(dumps), HEARTBEATS))
@example(payload=DEEP)
@example(payload=b'{"seq": true}')
def test_decode_heartbeat_seq(payload: bytes) -> None:
    """A heartbeat's sequence number is an int or None."""
    seq = payloads.decode_heartbeat_seq(payload)
    assert seq is None or (type(seq) is int)


EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["status", "heartbeat", "clear"]),
        st.sampled_from(["web-1", "web-2", "db-1", "", "w*"]),
        st.one_of(STATUS.map(dumps), st.binary(max_size=30)),
        st.floats(0, 1000),
    ),
    max_size=12,
)


@bounded(200)
@given(events=EVENTS)
def test_fleet_watcher_digests_decoded_messages(events: list[tuple[str, str, bytes, float]]) -> None:
    """Statuses and heartbeats as the bus decodes them, in any order: the watcher never raises and
    reports only fleet.<peer> results in OK or CRITICAL."""
    fleet = FleetWatcher("web-1", ("*",), timeout=30.0)
    fleet.reset(0.0)
    fleet.synced = True
    now = 0.0
    for kind, host, payload, dt in events:
        now += dt
        if kind == "heartbeat":
            fleet.on_heartbeat(host, now)
        else:
            status = payloads.decode_status(payload) if kind == "status" else None
            if kind == "status" and status is None:
                continue  # what the bus does with a payload that is no status
            fleet.on_status(host, status, now, NOW + now)
        for result in fleet.evaluate(now, NOW + now):
            assert result.check.startswith("fleet.")
            assert result.state in (State.OK, State.CRITICAL)


@bounded(200)
@given(topic=st.one_of(st.text(max_size=40), st.sampled_from(["watchd/", "//", "%", "%2", "a/%2F/b"])))
def test_topic_parse(topic: str) -> None:
    """Any topic is taken apart or ignored."""
    parsed = Topics("watchd/", "web-1").parse("watchd/" + topic)
    assert parsed is None or isinstance(parsed.host, str)


@pytest.mark.parametrize(
    ("payload", "refusal"),
    [
        pytest.param(DEEP, "malformed", id="deep-outer"),
        pytest.param(sealed(DEEP), "malformed", id="deep-signed-body"),
        pytest.param(b'{"body": "{}", "sig": "\\u00e9\\u00e9"}', "bad signature", id="non-ascii-signature"),
        pytest.param(b'{"body": "\\udc80", "sig": "00"}', "malformed", id="surrogate-in-body"),
    ],
)
def test_decoder_regressions(payload: bytes, refusal: str) -> None:
    """What the fuzzing found: deep nesting (RecursionError), a non-ASCII signature (TypeError) and a
    lone surrogate in the body (UnicodeEncodeError while signing) escaped verify; each is now its refusal."""
    out = check_verify(payload, "run")
    assert isinstance(out, Refused)
    assert out.reason.value == refusal
    assert payloads.decode_status(DEEP) is None
