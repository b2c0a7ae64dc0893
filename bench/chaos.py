"""Chaos: kill -9 a running `watchd run` at random points of incident, ticket, notification and
announcement life, N cycles, against a real Request Tracker 5, a real SMTP server and mosquitto.

    .venv/bin/python bench/chaos.py                      # 100 cycles, seed 1
    .venv/bin/python bench/chaos.py --cycles 20 --seed 7 --keep /tmp/chaos   # keep the work dir

One check (`switch`, a plugin whose exit code is a file) is driven through an incident per cycle:

    open     exit 2: an incident, an RT ticket and a builtin one, an open notice per contact; in some
             cycles a one-off maintenance window is added (`watchd downtime add --announce`)
    update   exit 1: CRITICAL -> WARNING, a comment on the tickets; `watchd ack` (CLI) at a random
             moment: a comment, and an ack notice to whoever was told
    resolve  exit 0: the tickets resolved, a recovery notice per contact

In each phase the daemon is killed with SIGKILL, either after a random delay (0..--max-delay s) after
the change, or by itself at a fault point chosen at random (WATCHD_FAULT, watchd.runtime.faults:
before/after the SQLite commit, before/after a delivery of the phase's kind); then restarted, and the
phase waits until the store shows the change took (incident open, state WARNING and acknowledged,
resolved with every outbox row delivered). A first cycle without kills (the control) records what
one incident produces; every chaos cycle is compared with it:

    RT        exactly one ticket per incident, resolved, with the control's comments, each once
    mail      per contact and incident the control's events (open, ack, resolve), each once
    MQTT      per MQTT contact the same, by op_id, read from the broker by a subscriber
    announce  exactly one announcement mail per window and customer

A duplicate is a second message for one event: a second outbox row or RT comment for it (a
Message-ID or op_id not seen before). A re-send is the same message again (same Message-ID or
op_id): the kill landed after the server took it and before the outbox recorded that. SMTP and MQTT
QoS 1 cannot tell the two apart, so that window is at-least-once; receivers can drop a re-send by its
Message-ID / op_id. Both are counted apart, as are losses (an expected message that never came).
Prints one line per cycle with an anomaly, then the totals; exit status 1 if any duplicate or loss.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import email
import email.policy
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from servers.mosquitto import start_mosquitto  # noqa: E402
from servers.rt import RTServer, ensure_installed, free_port, start_rt  # noqa: E402

HOST = "chaos"
CHECK = "switch"
CUSTOMER, ONCALL = "ops@acme.test", "oncall@provider.test"
MQTT_CONTACT = "pager"
SETTLE_TIMEOUT = 60.0
FAULT_WAIT = 4.0  # how long an armed fault point may take to be reached before we kill anyway

PHASE_FAULTS = {
    "open": ["persist.before_commit", "persist.after_commit", "outbox.before_deliver.open",
             "outbox.after_deliver.open"],
    "announce": ["outbox.before_deliver.maintenance_announce", "outbox.after_deliver.maintenance_announce"],
    "cancel": ["outbox.before_deliver.maintenance_cancel", "outbox.after_deliver.maintenance_cancel"],
    "update": ["persist.before_commit", "persist.after_commit", "outbox.before_deliver.update",
               "outbox.after_deliver.update", "outbox.before_deliver.ack", "outbox.after_deliver.ack"],
    "resolve": ["persist.before_commit", "persist.after_commit", "outbox.before_deliver.resolve",
                "outbox.after_deliver.resolve"],
}  # fmt: skip


# -- the receivers ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mail:
    rcpt: str
    msgid: str
    event: str
    key: str
    at: float  # when the server said 250


class Mailbox:
    """aiosmtpd handler: every accepted message, by recipient."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mails: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.mails.append(
                    Mail(
                        rcpt,
                        str(msg["Message-ID"]),
                        str(msg["X-Watchd-Event"]),
                        str(msg["X-Watchd-Key"] or ""),
                        time.time(),
                    )
                )
        return "250 2.0.0 accepted"

    def snapshot(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)


