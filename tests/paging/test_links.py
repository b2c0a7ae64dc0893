"""Ack/resolve links and acknowledgements coming back from PagerDuty/Opsgenie, against a real Store:
the signing key in the data directory, single-use links, and service events applied once, each
acknowledging the incident once and telling every channel that heard about it once."""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchd import config
from watchd.control import actions, links, pageback
from watchd.core import acklink
from watchd.core.acklink import LinkError
from watchd.core.model import Incident, IncidentStatus, State
from watchd.delivery import effects
from watchd.delivery.paging.inbound import InboundAck
from watchd.store import Store
from watchd.store import incidents as incident_store

NOW = 1_800_000_000.0
CHANNELS = ("notify:ann:email", "notify:ann:pagerduty", "notify:bob:sms")
KEY = b"s" * 32


@pytest.fixture
def cfg(tmp_path: Path) -> config.Config:
    path = tmp_path / "watchd.yaml"
    path.write_text(
        "data_dir: state\napi: {enabled: false}\ncontacts:\n  ann: {email: ann@example.com}\n"
        "oncall: {public_url: 'https://watchd.example.net/ops/', ack_ttl: 1h}\n"
    )
    return config.load(str(path))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(str(tmp_path / "db" / "watchd.db"))
    yield s
    s.close()


def opened(store: Store, host: str = "web01", check: str = "shop") -> Incident:
    """An open P1 incident as the pipeline records it: the row, its timeline, and the open rows for a
    ticket backend and the channels in CHANNELS (the channels that have heard about it)."""
    with store.transaction() as db:
        inc = Incident(
            host=host, check=check, priority="P1", impact="high", urgency="high", state=State.CRITICAL,
            summary="HTTP 503", opened_at=NOW, updated_at=NOW, id=incident_store.next_id(db),
            respond_by=NOW + 1800, resolve_by=NOW + 4 * 3600,
        )  # fmt: skip
        rows = effects.ticket_rows(inc, "open", "opened", None, NOW, ["builtin"])
        rows += effects.notify_rows(inc, "open", "opened", None, NOW, CHANNELS, "Shop")
        effects.record(db, inc, "open", "opened", rows, NOW)
    return inc


def outbox(store: Store, incident_id: int) -> list[tuple[str, str]]:
    rows = store.db.execute(
        "SELECT channel, kind FROM outbox WHERE incident_id = ? ORDER BY id", (incident_id,)
    )
    return [(r[0], r[1]) for r in rows]


def after_open(store: Store, incident_id: int) -> list[tuple[str, str]]:
    return outbox(store, incident_id)[1 + len(CHANNELS) :]


def timeline(store: Store, incident_id: int) -> list[str]:
    return [e.action for e in incident_store.events(store.db, incident_id)]


def uses(store: Store) -> int:
    return int(store.db.execute("SELECT count(*) FROM link_uses").fetchone()[0])


ACK_ROWS = [("ticket:builtin", "update"), *((c, "ack") for c in CHANNELS)]


# -- the signing key ------------------------------------------------------------------------------------


def test_the_key_is_made_once_private_and_reused(cfg: config.Config) -> None:
    path = Path(cfg.data_dir) / links.KEY_FILE
    assert not Path(cfg.data_dir).exists()
    made = links.key(cfg)
    assert len(made) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == made
    assert links.key(cfg) == made  # the daemon and the CLI read the same key
    assert os.listdir(cfg.data_dir) == [links.KEY_FILE]  # no temporary file left behind


def test_a_configured_key_is_used_and_no_file_made(cfg: config.Config) -> None:
    configured = dataclasses.replace(cfg, oncall=dataclasses.replace(cfg.oncall, token_key=KEY))
    assert links.key(configured) == KEY
    assert not (Path(cfg.data_dir) / links.KEY_FILE).exists()


@pytest.mark.parametrize("damaged", [b"", b"short"], ids=["empty", "truncated"])
def test_a_damaged_key_file_is_never_a_key(cfg: config.Config, damaged: bytes) -> None:
    """An empty or truncated link.key would make links anyone can sign: a new key replaces it."""
    path = Path(cfg.data_dir) / links.KEY_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(damaged)
    made = links.key(cfg)
    assert len(made) == 32
    assert path.read_bytes() == made
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert links.key(cfg) == made


