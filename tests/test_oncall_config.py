"""The `oncall` section through the real config loader: typed rotations and policies, and problems that
name the key path."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from watchd import config
from watchd.config import ConfigError
from watchd.core.oncall import Layer, Override, PageLevel, PagingPolicy, Restriction, on_duty

BERLIN = ZoneInfo("Europe/Berlin")
QUOTES = 'expected a time in quotes like "08:00", not the number'
CONTACTS = "alice, bob, carol, dave, lead"
YAML_1080 = "(YAML reads 18:00 unquoted as 1080)"
KEY = "k" * 44
HEAD = """\
timezone: Europe/Berlin
data_dir: data
api: {enabled: false}
contacts:
  alice: {email: [alice@example.com]}
  bob: {email: [bob@example.com]}
  carol: {email: [carol@example.com]}
  dave: {email: [dave@example.com]}
  lead: {email: [lead@example.com]}
"""
FULL = """\
oncall:
  public_url: https://watchd.example.net/
  ack_ttl: 12h
  token_key_file: ack.key
  rotations:
    primary:
      layers:
        - name: weekly
          members: [alice, bob, carol]
          length: weekly
          handoff: "09:00"
          timezone: Europe/Berlin
          start: 2026-11-30
        - name: business
          members: [lead]
          length: daily
          start: "2026-11-30 08:00"
          restrict:
            - {days: mon-fri, start: "08:00", end: "18:00"}
            - {days: [sat], start: "22:00", end: "02:00"}
      overrides:
        - {member: dave, start: "2026-12-24 18:00", end: "2026-12-27 09:00", timezone: Europe/Berlin}
    secondary:
      layers:
        - {members: [dave], length: 12h, start: "2026-11-30T07:00:00Z"}
  policies:
    standard:
      repeat: 2
      levels:
        - {after: 0, page: [rotation:primary]}
        - {after: 10m, page: [rotation:secondary]}
        - {at: response, page: [lead]}
        - {at: resolution, after: 5m, page: [lead, rotation:primary]}
  escalation: {P1: standard, P2: standard}
"""


def load(tmp_path: Path, text: str, key: str | None = KEY) -> config.Config:
    if key is not None:
        (tmp_path / "ack.key").write_text(key + "\n")
    path = tmp_path / "watchd.yaml"
    path.write_text(HEAD + textwrap.dedent(text))
    return config.load(str(path))


def problems(tmp_path: Path, text: str, key: str | None = KEY) -> list[str]:
    """Each problem as 'key.path: message' (file and line left out)."""
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, key)
    return [f"{p.path}: {p.message}" for p in info.value.problems]


def test_full_section(tmp_path: Path) -> None:
    oc = load(tmp_path, FULL).oncall
    assert (oc.public_url, oc.ack_ttl, oc.token_key) == ("https://watchd.example.net", 43200.0, KEY.encode())
    assert KEY not in repr(oc)  # the key never reaches a log line
    primary = oc.rotations["primary"]
    weekly, business = primary.layers
    assert weekly == Layer(
        "weekly", ("alice", "bob", "carol"), "Europe/Berlin", dt.datetime(2026, 11, 30, 9, tzinfo=BERLIN), 7
    )
    assert (business.length_days, business.start) == (1, dt.datetime(2026, 11, 30, 8, tzinfo=BERLIN))
    assert business.restrictions == (
        Restriction(frozenset(range(5)), dt.time(8), dt.time(18)),
        Restriction(frozenset({5}), dt.time(22), dt.time(2)),
    )
    start = dt.datetime(2026, 12, 24, 18, tzinfo=BERLIN).timestamp()
    assert primary.overrides == (Override("dave", start, start + 63 * 3600),)
    [secondary] = oc.rotations["secondary"].layers
    assert (secondary.name, secondary.length_seconds, secondary.timezone) == (
        "layer1",
        43200.0,
        "Europe/Berlin",
    )
    assert secondary.start.timestamp() == dt.datetime(2026, 11, 30, 7, tzinfo=dt.UTC).timestamp()
    assert oc.policies["standard"] == PagingPolicy(
        "standard",
        (
            PageLevel(0.0, None, ("rotation:primary",)),
            PageLevel(600.0, None, ("rotation:secondary",)),
            PageLevel(0.0, "response", ("lead",)),
            PageLevel(300.0, "resolution", ("lead", "rotation:primary")),
        ),
        repeat=2,
    )
    assert oc.escalation == {"P1": "standard", "P2": "standard"}
    # The loaded rotation answers: Tuesday 20:00 is alice's week, outside business hours.
    shift = on_duty(primary, dt.datetime(2026, 12, 1, 20, tzinfo=BERLIN).timestamp())
    assert shift is not None
    assert shift.member == "alice"


def test_no_section_is_no_rotations(tmp_path: Path) -> None:
    oc = load(tmp_path, "", key=None).oncall
    assert (dict(oc.rotations), dict(oc.policies), oc.public_url, oc.token_key) == ({}, {}, None, None)


def test_length_and_start_forms(tmp_path: Path) -> None:
    """Nd and Nw are calendar days; a start may carry its own offset; YAML's own timestamps work too."""
    oc = load(
        tmp_path,
        """
        oncall:
          rotations:
            r:
              layers:
                - {members: [alice], length: 3d, handoff: "07:30", start: 2026-12-01,
                   timezone: America/New_York}
                - {members: [bob], length: 2w, start: "2026-12-01 09:00+00:00"}
                - {members: [carol], length: 90m, start: 2026-12-01}
                - {members: [dave], length: 1d, start: 2026-12-01 10:00:00}
                - {members: [lead], length: 6h, start: "2026-12-01T06:00",
                   restrict: [{days: "fri-mon", start: "00:00", end: "24:00"},
                              {days: "tue,thu", start: "08:00", end: "09:00"}]}
        """,
        key=None,
    ).oncall
    a, b, c, d, e = oc.rotations["r"].layers
    assert (a.length_days, a.start) == (
        3,
        dt.datetime(2026, 12, 1, 7, 30, tzinfo=ZoneInfo("America/New_York")),
    )
    assert (b.length_days, b.start.timestamp()) == (
        14,
        dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC).timestamp(),
    )
    assert (c.length_seconds, c.start) == (5400.0, dt.datetime(2026, 12, 1, tzinfo=BERLIN))
    assert (d.length_days, d.start) == (1, dt.datetime(2026, 12, 1, 10, tzinfo=BERLIN))
    assert e.restrictions == (
        Restriction(frozenset({4, 5, 6, 0}), dt.time(0), dt.time(0)),  # "24:00": the whole day
        Restriction(frozenset({1, 3}), dt.time(8), dt.time(9)),
    )


