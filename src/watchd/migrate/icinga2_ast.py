"""The syntax tree of the Icinga 2 configuration language: what icinga2_parse builds and icinga2_eval
runs. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