def test_links_url_is_under_the_public_url_and_checks(cfg: config.Config, store: Store) -> None:
    inc = opened(store)
    maker = links.links(cfg)
    assert maker is not None
    assert maker.ttl == 3600.0
    url = maker.url(inc.id, "ack", "ann", NOW, "row-2")
    prefix = f"https://watchd.example.net/ops/page/{inc.id}/ack/"
    assert url.startswith(prefix)
    grant = links.check(links.key(cfg), store, inc.id, "ack", url.removeprefix(prefix), NOW)
    assert (grant.incident_id, grant.action, grant.contact, grant.expires) == (
        inc.id,
        "ack",
        "ann",
        NOW + 3600,
    )
    without = dataclasses.replace(cfg, oncall=dataclasses.replace(cfg.oncall, public_url=None))
    assert links.links(without) is None


# -- acting on a clicked link ---------------------------------------------------------------------------


def token(incident_id: int, action: str = "ack", seed: str = "row-2") -> str:
    return acklink.mint(KEY, incident_id, action, "ann", NOW + 3600, seed)


def test_a_link_acknowledges_once(store: Store) -> None:
    inc = opened(store)
    t = token(inc.id)
    assert links.check(KEY, store, inc.id, "ack", t, NOW + 60).contact == "ann"
    acked = links.act(KEY, store, inc.id, "ack", t, NOW + 60, via=" (web)")
    assert (acked.acked_by, acked.acked_at) == ("ann", NOW + 60)
    with pytest.raises(LinkError, match=r"^this link has already been used$"):
        links.act(KEY, store, inc.id, "ack", t, NOW + 120)
    with pytest.raises(LinkError, match=r"^this link has already been used$"):
        links.check(KEY, store, inc.id, "ack", t, NOW + 120)
    stored = incident_store.get(store.db, inc.id)
    assert stored is not None
    assert (stored.acked_by, stored.acked_at) == ("ann", NOW + 60)
    assert timeline(store, inc.id) == ["open", "ack"]
    assert (
        incident_store.events(store.db, inc.id)[-1].text
        == "acknowledged by ann: from the link in a page (web)"
    )
    # ann is not told of her own ack (by email); PagerDuty mirrors it and bob hears of it
    assert after_open(store, inc.id) == [r for r in ACK_ROWS if r[0] != "notify:ann:email"]


def test_a_resolve_link(store: Store) -> None:
    inc = opened(store)
    done = links.act(KEY, store, inc.id, "resolve", token(inc.id, "resolve"), NOW + 60)
    assert (done.status, done.resolved_at) == (IncidentStatus.RESOLVED, NOW + 60)
    assert after_open(store, inc.id) == [("ticket:builtin", "resolve"), *((c, "resolve") for c in CHANNELS)]


def test_acting_on_a_resolved_incident_does_not_use_up_the_link(store: Store) -> None:
    inc = opened(store)
    actions.resolve(store, inc.id, "bob", "fixed", NOW + 30)
    before = outbox(store, inc.id)
    t = token(inc.id)
    with pytest.raises(actions.ActionError, match=f"^incident #{inc.id} is resolved$"):
        links.act(KEY, store, inc.id, "ack", t, NOW + 60)
    assert uses(store) == 0
    assert links.check(KEY, store, inc.id, "ack", t, NOW + 60).contact == "ann"  # still usable
    assert outbox(store, inc.id) == before
    assert timeline(store, inc.id) == ["open", "resolve"]


def test_acting_on_an_acknowledged_incident_names_who_did(store: Store) -> None:
    inc = opened(store)
    actions.ack(store, inc.id, "bob", "", NOW + 30)
    with pytest.raises(actions.ActionError, match=f"^incident #{inc.id} was already acknowledged by bob$"):
        links.act(KEY, store, inc.id, "ack", token(inc.id), NOW + 60)
    assert uses(store) == 0


@pytest.mark.parametrize(
    ("route", "action", "now", "message"),
    [
        (2, "ack", NOW, "this link is for another incident or action"),
        (1, "resolve", NOW, "this link is for another incident or action"),
        (1, "ack", NOW + 3600, "this link has expired"),
    ],
    ids=["other-incident", "other-action", "expired"],
)
def test_a_link_never_acts_on_another_incident(
    store: Store, route: int, action: str, now: float, message: str
) -> None:
    first, second = opened(store), opened(store, check="db")
    assert (first.id, second.id) == (1, 2)
    with pytest.raises(LinkError, match=f"^{message}$"):
        links.act(KEY, store, route, action, token(first.id), now)
    assert uses(store) == 0
    assert [incident_store.get(store.db, i) for i in (1, 2)] == [first, second]


