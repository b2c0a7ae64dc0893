"""`munin`: run a Munin plugin unchanged, as munin-node would, and judge it as Munin's master would.

Each run: `plugin config` when there is no cached config, when the plugin file changed (inode, size,
mtime), when the cached one is older than `config_interval`, or when a fetch shows fields the
config did not declare; then `plugin` (fetch). Both through the shared plugin executor
(sources/process.py): no shell, the check's timeout for both together, the process group killed on
timeout. The plugin gets munin-node's environment where plugins rely on it (MUNIN_LIBDIR,
MUNIN_PLUGSTATE, MUNIN_STATEFILE, MUNIN_MASTER_IP, MUNIN_CAP_MULTIGRAPH) plus the check's `env`
(Munin's `env.*` settings). Wildcard plugins (`if_eth0` from `if_`) run through a symlink in the
state directory, because the plugin reads its own name.

The cached config and the rate fields' previous samples outlive a reload of an unchanged check (they
are kept per check name, plugin and environment), so a SIGHUP does not cost a DERIVE sample.
"""

from __future__ import annotations

import collections
import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from watchd.core.clock import Clock
from watchd.core.errors import ParamError
from watchd.core.model import CheckResult, State
from watchd.nagios.output import decode
from watchd.runtime.clock import SystemClock
from watchd.sources import BuildContext, register
from watchd.sources.munin.judge import Memory, Override, evaluate
from watchd.sources.munin.protocol import (
    Markers,
    PluginConfig,
    parse_autoconf,
    parse_config,
    parse_fetch,
    parse_markers,
)
from watchd.sources.params import Params
from watchd.sources.plugin import BASE_ENV
from watchd.sources.process import ProcessOutcome, run_process
from watchd.sources.verdict import Verdict, budget, finish

DEFAULT_DIRS = ("/etc/munin/plugins", "/usr/share/munin/plugins")
DEFAULT_LIBDIR = "/usr/share/munin"
OUTPUT_LIMIT = 256 * 1024  # multigraph plugins (diskstats on a big host) print a lot
MARKER_BYTES = 64 * 1024
_MEMORY_SLOTS = 4096  # kept across reloads, oldest dropped first

Fingerprint = tuple[int, int, int]  # (inode, size, mtime_ns)


@dataclass(slots=True)
class _Cache:
    config: PluginConfig | None = None
    config_at: float = 0.0
    fingerprint: Fingerprint | None = None
    autoconf: tuple[bool, str] | None = None
    markers: Markers | None = None
    memory: Memory = field(default_factory=Memory)


_CACHES: collections.OrderedDict[tuple[Any, ...], _Cache] = collections.OrderedDict()


def _cache_for(key: tuple[Any, ...]) -> _Cache:
    cache = _CACHES.get(key)
    if cache is None:
        cache = _CACHES[key] = _Cache()
        while len(_CACHES) > _MEMORY_SLOTS:
            _CACHES.popitem(last=False)
    _CACHES.move_to_end(key)
    return cache


def resolve_plugin(name: str, dirs: Sequence[str], base: str) -> tuple[str, str | None]:
    """(path to run, wildcard target): a path as given; a name from the first dir that has it;
    `if_eth0` from a wildcard plugin `if_` (the longest matching prefix), to be run via a symlink.
    An unknown name comes back unchanged (the run reports it missing)."""
    if "/" in name:
        return os.path.normpath(os.path.join(base, os.path.expanduser(name))), None
    for d in dirs:
        candidate = os.path.join(d, name)
        if os.path.isfile(candidate):
            return candidate, None
    best: str | None = None
    for d in dirs:
        with contextlib.suppress(OSError):
            for entry in os.listdir(d):
                fits = entry.endswith("_") and name.startswith(entry) and len(name) > len(entry)
                if fits and (best is None or len(entry) > len(os.path.basename(best))):
                    best = os.path.join(d, entry)
    return (name, None) if best is None else (name, best)


