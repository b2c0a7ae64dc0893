"""SMS and voice through HTTP gateways described in config, against local Twilio and MessageBird
stand-ins that check every request against the published APIs: the documented examples as config,
what arrives, how the answers are read (201, 401, 422, 429 + Retry-After, 503, refused
connections), injection through facts, and the config problems."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from watchd.config.gateways import read_gateways
from watchd.configkit import reader as r
from watchd.core.errors import DeliveryError, Problem
from watchd.delivery.paging.gateway import GatewaySettings, GatewayTransport
from watchd.delivery.paging.short import sms_text, voice_text

from . import gwfixtures
from .gwfixtures import page_facts, page_message
from .standins.messagebird import ACCESS_KEY, MessageBird
from .standins.twilio import ACCOUNT_SID, AUTH_TOKEN, Twilio

messagebird = gwfixtures.messagebird  # the fixture, used by name
twilio = gwfixtures.twilio  # the fixture, used by name

PHONE = "+31612345678"


def read(cfg: dict[str, Any], config_dir: Path) -> tuple[dict[str, GatewaySettings], list[Problem]]:
    problems: list[Problem] = []
    out = read_gateways(r.Reader(cfg, "notify.gateways", problems, file="watchd.yaml"), str(config_dir))
    return out, problems


def one(cfg: dict[str, Any], config_dir: Path) -> GatewaySettings:
    gateways, problems = read(cfg, config_dir)
    assert problems == []
    (settings,) = gateways.values()
    return settings


def twilio_config(server: Twilio, tmp_path: Path, kind: str = "sms", **over: Any) -> dict[str, Any]:
    (tmp_path / "twilio.token").write_text(AUTH_TOKEN + "\n")
    resource = "Messages.json" if kind == "sms" else "Calls.json"
    form = (
        {"To": "{{ to }}", "From": "+3197010000000", "Body": "{{ text }}"}
        if kind == "sms"
        else {"To": "{{ to }}", "From": "+3197010000000",
              "Twiml": "<Response><Say>{{ text | xml }}</Say></Response>"}
    )  # fmt: skip
    gw = {
        "kind": kind,
        "url": f"{server.url}/2010-04-01/Accounts/{ACCOUNT_SID}/{resource}",
        "auth": {"basic": {"username": ACCOUNT_SID, "password_file": "twilio.token"}},
        "form": form,
        "ok_status": 201,
        "idempotency_header": "I-Twilio-Idempotency-Token",
    }
    gw.update(over)
    return {f"twilio-{kind}": gw}


def messagebird_config(server: MessageBird, tmp_path: Path, kind: str = "sms", **over: Any) -> dict[str, Any]:
    (tmp_path / "mb.key").write_text(ACCESS_KEY)
    body: dict[str, Any] = (
        {"originator": "watchd", "recipients": ["{{ to }}"], "body": "{{ text }}"}
        if kind == "sms"
        else {"recipients": ["{{ to }}"], "body": "{{ text }}", "language": "en-gb", "voice": "female",
              "repeat": 2}
    )  # fmt: skip
    gw = {
        "kind": kind,
        "url": f"{server.url}/{'messages' if kind == 'sms' else 'voicemessages'}",
        "auth": {"header": {"name": "Authorization", "scheme": "AccessKey", "value_file": "mb.key"}},
        "json": body,
        "ok_status": "200-299",
    }
    gw.update(over)
    return {f"mb-{kind}": gw}


async def send(settings: GatewaySettings, event: str = "open", op_id: int = 7, phone: str = PHONE,
               **facts: Any) -> None:  # fmt: skip
    transport = GatewayTransport(settings, phone)
    try:
        await transport(page_message(), event, page_facts(**facts), op_id)
    finally:
        await transport.close()


async def failure(settings: GatewaySettings, **kw: Any) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        await send(settings, **kw)
    return info.value


# -- Twilio ------------------------------------------------------------------------------------------------


async def test_twilio_sms_as_documented(twilio: Twilio, tmp_path: Path) -> None:
    await send(one(twilio_config(twilio, tmp_path), tmp_path), op_id=41)
    assert twilio.violations == []
    (msg,) = twilio.messages
    assert msg["To"] == PHONE
    assert msg["From"] == "+3197010000000"
    assert msg["Body"] == sms_text("open", page_facts())
    assert msg["idempotency"] == "watchd-page-41"  # the same on every retry of outbox row 41
    assert "Idempotency-Key" not in twilio.seen[0].headers  # replaced, not added


async def test_twilio_voice_twiml_is_xml_escaped(twilio: Twilio, tmp_path: Path) -> None:
    summary = 'disk </Say><Play>http://evil/x.mp3</Play><Say> "full" & <b>'
    await send(one(twilio_config(twilio, tmp_path, "voice"), tmp_path), summary=summary)
    assert twilio.violations == []  # the TwiML stayed well-formed
    (call,) = twilio.calls
    assert "<Play>" not in call["Twiml"].replace("&lt;Play&gt;", "")
    assert call["spoken"] == voice_text("open", page_facts(summary=summary))
    assert "</Say><Play>" in call["spoken"]  # read out literally, not obeyed


async def test_twilio_wrong_token_is_permanent_with_the_error_code(twilio: Twilio, tmp_path: Path) -> None:
    cfg = twilio_config(twilio, tmp_path)
    (tmp_path / "twilio.token").write_text("wrong-token")
    err = await failure(one(cfg, tmp_path))
    assert not err.retryable
    assert "401" in err.reason
    assert "20003: Authenticate" in err.reason
    assert "sms gateway twilio-sms" in err.reason
    assert ACCOUNT_SID not in err.reason
    assert "wrong-token" not in err.reason
    assert twilio.messages == []


async def test_twilio_invalid_number_is_permanent_with_twilios_words(twilio: Twilio, tmp_path: Path) -> None:
    err = await failure(one(twilio_config(twilio, tmp_path), tmp_path), phone="0612345678")
    assert not err.retryable
    assert err.retry_after is None
    assert "HTTP 400" in err.reason
    assert "21211: Invalid 'To' Phone Number" in err.reason


async def test_twilio_429_is_retried_after_its_retry_after(twilio: Twilio, tmp_path: Path) -> None:
    settings = one(twilio_config(twilio, tmp_path), tmp_path)
    twilio.throttle_next = 1
    err = await failure(settings)
    assert err.retryable
    assert err.retry_after == 7.0
    assert "20429" in err.reason
    await send(settings)  # the retry goes through
    assert len(twilio.messages) == 1
    assert twilio.violations == []


async def test_503_without_retry_after_still_waits(twilio: Twilio, tmp_path: Path) -> None:
    twilio.fail_next = 1
    err = await failure(one(twilio_config(twilio, tmp_path), tmp_path))
    assert err.retryable
    assert err.retry_after == 30.0


async def test_refused_connection_is_retryable_and_does_not_show_the_url(tmp_path: Path) -> None:
    server = Twilio()
    await server.start()
    await server.stop()  # the port is closed now
    cfg = twilio_config(server, tmp_path, url=f"{server.url}/send?apikey=sekrit-api-key-123&to={{{{ to }}}}")
    err = await failure(one(cfg, tmp_path))
    assert err.retryable
    assert "sekrit-api-key-123" not in err.reason
    assert "/send" not in err.reason


async def test_an_error_answer_never_echoes_secrets_from_the_url(twilio: Twilio, tmp_path: Path) -> None:
    cfg = twilio_config(twilio, tmp_path, url=f"{twilio.url}/v1/send.json?apikey=sekrit-api-key-123")
    err = await failure(one(cfg, tmp_path))
    assert not err.retryable
    assert "HTTP 404" in err.reason
    assert "sekrit-api-key-123" not in err.reason


async def test_sms_length_follows_max_length(twilio: Twilio, tmp_path: Path) -> None:
    await send(one(twilio_config(twilio, tmp_path, max_length=480), tmp_path), summary="word " * 200)
    body = twilio.messages[0]["Body"]
    assert 160 < len(body) <= 480
    assert body.endswith(page_facts()["ack_url"])


# -- MessageBird -------------------------------------------------------------------------------------------


async def test_messagebird_sms_as_documented(messagebird: MessageBird, tmp_path: Path) -> None:
    await send(one(messagebird_config(messagebird, tmp_path), tmp_path), op_id=9)
    assert messagebird.violations == []
    (msg,) = messagebird.messages
    assert msg["recipients"] == [31612345678]
    assert msg["originator"] == "watchd"
    assert msg["body"] == sms_text("open", page_facts())
    assert msg["headers"]["Idempotency-Key"] == "watchd-page-9"


async def test_json_body_cannot_be_injected_through_a_summary(
    messagebird: MessageBird, tmp_path: Path
) -> None:
    evil = 'x", "recipients": ["+19005550100"], "originator": "evil'
    await send(one(messagebird_config(messagebird, tmp_path), tmp_path), summary=evil)
    assert messagebird.violations == []
    (msg,) = messagebird.messages
    assert msg["recipients"] == [31612345678]
    assert msg["originator"] == "watchd"
    assert evil in msg["body"]


async def test_messagebird_voice_as_documented(messagebird: MessageBird, tmp_path: Path) -> None:
    await send(one(messagebird_config(messagebird, tmp_path, "voice"), tmp_path), event="escalate")
    assert messagebird.violations == []
    (vm,) = messagebird.voicemessages
    assert vm["body"] == voice_text("escalate", page_facts())
    assert (vm["language"], vm["voice"], vm["repeat"]) == ("en-gb", "female", 2)


async def test_messagebird_wrong_key_is_permanent(messagebird: MessageBird, tmp_path: Path) -> None:
    cfg = messagebird_config(messagebird, tmp_path)
    (tmp_path / "mb.key").write_text("live_wrong")
    err = await failure(one(cfg, tmp_path))
    assert not err.retryable
    assert "2: Request not allowed (incorrect access_key)" in err.reason
    assert "live_wrong" not in err.reason


async def test_messagebird_validation_error_is_permanent(messagebird: MessageBird, tmp_path: Path) -> None:
    err = await failure(one(messagebird_config(messagebird, tmp_path), tmp_path), phone="12")
    assert not err.retryable
    assert "HTTP 422" in err.reason
    assert "(recipients)" in err.reason


async def test_messagebird_429(messagebird: MessageBird, tmp_path: Path) -> None:
    messagebird.throttle_next = 1
    messagebird.retry_after = "12"
    err = await failure(one(messagebird_config(messagebird, tmp_path), tmp_path))
    assert err.retryable
    assert err.retry_after == 12.0


# -- a plain GET gateway -----------------------------------------------------------------------------------


@pytest.fixture
async def query_gateway() -> AsyncIterator[tuple[str, list[web.Request]]]:
    got: list[web.Request] = []

    async def handle(request: web.Request) -> web.Response:
        got.append(request)
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_get("/send", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}", got
    await runner.cleanup()


async def test_url_values_are_percent_encoded(
    query_gateway: tuple[str, list[web.Request]], tmp_path: Path
) -> None:
    base, got = query_gateway
    (tmp_path / "key").write_text("k-123")
    cfg = {"plain": {
        "kind": "sms", "method": "get",
        "url": base + "/send?to={{ to }}&msg={{ text }}&key={{ key }}",
        "auth": {"bearer_file": "key"}, "idempotency_header": None,
    }}  # fmt: skip
    await send(one(cfg, tmp_path), summary="a&to=+19005550100 #x", phone=PHONE)
    (request,) = got
    assert request.query.getall("to") == [PHONE]
    assert "a&to=+19005550100 #x" in request.query["msg"]
    assert request.query["key"] == "watchd-web01-shop-1"
    assert request.headers["Authorization"] == "Bearer k-123"
    assert "Idempotency-Key" not in request.headers


async def test_get_sends_form_as_query(query_gateway: tuple[str, list[web.Request]], tmp_path: Path) -> None:
    base, got = query_gateway
    cfg = {"plain": {"kind": "sms", "method": "GET", "url": base + "/send",
                     "form": {"to": "{{ to }}", "text": "{{ text }}"},
                     "headers": {"X-Page": "{{ event }}-{{ op_id }}"}}}  # fmt: skip
    await send(one(cfg, tmp_path), op_id=3)
    assert got[0].query["to"] == PHONE
    assert got[0].query["text"] == sms_text("open", page_facts())
    assert got[0].headers["X-Page"] == "open-3"
    assert got[0].headers["Idempotency-Key"] == "watchd-page-3"


# -- config ------------------------------------------------------------------------------------------------


def problems_of(cfg: dict[str, Any], tmp_path: Path) -> list[str]:
    _, problems = read(cfg, tmp_path)
    return [f"{p.path}: {p.message}" for p in problems]


def base(**over: Any) -> dict[str, Any]:
    gw: dict[str, Any] = {"kind": "sms", "url": "https://gw.example/send", "form": {"to": "{{ to }}"}}
    gw.update(over)
    return {"g": gw}


def test_documented_examples_read_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from watchd.config import gateways as module

    doc = module.__doc__ or ""
    cfg = yaml.safe_load(doc[doc.index("    notify:") : doc.index("\nKeys:")])
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "twilio.token").write_text("t")
    (tmp_path / "secrets" / "messagebird.key").write_text("k")
    monkeypatch.setenv("MESSAGEBIRD_KEY", "k2")
    gateways, problems = read(cfg["notify"]["gateways"], tmp_path)
    assert problems == []
    assert set(gateways) == {"twilio-sms", "twilio-voice", "messagebird-sms", "messagebird-voice"}
    assert gateways["messagebird-voice"].auth is not None


def test_template_syntax_error_names_the_key(tmp_path: Path) -> None:
    (msg,) = problems_of(base(form={"Body": "{{ text "}), tmp_path)
    assert msg.startswith("notify.gateways.g.form.Body: template syntax error")


def test_unknown_variable_names_the_key(tmp_path: Path) -> None:
    (msg,) = problems_of(base(json={"a": [{"b": "{{ phone }}"}]}, form=None), tmp_path)
    assert msg.startswith("notify.gateways.g.json.a[0].b: 'phone' is undefined")


def test_the_sandbox_refuses_attribute_tricks(tmp_path: Path) -> None:
    (msg,) = problems_of(base(form={"x": "{{ text.__class__.__mro__ }}"}), tmp_path)
    assert msg.startswith("notify.gateways.g.form.x:")


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"json": {"a": "b"}}, "notify.gateways.g.json: give form or json, not both"),
        ({"form": None}, "notify.gateways.g: a gateway needs a request body: form or json"),
        ({"kind": "fax"}, "notify.gateways.g.kind: expected one of sms, voice"),
        ({"ok_status": "2xx"}, "notify.gateways.g.ok_status: expected an HTTP status or a range"),
        ({"ok_status": [201, "300-200"]}, "notify.gateways.g.ok_status: not a range of HTTP statuses"),
        ({"auth": {"basic": {"username": "u"}}}, "notify.gateways.g.auth.basic.password_file: is required"),
        ({"auth": {"bearer_file": "nope"}}, "notify.gateways.g.auth.bearer_file: cannot read secret file"),
        ({"auth": {"bearer_env": "X", "header": {}}}, "notify.gateways.g.auth: give exactly one of"),
        ({"headers": {"Bad Header": "x"}}, "notify.gateways.g.headers: not a valid HTTP header name"),
        ({"method": "DELETE"}, "notify.gateways.g.method: expected one of get, post, put, patch"),
        ({"max_length": 10}, "notify.gateways.g.max_length: expected 40 to 1600"),
        ({"retries": 3}, "notify.gateways.g.retries: unknown key"),
    ],
)
def test_config_problems(over: dict[str, Any], expected: str, tmp_path: Path) -> None:
    got = problems_of(base(**over), tmp_path)
    assert any(p.startswith(expected) for p in got), got


def test_ok_status_forms(tmp_path: Path) -> None:
    settings = one(base(ok_status=[201, "202-204"]), tmp_path)
    assert settings.ok(201)
    assert settings.ok(204)
    assert not settings.ok(200)
    assert one(base(), tmp_path).ok(299)


def test_secrets_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_PASSWORD", "pw")
    settings = one(base(auth={"basic": {"username": "u", "password_env": "GW_PASSWORD"}}), tmp_path)
    assert settings.auth is not None
    assert getattr(settings.auth, "password", None) == "pw"
    got = problems_of(base(auth={"basic": {"username": "u", "password_env": "NOPE_X"}}), tmp_path)
    assert got == [
        "notify.gateways.g.auth.basic.password_env: secret in environment variable NOPE_X is empty or missing"
    ]
