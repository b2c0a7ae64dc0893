"""The import contract of src/watchd: packages depend on each other only as the table below allows
(so the graph has no circles), and the pure middle (core, nagios) does no I/O."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PKG = SRC / "watchd"

# What each package may import (besides itself), lowest layer first. Each package's docstring says
# the same; a new edge is a design decision, made here.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "nagios": {"core"},
    "configkit": {"core"},
    "store": {"core"},
    "runtime": {"core"},
    "plugin": {"core", "nagios"},
    "sources": {"core", "nagios", "plugin", "configkit", "runtime"},
    "delivery": {"core", "nagios", "store", "runtime"},
    "pipeline": {"core", "store", "delivery", "runtime"},
    "bus": {"core", "configkit", "pipeline"},
    "config": {"core", "configkit", "sources", "delivery", "bus"},
    "reports": {"core", "config"},
    "control": {"core", "config", "store", "delivery"},
    "api": {"core", "config", "configkit", "control", "delivery", "reports", "store"},
    "daemon": {"core", "config", "store", "delivery", "pipeline", "control", "runtime", "bus", "api"},
    "migrate": {"core", "nagios", "configkit", "config"},
    "console": {"core", "nagios", "configkit", "bus", "reports"},
    "cli": {"core", "config", "configkit", "control", "daemon", "delivery", "reports", "runtime", "sources"}
    | {"store", "migrate", "console"},
}
TOP_LEVEL = {"__init__", "__main__"}

# The pure packages: functions of (input, now). These modules mean I/O, a clock or a loop.
PURE = ("core", "nagios")
IO_MODULES = {
    "asyncio", "sqlite3", "aiohttp", "aiomqtt", "subprocess", "socket", "ssl", "select", "selectors",
    "threading", "time", "os", "shutil", "tempfile", "http", "urllib", "psutil", "structlog", "apscheduler",
}  # fmt: skip


def modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(SRC).with_suffix("")
        name = ".".join(rel.parts)
        out[name.removesuffix(".__init__")] = path
    return out


def imports(path: Path) -> set[str]:
    """Every module name an import statement in the file names (top-level, lazy and TYPE_CHECKING)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            if node.module == "watchd":
                found.update(f"watchd.{a.name}" for a in node.names)
    return found


def package_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def package_edges() -> dict[str, dict[str, list[str]]]:
    """package -> imported package -> the modules that import it."""
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for name, path in modules().items():
        here = package_of(name)
        for target in imports(path):
            if not target.startswith("watchd.") or target == "watchd.__version__":
                continue
            there = package_of(target)
            if there != here:
                edges[here][there].append(name)
    return edges


def test_every_package_is_in_the_table() -> None:
    """A new package gets its place in the layering on purpose."""
    packages = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)
    assert {p.stem for p in PKG.glob("*.py")} == TOP_LEVEL, "loose modules belong in a package"


def test_the_allowed_graph_has_no_cycles() -> None:
    """The table is a layering: ordering packages as listed, each imports only earlier ones."""
    order = list(ALLOWED)
    for pkg, deps in ALLOWED.items():
        later = {d for d in deps if order.index(d) >= order.index(pkg)}
        assert not later, f"{pkg} may not import {later}: listed after it"


def test_imports_follow_the_table() -> None:
    """No package imports one the table does not allow (this is what keeps import circles out)."""
    wrong = [
        f"{pkg} -> {dep} (in {', '.join(sorted(set(where)))})"
        for pkg, deps in package_edges().items()
        if pkg not in TOP_LEVEL
        for dep, where in deps.items()
        if dep not in ALLOWED[pkg]
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("pkg", PURE)
def test_pure_packages_import_no_io(pkg: str) -> None:
    """core and nagios name no I/O module in any import (not even a lazy one)."""
    wrong = {
        f"{name}: {target}"
        for name, path in modules().items()
        if package_of(name) == pkg
        for target in imports(path)
        if target.split(".")[0] in IO_MODULES
    }
    assert not wrong, sorted(wrong)


def test_importing_the_pure_packages_loads_no_io() -> None:
    """In a fresh interpreter, importing every core and nagios module loads no loop, socket or database."""
    names = [n for n in modules() if package_of(n) in PURE]
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}: importlib.import_module(n)\n"
        "print(' '.join(sorted(m for m in sys.modules)))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(run.stdout.split())
    bad = {"asyncio", "sqlite3", "socket", "ssl", "subprocess", "threading", "aiohttp", "aiomqtt"}
    assert not (loaded & (bad | {"apscheduler"})), sorted(loaded & bad)


def test_a_plugin_only_daemon_loads_no_clients(tmp_path: Path) -> None:
    """A daemon that only runs plugins (no API, bus, contacts) never imports the HTTP client and server,
    the template engine or the paging clients: memory per host matters (issue 16)."""
    cfg = tmp_path / "watchd.yaml"
    cfg.write_text(
        f"data_dir: {tmp_path / 'data'}\napi: {{enabled: false}}\nlog: {{level: warning}}\n"
        "checks:\n  ok: {command: [/bin/true], interval: 1h}\n"
    )
    code = (
        "import asyncio, sys\n"
        "from watchd import config\nfrom watchd.daemon import Daemon\n"
        f"d = Daemon(config.load({str(cfg)!r}), {str(cfg)!r})\n"
        "async def main():\n    await d.start()\n    await d.run_check('ok')\n    await d.stop()\n"
        "asyncio.run(main())\n"
        "print(' '.join(sorted(m for m in sys.modules)))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    loaded = {m.split(".")[0] for m in run.stdout.split()}
    assert not loaded & {
        "aiohttp",
        "jinja2",
        "apprise",
        "aiomqtt",
        "prometheus_client",
        "rich",
        "pygments",
    }, sorted(loaded)
