"""The REST ticket backends (Zammad, Jira Service Management, GLPI, Znuny, Zendesk, Freshdesk), each
against its stand-in (tests/tickets/standins/), which checks every request against the system's
published API documentation: the same exactly-once table for every system, the documented rate
limit answer honoured with its delay, permanent errors for what cannot work, and what a person did
in the ticket read back as changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from standins import StandIn
from standins.freshdesk import Freshdesk
from standins.glpi import Glpi
from standins.jira import Jira
from standins.zammad import Zammad
from standins.zendesk import Zendesk
from standins.znuny import Znuny
from tickethelpers import MakeIntent

from watchd.core.errors import DeliveryError, ParamError
from watchd.delivery.tickets.freshdesk import FreshdeskBackend
from watchd.delivery.tickets.glpi import GlpiBackend
from watchd.delivery.tickets.jira import JiraBackend
from watchd.delivery.tickets.keyed import KeyedBackend
from watchd.delivery.tickets.zammad import ZammadBackend
from watchd.delivery.tickets.zendesk import ZendeskBackend
from watchd.delivery.tickets.znuny import ZnunyBackend

SYSTEMS: dict[str, tuple[type[StandIn], type[KeyedBackend]]] = {
    "zendesk": (Zendesk, ZendeskBackend),
    "freshdesk": (Freshdesk, FreshdeskBackend),
    "zammad": (Zammad, ZammadBackend),
    "jira": (Jira, JiraBackend),
    "glpi": (Glpi, GlpiBackend),
    "znuny": (Znuny, ZnunyBackend),
}
# Systems whose documentation promises 429 + Retry-After.
RATE_LIMITED = {"zendesk", "freshdesk", "jira"}


@pytest.fixture(params=sorted(SYSTEMS))
async def system(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[StandIn, KeyedBackend]]:
    """A started stand-in and a backend configured for it; no documented rule broken at the end."""
    standin_cls, backend_cls = SYSTEMS[request.param]
    standin = standin_cls()
    await standin.start()
    backend = backend_cls.from_config(standin.config(tmp_path))  # type: ignore[attr-defined]
    yield standin, backend
    await backend.close()
    await standin.stop()
    assert standin.violations == []


async def test_open_retried_is_one_ticket(
    system: tuple[StandIn, KeyedBackend], make_intent: MakeIntent
) -> None:
    """An open delivered twice without a ref (the outbox lost the answer) finds the first ticket."""
    standin, backend = system
    ref = await backend.deliver(make_intent("open", key="watchd-web01-disk-1", op_id=1), None)
    assert await backend.deliver(make_intent("open", key="watchd-web01-disk-1", op_id=1), None) == ref
    assert [standin.ticket(ref)] == standin.by_key("watchd-web01-disk-1")
    other = await backend.deliver(make_intent("open", key="watchd-web01-disk-12", op_id=2), None)
    assert other != ref


async def test_each_operation_once_even_when_retried(
    system: tuple[StandIn, KeyedBackend], make_intent: MakeIntent
) -> None:
    """update, resolve and reopen each add one comment, delivered twice each; resolve closes, a second
    resolve changes nothing, reopen opens again."""
    standin, backend = system
    key = "watchd-web01-ops-1"
    ref = await backend.deliver(make_intent("open", key=key, op_id=1), None)
    before = len(standin.watchd_comments(ref))
    for kind, op in (("update", 2), ("resolve", 3)):
        for _ in range(2):
            assert (
                await backend.deliver(make_intent(kind, key=key, op_id=op, body=f"{kind} text"), ref) == ref
            )
    assert standin.is_closed(standin.ticket(ref))
    await backend.deliver(make_intent("resolve", key=key, op_id=4), ref)
    for _ in range(2):
        assert await backend.deliver(make_intent("reopen", key=key, op_id=5, body="back again"), ref) == ref
    assert not standin.is_closed(standin.ticket(ref))
    texts = standin.watchd_comments(ref)[before:]
    assert [t.split("\n")[0] for t in texts] == ["update text", "resolve text", "back again"]


async def test_a_stale_ref_falls_back_to_the_key(
    system: tuple[StandIn, KeyedBackend], make_intent: MakeIntent
) -> None:
    """An update addressed to a ticket that is gone finds the incident's ticket by key."""
    _, backend = system
    ref = await backend.deliver(make_intent("open", key="watchd-web01-stale-1", op_id=1), None)
    assert await backend.deliver(make_intent("update", key="watchd-web01-stale-1", op_id=2), "999999") == ref


async def test_update_without_a_ticket_is_permanent(
    system: tuple[StandIn, KeyedBackend], make_intent: MakeIntent
) -> None:
    """An update for a key the system never saw fails for good, saying so."""
    _, backend = system
    with pytest.raises(DeliveryError, match="was it deleted") as err:
        await backend.deliver(make_intent("update", key="watchd-web01-never-1", op_id=2), None)
    assert not err.value.retryable


