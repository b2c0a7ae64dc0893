"""The long tail through apprise, against local ntfy and Gotify servers that check what apprise's
plugins send: delivery, per-URL outcomes, no resend to services that already accepted an op,
secrets kept out of errors, the contact's `apprise` config, and apprise loaded only when used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from watchd.config.gateways import read_apprise
from watchd.configkit import reader as r
from watchd.core.errors import DeliveryError, Problem
from watchd.delivery.paging.apprise_channel import AppriseTransport, check_urls, redact

from . import gwfixtures
from .gwfixtures import ACK_URL, page_facts, page_message
from .standins.push import Gotify, Ntfy

gotify = gwfixtures.gotify  # the fixture, used by name
ntfy = gwfixtures.ntfy  # the fixture, used by name


def ntfy_url(server: Ntfy, topic: str = "watchd-oncall-7f3a") -> str:
    return server.url.replace("http://", "ntfy://") + f"/{topic}"


def gotify_url(server: Gotify, token: str | None = None) -> str:
    return server.url.replace("http://", "gotify://") + f"/{token or server.token}"


async def page(transport: AppriseTransport, event: str = "open", op_id: int = 5, **facts: Any) -> None:
    await transport(page_message(), event, page_facts(**facts), op_id)


async def test_ntfy_gets_title_body_and_the_ack_link(ntfy: Ntfy) -> None:
    await page(AppriseTransport((ntfy_url(ntfy),), timeout=5.0))
    assert ntfy.violations == []
    (msg,) = ntfy.messages
    assert msg["via"] == "json"  # apprise publishes as JSON to the root URL
    assert msg["topic"] == "watchd-oncall-7f3a"
    assert msg["title"] == "[P1] web01 shop CRITICAL"
    assert msg["message"] == f"web01 shop is CRITICAL\n\nAcknowledge: {ACK_URL}"


async def test_ntfy_priority_from_the_url(ntfy: Ntfy) -> None:
    await page(AppriseTransport((ntfy_url(ntfy) + "?priority=max",), timeout=5.0))
    assert ntfy.violations == []
    assert ntfy.messages[0]["priority"] == 5


async def test_gotify_gets_title_and_message(gotify: Gotify) -> None:
    await page(AppriseTransport((gotify_url(gotify) + "?priority=high",), timeout=5.0), event="resolve")
    assert gotify.violations == []
    (msg,) = gotify.messages
    assert msg["title"] == "[P1] web01 shop CRITICAL"
    assert msg["priority"] == 8
    assert msg["message"] == "web01 shop is CRITICAL"  # no ack link on a resolve
    assert msg["headers"]["X-Gotify-Key"] == gotify.token


async def test_a_failed_url_is_retried_alone_and_named_without_its_token(ntfy: Ntfy, gotify: Gotify) -> None:
    wrong = "AwrongGotifyToken9"
    transport = AppriseTransport((ntfy_url(ntfy), gotify_url(gotify, wrong)), timeout=5.0)
    with pytest.raises(DeliveryError) as info:
        await page(transport, op_id=11)
    err = info.value
    assert err.retryable
    assert "gotify #2" in err.reason
    assert "ntfy" not in err.reason
    assert wrong not in err.reason
    assert "127.0.0.1" not in err.reason
    assert len(ntfy.messages) == 1
    assert gotify.messages == []

    gotify.token = wrong  # the service accepts it now; the retry of op 11 must not page ntfy again
    await page(transport, op_id=11)
    assert len(ntfy.messages) == 1
    assert len(gotify.messages) == 1

    await page(transport, op_id=12)  # a new op goes everywhere
    assert len(ntfy.messages) == 2
    assert len(gotify.messages) == 2


async def test_a_throttled_service_is_retryable(gotify: Gotify) -> None:
    gotify.throttle_next = 1
    transport = AppriseTransport((gotify_url(gotify),), timeout=5.0)
    with pytest.raises(DeliveryError) as info:
        await page(transport)
    assert info.value.retryable
    assert "gotify #1" in info.value.reason
    await page(transport)
    assert len(gotify.messages) == 1


async def test_a_url_apprise_cannot_load_fails_for_good_after_the_others(ntfy: Ntfy) -> None:
    transport = AppriseTransport((ntfy_url(ntfy), "nosuchservice://tok3n-value/x"), timeout=5.0)
    with pytest.raises(DeliveryError) as info:
        await page(transport)
    assert not info.value.retryable
    assert "nosuchservice #2" in info.value.reason
    assert "tok3n-value" not in info.value.reason
    assert len(ntfy.messages) == 1


async def test_an_unreachable_service_is_retryable() -> None:
    server = Ntfy()
    await server.start()
    url = ntfy_url(server)
    await server.stop()
    with pytest.raises(DeliveryError) as info:
        await page(AppriseTransport((url,), timeout=2.0))
    assert info.value.retryable
    assert "ntfy #1" in info.value.reason
    assert "watchd-oncall-7f3a" not in info.value.reason


def test_redact_removes_every_part_of_the_url() -> None:
    urls = ["tgram://123456789:AAHsecretBotToken/998877/", "ntfys://user:pa55word@push.example/s3cret-topic"]
    text = "Failed to send to 's3cret-topic' as user:pa55word; bot 123456789:AAHsecretBotToken chat 998877"
    out = redact(text, urls)
    for secret in ("s3cret-topic", "pa55word", "AAHsecretBotToken", "998877"):
        assert secret not in out


def test_check_urls_names_position_and_scheme_only() -> None:
    assert check_urls(["ntfy://ntfy.example/topic", "bogus://secret-value"]) == [
        "URL 2 (bogus://): apprise does not accept it"
    ]


def test_apprise_is_not_imported_until_a_page_is_sent() -> None:
    code = (
        "import sys\n"
        "import watchd.delivery.paging.apprise_channel as a, watchd.config.gateways\n"
        "t = a.AppriseTransport(('ntfy://h/t',))\n"
        "assert 'apprise' not in sys.modules, 'apprise imported early'\n"
        "assert 'jinja2' not in sys.modules, 'jinja2 imported early'\n"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    done = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": src}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


# -- config ------------------------------------------------------------------------------------------------


def read(value: Any, tmp_path: Path) -> tuple[tuple[str, ...], list[str]]:
    problems: list[Problem] = []
    rd = r.Reader({"apprise": value}, "contacts.alice", problems, file="watchd.yaml")
    urls = read_apprise(rd, "apprise", str(tmp_path))
    rd.finish()
    return urls, [f"{p.path}: {p.message}" for p in problems]


def test_apprise_urls_inline(tmp_path: Path) -> None:
    assert read("ntfy://ntfy.example/t", tmp_path) == (("ntfy://ntfy.example/t",), [])
    assert read(["ntfy://a/t", "gotify://b/tok"], tmp_path) == (("ntfy://a/t", "gotify://b/tok"), [])


def test_apprise_urls_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "urls").write_text(
        "# alice's phone\nntfys://push.example/alice-7f3a\n\ntgram://bot:tok/123/\n"
    )
    assert read({"urls_file": "urls"}, tmp_path) == (
        ("ntfys://push.example/alice-7f3a", "tgram://bot:tok/123/"),
        [],
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "not a url with s3cret",
            "contacts.alice.apprise: apprise: URL 1 is not an apprise URL (scheme '(none)')",
        ),
        (["ntfy://a/t", "://s3cret"], "contacts.alice.apprise: apprise: URL 2 is not an apprise URL"),
        ([], "contacts.alice.apprise: no apprise URLs given"),
        ({"urls_file": "missing"}, "contacts.alice.apprise.urls_file: cannot read secret file"),
        ({"urls_file": "u", "extra": 1}, "contacts.alice.apprise.extra: unknown key"),
        (7, "contacts.alice.apprise: expected a list of strings"),
    ],
)
def test_apprise_config_problems(value: Any, expected: str, tmp_path: Path) -> None:
    (tmp_path / "u").write_text("ntfy://a/t\n")
    _, problems = read(value, tmp_path)
    assert any(p.startswith(expected) for p in problems), problems
    assert not any("s3cret" in p for p in problems)