class MuninSource:
    kind = "MUNIN"

    def __init__(
        self,
        name: str,
        plugin: str,
        *,
        state_root: str,
        wildcard_target: str | None = None,
        env: Mapping[str, str] | None = None,
        libdir: str = DEFAULT_LIBDIR,
        config_interval: float = 900.0,
        autoconf: bool = False,
        overrides: Sequence[Override] = (),
        kill_grace: float = 2.0,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.wildcard_target = wildcard_target
        # A wildcard plugin runs as a symlink named like the check asked (`if_eth0`).
        self.path = os.path.join(state_root, "plugins", plugin) if wildcard_target else plugin
        self.state_root = state_root
        self.plugstate = os.path.join(state_root, "state")
        self.config_interval = config_interval
        self.autoconf = autoconf
        self.overrides = tuple(overrides)
        self.kill_grace = kill_grace
        self.clock: Clock = clock or SystemClock()
        self.env = {
            **BASE_ENV,
            "MUNIN_LIBDIR": libdir,
            "MUNIN_PLUGSTATE": self.plugstate,
            "MUNIN_STATEFILE": os.path.join(self.plugstate, f"{name}-"),
            "MUNIN_MASTER_IP": "",  # as munin-run: no master
            "MUNIN_CAP_MULTIGRAPH": "1",
            **(env or {}),
        }
        key = (name, self.path, wildcard_target, state_root, tuple(sorted(self.env.items())))
        self.cache = _cache_for(key)
        self._prepared = False

    async def run(self, timeout: float) -> CheckResult:
        started, t0 = self.clock.time(), self.clock.monotonic()
        try:
            verdict = await self._run(t0 + budget(timeout))
        except Exception as exc:  # never raise out of run(): an unforeseen error is still a result
            verdict = _unknown(f"internal error: {exc!r}")
        return finish(self.name, self.kind, verdict, started, self.clock.monotonic() - t0)

    async def _run(self, deadline: float) -> Verdict:
        problem = self._prepare()
        if problem is not None:
            return _unknown(problem)
        fingerprint = _fingerprint(self.path)
        c = self.cache
        changed = fingerprint != c.fingerprint
        if changed:
            c.fingerprint, c.autoconf, c.markers = fingerprint, None, None
        if self.autoconf:
            answer = await self._autoconf(deadline)
            if isinstance(answer, Verdict):
                return answer
        fresh = c.config is None or changed or self.clock.monotonic() - c.config_at >= self.config_interval
        if fresh:
            failure = await self._read_config(deadline)
            if failure is not None:
                return failure
        outcome = await self._step("fetch", deadline)
        if isinstance(outcome, Verdict):
            return outcome
        fetch = parse_fetch(decode(outcome.stdout))
        assert c.config is not None
        declared = c.config.fields()
        if not fresh and any(s.key not in declared for s in fetch.samples):
            # New fields (a new disk, a new interface): read the config again before judging.
            failure = await self._read_config(deadline)
            if failure is not None:
                return failure
        verdict = evaluate(c.config, fetch, c.memory, self.clock.monotonic(), self.overrides)
        notes = [n for n in (_stderr_note(outcome), _dropped_note(outcome)) if n]
        if notes:
            reason = "; ".join([*([verdict.reason] if verdict.reason else []), *notes])
            verdict = Verdict(verdict.state, verdict.text, verdict.perfdata, verdict.long_output, reason)
        return verdict

    def _prepare(self) -> str | None:
        """The state directory (and a wildcard plugin's symlink), made on the first run, not at
        config validation."""
        if self._prepared:
            return None
        try:
            os.makedirs(self.plugstate, mode=0o700, exist_ok=True)
            if self.wildcard_target is not None:
                os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
                if os.path.islink(self.path) and os.readlink(self.path) != self.wildcard_target:
                    os.unlink(self.path)
                if not os.path.lexists(self.path):
                    os.symlink(self.wildcard_target, self.path)
        except OSError as exc:
            return f"cannot prepare munin state directory {self.state_root}: {exc.strerror or exc}"
        self._prepared = True
        return None

    async def _read_config(self, deadline: float) -> Verdict | None:
        outcome = await self._step("config", deadline)
        if isinstance(outcome, Verdict):
            return outcome
        config = parse_config(decode(outcome.stdout))
        if not any(g.fields for g in config.graphs):
            why = "plugin config declares no fields"
            if config.problems.count:
                why += f"; {config.problems.count} line(s) not understood: {config.problems.describe()}"
            return _unknown(why)
        self.cache.config, self.cache.config_at = config, self.clock.monotonic()
        return None

    async def _autoconf(self, deadline: float) -> Verdict | None:
        c = self.cache
        if c.markers is None:
            c.markers = _read_markers(self.path)
        if "autoconf" not in c.markers.capabilities:
            return None  # the plugin cannot tell: just run it
        if c.autoconf is None:
            # `autoconf` answers on stdout and exits 0 for both yes and no.
            outcome = await self._step("autoconf", deadline)
            if isinstance(outcome, Verdict):
                return outcome
            c.autoconf = parse_autoconf(decode(outcome.stdout))
        ok, words = c.autoconf
        if not ok:
            return _unknown(f"plugin says it does not apply here (autoconf: {words or 'no answer'})")
        return None

    async def _step(self, step: str, deadline: float) -> ProcessOutcome | Verdict:
        """Run `plugin [config|autoconf]`: its outcome, or the UNKNOWN verdict when it failed."""
        left = deadline - self.clock.monotonic()
        if left <= 0:
            return _unknown(f"no time left for `{step}` (check timeout used up)")
        argv = (self.path,) if step == "fetch" else (self.path, step)
        outcome = await run_process(argv, self.env, left, OUTPUT_LIMIT, self.kill_grace)
        failure = self._failure(outcome, step)
        return outcome if failure is None else failure

    def _failure(self, outcome: ProcessOutcome, step: str) -> Verdict | None:
        what = f"munin plugin `{step}`"
        if outcome.spawn_error is not None:
            exc = outcome.spawn_error
            return _unknown(f"cannot execute {exc.filename or self.path}: {exc.strerror}")
        if outcome.timed_out:
            return _unknown(f"{what} timed out after {outcome.duration_s:.1f}s; process group killed")
        if outcome.signal is not None:
            return _unknown(f"{what} was killed by signal {outcome.signal}{_stderr_tail(outcome)}")
        if outcome.exit_code not in (0, None):
            return _unknown(f"{what} exited with status {outcome.exit_code}{_stderr_tail(outcome)}")
        return None


def _unknown(why: str) -> Verdict:
    return Verdict(State.UNKNOWN, why, reason=why)


def _stderr_tail(outcome: ProcessOutcome) -> str:
    lines = [ln.strip() for ln in decode(outcome.stderr).splitlines() if ln.strip()]
    return f": {lines[-1][:200]}" if lines else ""


def _stderr_note(outcome: ProcessOutcome) -> str | None:
    tail = _stderr_tail(outcome)
    return f"plugin wrote to stderr{tail}" if tail else None


def _dropped_note(outcome: ProcessOutcome) -> str | None:
    if not outcome.stdout_dropped:
        return None
    return f"output truncated at {OUTPUT_LIMIT} bytes ({outcome.stdout_dropped} bytes dropped)"


def _fingerprint(path: str) -> Fingerprint | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _read_markers(path: str) -> Markers:
    try:
        with open(path, "rb") as f:
            return parse_markers(f.read(MARKER_BYTES).decode("utf-8", errors="replace"))
    except OSError:
        return Markers()


def _overrides(p: Params) -> list[Override]:
    out: list[Override] = []
    raw = p.raw("fields") or {}
    fields_p = p.mapping("fields")
    if fields_p is not None:
        for pattern in raw:
            fp = fields_p.mapping(str(pattern))
            if fp is None:
                continue
            warn, crit = fp.nagios_range("warning"), fp.nagios_range("critical")
            fp.done()
            if warn is None and crit is None:
                raise fields_p.error(str(pattern), "give warning and/or critical")
            out.append(Override(str(pattern), warn, crit))
        fields_p.done()
    warn, crit = p.nagios_range("warning"), p.nagios_range("critical")
    if warn is not None or crit is not None:
        out.append(Override("*", warn, crit))
    return out


@register("munin")
def build_munin(name: str, params: Mapping[str, Any], ctx: BuildContext) -> MuninSource:
    p = Params(params)
    plugin = p.required_text("plugin")
    dirs = tuple(
        os.path.normpath(os.path.join(ctx.config_dir, d)) for d in p.text_list("plugin_dirs", DEFAULT_DIRS)
    )
    env = p.text_mapping("env")
    libdir = p.text("libdir", DEFAULT_LIBDIR) or DEFAULT_LIBDIR
    state_dir = p.text("state_dir")
    config_interval = p.number("config_interval", 900.0, min=0)
    autoconf = p.flag("autoconf", False)
    overrides = _overrides(p)
    p.done()
    if state_dir is not None:
        state_root = os.path.normpath(os.path.join(ctx.config_dir, os.path.expanduser(state_dir)))
    elif ctx.data_dir:
        state_root = os.path.join(ctx.data_dir, "munin")
    else:
        raise ParamError("state_dir", "required when watchd has no data_dir")
    path, target = resolve_plugin(plugin, dirs, ctx.config_dir)
    return MuninSource(
        name, path, state_root=state_root, wildcard_target=target, env=env, libdir=libdir,
        config_interval=config_interval, autoconf=autoconf, overrides=overrides,
    )  # fmt: skip
