"""Incremental log scanning: read only what was appended since the last run, across log rotation.

The position (device, inode, byte offset) is kept in a small JSON state file between runs. On each run:

    same inode, size >= offset   read from the offset
    inode changed                the old file was rotated: finish it (found by its inode among LOG.1,
                                 LOG-*, LOG.*), then read the new file from 0
    same inode, size < offset    truncated in place (copytruncate): finish the copy LOG.1 from the
                                 offset if it is at least that long, then read the file from 0

The offset only advances over complete lines, so a line being written is read whole on the next run.
Reads are bounded (`max_bytes`): after a flood the start is skipped, with a note.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

STATE_VERSION = 1
MAX_LINE_CHARS = 300
_COMPRESSED = (".gz", ".xz", ".bz2", ".zst", ".lz4", ".Z")


@dataclass(frozen=True, slots=True)
class Position:
    dev: int
    inode: int
    offset: int


@dataclass
class ScanResult:
    position: Position
    first_run: bool = False
    rotated: bool = False
    matches: int = 0
    lines: list[str] = field(default_factory=list)  # the first matching lines, trimmed
    bytes_read: int = 0
    notes: list[str] = field(default_factory=list)


Matcher = Callable[[str], bool]


def make_matcher(pattern: str, exclude: str | None = None, ignore_case: bool = False) -> Matcher:
    """A line predicate; re.error for a bad expression."""
    flags = re.IGNORECASE if ignore_case else 0
    want = re.compile(pattern, flags)
    skip = re.compile(exclude, flags) if exclude else None
    return lambda line: want.search(line) is not None and (skip is None or skip.search(line) is None)


class _Scan:
    def __init__(self, match: Matcher, max_lines: int, max_bytes: int, result: ScanResult) -> None:
        self.match = match
        self.max_lines = max_lines
        self.budget = max_bytes
        self.result = result

    def read(self, fh: BinaryIO, start: int, end: int, name: str, complete_only: bool) -> int:
        """Match lines in [start, end); return the offset after the last line consumed."""
        if end - start > self.budget:
            skip_to = end - self.budget
            self.result.notes.append(f"skipped {skip_to - start} bytes of {name} (read limit)")
            fh.seek(skip_to)
            partial = fh.readline(end - skip_to)  # resynchronise on a line boundary
            start = skip_to + len(partial)
        fh.seek(start)
        offset = start
        while offset < end:
            raw = fh.readline(end - offset)
            if not raw:
                break
            if complete_only and not raw.endswith(b"\n"):
                break  # still being written: read it whole next time
            offset += len(raw)
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if self.match(line):
                self.result.matches += 1
                if len(self.result.lines) < self.max_lines:
                    self.result.lines.append(line[:MAX_LINE_CHARS])
        self.budget = max(0, self.budget - (offset - start))
        self.result.bytes_read += offset - start
        return offset


def scan(
    path: str,
    previous: Position | None,
    match: Matcher,
    *,
    from_start: bool = False,
    max_lines: int = 10,
    max_bytes: int = 128 * 1024 * 1024,
) -> ScanResult:
    """Scan what `path` gained since `previous`; FileNotFoundError when the log does not exist."""
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())  # of the file we read, even if it is rotated meanwhile
        result = ScanResult(Position(st.st_dev, st.st_ino, 0))
        work = _Scan(match, max_lines, max_bytes, result)
        same_file = previous is not None and (previous.dev, previous.inode) == (st.st_dev, st.st_ino)
        if previous is None:
            result.first_run = True
            start = 0 if from_start else _last_line_end(fh, st.st_size)
            if not from_start:
                result.position = Position(st.st_dev, st.st_ino, start)
                return result
        elif same_file and st.st_size >= previous.offset:
            start = previous.offset
        else:
            result.rotated = True
            _finish_rotated(path, previous, same_file, work)
            start = 0
        end = work.read(fh, start, st.st_size, path, complete_only=True)
        result.position = Position(st.st_dev, st.st_ino, end)
        return result


def _last_line_end(fh: BinaryIO, size: int) -> int:
    """Offset just after the last newline (the end of the last complete line), 0 if none near the end."""
    block = min(size, 65536)
    fh.seek(size - block)
    tail = fh.read(block)
    nl = tail.rfind(b"\n")
    return size - block + nl + 1 if nl >= 0 else (0 if block == size else size)


def _finish_rotated(path: str, previous: Position, same_file: bool, work: _Scan) -> None:
    old = _find_rotated(path, previous, same_file)
    if old is None:
        work.result.notes.append(
            f"{path} was rotated or truncated and the old file was not found: lines written after the"
            " last run and before the rotation were not checked"
        )
        return
    with open(old, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if previous.offset > size:
            work.result.notes.append(f"{old} is shorter than the saved offset: not read")
            return
        work.read(fh, previous.offset, size, old, complete_only=False)  # finished file: last line too
    work.result.notes.append(f"rotated: read {old} from byte {previous.offset}")


def _find_rotated(path: str, previous: Position, same_file: bool) -> str | None:
    pattern = glob.escape(path) + "[.-]*"  # LOG.2, LOG-20240301 (dateext); compressed ones are skipped
    others = [p for p in glob.glob(pattern) if p != path + ".1" and not p.endswith(_COMPRESSED)]
    others.sort(key=_mtime, reverse=True)
    for candidate in [path + ".1", *others]:
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if not same_file and (st.st_dev, st.st_ino) == (previous.dev, previous.inode):
            return candidate  # renamed away by logrotate (create mode)
        if same_file and st.st_size >= previous.offset:
            return candidate  # copied away, then truncated in place (copytruncate): the newest copy
    return None


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def default_state_file(log: str, key: str, environ: Mapping[str, str] = os.environ) -> Path:
    """Per log and pattern: under $STATE_DIRECTORY (set by systemd) or the XDG state dir.

    `key` (the pattern and exclusions) is hashed in, so two checks on one log keep separate offsets.
    """
    if environ.get("STATE_DIRECTORY"):
        base = Path(environ["STATE_DIRECTORY"].split(":")[0])
    else:
        xdg = environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
        base = Path(xdg) / "watchd"
    digest = hashlib.sha256(f"{os.path.abspath(log)}\0{key}".encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.basename(log)) or "log"
    return base / "check_log_pattern" / f"{name}-{digest}.json"


def load_position(state_file: Path, log: str) -> Position | None:
    """The saved position, or None (no state yet, or a state for another log or format).

    A corrupt state file is treated as absent: the scan restarts at the end of the log.
    """
    try:
        data = json.loads(state_file.read_text(encoding="utf-8"))
        if data.get("version") != STATE_VERSION or data.get("log") != os.path.abspath(log):
            return None
        return Position(int(data["dev"]), int(data["inode"]), int(data["offset"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_position(state_file: Path, log: str, position: Position) -> None:
    """Write atomically (temp file + rename), so a crash never leaves half a state file."""
    state_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = {
        "version": STATE_VERSION,
        "log": os.path.abspath(log),
        "dev": position.dev,
        "inode": position.inode,
        "offset": position.offset,
    }
    fd, tmp = tempfile.mkstemp(dir=state_file.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, state_file)
    except BaseException:
        os.unlink(tmp)
        raise
