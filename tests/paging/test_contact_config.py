"""A contact's paging keys through the real config loader: phone, sms/voice gateways, quiet hours,
digest, pagerduty/opsgenie/apprise media, and `oncall.inbound`. Every problem names file, line and key
path; the tests compare the whole text, as `watchd validate` prints it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from watchd import config
from watchd.config import ConfigError
from watchd.core.paging import Digest, QuietHours

PD_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
# 14 lines: the contacts under test start on line 15
HEAD = """\
timezone: Europe/Berlin
data_dir: data
api: {enabled: false}
notify:
  gateways:
    tw-sms:
      kind: sms
      url: https://api.example.com/sms
      form: {To: "{{ to }}", Body: "{{ text }}"}
    tw-voice:
      kind: voice
      url: https://api.example.com/call
      form: {To: "{{ to }}", Body: "{{ text }}"}
contacts:
"""
NO_MEDIA = "a contact needs at least one of email, webhook, mqtt, sms, voice, pagerduty, opsgenie, apprise"
ALL_WEEK = frozenset(range(7))
MON_FRI = frozenset(range(5))


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "pd.key").write_text(PD_KEY + "\n")
    (tmp_path / "og.key").write_text("og-api-key\n")
    (tmp_path / "apprise.urls").write_text("# the family chat\nntfy://ntfy.sh/ann-pages\ntgram://bot/123\n")
    (tmp_path / "pd.secret").write_text("whsec-one, whsec-two\n")
    path = tmp_path / "watchd.yaml"
    path.write_text(HEAD + text)
    assert HEAD.count("\n") == 14
    return path


def load(tmp_path: Path, text: str) -> config.Config:
    return config.load(str(write(tmp_path, text)))


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        config.load(str(path))
    return [str(p) for p in info.value.problems]


def test_a_contact_with_every_paging_medium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OG_KEY", "og-from-env")
    cfg = load(
        tmp_path,
        """\
  ann:
    email: ann@example.com
    phone: "+49 30 1234 5678"
    sms: tw-sms
    voice: tw-voice
    pagerduty: {routing_key_file: pd.key}
    opsgenie: {api_key_env: OG_KEY, region: eu}
    apprise: {urls_file: apprise.urls}
    timezone: America/New_York
    quiet_hours:
      - {days: mon-fri, start: "22:00", end: "07:00", media: [sms, voice], pierce: P2}
      - {start: "12:00", end: "13:30"}
      - {days: "sat,sun", start: "00:00", end: "09:00", media: [apprise]}
      - {days: [mon, wed-fri], start: "18:00", end: "19:00", media: []}
      - {days: fri-mon, start: "23:00", end: "23:30", media: [voice]}
    digest: {at: "09:00", priorities: [P3, P4], medium: email}
""",
    )
    ann = cfg.contacts["ann"]
    assert ann.media == ("email", "sms", "voice", "pagerduty", "opsgenie", "apprise")
    assert (ann.phone, ann.sms, ann.voice) == ("+493012345678", "tw-sms", "tw-voice")
    assert ann.pagerduty.routing_key == PD_KEY
    assert (ann.opsgenie.api_key, ann.opsgenie.url) == ("og-from-env", "https://api.eu.opsgenie.com")
    assert ann.apprise == ("ntfy://ntfy.sh/ann-pages", "tgram://bot/123")
    everything_but_email = ("sms", "voice", "pagerduty", "opsgenie", "apprise")
    assert ann.quiet_hours == (
        QuietHours(MON_FRI, dt.time(22), dt.time(7), ("sms", "voice"), "P2"),
        QuietHours(ALL_WEEK, dt.time(12), dt.time(13, 30), everything_but_email, "P1"),
        QuietHours(frozenset({5, 6}), dt.time(0), dt.time(9), ("apprise",)),
        QuietHours(frozenset({0, 2, 3, 4}), dt.time(18), dt.time(19), ()),
        QuietHours(frozenset({4, 5, 6, 0}), dt.time(23), dt.time(23, 30), ("voice",)),  # wraps the week
    )
    assert ann.digest == Digest(dt.time(9), ("P3", "P4"), "email")
    # the spans are read in the contact's zone: Friday 23:00 in New York is quiet for sms
    friday_night = dt.datetime(2026, 12, 4, 23, tzinfo=dt.timezone(dt.timedelta(hours=-5))).timestamp()
    assert ann.quiet_hours[0].covers(friday_night, ann.timezone)


def test_pagerduty_and_opsgenie_blocks_alone_make_a_contact(tmp_path: Path) -> None:
    """Only through the real loader: a contact with nothing but a pagerduty: or opsgenie: block has
    that medium (and needs no email)."""
    cfg = load(
        tmp_path,
        """\
  pd-only:
    pagerduty: {routing_key_file: pd.key}
  og-only:
    opsgenie: {api_key_file: og.key}
  list-apprise:
    apprise: ["ntfy://ntfy.sh/x"]
