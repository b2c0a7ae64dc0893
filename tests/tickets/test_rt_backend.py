"""The RT backend against a real Request Tracker 5 (Debian packages, SQLite, rt-server on 127.0.0.1)."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from tickethelpers import LIMITED_RT_USER, MakeIntent, free_port

from servers.rt import RTServer
from watchd.core.errors import DeliveryError, ParamError
from watchd.delivery.tickets.rt import RTBackend, tsql_quote

pytestmark = pytest.mark.slow

FIELDS = {"priority_field": "WatchdPriority", "host_field": "WatchdHost", "check_field": "WatchdCheck"}


# -- an independent look at RT (plain REST2 calls, not the backend) -------------------------------


def rt(server: RTServer, method: str, path: str, body: Any = None, **params: str) -> Any:
    query = ("?" + urllib.parse.urlencode(params)) if params else ""
    request = urllib.request.Request(
        f"{server.rest}{path}{query}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": server.basic_auth(), "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def tickets_for(server: RTServer, key: str) -> list[str]:
    """Ids of every ticket (any status) whose WatchdKey is `key`."""
    found = rt(server, "GET", "/tickets", query=f"CF.{{WatchdKey}} = {tsql_quote(key)}", per_page="100")
    return [str(item["id"]) for item in found["items"]]


def ticket(server: RTServer, ticket_id: str) -> dict[str, Any]:
    data: dict[str, Any] = rt(server, "GET", f"/ticket/{ticket_id}")
    data["cf"] = {cf["name"]: cf["values"] for cf in data["CustomFields"]}
    return data


def comments(server: RTServer, ticket_id: str) -> list[str]:
    """The text of every comment on the ticket, oldest first."""
    history = rt(server, "GET", f"/ticket/{ticket_id}/history", per_page="100", fields="Type")
    texts = []
    for item in history["items"]:
        if item["Type"] != "Comment":
            continue
        txn = rt(server, "GET", f"/transaction/{item['id']}")
        link = next(h["_url"] for h in txn["_hyperlinks"] if h["ref"] == "attachment")
        content = rt(server, "GET", link.split("/REST/2.0", 1)[1])["Content"]
        texts.append(base64.b64decode(content).decode())
    return texts


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def key(request: pytest.FixtureRequest) -> str:
    """An incident key unique to the test (RT is shared by the whole session)."""
    return "watchd-" + re.sub(r"[^A-Za-z0-9_.:-]+", "-", request.node.name).strip("-")


@pytest.fixture
async def make_backend(rt_server: RTServer) -> AsyncIterator[Callable[..., RTBackend]]:
    """Build RT backends on the session's server (root, basic auth unless overridden); closes them."""
    made: list[RTBackend] = []

    def make(**kw: Any) -> RTBackend:
        options: dict[str, Any] = {"username": rt_server.username, "password": rt_server.password, **kw}
        b = RTBackend(options.pop("url", rt_server.url), options.pop("queue", "General"), **options)
        made.append(b)
        return b

    yield make
    for b in made:
        await b.close()


# -- open ------------------------------------------------------------------------------------------


async def test_open_creates_one_ticket_with_fields(
    rt_server: RTServer, make_backend: Callable[..., RTBackend], make_intent: MakeIntent, key: str
) -> None:
    """Open creates exactly one ticket carrying the key, the op id, priority, host and check."""
    b = make_backend(requestors=["ops@customer.example"], **FIELDS)
    ref = await b.deliver(make_intent("open", key=key, op_id=11, priority="P1"), None)
    assert tickets_for(rt_server, key) == [ref]
    t = ticket(rt_server, ref)
    assert t["cf"] == {
        "WatchdKey": [key],
        "WatchdLastOp": ["11"],
        "WatchdPriority": ["P1"],
        "WatchdHost": ["web01"],
        "WatchdCheck": ["disk_root"],
    }
    assert (t["Subject"], t["Priority"], t["Status"]) == ("disk / is 97% full", "90", "new")
    assert [r["id"] for r in t["Requestor"]] == ["ops@customer.example"]


async def test_open_retry_after_crash_finds_the_ticket(
    rt_server: RTServer, make_backend: Callable[..., RTBackend], make_intent: MakeIntent, key: str
) -> None:
    """A retried open (new backend, no ref, as after a crash) returns the same ticket; RT holds one."""
    first = await make_backend().deliver(make_intent("open", key=key, op_id=1), None)
    again = await make_backend().deliver(make_intent("open", key=key, op_id=1), None)
    assert again == first
    assert tickets_for(rt_server, key) == [first]


