"""Ack/resolve link tokens: bound to one incident and one action, expiring, unforgeable, stable per
outbox row (a re-sent page carries the same link)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchd.core import acklink
from watchd.core.acklink import LinkError

KEY = b"k" * 32
NOW = 1_800_000_000.0


def test_round_trip_names_the_contact_and_expiry() -> None:
    token = acklink.mint(KEY, 42, "ack", "alice", NOW + 3600, "row-7")
    grant = acklink.verify(KEY, token, 42, "ack", NOW)
    assert (grant.incident_id, grant.action, grant.contact, grant.expires) == (42, "ack", "alice", NOW + 3600)


def test_the_same_row_gives_the_same_link_and_another_row_another() -> None:
    a = acklink.mint(KEY, 42, "ack", "alice", NOW + 3600, "row-7")
    assert a == acklink.mint(KEY, 42, "ack", "alice", NOW + 3600, "row-7")
    b = acklink.mint(KEY, 42, "ack", "alice", NOW + 3600, "row-8")
    assert acklink.verify(KEY, a, 42, "ack", NOW).nonce != acklink.verify(KEY, b, 42, "ack", NOW).nonce


@pytest.mark.parametrize(
    ("incident", "action", "message"),
    [(43, "ack", "another incident"), (42, "resolve", "another incident or action")],
)
def test_a_token_never_acts_on_another_incident_or_action(incident: int, action: str, message: str) -> None:
    token = acklink.mint(KEY, 42, "ack", "alice", NOW + 3600, "row-7")
    with pytest.raises(LinkError, match=message):
        acklink.verify(KEY, token, incident, action, NOW)


def test_expired_and_foreign_keys_are_refused() -> None:
    token = acklink.mint(KEY, 42, "ack", "alice", NOW + 3600, "row-7")
    with pytest.raises(LinkError, match="expired"):
        acklink.verify(KEY, token, 42, "ack", NOW + 3600)
    with pytest.raises(LinkError, match="not valid"):
        acklink.verify(b"other" * 8, token, 42, "ack", NOW)


def test_a_tampered_body_is_refused() -> None:
    token = acklink.mint(KEY, 42, "ack", "alice", NOW + 3600, "row-7")
    body, sig = token.split(".")
    forged = acklink._b64(acklink._unb64(body).replace(b":42:", b":43:"))
    with pytest.raises(LinkError, match="not valid"):
        acklink.verify(KEY, f"{forged}.{sig}", 43, "ack", NOW)


@given(st.text(max_size=300))
def test_garbage_tokens_get_a_link_error_never_another_exception(token: str) -> None:
    with pytest.raises(LinkError):
        acklink.verify(KEY, token, 42, "ack", NOW)