@dataclass(frozen=True, slots=True)
class BusNote:
    op_id: int
    event: str
    key: str


class BusTap:
    """A subscriber to the MQTT contact's notifications (QoS 1), on its own network thread."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.lock = threading.Lock()
        self.notes: list[BusNote] = []
        self.ready = threading.Event()  # connected and subscribed
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="chaos-tap")
        self.client.on_connect = lambda c, *_: c.subscribe(f"watchd/{HOST}/notify/#", qos=1)
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_disconnect = lambda *_: self.ready.clear()
        self.client.on_message = self._message
        self.client.reconnect_delay_set(0.05, 0.2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self.ready.wait(10):
            raise RuntimeError("the MQTT subscriber did not subscribe")

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        body = json.loads(message.payload)
        with self.lock:
            self.notes.append(
                BusNote(int(body["op_id"]), str(body["event"]), str(body["facts"].get("key", "")))
            )

    def snapshot(self) -> list[BusNote]:
        with self.lock:
            return list(self.notes)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def rt_call(rt: RTServer, path: str, **params: str) -> Any:
    query = ("?" + urllib.parse.urlencode(params)) if params else ""
    req = urllib.request.Request(f"{rt.rest}{path}{query}", headers={"Authorization": rt.basic_auth()})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return json.loads(resp.read())


def rt_tickets(rt: RTServer, key: str) -> list[tuple[str, str]]:
    """(id, Status) of every ticket whose WatchdKey is `key`."""
    found = rt_call(rt, "/tickets", query=f"CF.{{WatchdKey}} = '{key}'", orderby="id", per_page="100",
                    fields="Status")  # fmt: skip
    return [(str(i["id"]), str(i["Status"])) for i in found["items"]]


def rt_history(rt: RTServer, ticket: str) -> list[str]:
    """The ticket's Create, Comment and Status transactions: 'Create', 'Comment', 'Status:resolved'."""
    items = rt_call(rt, f"/ticket/{ticket}/history", per_page="100", fields="Type,NewValue", orderby="id")
    out = []
    for i in items["items"]:
        if i["Type"] == "Status":
            out.append(f"Status:{i['NewValue']}")
        elif i["Type"] in ("Create", "Comment"):
            out.append(i["Type"])
    return out


# -- the monitored host -------------------------------------------------------------------------------