async def test_rate_limit_and_outage_are_retryable(
    system: tuple[StandIn, KeyedBackend], make_intent: MakeIntent
) -> None:
    """A documented 429 is retryable with the server's Retry-After; a 503 retryable without one;
    the retry then delivers once."""
    standin, backend = system
    if standin.name in RATE_LIMITED:
        standin.throttle_next = 1
        with pytest.raises(DeliveryError) as err:
            await backend.deliver(make_intent("open", key="watchd-web01-busy-1", op_id=1), None)
        assert (err.value.retryable, err.value.retry_after) == (True, 7.0)
    standin.fail_next = 1
    with pytest.raises(DeliveryError) as err:
        await backend.deliver(make_intent("open", key="watchd-web01-busy-1", op_id=1), None)
    assert err.value.retryable
    assert err.value.retry_after is None
    ref = await backend.deliver(make_intent("open", key="watchd-web01-busy-1", op_id=1), None)
    assert [standin.ticket(ref)] == standin.by_key("watchd-web01-busy-1")


async def test_wrong_credentials_are_permanent(
    system: tuple[StandIn, KeyedBackend], make_intent: MakeIntent, tmp_path: Path
) -> None:
    """The system's documented answer to bad credentials is a permanent failure, not a retry loop."""
    standin, _ = system
    cfg = standin.wrong_auth(standin.config(tmp_path))  # type: ignore[attr-defined]
    backend = type(system[1]).from_config(cfg)  # type: ignore[attr-defined]
    try:
        with pytest.raises(DeliveryError) as err:
            await backend.deliver(make_intent("open", key="watchd-web01-auth-1", op_id=1), None)
        assert not err.value.retryable
    finally:
        await backend.close()
    assert standin.tickets == {}


async def test_changes_a_person_made(system: tuple[StandIn, KeyedBackend], make_intent: MakeIntent) -> None:
    """An agent takes the ticket, a customer replies, the agent closes it: taken, reply, closed in
    that order, each once; watchd's own comments are not changes; after the cursor nothing repeats."""
    standin, backend = system
    key = "watchd-web01-twoway-1"
    ref = await backend.deliver(make_intent("open", key=key, op_id=1), None)
    await backend.deliver(make_intent("update", key=key, op_id=2), ref)
    assert await backend.changes(ref, None) == []  # type: ignore[attr-defined]
    standin.take(ref, "Alice Agent")
    standin.reply(ref, "Carl Customer", "the shop is slow too")
    standin.close(ref, "Alice Agent")
    changes = await backend.changes(ref, None)  # type: ignore[attr-defined]
    assert [(c.kind, c.who) for c in changes] == [
        ("taken", "Alice Agent"),
        ("reply", "Carl Customer"),
        ("closed", "Alice Agent"),
    ]
    assert "the shop is slow too" in changes[1].text
    assert len({c.id for c in changes}) == 3
    assert await backend.changes(ref, changes[-1].cursor) == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_inline_secrets_and_unknown_keys_are_refused(name: str, tmp_path: Path) -> None:
    """Config: a secret written inline or an unknown key is a ParamError naming the key."""
    standin_cls, backend_cls = SYSTEMS[name]
    standin = standin_cls()
    standin.url = "http://127.0.0.1:9"  # never called
    cfg = standin.config(tmp_path)
    secret_key = next(k for k in cfg if k.endswith("_file"))
    inline = {**{k: v for k, v in cfg.items() if k != secret_key}, secret_key.removesuffix("_file"): "x"}
    with pytest.raises(ParamError, match="inline secrets"):
        backend_cls.from_config(inline)  # type: ignore[attr-defined]
    with pytest.raises(ParamError, match="unknown key"):
        backend_cls.from_config({**cfg, "colour": "red"})  # type: ignore[attr-defined]


async def test_zendesk_archived_ticket_reopens_as_follow_up(make_intent: MakeIntent, tmp_path: Path) -> None:
    """A closed (archived) Zendesk ticket cannot be updated: reopen creates a follow-up that names it,
    and later intents go to the follow-up."""
    standin = Zendesk()
    await standin.start()
    backend = ZendeskBackend.from_config(standin.config(tmp_path))
    try:
        key = "watchd-web01-archive-1"
        ref = await backend.deliver(make_intent("open", key=key, op_id=1), None)
        await backend.deliver(make_intent("resolve", key=key, op_id=2), ref)
        standin.archive(ref)
        new = await backend.deliver(make_intent("reopen", key=key, op_id=3), ref)
        assert new != ref
        assert await backend.deliver(make_intent("update", key=key, op_id=4), None) == new
    finally:
        await backend.close()
        await standin.stop()
    assert standin.violations == []
