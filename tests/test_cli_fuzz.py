"""Property tests of every CLI argument parser (issue 12): argv generated from the argparse trees in
watchd.cli never ends in a traceback. Parsing alone answers with a namespace or argparse's exit
(0 for --help, 2 with a message); running the commands that read or write the store exits 0, 1 or 2
with a message (`status` exits with the worst state, 0 to 3, by design). `run` and `check` are only
parsed: one starts the daemon, the other executes whatever program it is named. Also the command
signer, `python -m watchd.bus.commands`."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fuzzing import NASTY_NUMBERS, NASTY_TEXT, bounded
from watchd import config
from watchd.cli.main import _parser, main
from watchd.core.model import CheckStatus, Incident, State
from watchd.store import Store
from watchd.store import incidents as incident_store

Parsers = Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Parsers:
    """Every (sub)command path and its parser, e.g. (("downtime", "add"), parser)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from commands(child, (*path, name))


PARSER = _parser()
COMMANDS = dict(commands(PARSER))
EXECUTED = sorted(p for p in COMMANDS if p[0] not in ("run", "check"))

VALUES = st.one_of(
    NASTY_TEXT,
    NASTY_NUMBERS.map(str),
    st.text(max_size=20),
    st.integers().map(str),
    st.floats().map(str),
    st.sampled_from(["web", "db", "web", "fleet.x", "P1", "open", "json", "2026-11", "9999-12", "0000-00"]),
)


FIXED = ("--config", "-c", "--output", "-o")  # the tests' config; never a generated file to write


@st.composite
def noise(draw: st.DrawFn, paths: list[tuple[str, ...]]) -> list[str]:
    """A command path, then options of its parser and generated values in any order (mostly refused)."""
    path = draw(st.sampled_from(paths))
    options = [s for a in COMMANDS[path]._actions for s in a.option_strings if s not in FIXED]
    return [*path, *draw(st.lists(st.one_of(st.sampled_from(options or ["--"]), VALUES), max_size=7))]


TIMES = st.datetimes(
    min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2110, 1, 1), timezones=st.just(dt.UTC)
).map(lambda t: t.isoformat())
SPANS = st.one_of(
    st.tuples(st.integers(0, 10**6), st.sampled_from(["", "s", "m", "h", "d", "w", "ms"])).map(
        lambda p: f"{p[0]}{p[1]}"
    ),
    st.floats(0, 1e8).map(str),
)
PLAUSIBLE = {
    "duration": SPANS, "until": TIMES, "end": TIMES, "start": st.one_of(st.just("now"), TIMES),
    "check": st.sampled_from(["web", "db", "fleet.x", "nope"]), "tag": st.sampled_from(["web", "db", "x"]),
    "month": st.tuples(st.integers(1990, 2110), st.integers(0, 13)).map(lambda p: f"{p[0]}-{p[1]:02d}"),
}  # fmt: skip


def value_for(action: argparse.Action) -> st.SearchStrategy[str]:
    """A value an option or positional could take (its choices, an integer for `type=int`, a time
    or span where one is due) four times in five, else a hostile one."""
    if action.choices:
        plausible = st.sampled_from(sorted(map(str, action.choices)))
    elif action.type is int:
        plausible = st.one_of(st.integers(-3, 3).map(str), NASTY_NUMBERS.map(str))
    else:
        plausible = PLAUSIBLE.get(action.dest, st.text(max_size=12))
    return st.integers(0, 4).flatmap(lambda i: plausible if i else VALUES)


@st.composite
def wellformed(draw: st.DrawFn, paths: list[tuple[str, ...]]) -> list[str]:
    """Argv argparse accepts in shape (positionals given, required options present, one option of
    each required exclusive group) with generated values: these reach the commands themselves."""
    path = draw(st.sampled_from(paths))
    parser = COMMANDS[path]
    groups = {id(a): g for g in parser._mutually_exclusive_groups for a in g._group_actions}
    chosen = {id(g): draw(st.sampled_from(g._group_actions)) for g in parser._mutually_exclusive_groups}
    out: list[str] = list(path)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        if not action.option_strings:
            if action.nargs in (argparse.REMAINDER, "*"):
                out += draw(st.lists(VALUES, max_size=2))
            else:
                out.append(draw(value_for(action)))
            continue
        if set(action.option_strings) & set(FIXED):
            continue
        group = groups.get(id(action))
        if group is not None and chosen[id(group)] is not action:
            continue
        if not (action.required or group is not None or draw(st.booleans())):
            continue
        out.append(action.option_strings[0])
        if action.nargs != 0:
            out.append(draw(value_for(action)))
    return out


def argv(paths: list[tuple[str, ...]]) -> st.SearchStrategy[list[str]]:
    return st.one_of(noise(paths), wellformed(paths), wellformed(paths))


