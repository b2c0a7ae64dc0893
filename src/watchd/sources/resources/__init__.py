"""Resource samplers (psutil, statvfs, systemctl): importing this package registers their check types.

    cpu  load  memory  swap  disk  disk_io  net  process  systemd_unit  uptime  reboot_required

Each module keeps collection (blocking reads, run off the event loop by `offload`) apart from
evaluation (pure functions from figures and thresholds to a `Verdict`). `params` and `verdict` are
shared with `watchd.sources.probes`.
"""

from watchd.sources.resources import (  # noqa: F401  (imported to register the check types)
    cpu,
    disk,
    disk_io,
    load,
    memory,
    net,
    process,
    systemd_unit,
    uptime,
)
