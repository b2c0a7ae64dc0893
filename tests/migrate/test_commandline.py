"""Command lines split as /bin/sh splits them, and every shell feature refused rather than wrapped."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchd.migrate.commandline import NeedsShell, ref, shell_quote, split


@pytest.mark.parametrize(
    ("line", "argv"),
    [
        ("check_ping -H 10.0.0.1 -w 100,20%", ("check_ping", "-H", "10.0.0.1", "-w", "100,20%")),
        ("check_http -u '/a b'", ("check_http", "-u", "/a b")),
        ('check_procs -a "nginx: worker"', ("check_procs", "-a", "nginx: worker")),
        ('x "a \\"q\\" \\$ b"', ("x", 'a "q" $$ b')),
        ("x a\\ b", ("x", "a b")),
        ("x ''", ("x", "")),
        ("x '$HOME' 'a;b|c'", ("x", "$$HOME", "a;b|c")),
        ("x $ 5$", ("x", "$$", "5$$")),
        (f"check_ssh {ref('HOSTADDRESS')}", ("check_ssh", "$HOSTADDRESS$")),
        (f"x --h={ref('WEB1_ADDRESS')}:80", ("x", "--h=$WEB1_ADDRESS$:80")),
        ("x a=b", ("x", "a=b")),
        ("x 'a#b' c#d", ("x", "a#b", "c#d")),
    ],
    ids=[
        "plain", "single-quotes", "double-quotes", "escapes-in-double", "backslash-space", "empty-word",
        "quoted-metacharacters", "lone-dollars", "macro-ref", "macro-ref-inside-word", "assignment-later",
        "hash-inside-word",
    ],
)  # fmt: skip
def test_split(line: str, argv: tuple[str, ...]) -> None:
    """Quotes and backslashes work as in sh; a literal `$` becomes `$$` and refs become watchd macros."""
    assert split(line) == argv


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("printf x | mail root", "a pipe"),
        ("check_a; check_b", "';'"),
        ("check_a && check_b", "'&'"),
        ("check_a > /tmp/out", "redirect '>'"),
        ("check_a < /tmp/in", "redirect '<'"),
        ("check_a $(hostname)", "command substitution $("),
        ('check_a "$(hostname)"', "command substitution $("),
        ("check_a `hostname`", "command substitution `"),
        ("check_a $HOME", "shell variable $HOME"),
        ('check_a "${HOME}"', "shell variable $HOME"),
        ("check_a $1", "shell variable $1"),
        ("check_a /var/log/*.log", "glob"),
        ("check_a ~/x", "'~'"),
        ("check_a # note", "comment"),
        ("LANG=C check_a", "environment assignment LANG="),
        ("check_a (x)", "subshell"),
        ("check_a 'open", "unbalanced single quote"),
        ('check_a "open', "unbalanced double quote"),
        ("check_a \\", "trailing backslash"),
        ("   ", "empty"),
    ],
    ids=[
        "pipe", "semicolon", "and", "redirect-out", "redirect-in", "dollar-paren", "dollar-paren-in-quotes",
        "backquotes", "variable", "braced-variable-in-quotes", "positional", "glob", "tilde", "comment",
        "env-assignment", "subshell", "open-single", "open-double", "trailing-backslash", "empty",
    ],
)  # fmt: skip
def test_needs_shell(line: str, reason: str) -> None:
    """Each shell feature is refused with a message naming it."""
    with pytest.raises(NeedsShell, match=None) as exc:
        split(line)
    assert reason in str(exc.value)


_WORD = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Co", "Cc")), max_size=12)


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_WORD, min_size=1, max_size=6))
def test_quoted_words_round_trip(words: list[str]) -> None:
    """Any argv quoted for the shell (shlex.join, or Icinga's quoting) splits back to the same words."""
    expected = tuple(w.replace("$", "$$") for w in words)
    assert split(shlex.join(words)) == expected
    assert split(" ".join(shell_quote(w) for w in words)) == expected