def test_problems_name_the_key_path(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        oncall:
          public_url: ftp://x
          ack_ttl: forever
          rotations:
            r:
              layers:
                - {members: [alice, mallory], length: weekly, handoff: "09:00", start: 2026-11-30}
                - {members: [], length: daily, handoff: "09:00", start: 2026-11-30}
                - {members: [bob], length: 12h, handoff: "09:00", start: 2026-11-30}
                - {members: [bob], length: daily, start: 2026-11-30}
                - {members: [bob], length: daily, handoff: "09:00", start: "2026-11-30 09:00"}
                - {members: [bob], length: fortnightly, start: 2026-11-30, timezone: Mars/Olympus}
                - {members: [bob], length: 30m, start: 2026-11-30}
                - members: [bob]
                  length: daily
                  handoff: 9:00
                  start: 2026-11-30
                  restrict: [{days: mon-fry, start: "08:00", end: 18:00}, {start: "08:00"}]
                - {members: [bob], start: 30. November, shift: night}
                - {members: [bob], length: daily, start: "1999-12-31 09:00"}
              overrides:
                - {member: dave, start: "2026-12-24 18:00", end: "2026-12-24 17:00"}
                - {member: erin, start: "2026-12-24 18:00", end: "2026-12-25"}
                - {member: dave, start: "2026-12-24 18:00", end: 2100-01-02}
            empty: {layers: []}
            nolayers: {overrides: []}
          policies:
            p:
              repeat: -1
              levels:
                - {after: 0, page: [rotation:tertiary]}
                - {at: soon, page: [lead, eve]}
                - {after: 5m}
            none: {levels: []}
          escalation: {P1: p, P2: nosuch, P5: p}
        """,
    )
    layers = "oncall.rotations.r.layers"
    assert found == [
        "oncall.public_url: expected the public base URL, e.g. https://watchd.example.net, not 'ftp://x'",
        f"{layers}[0].members: unknown contact 'mallory' (configured: {CONTACTS})",
        f"{layers}[1].members: a layer needs at least one member",
        f"{layers}[2].handoff: a layer of fixed length hands off every 12h from start: leave it out",
        f'{layers}[3].handoff: is required with a start date: the wall time of the hand-off, like "09:00"',
        f"{layers}[4].handoff: give the hand-off time in start or in handoff, not both",
        f"{layers}[5].length: expected daily, weekly, Nd, Nw or a duration like 12h, not 'fortnightly'",
        f"{layers}[5].timezone: unknown time zone 'Mars/Olympus'",
        f"{layers}[6].length: a layer lasts at least 1h, not '30m'",
        f"{layers}[7].handoff: {QUOTES} 540 {YAML_1080}",
        f"{layers}[7].restrict[0].days: not a weekday: 'fry' in 'mon-fry'"
        " (use mon, tue, wed, thu, fri, sat, sun, or mon-fri)",
        f"{layers}[7].restrict[0].end: {QUOTES} 1080 {YAML_1080}",
        f'{layers}[7].restrict[1].end: is required (a time like "08:00")',
        f"{layers}[8].length: is required (daily, weekly, Nd, Nw or a duration like 12h)",
        f"{layers}[8].start: expected a date like 2026-11-30 or a time like 2026-11-30 09:00,"
        " not '30. November'",
        f"{layers}[8].shift: unknown key",
        f"{layers}[9].start: must be between 2000-01-01 and 2100-01-01 (UTC), not 1999-12-31T08:00:00Z",
        "oncall.rotations.r.overrides[0].end: must be after start",
        f"oncall.rotations.r.overrides[1].member: unknown contact 'erin' (configured: {CONTACTS})",
        "oncall.rotations.r.overrides[2].end: must be between 2000-01-01 and 2100-01-01 (UTC),"
        " not 2100-01-01T23:00:00Z",
        "oncall.rotations.empty.layers: a rotation needs a layer",
        "oncall.rotations.nolayers.layers: a rotation needs a layer",
        "oncall.policies.p.levels[0].page: unknown rotation 'rotation:tertiary'"
        " (configured: r, empty, nolayers)",
        f"oncall.policies.p.levels[1].page: unknown contact 'eve' (configured: {CONTACTS};"
        " a rotation is rotation:NAME)",
        "oncall.policies.p.levels[1].at: expected one of response, resolution, not 'soon'",
        "oncall.policies.p.levels[2].page: is required (the contacts or rotation:NAME to page)",
        "oncall.policies.p.repeat: expected a whole number from 0 to 100, not -1",
        "oncall.policies.none.levels: a policy needs a level",
        "oncall.escalation.P5: expected one of P1, P2, P3, P4",
        "oncall.escalation.P2: unknown policy 'nosuch' (configured: p, none)",
        "oncall.ack_ttl: expected a duration like 30s, 5m or 1h, not 'forever'",
    ]


def test_signing_key_problems(tmp_path: Path) -> None:
    url = "oncall: {public_url: 'https://w.example.net', token_key_file: ack.key}\n"
    assert problems(tmp_path, url, key="short") == [
        "oncall.token_key_file: the key is too short: at least 32 bytes (openssl rand -base64 32)"
    ]
    [missing] = problems(tmp_path, "oncall: {token_key_file: nosuch.key}\n")
    assert missing.startswith("oncall.token_key_file: cannot read secret file ")
    assert "nosuch.key" in missing
    assert problems(tmp_path, "oncall: {token_key_file: ack.key, token_key_env: ACK_KEY}\n") == [
        "oncall.token_key_file: give a _file or an _env secret, not both"
    ]


def test_signing_key_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHD_TEST_ACK_KEY", "e" * 40)
    oc = load(
        tmp_path, "oncall: {public_url: 'http://127.0.0.1:8765', token_key_env: WATCHD_TEST_ACK_KEY}\n"
    ).oncall
    assert (oc.public_url, oc.token_key) == ("http://127.0.0.1:8765", b"e" * 40)


def test_problem_lines_point_at_the_layer(tmp_path: Path) -> None:
    """A problem inside a layer carries the line of that layer's mapping, for `watchd validate`."""
    with pytest.raises(ConfigError) as info:
        load(
            tmp_path,
            "oncall:\n  rotations:\n    r:\n      layers:\n"
            "        - members: [alice]\n          length: sometimes\n          start: 2026-11-30\n",
        )
    [p] = info.value.problems
    assert (p.path, p.line) == ("oncall.rotations.r.layers[0].length", HEAD.count("\n") + 6)
