"""The short texts of a page: the SMS within its septet budget with the ack link uncut, the voice
sentence without URLs and with names spelled to be read out."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchd.delivery.paging.short import (
    GSM_BASIC,
    GSM_EXTENDED,
    gsm,
    sms_length,
    sms_text,
    spoken_name,
    voice_text,
)

from .gwfixtures import ACK_URL, page_facts


def test_open_page_reads_priority_state_host_check_summary_and_ack_link() -> None:
    text = sms_text("open", page_facts())
    assert text == f"P1 CRITICAL web01 shop: HTTP 503 Service Unavailable Ack: {ACK_URL}"


@pytest.mark.parametrize(
    ("event", "extra", "prefix", "has_link"),
    [
        ("escalate", {}, "ESCALATED P1 CRITICAL web01 shop:", True),
        ("resolve", {"state": "OK"}, "RESOLVED P1 web01 shop:", False),
        ("ack", {"acked_by": "bob"}, "ACKED by bob P1 web01 shop:", False),
        ("test", {}, "TEST web01 shop:", True),
        ("renotify", {}, "STILL P1 CRITICAL web01 shop:", True),
        ("resolution_breached", {}, "OVERDUE P1 CRITICAL", True),
    ],
)
def test_event_prefix(event: str, extra: dict[str, Any], prefix: str, has_link: bool) -> None:
    text = sms_text(event, page_facts(**extra))
    assert text.startswith(prefix)
    assert (ACK_URL in text) is has_link


def test_a_long_summary_is_cut_and_the_link_is_kept_whole() -> None:
    text = sms_text("open", page_facts(summary="connection refused " * 30))
    assert sms_length(text) <= 160
    assert text.endswith(f".. Ack: {ACK_URL}")
    assert text.startswith("P1 CRITICAL web01 shop: connection refused")


def test_a_link_longer_than_the_budget_is_left_out_rather_than_cut() -> None:
    url = "https://watchd.example.net/ack/" + "x" * 200
    text = sms_text("open", page_facts(ack_url=url))
    assert "Ack:" not in text
    assert "xxxx" not in text
    assert text == "P1 CRITICAL web01 shop: HTTP 503 Service Unavailable"


def test_a_tight_budget_sacrifices_summary_then_names_but_keeps_the_link() -> None:
    text = sms_text("open", page_facts(), limit=len(ACK_URL) + 14)
    assert text.endswith(f" Ack: {ACK_URL}")
    assert sms_length(text) <= len(ACK_URL) + 14


def test_non_gsm_characters_are_transliterated() -> None:
    facts = page_facts(summary="“Zürich” — naïve café: 5 µs → ok 😀 ☃", host="wéb01")
    text = sms_text("open", facts)
    assert all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text)
    assert '"Zürich" - naive café' in text  # ü and é are GSM letters, ï is not
    assert "-> ok ? ?" in text


def test_extension_characters_count_twice() -> None:
    assert sms_length("a{b}") == 6
    text = sms_text("open", page_facts(summary="{" * 300, ack_url=""))
    assert sms_length(text) <= 160 < len(text) * 2


def test_missing_facts_do_not_break_the_text() -> None:
    assert sms_text("open", {}) == ""
    assert sms_text("test", {}) == "TEST"
    assert sms_text("open", {"summary": None, "host": "h"}) == "h"


def test_voice_sentence_has_no_urls_and_reads_names_and_priority() -> None:
    facts = page_facts(host="web01-db.example.com", check="httpCheck_2",
                       summary="see https://status.example.com/x for details")  # fmt: skip
    said = voice_text("open", facts)
    assert "http" not in said.replace("http Check", "")
    assert (
        "Priority 1 incident, critical, on host web 0 1 db dot example dot com, check http Check 2." in said
    )
    assert "see for details" in said
    assert "P1" not in said


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ("escalate", "Escalated to you: priority 1 incident"),
        ("ack", "was acknowledged by bob"),
        ("resolve", "is resolved"),
        ("test", "This is a test call from watchd for Alice"),
    ],
)
def test_voice_sentence_per_event(event: str, fragment: str) -> None:
    assert fragment in voice_text(event, page_facts(acked_by="bob"))


def test_spoken_name() -> None:
    assert spoken_name("db-02.prod") == "db 0 2 dot prod"
    assert spoken_name("WebShop_EU") == "Web Shop EU"


def test_gsm_keeps_ascii_printables_representable() -> None:
    ascii_text = "".join(chr(c) for c in range(32, 127))
    assert all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in gsm(ascii_text))
    assert [c for c in ascii_text if gsm(c) != c] == ["`"]  # the only ASCII character GSM lacks


facts_strategy = st.fixed_dictionaries(
    {
        "priority": st.sampled_from(["P1", "P2", "P3", "P4", ""]),
        "state": st.sampled_from(["CRITICAL", "WARNING", "UNKNOWN", "OK"]),
        "host": st.text(max_size=80),
        "check": st.text(max_size=80),
        "summary": st.text(max_size=600),
        "acked_by": st.text(max_size=40),
        "ack_url": st.one_of(
            st.just(""),
            st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=250).map(
                lambda s: "https://w.example/ack/" + s
            ),
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(
    event=st.sampled_from(["open", "raised", "escalate", "renotify", "ack", "resolve", "test", "update"]),
    facts=facts_strategy,
    limit=st.integers(min_value=40, max_value=480),
)
def test_property_length_limit_holds_and_link_is_present_whenever_it_fits(
    event: str, facts: dict[str, Any], limit: int
) -> None:
    text = sms_text(event, facts, limit)
    assert sms_length(text) <= limit
    assert all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text)
    url = facts["ack_url"]
    if url and event not in ("ack", "resolve"):
        from watchd.delivery.paging.short import _link

        link = _link(url)
        if sms_length(f"Ack: {link}") <= limit:
            assert text.endswith(f"Ack: {link}")
        else:
            assert "Ack: https://w.example/ack/" not in text
