"""A command line, as a shell would split it, into an argv for watchd — or the reason it needs a shell.

Nagios and NRPE hand a command line with metacharacters to /bin/sh; watchd never runs a shell. So a line is
split here exactly as POSIX sh would split it (quotes, backslashes), and anything that only a shell can do —
pipes, `;`, `&`, redirects, `$VAR`, `$(...)`, backquotes, globs, `~`, comments, `VAR=x cmd` — raises
`NeedsShell` with what it found. The importer reports such a command instead of wrapping it in `sh -c`.

watchd macros survive splitting as opaque placeholders (`ref("HOSTADDRESS")`): they stand for text that
the source would have substituted before the shell saw the line, so they can never be metacharacters.
"""

from __future__ import annotations

import re

_OPEN, _CLOSE = "\ue000", "\ue001"
_REF = re.compile(f"{_OPEN}([A-Z][A-Z0-9_]*){_CLOSE}")
_EXPANDS = re.compile(r"[A-Za-z_0-9{(@*#?!$-]")  # what makes a `$` a shell expansion
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_OPERATORS = {
    "|": "a pipe '|'",
    "&": "'&' (background or &&)",
    ";": "';' (a command list)",
    "<": "a redirect '<'",
    ">": "a redirect '>'",
    "(": "a subshell '('",
    ")": "a subshell ')'",
    "\n": "a newline (a command list)",
}


class NeedsShell(ValueError):
    """The command line uses a shell feature; the message says which."""


def ref(name: str) -> str:
    """A watchd macro reference that passes through splitting untouched (`$NAME$` in the argv)."""
    return f"{_OPEN}{name}{_CLOSE}"


def literal(text: str) -> str:
    """Text that must reach the plugin as is: `$` becomes `$$` for watchd's macro syntax."""
    return text.replace("$", "$$")


def word(text: str) -> str:
    """One argv item (no splitting) in watchd syntax: `$` doubled, refs as `$NAME$`."""
    return _REF.sub(r"$\1$", literal(text))


def shell_quote(text: str) -> str:
    """Quote a value as one shell word (as Icinga's EscapeShellArg does before /bin/sh sees it)."""
    return "'" + text.replace("'", "'\\''") + "'"


def split(line: str) -> tuple[str, ...]:
    """Split like POSIX sh and return argv items in watchd syntax (`$$` for `$`, `$NAME$` for refs)."""
    words = _words(line)
    if not words:
        raise NeedsShell("the command line is empty")
    return tuple(word(w) for w in words)


def _words(line: str) -> list[str]:
    words: list[str] = []
    cur: list[str] = []
    in_word = False
    first_raw = ""  # the first word's unquoted start, to spot `VAR=value cmd`
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c in " \t":
            if in_word:
                words.append("".join(cur))
                cur, in_word = [], False
            i += 1
            continue
        at_start, in_word = not in_word, True
        if at_start and not words:
            first_raw = line[i : i + 64]
        if c == "\\":
            if i + 1 >= n:
                raise NeedsShell("a trailing backslash")
            if line[i + 1] != "\n":  # backslash-newline joins lines
                cur.append(line[i + 1])
            i += 2
        elif c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise NeedsShell("an unbalanced single quote")
            cur.append(line[i + 1 : end])
            i = end + 1
        elif c == '"':
            i = _double_quoted(line, i + 1, cur)
        elif c in _OPERATORS:
            raise NeedsShell(_OPERATORS[c])
        elif c == "`":
            raise NeedsShell("command substitution `...`")
        elif c == "$" and i + 1 < n and _EXPANDS.match(line[i + 1]):
            raise NeedsShell(_expansion(line, i))
        elif c in "*?[":
            raise NeedsShell(f"a glob pattern {c!r} outside quotes")
        elif c == "~" and at_start:
            raise NeedsShell("'~' home directory expansion")
        elif c == "#" and at_start:
            raise NeedsShell("a shell comment '#'")
        else:
            cur.append(c)
            i += 1
    if in_word:
        words.append("".join(cur))
    if _ASSIGNMENT.match(first_raw):
        raise NeedsShell(f"an environment assignment {first_raw.split('=')[0]}=... before the command")
    return words


def _double_quoted(line: str, i: int, cur: list[str]) -> int:
    """Consume a double-quoted string from just after its opening quote; return the index after it."""
    n = len(line)
    while i < n:
        c = line[i]
        if c == '"':
            return i + 1
        if c == "\\" and i + 1 < n and line[i + 1] in '$`"\\\n':
            if line[i + 1] != "\n":
                cur.append(line[i + 1])
            i += 2
            continue
        if c == "$" and i + 1 < n and _EXPANDS.match(line[i + 1]):
            raise NeedsShell(_expansion(line, i))
        if c == "`":
            raise NeedsShell("command substitution `...`")
        cur.append(c)
        i += 1
    raise NeedsShell("an unbalanced double quote")


def _expansion(line: str, i: int) -> str:
    nxt = line[i + 1]
    if nxt == "(":
        return "command substitution $(...)"
    m = re.match(r"\$\{?([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?!$-])", line[i:])
    return f"a shell variable ${m.group(1) if m else nxt}"