async def test_key_with_quotes_is_searched_safely(
    rt_server: RTServer, make_backend: Callable[..., RTBackend], make_intent: MakeIntent, key: str
) -> None:
    """Quotes and backslashes in a key are escaped in TicketSQL, so the retry still finds the ticket."""
    odd = key + "-it's\\odd"
    first = await make_backend().deliver(make_intent("open", key=odd), None)
    assert await make_backend().deliver(make_intent("open", key=odd), None) == first
    assert tickets_for(rt_server, odd) == [first]


# -- update ----------------------------------------------------------------------------------------


async def test_update_comments_once_per_op(
    rt_server: RTServer, make_backend: Callable[..., RTBackend], make_intent: MakeIntent, key: str
) -> None:
    """An update adds one comment; its retry (same op_id) adds none; the next op adds another."""
    ref = await make_backend().deliver(make_intent("open", key=key, op_id=1), None)
    assert await make_backend().deliver(make_intent("update", key=key, op_id=2, body="still 97%"), ref) == ref
    assert await make_backend().deliver(make_intent("update", key=key, op_id=2, body="still 97%"), ref) == ref
    assert len(comments(rt_server, ref)) == 1
    await make_backend().deliver(make_intent("update", key=key, op_id=3, body="now 99%"), ref)
    texts = comments(rt_server, ref)
    assert [t.splitlines()[0] for t in texts] == ["still 97%", "now 99%"]
    assert ticket(rt_server, ref)["cf"]["WatchdLastOp"] == ["3"]


async def test_update_with_stale_ref_finds_ticket_by_key(
    rt_server: RTServer, make_backend: Callable[..., RTBackend], make_intent: MakeIntent, key: str
) -> None:
    """A ref RT does not know (404) falls back to the key search once, and returns the real ref."""
    ref = await make_backend().deliver(make_intent("open", key=key), None)
    assert await make_backend().deliver(make_intent("update", key=key, op_id=2), "999999") == ref
    assert await make_backend().deliver(make_intent("update", key=key, op_id=3), None) == ref
    assert len(comments(rt_server, ref)) == 2


async def test_update_without_ticket_is_permanent(
    make_backend: Callable[..., RTBackend], make_intent: MakeIntent, key: str
) -> None:
    """An update for a key RT has no ticket for fails permanently (a human deleted it, say)."""
    with pytest.raises(DeliveryError) as err:
        await make_backend().deliver(make_intent("update", key=key, op_id=2), None)
    assert not err.value.retryable
    assert "no ticket" in err.value.reason


@pytest.mark.parametrize(
    ("options", "fields", "human_priority", "expected"),
    [
        pytest.param(FIELDS, {}, None, ("90", "P1"), id="priority-field-differs"),
        pytest.param({}, {"previous_priority": "P2"}, None, ("90", None), id="previous-priority-differs"),
        pytest.param({}, {}, None, ("70", None), id="no-change-signal"),
        pytest.param(FIELDS, {}, 10, ("90", "P1"), id="watchd-change-wins"),
    ],
)
async def test_update_priority(
    rt_server: RTServer,
    make_backend: Callable[..., RTBackend],
    make_intent: MakeIntent,
    key: str,
    options: dict[str, str],
    fields: dict[str, str],
    human_priority: int | None,
    expected: tuple[str, str | None],
) -> None:
    """An update to P1 sets RT's priority only when watchd's priority changed (by CF or previous_priority)."""
    ref = await make_backend(**options).deliver(make_intent("open", key=key, priority="P2"), None)
    if human_priority is not None:
        rt(rt_server, "PUT", f"/ticket/{ref}", {"Priority": human_priority})
    await make_backend(**options).deliver(
        make_intent("update", key=key, op_id=2, priority="P1", fields=fields), ref
    )
    t = ticket(rt_server, ref)
    assert (t["Priority"], (t["cf"]["WatchdPriority"] or [None])[0]) == expected


