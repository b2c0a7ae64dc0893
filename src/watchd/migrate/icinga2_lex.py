"""Icinga 2 configuration text -> tokens, after lib/config/config_lexer.ll of Icinga 2. Pure.

Comments (`//`, `#`, `/* */`), strings with escapes and `{{{raw}}}`, durations (`30s`, `5m`) as seconds,
`{{ }}` lambda brackets, `<...>` after `include`; every token keeps its line. Errors raise `ParseError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class ParseError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class Tok:
    kind: str  # str num id op angle lambda_open lambda_close eof
    value: Any
    line: int


_DURATION = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_NUMBER = re.compile(r"\d+(?:\.\d+)?(ms|s|m|h|d)?(?![A-Za-z0-9_])")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = sorted(
    "=> == != <= >= && || += -= *= /= |= &= ^= << >> !in = + - * / % ! < > ( ) [ ] { } , ; . ~ & | ^ ? :".split(),  # noqa: SIM905, E501
    key=len,
    reverse=True,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "b": "\b", "f": "\f", "$": "\\$"}


def tokenize(text: str) -> list[Tok]:
    out: list[Tok] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in " \t\r":
            i += 1
        elif c == "#" or text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ParseError("unterminated /* comment", line)
            line += text.count("\n", i, end)
            i = end + 2
        elif text.startswith("{{{", i):
            end = text.find("}}}", i + 3)
            if end < 0:
                raise ParseError("unterminated {{{ string", line)
            out.append(Tok("str", text[i + 3 : end], line))
            line += text.count("\n", i, end)
            i = end + 3
        elif text.startswith("{{", i):
            out.append(Tok("lambda_open", "{{", line))
            i += 2
        elif text.startswith("}}", i):
            out.append(Tok("lambda_close", "}}", line))
            i += 2
        elif c == '"':
            i, line = _string(text, i + 1, line, out)
        elif c == "<" and out and out[-1].kind == "id" and out[-1].value in ("include", "include_recursive"):
            end = text.find(">", i)
            if end < 0:
                raise ParseError("unterminated <...> include", line)
            out.append(Tok("angle", text[i + 1 : end], line))
            i = end + 1
        elif c.isdigit():
            m = _NUMBER.match(text, i)
            if not m:
                raise ParseError(f"bad number at {text[i : i + 10]!r}", line)
            number = m.group(0)
            unit = m.group(1)
            value = float(number[: len(number) - len(unit)] if unit else number) * _DURATION.get(
                unit or "s", 1
            )
            out.append(Tok("num", value, line))
            i = m.end()
        elif m := _IDENT.match(text, i):
            out.append(Tok("id", m.group(0), line))
            i = m.end()
        else:
            for op in _OPS:
                if text.startswith(op, i):
                    out.append(Tok("op", op, line))
                    i += len(op)
                    break
            else:
                raise ParseError(f"unexpected character {c!r}", line)
    out.append(Tok("eof", None, line))
    return out


def _string(text: str, i: int, line: int, out: list[Tok]) -> tuple[int, int]:
    start, buf = line, list[str]()
    while i < len(text):
        c = text[i]
        if c == '"':
            out.append(Tok("str", "".join(buf), start))
            return i + 1, line
        if c == "\\" and i + 1 < len(text):
            buf.append(_ESCAPES.get(text[i + 1], "\\" + text[i + 1]))
            i += 2
            continue
        if c == "\n":
            line += 1
        buf.append(c)
        i += 1
    raise ParseError("unterminated string", start)
