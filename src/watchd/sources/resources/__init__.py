"""Resource samplers (psutil, statvfs, systemctl): each module registers its check types
(loaded on demand through watchd.sources.LAZY_TYPES).

    cpu  load  memory  swap  disk  disk_io  net  process  systemd_unit  uptime  reboot_required

Each module keeps collection (blocking reads, run off the event loop by `offload`) apart from
evaluation (pure functions from figures and thresholds to a `Verdict`). Parameter reading and verdicts
(`watchd.sources.params`, `watchd.sources.verdict`) are shared with the probes.
"""