class Site:
    """The config, the plugin's exit-code file, the store and the daemon process."""

    def __init__(self, root: Path, rt: RTServer, smtp_port: int, mqtt_port: int) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.code = root / "code"
        self.code.write_text("0")
        plugin = root / "check_switch"
        plugin.write_text(f'#!/bin/sh\nc=$(cat {self.code})\necho "SWITCH code $c"\nexit $c\n')
        plugin.chmod(0o755)
        self.log = root / "daemon.log"
        self.cfg = root / "watchd.yaml"
        self.cfg.write_text(f"""
host: {HOST}
data_dir: {root / "data"}
api: {{enabled: false}}
log: {{level: info, format: json}}
scheduler: {{followup_interval: 0.5s, shutdown_grace: 1s}}
defaults: {{interval: 0.1s, retry_interval: 0.1s, max_attempts: 1, flap_detection: false}}
checks:
  {CHECK}: {{command: [{plugin}], impact: high, notify: [acme, oncall, {MQTT_CONTACT}]}}
  quiet: {{command: [/usr/lib/nagios/plugins/check_dummy, "0", "quiet"], interval: 1h, notify: []}}
incidents:
  calendars:
    always: {{days: [mon, tue, wed, thu, fri, sat, sun], hours: "00:00-23:59", timezone: UTC}}
tickets:
  backends:
    rt: {{type: rt, url: '{rt.url}', queue: General, username: {rt.username},
          password_file: {rt.password_file}, timeout: 10}}
  default: [builtin, rt]
  base_backoff: 0.2s
  max_backoff: 1s
contacts:
  acme: {{kind: customer, name: ACME, email: [{CUSTOMER}]}}
  oncall: {{kind: oncall, email: [{ONCALL}]}}
  {MQTT_CONTACT}: {{kind: oncall, mqtt: true}}
notify:
  smtp: {{host: 127.0.0.1, port: {smtp_port}, timeout: 5s, from: watchd@provider.test}}
  ticket_wait: 5s
maintenance:
  announce_business_days: 1
  calendar: always
mqtt: {{host: 127.0.0.1, port: {mqtt_port}, keepalive: 5s}}
""")
        self.proc: subprocess.Popen[bytes] | None = None
        self.watchd = [sys.executable, "-m", "watchd"]

    def set(self, code: int) -> None:
        """The plugin's next exit code, written atomically: a plugin run must not read a half-written file."""
        tmp = self.code.with_suffix(".tmp")
        tmp.write_text(str(code))
        os.replace(tmp, self.code)

    # the daemon

    def start(self, fault: str | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("WATCHD_FAULT", "NOTIFY_SOCKET")}
        if fault:
            env["WATCHD_FAULT"] = fault
        with self.log.open("ab") as log:
            log.write(f'{{"chaos": "start", "fault": "{fault}"}}\n'.encode())
            log.flush()
            self.proc = subprocess.Popen(
                [*self.watchd, "run", "--config", str(self.cfg)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> bool:
        """SIGKILL the daemon if it runs; True if it did."""
        if self.proc is None:
            return False
        alive = self.proc.poll() is None
        if alive:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        return alive

    def died(self, timeout: float) -> bool:
        assert self.proc is not None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.watchd, *args, "--config", str(self.cfg)], capture_output=True, text=True, timeout=60
        )

    # the store (read-only, from outside)

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        path = self.root / "data" / "watchd.db"
        if not path.exists():
            return []
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # no schema yet
            return []
        finally:
            db.close()

    def incident(self, incident_id: int) -> tuple[str, int, float | None] | None:
        rows = self.query("SELECT status, state, acked_at FROM incidents WHERE id = ?", incident_id)
        return rows[0] if rows else None

    def incidents(self) -> int:
        rows = self.query("SELECT count(*) FROM incidents WHERE check_name = ?", CHECK)
        return int(rows[0][0]) if rows else 0

    def pending(self) -> int:
        rows = self.query("SELECT count(*) FROM outbox WHERE status = 'pending'")
        return int(rows[0][0]) if rows else -1

    def failed(self) -> list[tuple[Any, ...]]:
        return self.query("SELECT id, channel, kind, last_error FROM outbox WHERE status = 'failed'")

    def window_of(self, op_id: int) -> str:
        rows = self.query("SELECT payload FROM outbox WHERE id = ?", op_id)
        return str(json.loads(rows[0][0])["facts"]["window"]) if rows else f"?{op_id}"

    def recorded(self) -> dict[int, float]:
        """Outbox row -> when the daemon logged it delivered (just after the commit that says so)."""
        out: dict[int, float] = {}
        for line in self.log.read_text(errors="replace").splitlines():
            if '"delivered"' not in line:
                continue
            with contextlib.suppress(ValueError, KeyError, TypeError):
                rec = json.loads(line)
                at = datetime.datetime.fromisoformat(rec["timestamp"].replace("Z", "+00:00")).timestamp()
                out.setdefault(int(rec["row"]), at)
        return out

    def tail(self, n: int = 15) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


def wait_for(predicate: Callable[[], object], what: str, site: Site, timeout: float = SETTLE_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"timed out after {timeout:g} s waiting for {what}; daemon log:\n{site.tail()}"
            )
        if site.proc is not None and site.proc.poll() is not None and site.proc.returncode != -9:
            raise RuntimeError(f"daemon exited ({site.proc.returncode}) waiting for {what}:\n{site.tail()}")
        time.sleep(0.05)