""",
    )
    assert cfg.contacts["pd-only"].media == ("pagerduty",)
    assert cfg.contacts["og-only"].media == ("opsgenie",)
    assert cfg.contacts["list-apprise"].media == ("apprise",)
    assert (cfg.contacts["pd-only"].quiet_hours, cfg.contacts["pd-only"].digest) == ((), None)


def test_phone_and_gateway_problems(tmp_path: Path) -> None:
    f = tmp_path / "watchd.yaml"
    found = problems(
        tmp_path,
        """\
  ann:
    email: ann@example.com
    sms: tw-sms
  bob:
    email: bob@example.com
    phone: "+49 30 1234 5678"
    sms: nosuch
    voice: tw-sms
  carol:
    email: carol@example.com
    phone: "0301234567"
  dave:
    email: dave@example.com
    phone: "+49-30-1234567"
  erin:
    email: erin@example.com
    phone: "+1234"
""",
    )
    assert found == [
        f"{f}:16: contacts.ann.phone: sms and voice need the contact's phone number"
        " (E.164, like +4930123456)",
        f"{f}:25: contacts.carol.phone: expected an E.164 phone number like +4930123456, not '0301234567'",
        f"{f}:28: contacts.dave.phone: expected an E.164 phone number like +4930123456, not '+49-30-1234567'",
        f"{f}:31: contacts.erin.phone: expected an E.164 phone number like +4930123456, not '+1234'",
        f"{f}:21: contacts.bob.sms: unknown gateway 'nosuch' (notify.gateways has tw-sms, tw-voice)",
        f"{f}:22: contacts.bob.voice: gateway 'tw-sms' is for sms, not voice",
    ]


def test_quiet_hours_problems(tmp_path: Path) -> None:
    f = tmp_path / "watchd.yaml"
    found = problems(
        tmp_path,
        """\
  ann:
    email: ann@example.com
    phone: "+4930123456"
    sms: tw-sms
    quiet_hours:
      - {start: "22:00", end: "07:00", media: [voice]}
      - {start: "22:00", end: "22:00"}
      - {start: 22:00, end: "07:00"}
      - {days: mon-fry, start: "22:00", end: "7 am", pierce: P0}
      - {}
      - nightly
      - {start: "22:00", end: "07:00", volume: low}
  bob:
    email: bob@example.com
    quiet_hours: {start: "22:00", end: "07:00"}
""",
    )
    qh = "contacts.ann.quiet_hours"
    assert found == [
        f"{f}:20: {qh}[0].media: unknown medium of this contact 'voice' (configured: email, sms)",
        f"{f}:21: {qh}[1].end: start and end are the same: give a span",
        f'{f}:22: {qh}[2].start: expected a time in quotes like "08:00", not the number 1320'
        " (YAML reads 22:00 unquoted as 1320)",
        f"{f}:23: {qh}[3].days: not a weekday: 'fry' in 'mon-fry'"
        " (use mon, tue, wed, thu, fri, sat, sun, or mon-fri)",
        f"{f}:23: {qh}[3].end: expected a time like 00:00, not '7 am'",
        f"{f}:23: {qh}[3].pierce: expected one of P1, P2, P3, P4, not 'P0'",
        f"{f}:24: {qh}[4].start: is required",
        f"{f}:24: {qh}[4].end: is required",
        f"{f}:19: {qh}[5]: must be a mapping, not str",
        f"{f}:26: {qh}[6].volume: unknown key",
        f"{f}:29: contacts.bob.quiet_hours: expected a list of {{start, end, media, days, pierce}}",
    ]


def test_digest_problems(tmp_path: Path) -> None:
    f = tmp_path / "watchd.yaml"
    found = problems(
        tmp_path,
        """\
  ann:
    email: ann@example.com
    digest: {at: "09:00", priorities: [P1, P4], medium: sms}
  bob:
    email: bob@example.com
    digest: {priorities: [P5], weekly: true}
  carol:
    webhook: {url: "https://hooks.example.com/carol"}
    digest: {at: "9 o'clock"}
