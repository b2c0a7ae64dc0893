"""The Redmine backend against a real Redmine 5 (Debian's package, tests/servers/redmine.py): one
issue per incident key, one journal per operation even when retried, statuses that Redmine really
applied, and the changes a person makes read back for two-way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tickethelpers import MakeIntent

from servers.redmine import RedmineServer
from watchd.core.errors import DeliveryError, ParamError
from watchd.delivery.tickets.redmine import RedmineBackend


def config(rm: RedmineServer, **extra: Any) -> dict[str, Any]:
    return {
        "url": rm.url,
        "project": "hosting",
        "api_key_file": str(rm.api_key_file),
        "key_field_id": rm.key_field_id,
        "last_op_field_id": rm.last_op_field_id,
        **extra,
    }


@pytest.fixture
async def backend(redmine_server: RedmineServer) -> AsyncIterator[RedmineBackend]:
    b = RedmineBackend.from_config(config(redmine_server))
    yield b
    await b.close()


def notes(rm: RedmineServer, ref: str) -> list[str]:
    return [str(j["notes"]) for j in rm.journals(ref) if j["notes"]]


def status(rm: RedmineServer, ref: str) -> str:
    issue = rm.call("GET", f"/issues/{ref}.json")
    assert isinstance(issue, dict)
    return str(issue["issue"]["status"]["name"])


async def test_open_twice_is_one_issue(
    backend: RedmineBackend, redmine_server: RedmineServer, make_intent: MakeIntent
) -> None:
    """A retried open (no ref: the outbox lost the answer) finds the issue by its key field."""
    key = "watchd-rm-open-1"
    ref = await backend.deliver(make_intent("open", key=key, op_id=1), None)
    again = await backend.deliver(make_intent("open", key=key, op_id=1), None)
    assert again == ref
    [issue] = redmine_server.issues(key)
    assert str(issue["id"]) == ref
    assert issue["priority"]["name"] == "Urgent"  # P2
    assert issue["subject"] == "disk / is 97% full"


async def test_a_similar_key_is_not_the_same_incident(
    backend: RedmineBackend, redmine_server: RedmineServer, make_intent: MakeIntent
) -> None:
    """Keys that share a prefix get their own issues (the search hit is checked exactly)."""
    a = await backend.deliver(make_intent("open", key="watchd-rm-pre-1"), None)
    b = await backend.deliver(make_intent("open", key="watchd-rm-pre-12"), None)
    assert a != b


@pytest.mark.parametrize("last_op", [True, False], ids=["last-op-field", "marker-in-notes"])
async def test_each_operation_is_one_journal_even_when_retried(
    redmine_server: RedmineServer, make_intent: MakeIntent, last_op: bool
) -> None:
    """update, resolve and reopen each add one journal; delivering each twice adds nothing; the
    status is Resolved after resolve and New after reopen."""
    cfg = config(redmine_server)
    if not last_op:
        del cfg["last_op_field_id"]
    b = RedmineBackend.from_config(cfg)
    key = f"watchd-rm-ops-{last_op}"
    try:
        ref = await b.deliver(make_intent("open", key=key, op_id=1), None)
        for kind, op in (("update", 2), ("resolve", 3)):
            for _ in range(2):
                assert await b.deliver(make_intent(kind, key=key, op_id=op, body=f"{kind} text"), ref) == ref
        assert status(redmine_server, ref) == "Resolved"
        assert await b.deliver(make_intent("resolve", key=key, op_id=4), ref) == ref  # already resolved
        for _ in range(2):
            await b.deliver(make_intent("reopen", key=key, op_id=5, body="back"), ref)
        assert status(redmine_server, ref) == "New"
        texts = notes(redmine_server, ref)
        assert [t.split("\n")[0] for t in texts] == ["update text", "resolve text", "back"]
    finally:
        await b.close()


async def test_priority_changes_only_when_watchd_changed_it(
    backend: RedmineBackend, redmine_server: RedmineServer, make_intent: MakeIntent
) -> None:
    """A person's priority survives an update; a raised watchd priority is pushed."""
    key = "watchd-rm-prio-1"
    ref = await backend.deliver(make_intent("open", key=key, op_id=1), None)
    redmine_server.call("PUT", f"/issues/{ref}.json", {"issue": {"priority_id": 2}})
    await backend.deliver(make_intent("update", key=key, op_id=2), ref)
    issue = redmine_server.call("GET", f"/issues/{ref}.json")
    assert isinstance(issue, dict)
    assert issue["issue"]["priority"]["name"] == "Normal"
    await backend.deliver(
        make_intent("update", key=key, op_id=3, priority="P1", fields={"previous_priority": "P2"}), ref
    )
    issue = redmine_server.call("GET", f"/issues/{ref}.json")
    assert isinstance(issue, dict)
    assert issue["issue"]["priority"]["name"] == "Immediate"