async def test_update_keeps_a_human_priority(
    rt_server: RTServer, make_backend: Callable[..., RTBackend], make_intent: MakeIntent, key: str
) -> None:
    """When watchd's priority did not change, a priority a human set in RT is left alone."""
    ref = await make_backend(**FIELDS).deliver(make_intent("open", key=key, priority="P2"), None)
    rt(rt_server, "PUT", f"/ticket/{ref}", {"Priority": 10})
    await make_backend(**FIELDS).deliver(make_intent("update", key=key, op_id=2, priority="P2"), ref)
    assert ticket(rt_server, ref)["Priority"] == "10"


# -- resolve and reopen ----------------------------------------------------------------------------


async def test_resolve_is_idempotent(
    rt_server: RTServer, make_backend: Callable[..., RTBackend], make_intent: MakeIntent, key: str
) -> None:
    """Resolve comments and sets resolved in one call; its retry and a later resolve change nothing."""
    ref = await make_backend().deliver(make_intent("open", key=key, op_id=1), None)
    recovery = make_intent("resolve", key=key, op_id=2, state="OK", body="DISK OK - / 61% used")
    assert await make_backend().deliver(recovery, ref) == ref
    assert ticket(rt_server, ref)["Status"] == "resolved"
    assert await make_backend().deliver(recovery, ref) == ref
    assert await make_backend().deliver(make_intent("resolve", key=key, op_id=3), ref) == ref
    assert [c.splitlines()[0] for c in comments(rt_server, ref)] == ["DISK OK - / 61% used"]
    assert ticket(rt_server, ref)["Status"] == "resolved"


async def test_reopen_of_resolved_ticket(
    rt_server: RTServer, make_backend: Callable[..., RTBackend], make_intent: MakeIntent, key: str
) -> None:
    """Reopen finds the resolved ticket by key, comments and sets it open again; its retry does nothing."""
    ref = await make_backend().deliver(make_intent("open", key=key, op_id=1), None)
    await make_backend().deliver(make_intent("resolve", key=key, op_id=2), ref)
    reopen = make_intent("reopen", key=key, op_id=3, body="DISK CRITICAL again")
    assert await make_backend().deliver(reopen, None) == ref
    assert ticket(rt_server, ref)["Status"] == "open"
    assert await make_backend().deliver(reopen, None) == ref
    assert [c.splitlines()[0] for c in comments(rt_server, ref)][-1:] == ["DISK CRITICAL again"]
    assert len(comments(rt_server, ref)) == 2
    assert tickets_for(rt_server, key) == [ref]


async def test_reopen_without_ticket_creates_one(
    rt_server: RTServer, make_backend: Callable[..., RTBackend], make_intent: MakeIntent, key: str
) -> None:
    """Reopen with no ticket for the key (e.g. it was deleted) opens a new one."""
    ref = await make_backend().deliver(make_intent("reopen", key=key, op_id=5), None)
    assert tickets_for(rt_server, key) == [ref]


# -- auth, config, failures ------------------------------------------------------------------------


async def test_token_auth_from_config(rt_server: RTServer, make_intent: MakeIntent, key: str) -> None:
    """from_config with token_file authenticates with `Authorization: token ...`."""
    b = RTBackend.from_config(
        {
            "url": rt_server.url + "/",
            "queue": "General",
            "token_file": str(rt_server.token_file),
            "timeout": 10,
        }
    )
    try:
        ref = await b.deliver(make_intent("open", key=key), None)
    finally:
        await b.close()
    assert tickets_for(rt_server, key) == [ref]


@pytest.mark.parametrize(
    ("options", "retryable", "fragment"),
    [
        pytest.param({"password": "wrong"}, False, "401", id="wrong-password"),
        pytest.param({"token": "1-1-0000", "username": None, "password": None}, False, "401", id="bad-token"),
        pytest.param({"url": "http://127.0.0.1:{closed}"}, True, "Connect", id="rt-down"),
        pytest.param({"queue": "NoSuchQueue"}, False, "queue NoSuchQueue", id="unknown-queue"),
        pytest.param({"key_field": "NoSuchField"}, False, "NoSuchField not applied", id="key-field-missing"),
    ],
)
async def test_failures(
    rt_server: RTServer,
    make_backend: Callable[..., RTBackend],
    make_intent: MakeIntent,
    key: str,
    options: dict[str, Any],
    retryable: bool,
    fragment: str,
) -> None:
    """Bad credentials, an unknown queue or field are permanent; RT not listening is retried; no ticket."""
    if "url" in options:
        options = {**options, "url": options["url"].format(closed=free_port())}
    with pytest.raises(DeliveryError) as err:
        await make_backend(**options).deliver(make_intent("open", key=key), None)
    assert err.value.retryable is retryable
    assert fragment in err.value.reason
    assert tickets_for(rt_server, key) == []


