"""Icinga 2 configuration tokens -> a syntax tree (icinga2_ast). Pure.

A precedence-climbing parser after lib/config/config_parser.yy of Icinga 2, over icinga2_lex's tokens:
`{{ }}` lambdas and `function () {}`, arrays, dictionaries (a block of assignments), `object`, `template`,
`apply` (with `for` and `to`), `const`, `include`, `include_recursive`, `import`, `assign where`,
`ignore where`, `var`, `if`/`else`, `for`, `return`. Newlines end nothing: as in Icinga, statements run
until the next token cannot continue them. Errors raise `ParseError` with the line.
"""

from __future__ import annotations

from typing import Any

from watchd.migrate.icinga2_ast import (
    ApplyDef,
    ArrayLit,
    Assign,
    Binary,
    Call,
    Const,
    DictLit,
    For,
    If,
    Import,
    Include,
    Index,
    Lambda,
    Lit,
    Member,
    Name,
    Node,
    ObjectDef,
    Other,
    Program,
    Return,
    Ternary,
    Unary,
    VarDecl,
    Where,
)  # fmt: skip
from watchd.migrate.icinga2_lex import ParseError, Tok, tokenize

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