def parse(args: list[str]) -> None:
    """Parse like `watchd ARGS`: a namespace, or argparse's exit 0 (help) or 2 with 'error:'."""
    code: int | str | None = None
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            PARSER.parse_args(args)
        except SystemExit as exc:
            code = exc.code
    assert code in (None, 0, 2), (code, err.getvalue())
    if code == 2:
        assert "error:" in err.getvalue()


@bounded(400)
@given(args=argv(sorted(COMMANDS)))
@example(args=["check", "--timeout", "nan", "x"])
@example(args=["silence", "web", "--for", "\udcff"])
def test_every_parser_parses_or_exits_with_a_message(args: list[str]) -> None:
    """Any argv is parsed or refused by argparse (exit 2 with 'error:'), never an exception."""
    parse(args)


@bounded(200)
@given(args=st.lists(st.one_of(VALUES, st.sampled_from(sorted({p[0] for p in COMMANDS}))), max_size=6))
def test_top_level_argv(args: list[str]) -> None:
    """Arbitrary words after `watchd` are parsed or refused the same way."""
    parse(args)


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config and a store with a status and an open incident, as a running daemon leaves them."""
    root = tmp_path_factory.mktemp("cli")
    path = root / "watchd.yaml"
    path.write_text(
        f"data_dir: {root / 'data'}\napi: {{enabled: false}}\n"
        "checks:\n  web: {command: [/bin/true], tags: [web]}\n  db: {command: [/bin/true], tags: [db]}\n"
    )
    store = Store(config.load(str(path)).db_path)
    now = time.time()
    store.save([CheckStatus("web", state=State.CRITICAL), CheckStatus("fleet.x")])
    with store.transaction() as db:
        inc = Incident("host", "web", "P2", "medium", "medium", State.CRITICAL, "down", now, now,
                       id=incident_store.next_id(db), respond_by=now + 600)  # fmt: skip
        incident_store.save(db, inc)
    store.close()
    return path


def run(args: list[str], cfg: Path) -> tuple[int | str | None, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: int | str | None = main([*args, "--config", str(cfg)])
        except SystemExit as exc:
            code = exc.code
    return code, err.getvalue()


@bounded(300)
@given(args=argv(EXECUTED))
@example(args=["silence", "web", "--for", "99999999999999999999d"])
@example(args=["downtime", "add", "--start", "now", "--end", "2099-12-31T23:59+00:00"])
@example(args=["incidents", "show", "99999999999999999999999"])
@example(args=["sla", "report", "--month", "9999-12"])
@example(args=["sla", "report", "--month", "0000-01"])
@example(args=["silence", "web", "--comment", "\udcff", "--for", "1h"])
def test_commands_exit_with_a_code_and_a_message(args: list[str], cfg: Path) -> None:
    """Every command that reads or writes the store ends with exit 0, 1 or 2 (status: 0 to 3), and
    says why on stderr when it is not 0."""
    code, err = run(args, cfg)
    allowed: tuple[Any, ...] = (0, 1, 2, 3) if args[0] == "status" else (0, 1, 2)
    if isinstance(code, str):  # SystemExit("watchd: ...") prints the text and exits 1
        assert code.strip()
        return
    assert code in allowed, (code, err)
    if code not in (0, None) and args[0] != "status":
        assert err.strip(), f"exit {code} without a message"


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "command-secret"
    path.write_text("0123456789abcdef-shared\n")
    return path


KEYS = st.sampled_from(["incident", "check", "for", "until", "comment", "by", "x"])
PAIR = st.tuples(KEYS, st.one_of(VALUES, st.integers().map(str))).map("=".join)


@bounded(200)
@given(
    host=VALUES,
    verb=st.one_of(st.sampled_from(["run", "ack", "silence"]), VALUES),
    pairs=st.lists(PAIR, max_size=4),
    secret_given=st.booleans(),
)
@example(host="web-1", verb="ack", pairs=["incident=²"], secret_given=True)
@example(host="web-1", verb="ack", pairs=["incident=" + "9" * 5000], secret_given=True)
def test_command_signer_cli(host: str, verb: str, pairs: list[str], secret_given: bool, secret: Path) -> None:
    """`python -m watchd.bus.commands` signs a command or refuses its arguments (exit 2, a message)."""
    from watchd.bus import commands

    path = str(secret) if secret_given else str(secret) + ".missing"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: int | str | None = commands.main(["--secret-file", path, "--", host, verb, *pairs])
        except SystemExit as exc:
            code = exc.code
    assert code in (0, 2), (code, err.getvalue())
    if code == 0:
        assert out.getvalue().startswith('{"body": ')
    else:
        assert "error:" in err.getvalue()