""",
    )
    assert found == [
        f"{f}:17: contacts.ann.digest.priorities: P1 is never held for a digest: it pages at once",
        f"{f}:17: contacts.ann.digest.medium: the contact has no sms (it has email)",
        f"{f}:20: contacts.bob.digest.at: is required",
        f"{f}:20: contacts.bob.digest.priorities: unknown priority 'P5' (configured: P1, P2, P3, P4)",
        f"{f}:20: contacts.bob.digest.weekly: unknown key",
        f'{f}:23: contacts.carol.digest.at: expected a time like 00:00, not "9 o\'clock"',
        f"{f}:23: contacts.carol.digest.medium: the contact has no email (it has webhook)",
    ]


def test_paging_block_and_apprise_problems_through_the_loader(tmp_path: Path) -> None:
    f = tmp_path / "watchd.yaml"
    found = problems(
        tmp_path,
        """\
  ann:
    pagerduty: {routing_key_file: og.key}
  bob:
    opsgenie: {api_key: inline}
  carol:
    apprise: ["ntfy://ntfy.sh/x", "not a url"]
  dave:
    apprise: {urls_file: missing.urls}
""",
    )
    assert found == [
        f"{f}:16: contacts.ann.pagerduty.routing_key_file: a PagerDuty integration key has 32 characters,"
        " this one 10",
        f"{f}:16: contacts.ann: {NO_MEDIA}",
        f"{f}:18: contacts.bob.opsgenie.api_key: inline secrets are not accepted:"
        " use api_key_file or api_key_env",
        f"{f}:18: contacts.bob: {NO_MEDIA}",
        f"{f}:20: contacts.carol.apprise: apprise: URL 2 is not an apprise URL (scheme '(none)')",
        f"{f}:20: contacts.carol: {NO_MEDIA}",
        f"{f}:22: contacts.dave.apprise.urls_file: cannot read secret file {tmp_path}/missing.urls:"
        " No such file or directory",
        f"{f}:22: contacts.dave: {NO_MEDIA}",
    ]


# -- oncall.inbound -------------------------------------------------------------------------------------

ANN = "  ann: {email: ann@example.com}\n"


def test_inbound_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OG_TOKEN", "og-webhook-token")
    oc = load(
        tmp_path,
        ANN + "oncall:\n  inbound:\n    pagerduty: {secret_file: pd.secret}\n"
        "    opsgenie: {token_env: OG_TOKEN}\n",
    ).oncall
    assert oc.pagerduty_secrets == ("whsec-one", "whsec-two")  # several during a secret rotation
    assert oc.opsgenie_token == "og-webhook-token"
    assert "whsec" not in repr(oc)
    assert "og-webhook-token" not in repr(oc)


def test_no_inbound_is_no_secrets(tmp_path: Path) -> None:
    oc = load(tmp_path, ANN).oncall
    assert (oc.pagerduty_secrets, oc.opsgenie_token) == ((), None)


def test_inbound_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHD_NO_SUCH_TOKEN", raising=False)
    f = tmp_path / "watchd.yaml"
    text = """\
oncall:
  inbound:
    pagerduty: {secret_file: missing.secret, secret_env: PD_SECRET}
    opsgenie: {token_env: WATCHD_NO_SUCH_TOKEN, header: X-Token}
    slack: {token_env: SLACK}
"""
    assert problems(tmp_path, ANN + text) == [
        f"{f}:18: oncall.inbound.pagerduty.secret_file: give a _file or an _env secret, not both",
        f"{f}:19: oncall.inbound.opsgenie.token_env: secret in environment variable WATCHD_NO_SUCH_TOKEN"
        " is empty or missing",
        f"{f}:19: oncall.inbound.opsgenie.header: unknown key",
        f"{f}:20: oncall.inbound.slack: unknown key",
    ]
    text = """\
oncall:
  inbound:
    pagerduty: {secret_file: missing.secret}
    opsgenie: {}
"""
    assert problems(tmp_path, ANN + text) == [
        f"{f}:18: oncall.inbound.pagerduty.secret_file: cannot read secret file {tmp_path}/missing.secret:"
        " No such file or directory",
        f"{f}:19: oncall.inbound.opsgenie: give token_file or token_env",
    ]


def test_inbound_blocks_that_are_not_mappings_are_one_problem(tmp_path: Path) -> None:
    f = tmp_path / "watchd.yaml"
    text = "oncall:\n  inbound:\n    pagerduty: abc\n    opsgenie:\n"
    assert problems(tmp_path, ANN + text) == [
        f"{f}:18: oncall.inbound.pagerduty: must be a mapping, not str",
        f"{f}:19: oncall.inbound.opsgenie: give token_file or token_env",
    ]
    text = "oncall:\n  inbound: [pagerduty]\n"
    assert problems(tmp_path, ANN + text) == [f"{f}:17: oncall.inbound: must be a mapping, not a list"]