# -- one cycle ----------------------------------------------------------------------------------------


@dataclass
class Chaos:
    site: Site
    broker: Any  # servers.mosquitto.Mosquitto
    tap: BusTap
    rng: random.Random
    max_delay: float
    outage: float  # share of phases in which the broker is down while the daemon is killed
    kills: int = 0
    outages: int = 0
    faults_hit: collections.Counter[str] = field(default_factory=collections.Counter)
    faults_missed: collections.Counter[str] = field(default_factory=collections.Counter)

    def phase(self, name: str, act: Callable[[], None], done: Callable[[], object], extra: list[str],
              during: Callable[[str | None], None] | None = None, chaos: bool = True) -> str:  # fmt: skip
        """Start the daemon (maybe with a fault armed), make the change, kill -9 it at a random moment
        or let the fault fire, restart and wait until `done`; in some phases the broker is down from
        the change until after the restart. Returns how it was killed."""
        site = self.site
        how = "none"
        if chaos:
            points = PHASE_FAULTS[name] + extra
            fault = self.rng.choice(points) if self.rng.random() < 0.5 else None
            delay = self.rng.uniform(0, self.max_delay)
            if fault is not None or not site.alive():
                self.kills += site.kill()  # one daemon at a time; the fault is armed at its start
                site.start(fault)
            outage = self.rng.random() < self.outage
            if outage:
                self.broker.stop()
                self.outages += 1
            act()
            if during is not None:
                during(fault)
            if fault is not None:
                if site.died(FAULT_WAIT):
                    self.faults_hit[fault] += 1
                    how = f"fault {fault}"
                else:
                    self.faults_missed[fault] += 1
                    how = f"fault {fault} not reached; killed"
            else:
                time.sleep(delay)
                how = f"kill after {delay:.2f}s"
            self.kills += 1
            site.kill()
            if outage:  # back before the daemon, and our subscriber with it (the broker keeps no sessions)
                self.broker.start()
                if not self.tap.ready.wait(10):
                    raise RuntimeError("the MQTT subscriber did not come back")
                how += "; broker down"
            site.start()
        else:
            if not site.alive():
                site.start()
            act()
            if during is not None:
                during(None)
        wait_for(done, f"{name} to take", site)
        return how


@dataclass
class Counts:
    incidents: int = 0
    rt_tickets: int = 0
    mails: int = 0
    bus: int = 0
    announcements: int = 0
    duplicates: int = 0
    resends: int = 0
    resends_at_faults: int = 0  # in cycles killed at an outbox.after_deliver point (by design in the window)
    losses: int = 0
    kills: int = 0
    at_faults: int = 0
    outages: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def events(items: list[tuple[str, str]]) -> tuple[collections.Counter[str], int, int]:
    """[(event, message id)] -> (messages per event, distinct ids, re-sends)."""
    per_event: collections.Counter[str] = collections.Counter()
    seen: set[str] = set()
    resends = 0
    for event, mid in items:
        if mid in seen:
            resends += 1
            continue
        seen.add(mid)
        per_event[event] += 1
    return per_event, len(seen), resends


@dataclass(frozen=True)
class Observed:
    """What the receivers got for one incident (and the windows of its cycle)."""

    rt: list[tuple[str, str]]
    history: list[str]
    mail: dict[str, list[tuple[str, str]]]
    bus: list[tuple[str, str]]
    windows: dict[str, tuple[bool, list[tuple[str, str]]]]  # key -> (cancelled, [(event, Message-ID)])


def op_of(msgid: str) -> int:
    """The outbox row of a notification mail: Message-ID <watchd.notify.ROW@domain>; -1 otherwise."""
    head, _, _ = msgid.strip("<>").partition("@")
    parts = head.split(".")
    return int(parts[2]) if len(parts) == 3 and parts[:2] == ["watchd", "notify"] else -1