# -- acknowledgements from PagerDuty and Opsgenie ---------------------------------------------------------


def test_find_needs_the_whole_key(store: Store) -> None:
    inc = opened(store)
    assert pageback.find(store, inc.key) == inc.id
    assert inc.key == "watchd-web01-shop-1"
    assert pageback.find(store, "watchd-web02-shop-1") is None  # same id, another host
    assert pageback.find(store, "watchd-web01-shop-2") is None  # no such incident
    assert pageback.find(store, "watchd-web01-shop") is None
    assert pageback.find(store, "x-" + "9" * 19) is None


def test_a_service_ack_applied_twice_acknowledges_once(store: Store) -> None:
    inc = opened(store)
    ack = InboundAck(inc.key, "acknowledge", "Ann Example", "pagerduty", "Q2OH6BVMTQQHRT")
    assert pageback.apply(store, [ack], NOW + 60) == [pageback.Outcome(inc.key, "acknowledge", "done")]
    assert pageback.apply(store, [ack], NOW + 90) == [pageback.Outcome(inc.key, "acknowledge", "duplicate")]
    stored = incident_store.get(store.db, inc.id)
    assert stored is not None
    assert (stored.acked_by, stored.acked_at) == ("Ann Example (pagerduty)", NOW + 60)
    assert timeline(store, inc.id) == ["open", "ack"]
    assert after_open(store, inc.id) == ACK_ROWS  # one ack per channel that heard about it


def test_a_redelivery_in_the_same_batch_is_a_duplicate(store: Store) -> None:
    inc = opened(store)
    ack = InboundAck(inc.key, "acknowledge", "", "opsgenie", "evt-1")
    assert [o.result for o in pageback.apply(store, [ack, ack], NOW + 60)] == ["done", "duplicate"]
    stored = incident_store.get(store.db, inc.id)
    assert stored is not None
    assert stored.acked_by == "someone (opsgenie)"
    assert after_open(store, inc.id) == ACK_ROWS


def test_ack_then_resolve_from_the_service(store: Store) -> None:
    inc = opened(store)
    out = pageback.apply(
        store,
        [
            InboundAck(inc.key, "acknowledge", "Ann", "opsgenie", "a1"),
            InboundAck(inc.key, "resolve", "Ann", "opsgenie", "a2"),
        ],
        NOW + 60,
    )
    assert [o.result for o in out] == ["done", "done"]
    stored = incident_store.get(store.db, inc.id)
    assert stored is not None
    assert (stored.status, stored.acked_by) == (IncidentStatus.RESOLVED, "Ann (opsgenie)")
    assert timeline(store, inc.id) == ["open", "ack", "resolve"]


def test_what_cannot_be_applied_is_said_and_not_recorded(store: Store) -> None:
    inc = opened(store)
    actions.ack(store, inc.id, "bob", "", NOW + 30)
    out = pageback.apply(
        store,
        [
            InboundAck(inc.key, "acknowledge", "Ann", "pagerduty", "e1"),
            InboundAck(inc.key, "ignore", "Ann", "pagerduty", "e2", detail="annotated"),
            InboundAck("watchd-web01-shop-9", "acknowledge", "Ann", "pagerduty", "e3"),
            InboundAck("", "resolve", "PagerDuty", "pagerduty", "e4"),
        ],
        NOW + 60,
    )
    assert out == [
        pageback.Outcome(inc.key, "acknowledge", f"incident #{inc.id} was already acknowledged by bob"),
        pageback.Outcome(inc.key, "ignore", "ignored"),
        pageback.Outcome("watchd-web01-shop-9", "acknowledge", "no such incident"),
        pageback.Outcome("", "resolve", "no such incident"),
    ]
    assert uses(store) == 0  # a redelivery is looked at afresh, not taken for a duplicate
    stored = incident_store.get(store.db, inc.id)
    assert stored is not None
    assert stored.acked_by == "bob"
