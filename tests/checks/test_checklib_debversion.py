"""Debian version ordering against dpkg's own answers."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from watchd.plugin.lib.debversion import DebVersion, compare, sort_key

# (a, expected sign of compare(a, b), b): results as `dpkg --compare-versions` gives them.
CASES = [
    ("1.0", 0, "1.0", "equal"),
    ("1.0", 0, "1.0-0", "absent revision equals revision 0"),
    ("1.0", 0, "0:1.0", "absent epoch is epoch 0"),
    ("1.0", -1, "1.1", "numeric component"),
    ("1.9", -1, "1.10", "numbers compare numerically, not as text"),
    ("1.01", 0, "1.1", "leading zeros do not count"),
    ("1:0.1", 1, "9.9", "epoch beats upstream"),
    ("2:1.0-1", 1, "1:9.9-1", "higher epoch wins"),
    ("1.0~rc1", -1, "1.0", "tilde sorts before the end"),
    ("1.0~~", -1, "1.0~", "double tilde before single tilde"),
    ("1.0~rc1", -1, "1.0~rc2", "tilde pre-releases order among themselves"),
    ("1.0~", -1, "1.0~a", "tilde then end before tilde then letter"),
    ("1.0", -1, "1.0a", "end before a letter"),
    ("1.0a", -1, "1.0+", "letters before other characters"),
    ("1.0+b1", 1, "1.0", "binNMU suffix is newer"),
    ("1.0-1", -1, "1.0-1+deb12u1", "stable update revision"),
    ("1.0-1+deb12u1", -1, "1.0-1+deb12u2", "security revision"),
    ("3.0.11-1~deb12u1", -1, "3.0.11-1~deb12u2", "backport style tilde revision"),
    ("3.0.11-1~deb12u2", -1, "3.0.11-1", "tilde revision before plain revision"),
    ("1.2.3-4", -1, "1.2.3-10", "revision numerically"),
    ("1.0-a", 1, "1.0-1", "letter revision after digit revision"),
    ("2.1.12-stable-8", -1, "2.1.12-stable-8+deb12u1", "dashes in upstream: revision after the last"),
    ("6.1.0-9-amd64", -1, "6.1.0-21-amd64", "kernel release strings"),
    ("1.0.0", 1, "1.0", "more components is newer"),
    ("a", -1, "b", "letters by ASCII"),
    ("Z", -1, "a", "upper case before lower case"),
    ("1:9.2p1-2+deb12u6", -1, "1:9.2p1-2+deb12u10", "openssh style"),
]


@pytest.mark.parametrize(("a", "sign", "b"), [c[:3] for c in CASES], ids=[c[3] for c in CASES])
def test_compare(a: str, sign: int, b: str) -> None:
    """compare() orders versions as dpkg does, and is antisymmetric."""
    assert compare(a, b) == sign
    assert compare(b, a) == -sign


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg not installed (not a Debian system)")
@pytest.mark.parametrize(("a", "sign", "b"), [c[:3] for c in CASES], ids=[c[3] for c in CASES])
def test_table_agrees_with_dpkg(a: str, sign: int, b: str) -> None:
    """The expected results above are dpkg's own, so the table cannot drift from the reference."""
    op = {-1: "lt", 0: "eq", 1: "gt"}[sign]
    assert subprocess.run(["dpkg", "--compare-versions", a, op, b], check=False).returncode == 0


def test_sort_key_orders_a_list() -> None:
    """sort_key sorts version strings into dpkg order."""
    versions = ["1.0", "1.0~rc1", "1:0.5", "1.0+b1", "1.0-1", "0.9"]
    assert sorted(versions, key=sort_key) == ["0.9", "1.0~rc1", "1.0", "1.0-1", "1.0+b1", "1:0.5"]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("1.0", DebVersion(0, "1.0", "")),
        ("2:1.0-3", DebVersion(2, "1.0", "3")),
        ("1.0-2-3", DebVersion(0, "1.0-2", "3")),
        (" 7.4 ", DebVersion(0, "7.4", "")),
    ],
    ids=["plain", "epoch and revision", "last dash splits the revision", "whitespace"],
)
def test_parse(text: str, parsed: DebVersion) -> None:
    """Versions split into epoch, upstream and revision at the first colon and the last dash."""
    assert DebVersion.parse(text) == parsed


@pytest.mark.parametrize(
    "text", ["", "x:1.0", ":1.0", "1:-1"], ids=["empty", "bad epoch", "empty epoch", "no upstream"]
)
def test_parse_rejects(text: str) -> None:
    """Malformed versions raise ValueError rather than compare arbitrarily."""
    with pytest.raises(ValueError, match="version"):
        DebVersion.parse(text)