async def test_refused_change_in_a_200_answer_is_permanent(
    rt_server: RTServer, make_backend: Callable[..., RTBackend], make_intent: MakeIntent, key: str
) -> None:
    """RT adds the comment but refuses the status (no ModifyTicket) inside a 201: a permanent failure."""
    limited = {"username": LIMITED_RT_USER.name, "password": LIMITED_RT_USER.password}
    ref = await make_backend(**limited).deliver(make_intent("open", key=key), None)
    with pytest.raises(DeliveryError) as err:
        await make_backend(**limited).deliver(make_intent("resolve", key=key, op_id=2), ref)
    assert not err.value.retryable
    assert "Status changed" in err.value.reason
    assert "Permission Denied" in err.value.reason
    assert ticket(rt_server, ref)["Status"] != "resolved"


@pytest.mark.parametrize(
    ("params", "key"),
    [
        pytest.param({"queue": "General", "token_env": "HOME"}, "url", id="url-required"),
        pytest.param({"url": "rt.example", "queue": "General", "token_env": "HOME"}, "url", id="url-scheme"),
        pytest.param({"url": "http://rt", "token_env": "HOME"}, "queue", id="queue-required"),
        pytest.param({"url": "http://rt", "queue": "General"}, "token_file", id="auth-required"),
        pytest.param({"url": "http://rt", "queue": "G", "username": "u"}, "password_file", id="no-password"),
        pytest.param({"url": "http://rt", "queue": "G", "token": "t"}, "token", id="inline-token"),
        pytest.param({"url": "http://rt", "queue": "G", "token_env": "HOME", "username": "u"}, "username",
                     id="token-and-user"),
        pytest.param({"url": "http://rt", "queue": "G", "token_env": "HOME", "priorities": {"P5": 1}},
                     "priorities.P5", id="unknown-priority"),
        pytest.param({"url": "http://rt", "queue": "G", "token_env": "HOME", "custom_field": "a}b"},
                     "custom_field", id="field-name"),
        pytest.param({"url": "http://rt", "queue": "G", "token_env": "HOME", "owner": "x"}, "owner",
                     id="unknown-key"),
    ],
)  # fmt: skip
def test_from_config_errors(params: dict[str, Any], key: str) -> None:
    """Bad or unknown keys raise ParamError naming the key."""
    with pytest.raises(ParamError) as err:
        RTBackend.from_config(params)
    assert err.value.key == key


def test_from_config_defaults(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defaults: WatchdKey/WatchdLastOp fields, P1..P4 = 90/70/50/30, overridable per level."""
    monkeypatch.setenv("RT_PASS", "pw")
    b = RTBackend.from_config(
        {"url": "https://rt.example/", "queue": "Ops", "username": "watchd", "password_env": "RT_PASS",
         "priorities": {"P4": 10}, "requestor": "noc@example.com"}
    )  # fmt: skip
    assert (b.url, b.key_field, b.last_op_field, b.priority_field) == (
        "https://rt.example", "WatchdKey", "WatchdLastOp", None
    )  # fmt: skip
    assert b.priorities == {"P1": 90, "P2": 70, "P3": 50, "P4": 10}
    assert b.requestors == ("noc@example.com",)


async def test_changes_someone_made_in_rt(
    rt_server: RTServer, make_backend: Callable[..., RTBackend], make_intent: MakeIntent, key: str
) -> None:
    """A fresh ticket has no changes (its creation is watchd's own); an owner set in RT is `taken` by
    the owner, once: after the cursor it is not reported again. Unknown tickets have none."""
    backend = make_backend()
    ref = await backend.deliver(make_intent("open", key=key, op_id=1), None)
    assert await backend.changes(ref, None) == []
    rt(rt_server, "PUT", f"/ticket/{ref}", {"Owner": "root"})
    [taken] = await backend.changes(ref, None)
    assert (taken.kind, taken.who) == ("taken", "root")
    assert await backend.changes(ref, taken.cursor) == []
    assert await backend.changes("99999999", None) == []  # unknown ticket
    assert await backend.changes("not-a-number", None) == []