def observe(site: Site, rt: RTServer, mailbox: Mailbox, tap: BusTap, incident_id: int,
            windows: dict[str, bool]) -> Observed:  # fmt: skip
    key = f"watchd-{HOST}-{CHECK}-{incident_id}"
    tickets = rt_tickets(rt, key)
    history = rt_history(rt, tickets[0][0]) if len(tickets) == 1 else []
    mails = mailbox.snapshot()
    per_rcpt = {
        r: [(m.event, m.msgid) for m in mails if m.rcpt == r and m.key == key] for r in (CUSTOMER, ONCALL)
    }
    bus = [(n.event, str(n.op_id)) for n in tap.snapshot() if n.key == key]
    per_window: dict[str, tuple[bool, list[tuple[str, str]]]] = {w: (c, []) for w, c in windows.items()}
    for m in mails:
        if m.event.startswith("maintenance_"):
            w = site.window_of(op_of(m.msgid))
            if w in per_window:
                per_window[w][1].append((m.event, m.msgid))
    return Observed(tickets, history, per_rcpt, bus, per_window)


def compare(control: Observed, got: Observed, counts: Counts, label: str) -> None:
    """Add one cycle's figures to `counts`, and a line per anomaly to counts.problems."""
    counts.incidents += 1
    counts.rt_tickets += len(got.rt)
    problems = []
    if len(got.rt) != 1:
        counts.duplicates += max(len(got.rt) - 1, 0)
        counts.losses += 1 if not got.rt else 0
        problems.append(f"RT tickets {got.rt}")
    elif got.rt[0][1] != "resolved":
        counts.losses += 1
        problems.append(f"RT ticket {got.rt[0][0]} is {got.rt[0][1]}")
    if got.rt and len(got.rt) == 1:
        want, have = collections.Counter(control.history), collections.Counter(got.history)
        counts.duplicates += sum((have - want).values())
        counts.losses += sum((want - have).values())
        if want != have:
            problems.append(f"RT history {got.history} (control {control.history})")
    for where, want_items, have_items in [
        *((f"mail {r}", control.mail[r], got.mail[r]) for r in control.mail),
        ("mqtt", control.bus, got.bus),
    ]:
        want, _, _ = events(want_items)
        have, distinct, resends = events(have_items)
        counts.resends += resends
        if where == "mqtt":
            counts.bus += distinct
        else:
            counts.mails += distinct
        counts.duplicates += sum((have - want).values())
        counts.losses += sum((want - have).values())
        if want != have:
            problems.append(f"{where}: {dict(have)} (control {dict(want)})")
        if resends:
            problems.append(f"{where}: {resends} re-send(s) of one message")
    for w, (cancelled, items) in got.windows.items():
        want = collections.Counter({"maintenance_announce": 1, "maintenance_cancel": int(cancelled)})
        have, distinct, resends = events(items)
        counts.announcements += distinct
        counts.resends += resends
        counts.duplicates += sum((have - want).values())
        counts.losses += sum((want - have).values())
        if +want != have:
            problems.append(f"window {w}: {dict(have)} (expected {dict(+want)})")
        if resends:
            problems.append(f"window {w}: {resends} re-send(s)")
    counts.problems += [f"{label}: {p}" for p in problems]


