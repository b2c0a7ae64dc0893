"""Command-line plumbing shared by the bundled Nagios plugins in `checks/`.

Nagios plugins must exit 3 (UNKNOWN) on bad arguments, with the usage on stdout, and must never die with a
traceback and exit 1 (which Nagios would read as WARNING). argparse exits 2 and writes to stderr, so the
parser here overrides that, and `guard` turns any unexpected exception into a one-line UNKNOWN result.

    def main(argv: list[str] | None = None) -> NoReturn:
        parser = PluginArgumentParser("BACKUP_AGE", prog="check_backup_age", description=__doc__)
        parser.add_argument("-w", "--warning", type=range_arg)
        args = parser.parse_args(argv)
        arm_timeout(args.timeout, "BACKUP_AGE")
        ...

    if __name__ == "__main__":
        guard(main, "BACKUP_AGE")
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, NoReturn

from watchd.core.model import State
from watchd.nagios.range import Range
from watchd.plugin.lib.units import parse_size

DEFAULT_TIMEOUT = 30
MAX_TIMEOUT = 366 * 86400  # alarm() takes an unsigned int; a year is beyond any sensible plugin run


class PluginTimeout(Exception):
    """Raised by the SIGALRM handler of `arm_timeout`."""


class PluginArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that reports errors the Nagios way: status line and usage on stdout, exit 3.

    It also adds the standard `-t/--timeout` option (seconds, 0 disables it).
    """

    def __init__(self, name: str, *, timeout: int = DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)
        self.plugin_name = name
        self.add_argument(
            "-t",
            "--timeout",
            type=timeout_arg,
            default=timeout,
            metavar="SECONDS",
            help=f"give up with UNKNOWN after this many seconds (default {timeout}, 0 = never)",
        )

    def error(self, message: str) -> NoReturn:
        line = f"{self.plugin_name} UNKNOWN - {message}".replace("\n", " ")
        sys.stdout.write(line + "\n" + self.format_usage())
        sys.stdout.flush()
        raise SystemExit(int(State.UNKNOWN))

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        # argparse calls this after --help (status 0) and on errors; keep everything on stdout.
        if message:
            sys.stdout.write(message)
            sys.stdout.flush()
        raise SystemExit(0 if status == 0 else int(State.UNKNOWN))


def timeout_arg(text: str) -> int:
    """argparse `type=` for -t: whole seconds from 0 (never) to a year."""
    try:
        seconds = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole seconds, not {text[:40]!r}") from None
    if not 0 <= seconds <= MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(f"expected 0 to {MAX_TIMEOUT} seconds, not {text[:40]}")
    return seconds


def range_arg(text: str) -> Range:
    """argparse `type=` for a Nagios threshold range, with the parser's own reason on error."""
    try:
        return Range.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def size_arg(text: str) -> int:
    """argparse `type=` for a size such as 1M (powers of 1024)."""
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def scale_range(r: Range | None, factor: float) -> Range | None:
    """The same range in other units (hours -> seconds), for perfdata in base units."""
    if r is None:
        return None
    start, end = r.start * factor, r.end * factor
    # Render it ourselves: Range's `:g` would print 172800 as 172800 but 3.6e+09 with an exponent,
    # which some perfdata consumers reject.
    low = "~" if start == -math.inf else _plain(start)
    high = "" if end == math.inf else _plain(end)
    text = ("@" if r.inside else "") + (high if start == 0 and high else f"{low}:{high}")
    return Range(start, end, r.inside, text)


def _plain(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:.6f}".rstrip("0").rstrip(".")


def arm_timeout(seconds: int, name: str) -> None:
    """Exit UNKNOWN after `seconds` (0 disables), as Nagios plugins do when a check hangs."""
    if seconds <= 0:
        return

    def expired(signum: int, frame: FrameType | None) -> None:
        raise PluginTimeout(f"timed out after {seconds} s")

    signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)


def unknown_line(name: str, exc: BaseException) -> str:
    reason = str(exc) if isinstance(exc, PluginTimeout) else f"{type(exc).__name__}: {exc}"
    return f"{name} UNKNOWN - {' '.join(reason.split())}"


def guard(main: Callable[[], object], name: str) -> NoReturn:
    """Run `main`; an unexpected exception becomes one UNKNOWN line and exit 3, never a traceback."""
    try:
        main()
    except SystemExit:
        raise
    except BaseException as exc:  # KeyboardInterrupt too: a plugin never exits 1 with a traceback
        print(unknown_line(name, exc), flush=True)
        raise SystemExit(int(State.UNKNOWN)) from None
    raise SystemExit(int(State.OK))
