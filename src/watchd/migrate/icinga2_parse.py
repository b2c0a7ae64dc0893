"""The Icinga 2 configuration language (the part configurations and the ITL use) -> a syntax tree. Pure.

Lexer and a precedence-climbing parser after lib/config/config_lexer.ll and config_parser.yy of Icinga 2:
comments (`//`, `#`, `/* */`), strings with escapes and `{{{raw}}}`, durations (`30s`, `5m`), `{{ }}`
lambdas and `function () {}`, arrays, dictionaries (a block of assignments), `object`, `template`, `apply`
(with `for` and `to`), `const`, `include`, `include_recursive`, `import`, `assign where`, `ignore where`,
`var`, `if`/`else`, `for`, `return`. Newlines end nothing: as in Icinga, statements run until the next
token cannot continue them. Errors raise `ParseError` with the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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


# -- syntax tree ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class Node:
    line: int


@dataclass(slots=True)
class Lit(Node):
    value: Any


@dataclass(slots=True)
class Name(Node):
    id: str


@dataclass(slots=True)
class Member(Node):
    obj: Node
    name: str


@dataclass(slots=True)
class Index(Node):
    obj: Node
    key: Node


@dataclass(slots=True)
class Call(Node):
    fn: Node
    args: list[Node]


@dataclass(slots=True)
class Unary(Node):
    op: str
    x: Node


@dataclass(slots=True)
class Binary(Node):
    op: str
    a: Node
    b: Node


@dataclass(slots=True)
class Ternary(Node):
    cond: Node
    a: Node
    b: Node


@dataclass(slots=True)
class ArrayLit(Node):
    items: list[Node]


@dataclass(slots=True)
class DictLit(Node):
    body: list[Node]


@dataclass(slots=True)
class Lambda(Node):
    params: list[str]
    body: list[Node]


@dataclass(slots=True)
class Assign(Node):
    target: Node
    op: str
    value: Node


@dataclass(slots=True)
class VarDecl(Node):
    name: str
    value: Node | None


@dataclass(slots=True)
class If(Node):
    cond: Node
    then: list[Node]
    other: list[Node]


@dataclass(slots=True)
class Return(Node):
    value: Node | None


@dataclass(slots=True)
class For(Node):
    key: str
    value: str | None
    iterable: Node
    body: list[Node]


@dataclass(slots=True)
class Import(Node):
    name: Node


@dataclass(slots=True)
class Where(Node):
    assign: bool  # assign where / ignore where
    cond: Node


@dataclass(slots=True)
class ObjectDef(Node):
    template: bool
    type: str
    name: Node
    body: list[Node]


@dataclass(slots=True)
class ApplyDef(Node):
    type: str
    name: Node | None
    target: str | None
    for_key: str | None
    for_value: str | None
    for_iter: Node | None
    body: list[Node]


@dataclass(slots=True)
class Const(Node):
    name: str
    value: Node


@dataclass(slots=True)
class Include(Node):
    kind: str  # include include_recursive include_zones
    path: str
    angle: bool
    pattern: str | None = None


@dataclass(slots=True)
class Other(Node):
    """A top-level statement the importer does not evaluate (reported)."""

    what: str
    node: Node | None = None


@dataclass(slots=True)
class Program:
    file: str
    statements: list[Node] = field(default_factory=list)


# -- parser ---------------------------------------------------------------------------------------------

_BINARY = [
    {"||"},
    {"&&"},
    {"|"},
    {"^"},
    {"&"},
    {"==", "!="},
    {"in", "!in"},
    {"<", ">", "<=", ">="},
    {"<<", ">>"},
    {"+", "-"},
    {"*", "/", "%"},
]
_ASSIGN_OPS = {"=", "+=", "-=", "*=", "/=", "|=", "&=", "^="}


class _Parser:
    def __init__(self, toks: list[Tok]) -> None:
        self.toks, self.i = toks, 0

    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def at(self, kind: str, value: Any = None) -> bool:
        t = self.tok
        return t.kind == kind and (value is None or t.value == value)

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in ops

    def take(self) -> Tok:
        t = self.tok
        self.i += 1
        return t

    def expect(self, kind: str, value: Any = None) -> Tok:
        if not self.at(kind, value):
            want = value if value is not None else kind
            raise ParseError(f"expected {want!r}, found {self.tok.value!r}", self.tok.line)
        return self.take()

    def skip_separators(self) -> None:
        while self.at_op(";", ","):
            self.take()

    # top level
    def program(self, file: str) -> Program:
        out = Program(file)
        while not self.at("eof"):
            self.skip_separators()
            if self.at("eof"):
                break
            out.statements.append(self.top())
        return out

    def top(self) -> Node:
        t = self.tok
        if t.kind == "id" and t.value in ("object", "template"):
            self.take()
            kind = self.expect("id").value
            name = self.expr()
            if self.at("id", "ignore_on_error"):
                self.take()
            return ObjectDef(t.line, t.value == "template", kind, name, self.block())
        if t.kind == "id" and t.value == "apply":
            return self.apply()
        if t.kind == "id" and t.value == "const":
            self.take()
            name = self.expect("id").value
            self.expect("op", "=")
            return Const(t.line, name, self.expr())
        if t.kind == "id" and t.value in ("include", "include_recursive", "include_zones"):
            self.take()
            if self.at("angle"):
                return Include(t.line, t.value, self.take().value, True)
            first = self.expr()
            pattern = None
            if self.at_op(","):
                self.take()
                pattern_node = self.expr()
                pattern = pattern_node.value if isinstance(pattern_node, Lit) else None
            path = first.value if isinstance(first, Lit) else ""
            return Include(t.line, t.value, str(path), False, pattern)
        stmt = self.statement()
        return Other(t.line, "a top-level statement", stmt)

    def apply(self) -> ApplyDef:
        line = self.take().line
        kind = self.expect("id").value
        name = None
        if not self.at("id", "for") and not self.at("id", "to") and not self.at_op("{"):
            name = self.expr()
        key = value = None
        iterable = None
        if self.at("id", "for"):
            self.take()
            self.expect("op", "(")
            key = self.expect("id").value
            if self.at_op("=>"):
                self.take()
                value = self.expect("id").value
            self.expect("id", "in")
            iterable = self.expr()
            self.expect("op", ")")
        target = None
        if self.at("id", "to"):
            self.take()
            target = self.expect("id").value
        return ApplyDef(line, kind, name, target, key, value, iterable, self.block())

    def block(self) -> list[Node]:
        self.expect("op", "{")
        out = self.statements("}")
        self.expect("op", "}")
        return out

    def statements(self, end: str) -> list[Node]:
        out: list[Node] = []
        while True:
            self.skip_separators()
            if (
                (end == "}}" and self.at("lambda_close"))
                or (end != "}}" and self.at_op(end))
                or self.at("eof")
            ):
                return out
            out.append(self.statement())

    def statement(self) -> Node:
        t = self.tok
        if t.kind == "id":
            if t.value == "import":
                self.take()
                return Import(t.line, self.expr())
            if t.value in ("assign", "ignore") and self.toks[self.i + 1].value == "where":
                self.take()
                self.take()
                return Where(t.line, t.value == "assign", self.expr())
            if t.value == "var":
                self.take()
                name = self.expect("id").value
                value = None
                if self.at_op("="):
                    self.take()
                    value = self.expr()
                return VarDecl(t.line, name, value)
            if t.value == "if":
                self.take()
                self.expect("op", "(")
                cond = self.expr()
                self.expect("op", ")")
                then = self.block() if self.at_op("{") else [self.statement()]
                other: list[Node] = []
                if self.at("id", "else"):
                    self.take()
                    other = self.block() if self.at_op("{") else [self.statement()]
                return If(t.line, cond, then, other)
            if t.value == "return":
                self.take()
                if self.at_op(";", "}") or self.at("lambda_close"):
                    return Return(t.line, None)
                return Return(t.line, self.expr())
            if t.value == "for":
                self.take()
                self.expect("op", "(")
                key = self.expect("id").value
                value = None
                if self.at_op("=>"):
                    self.take()
                    value = self.expect("id").value
                self.expect("id", "in")
                iterable = self.expr()
                self.expect("op", ")")
                return For(t.line, key, value, iterable, self.block())
            if t.value in ("object", "template", "apply"):
                return Other(t.line, f"{t.value} inside a block", self.top())
        target = self.expr()
        if self.at_op(*_ASSIGN_OPS):
            op = self.take().value
            return Assign(t.line, target, op, self.expr())
        return target

    # expressions
    def expr(self) -> Node:
        cond = self.binary(0)
        if not self.at_op("?"):
            return cond
        line = self.take().line
        a = self.expr()
        self.expect("op", ":")
        return Ternary(line, cond, a, self.expr())

    def binary(self, level: int) -> Node:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            t = self.tok
            is_op = (t.kind == "op" and t.value in _BINARY[level]) or (
                t.kind == "id" and t.value == "in" and "in" in _BINARY[level]
            )
            if not is_op:
                return left
            self.take()
            left = Binary(t.line, t.value, left, self.binary(level + 1))

    def unary(self) -> Node:
        if self.at_op("!", "-", "~", "+"):
            t = self.take()
            return Unary(t.line, t.value, self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            if self.at_op("."):
                line = self.take().line
                node = Member(line, node, self.expect("id").value)
            elif self.at_op("["):
                line = self.take().line
                key = self.expr()
                self.expect("op", "]")
                node = Index(line, node, key)
            elif self.at_op("("):
                line = self.take().line
                args = []
                while not self.at_op(")"):
                    args.append(self.expr())
                    if not self.at_op(")"):
                        self.expect("op", ",")
                self.take()
                node = Call(line, node, args)
            else:
                return node

    def primary(self) -> Node:
        t = self.take()
        if t.kind in ("str", "num"):
            return Lit(t.line, t.value)
        if t.kind == "id":
            if t.value in ("true", "false"):
                return Lit(t.line, t.value == "true")
            if t.value == "null":
                return Lit(t.line, None)
            if t.value == "function":
                return self.function(t.line)
            return Name(t.line, t.value)
        if t.kind == "lambda_open":
            body = self.statements("}}")
            self.expect("lambda_close")
            return Lambda(t.line, [], body)
        if t.kind == "op" and t.value == "(":
            inner = self.expr()
            self.expect("op", ")")
            return inner
        if t.kind == "op" and t.value == "[":
            items = []
            self.skip_separators()
            while not self.at_op("]"):
                items.append(self.expr())
                self.skip_separators()
            self.take()
            return ArrayLit(t.line, items)
        if t.kind == "op" and t.value == "{":
            body = self.statements("}")
            self.expect("op", "}")
            return DictLit(t.line, body)
        raise ParseError(f"unexpected {t.value!r}", t.line)

    def function(self, line: int) -> Lambda:
        self.expect("op", "(")
        params = []
        while not self.at_op(")"):
            params.append(self.expect("id").value)
            if not self.at_op(")"):
                self.expect("op", ",")
        self.take()
        if self.at("id", "use"):
            self.take()
            self.expect("op", "(")
            while not self.at_op(")"):
                self.take()
            self.take()
        return Lambda(line, params, self.block())


def parse(text: str, file: str) -> Program:
    return _Parser(tokenize(text)).program(file)
