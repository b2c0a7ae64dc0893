"""The Icinga 2 language as the importer reads and evaluates it."""

from __future__ import annotations

import glob
from typing import Any

import pytest

from watchd.migrate.icinga2_eval import EvalError, Interp, Untranslatable
from watchd.migrate.icinga2_parse import ApplyDef, Assign, Lambda, ObjectDef, ParseError, parse, tokenize


def value(expr: str, **consts: Any) -> Any:
    """Evaluate `x = EXPR` in an object body and return x."""
    (obj,) = parse(f'object Host "h" {{ x = {expr} }}', "t.conf").statements
    assert isinstance(obj, ObjectDef)
    interp = Interp("node")
    interp.globals.update(consts)
    this: dict[str, Any] = {}
    interp.run_body(obj.body, this, {}, "t.conf", "Host")
    return this["x"]


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("5m 30s 1.5h 200ms 7", [300.0, 30.0, 5400.0, 0.2, 7.0]),
        ('"a\\"b\\n" {{{raw "x"}}}', ['a"b\n', 'raw "x"']),
        ("a // c\n# c\n/* c\n c */ b", ["a", "b"]),
    ],
    ids=["durations", "strings", "comments"],
)
def test_tokens(text: str, kinds: list[Any]) -> None:
    """Durations are seconds, strings unescaped, all three comment forms skipped."""
    assert [t.value for t in tokenize(text)[:-1]] == kinds


@pytest.mark.parametrize(
    ("expr", "result"),
    [
        ('"a" + 1', "a1"),
        ("[1, 2] + [3]", [1.0, 2.0, 3.0]),
        ("{ a = 1 } + { b = 2 }", {"a": 1.0, "b": 2.0}),
        ("2 + 3 * 4", 14.0),
        ('true && !false || "x" == "y"', True),
        ('"b" in ["a", "b"]', True),
        ('"c" !in ["a", "b"]', True),
        ('match("web*", "web01")', True),
        ('regex("^db[0-9]+$", "db12")', True),
        ("len([1, 2, 3])", 3.0),
        ('typeof({}) == "Dictionary"', True),
        ('" x ".trim().upper()', "X"),
        ("1 > 2 ? 5 : 6", 6.0),
        ("{{ 40 + 2 }}()", 42.0),
        ("function (a, b) { var c = a * b; return c + 1 }(2, 3)", 7.0),
        ("{ monday = \"09:00-17:00\", \"2026-12-24\" = \"\" }", {"monday": "09:00-17:00", "2026-12-24": ""}),
        ("PluginDir + \"/check_x\"", "/usr/lib/nagios/plugins/check_x"),
        ("Critical", "Critical"),
    ],
    ids=[
        "concat", "array-plus", "dict-merge", "precedence", "logic", "in", "not-in", "match", "regex", "len",
        "typeof", "string-methods", "ternary", "lambda-last-expression", "function-return", "string-keys",
        "constant", "enum-symbol",
    ],
)  # fmt: skip
def test_expressions(expr: str, result: Any) -> None:
    """Operators, built-ins and functions give Icinga's values."""
    assert value(expr, PluginDir="/usr/lib/nagios/plugins") == result


def test_assignments_into_nested_dictionaries() -> None:
    """`vars.a.b = x`, `vars["k"] = {...}` and `+=` build the dictionaries on the way."""
    (obj,) = parse(
        'object Host "h" {\n vars.a.b = 1\n vars["k"] = { x = "y" }\n vars.l = [1]\n vars.l += [2]\n vars += { z = 3 }\n}',  # noqa: E501
        "t.conf",
    ).statements
    assert isinstance(obj, ObjectDef)
    this: dict[str, Any] = {}
    Interp("n").run_body(obj.body, this, {}, "t.conf", "Host")
    assert this["vars"] == {"a": {"b": 1.0}, "k": {"x": "y"}, "l": [1.0, 2.0], "z": 3.0}


def test_apply_for_and_where_are_parsed() -> None:
    """`apply Service "p-" for (k => v in host.vars.x) to Host { assign where ... }`."""
    (rule,) = parse(
        'apply Service "p-" for (k => v in host.vars.x) to Host { x = v\n assign where true }', "t"
    ).statements
    assert isinstance(rule, ApplyDef)
    assert (rule.type, rule.for_key, rule.for_value, rule.target) == ("Service", "k", "v", "Host")
    assert isinstance(rule.body[0], Assign)


@pytest.mark.parametrize(
    ("text", "line"),
    [('object Host "h" {\n x = \n}', 3), ('object Host "h" {\n x = "open\n}', 2), ("object Host {{ }}", 1)],
    ids=["missing-value", "open-string", "bad-name"],
)
def test_parse_errors_carry_the_line(text: str, line: int) -> None:
    """A syntax error names its line."""
    with pytest.raises(ParseError) as exc:
        parse(text, "t.conf")
    assert exc.value.line == line


def test_runtime_lookups_are_untranslatable() -> None:
    """get_host() needs a running Icinga: evaluating it says so."""
    with pytest.raises(Untranslatable):
        value('get_host("x")')
    with pytest.raises(EvalError):
        value("undefined_name")


def test_lambdas_stay_functions_until_called() -> None:
    """A `{{ }}` value is kept as a function (the importer runs it when it resolves a command)."""
    (obj,) = parse('object Host "h" { x = {{ macro("$a$") }} }', "t").statements
    assert isinstance(obj, ObjectDef)
    assert isinstance(obj.body[0], Assign)
    assert isinstance(obj.body[0].value, Lambda)


@pytest.mark.skipif(not glob.glob("/usr/share/icinga2/include/*.conf"), reason="icinga2-common")
def test_the_whole_debian_itl_parses() -> None:
    """Every file of Debian's icinga2-common (configuration and ITL) parses."""
    files = glob.glob("/etc/icinga2/**/*.conf", recursive=True) + glob.glob(
        "/usr/share/icinga2/include/**/*.conf", recursive=True
    )
    assert len(files) > 40
    for f in files:
        with open(f, encoding="utf-8") as fh:
            parse(fh.read(), f)