def cycle(chaos: Chaos, n: int, incident_id: int, control: bool) -> tuple[list[str], dict[str, bool]]:
    """One incident through open, update+ack, resolve, maybe with a maintenance window announced (and
    removed again, which sends a cancellation); returns (how each phase was killed, {window: removed})."""
    site, rng = chaos.site, chaos.rng
    windows: dict[str, bool] = {}
    announce = control or rng.random() < 0.3
    cancel = announce and (control or rng.random() < 0.5)

    def add_window() -> None:
        start = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2, minutes=n)
        out = site.cli("downtime", "add", "--start", start.isoformat(timespec="seconds"), "--for", "30m",
                       "--check", "quiet", "--announce", "--comment", f"chaos {n}")  # fmt: skip
        if out.returncode != 0:
            raise RuntimeError(f"downtime add failed: {out.stdout}{out.stderr}")
        windows[f"downtime:{max(r[0] for r in site.query('SELECT id FROM downtimes'))}"] = cancel

    def remove_windows() -> None:
        for w in windows:
            out = site.cli("downtime", "remove", w.removeprefix("downtime:"))
            if out.returncode != 0:
                raise RuntimeError(f"downtime remove failed: {out.stdout}{out.stderr}")

    def opened() -> bool:
        inc = site.incident(incident_id)
        return inc is not None and inc[0] == "open"

    def announced(kind: str = "announce") -> bool:
        return all(
            site.query("SELECT 1 FROM announcements WHERE window_key = ? AND kind = ?", w, kind)
            for w, removed in windows.items()
            if removed or kind == "announce"
        )

    acked = threading.Event()

    def ack() -> None:
        out = site.cli("ack", str(incident_id), "--by", "chaos", "--comment", f"cycle {n}")
        if out.returncode == 0 or "already acknowledged" in out.stderr:
            acked.set()

    def ack_during(fault: str | None) -> None:
        if (fault or "").endswith(".ack") or rng.random() < 0.5:
            time.sleep(rng.uniform(0, chaos.max_delay / 2))
            ack()

    def updated() -> bool:
        inc = site.incident(incident_id)
        if inc is not None and inc[1] == 1 and not acked.is_set():
            ack()
        return inc is not None and inc[1] == 1 and inc[2] is not None

    def resolved() -> bool:
        inc = site.incident(incident_id)
        done = inc is not None and inc[0] == "resolved" and announced() and announced("cancel")
        return done and site.pending() == 0

    hows = []
    extra = PHASE_FAULTS["announce"] if announce else []

    def open_act() -> None:
        site.set(2)
        if announce:
            add_window()

    hows.append(chaos.phase("open", open_act, lambda: opened() and announced(), extra, chaos=not control))
    hows.append(chaos.phase("update", lambda: site.set(1), updated, [], ack_during,
                            chaos=not control))  # fmt: skip
    def resolve_act() -> None:
        site.set(0)
        if cancel:
            remove_windows()

    hows.append(chaos.phase("resolve", resolve_act, resolved, PHASE_FAULTS["cancel"] if cancel else [],
                            chaos=not control))  # fmt: skip
    return hows, windows


# -- main ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def servers(work: Path) -> Iterator[tuple[RTServer, Any, Mailbox, Any]]:
    from aiosmtpd.controller import Controller

    ensure_installed()
    with start_rt(work / "rt") as rt, start_mosquitto(work / "mqtt") as broker:
        mailbox = Mailbox()
        smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port(), ready_timeout=10)
        smtp.start()
        try:
            yield rt, broker, mailbox, smtp
        finally:
            smtp.stop()