async def test_a_stale_ref_falls_back_to_the_key(backend: RedmineBackend, make_intent: MakeIntent) -> None:
    """An update addressed to an issue that is gone finds the incident's issue by key."""
    key = "watchd-rm-stale-1"
    ref = await backend.deliver(make_intent("open", key=key, op_id=1), None)
    assert await backend.deliver(make_intent("update", key=key, op_id=2), "99999") == ref


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"api_key_file": "bad-key"}, "API key is wrong"),
        ({"project": "nope"}, "project 'nope' not found"),
        ({"resolved_status": "Done"}, "no status or priority named 'Done'"),
        ({"key_field_id": 999}, "without the key field"),
    ],
    ids=["bad-key", "unknown-project", "unknown-status", "field-not-enabled"],
)
async def test_setup_errors_are_permanent(
    redmine_server: RedmineServer,
    make_intent: MakeIntent,
    tmp_path: Path,
    change: dict[str, Any],
    message: str,
) -> None:
    """What cannot work is a permanent error with a reason, not a retry loop (or silent anonymity)."""
    if "api_key_file" in change:
        (tmp_path / "bad").write_text("0" * 40)
        change = {"api_key_file": str(tmp_path / "bad")}
    b = RedmineBackend.from_config({**config(redmine_server), **change})
    try:
        with pytest.raises(DeliveryError) as err:
            await b.deliver(make_intent("open", key="watchd-rm-setup-1"), None)
        assert not err.value.retryable
        assert message in err.value.reason
    finally:
        await b.close()


async def test_update_without_an_issue_is_permanent(backend: RedmineBackend, make_intent: MakeIntent) -> None:
    """An update for a key Redmine never saw says the issue is missing."""
    with pytest.raises(DeliveryError, match="was it deleted") as err:
        await backend.deliver(make_intent("update", key="watchd-rm-never-1", op_id=2), None)
    assert not err.value.retryable


async def test_changes_a_person_made_are_read_back_once(
    backend: RedmineBackend, redmine_server: RedmineServer, make_intent: MakeIntent
) -> None:
    """The agent takes the issue, replies and closes it: taken, reply, closed, by the agent; watchd's
    own journals are not changes; after the cursor nothing repeats."""
    key = "watchd-rm-twoway-1"
    ref = await backend.deliver(make_intent("open", key=key, op_id=1), None)
    await backend.deliver(make_intent("update", key=key, op_id=2), ref)
    agent = redmine_server.agent_key
    redmine_server.call(
        "PUT", f"/issues/{ref}.json", {"issue": {"assigned_to_id": redmine_server.agent_id}}, key=agent
    )
    redmine_server.call("PUT", f"/issues/{ref}.json", {"issue": {"notes": "looking at it"}}, key=agent)
    redmine_server.call(
        "PUT", f"/issues/{ref}.json", {"issue": {"notes": "disk cleaned", "status_id": 5}}, key=agent
    )
    changes = await backend.changes(ref, None)
    assert [(c.kind, c.who, c.text) for c in changes] == [
        ("taken", "Alice Agent", ""),
        ("reply", "Alice Agent", "looking at it"),
        ("closed", "Alice Agent", "disk cleaned"),
    ]
    assert len({c.id for c in changes}) == 3
    assert await backend.changes(ref, changes[-1].cursor) == []
    assert await backend.changes("99999", None) == []


def test_config_errors_name_the_key(redmine_server: RedmineServer) -> None:
    """Missing or wrong keys are ParamErrors naming the key."""
    with pytest.raises(ParamError, match="key_field_id"):
        RedmineBackend.from_config({k: v for k, v in config(redmine_server).items() if k != "key_field_id"})
    with pytest.raises(ParamError, match="inline secrets"):
        RedmineBackend.from_config({**config(redmine_server), "api_key": "x"})
    with pytest.raises(ParamError, match=r"two_way\.poll"):
        RedmineBackend.from_config({**config(redmine_server), "two_way": {"poll": "1s"}})