def run(
    cycles: int, seed: int, max_delay: float, work: Path, outage: float = 0.15, quiet: bool = False
) -> Counts:
    """Run the control cycle and `cycles` chaos cycles; returns the counts."""
    rng = random.Random(seed)
    counts = Counts()
    say = (lambda *a: None) if quiet else print
    with servers(work) as (rt, broker, mailbox, smtp):
        tap = BusTap(broker.port)
        site = Site(work / "site", rt, smtp.port, broker.port)
        chaos = Chaos(site, broker, tap, rng, max_delay, outage)
        try:
            site.start()
            first = "SELECT 1 FROM check_status WHERE check_name = ?"
            wait_for(lambda: site.query(first, CHECK), "first result", site)
            _, windows = cycle(chaos, 0, 1, control=True)
            time.sleep(1.0)  # the last bus messages
            control = observe(site, rt, mailbox, tap, 1, windows)
            say(f"control: RT {control.history}; mail {dict(events(control.mail[CUSTOMER])[0])} to the"
                f" customer, {dict(events(control.mail[ONCALL])[0])} to on-call;"
                f" mqtt {dict(events(control.bus)[0])};"
                f" window {[dict(events(items)[0]) for _, items in control.windows.values()]}")  # fmt: skip
            site.stop()
            started = time.monotonic()
            for n in range(1, cycles + 1):
                incident_id = n + 1
                hows, windows = cycle(chaos, n, incident_id, control=False)
                site.stop()  # a clean stop flushes the bus; then count
                before, resends = len(counts.problems), counts.resends
                compare(control, observe(site, rt, mailbox, tap, incident_id, windows), counts, f"cycle {n}")
                if any("after_deliver" in h and "not reached" not in h for h in hows):
                    counts.resends_at_faults += counts.resends - resends
                if len(counts.problems) > before:
                    say(f"cycle {n} ({'; '.join(hows)}):")
                    for p in counts.problems[before:]:
                        say(f"   {p}")
                elif not quiet and n % 10 == 0:
                    say(f"cycle {n}: ok ({time.monotonic() - started:.0f} s)")
            extra = site.incidents() - (cycles + 1)
            if extra:
                counts.duplicates += extra
                counts.problems.append(f"{extra} more incidents than cycles")
            for row in site.failed():
                counts.problems.append(f"outbox row failed: {row}")
            counts.seconds = time.monotonic() - started
            counts.kills, counts.at_faults = chaos.kills, sum(chaos.faults_hit.values())
            counts.outages = chaos.outages
            recorded = site.recorded()
        finally:
            site.stop()
            tap.close()
    say("")
    say(f"chaos: {cycles} cycles, seed {seed}, {counts.seconds:.0f} s, {chaos.kills} kill -9"
        f" ({sum(chaos.faults_hit.values())} at fault points, {sum(chaos.faults_missed.values())} armed but"
        " not reached, the rest after a random delay)")  # fmt: skip
    say(
        f"  incidents {counts.incidents}, RT tickets opened {counts.rt_tickets}, notifications sent"
        f" {counts.mails} mails + {counts.bus} MQTT, announcements {counts.announcements}"
    )
    say(
        f"  duplicates {counts.duplicates}, losses {counts.losses}; re-sends of one message {counts.resends}"
        f" ({counts.resends_at_faults} in cycles killed at an outbox.after_deliver point); broker outages"
        f" {chaos.outages}"
    )
    last: dict[int, float] = {}  # outbox row -> the copy it recorded as delivered (the last one before)
    for m in mailbox.snapshot():
        row = op_of(m.msgid)
        if row in recorded and m.at <= recorded[row]:
            last[row] = max(last.get(row, 0.0), m.at)
    window = sorted((recorded[row] - at) * 1000 for row, at in last.items())
    if window:
        say(
            f"  at-least-once window (SMTP 250 -> outbox row recorded done), {len(window)} mails:"
            f" p50 {window[len(window) // 2]:.1f} ms, p99 {window[int(len(window) * 0.99)]:.1f} ms,"
            f" max {window[-1]:.1f} ms"
        )
    if chaos.faults_hit:
        say("  fault points hit: " + ", ".join(f"{k} {v}" for k, v in sorted(chaos.faults_hit.items())))
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--cycles", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-delay", type=float, default=1.5, help="random kill delay after a change, 0..S s")
    p.add_argument("--outage", type=float, default=0.15, help="share of phases with the broker down (0.15)")
    p.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temp dir, removed)")
    args = p.parse_args(argv)
    if args.keep:
        work = Path(args.keep)
        work.mkdir(parents=True, exist_ok=True)
        counts = run(args.cycles, args.seed, args.max_delay, work, args.outage)
    else:
        with tempfile.TemporaryDirectory(prefix="watchd-chaos-") as tmp:
            counts = run(args.cycles, args.seed, args.max_delay, Path(tmp), args.outage)
    return 1 if counts.duplicates or counts.losses else 0


if __name__ == "__main__":
    sys.exit(main())
