"""Typed configuration, the result of validation. Frozen: a reload builds a new one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from watchd.bus.config import MqttConfig
from watchd.config.api import ApiConfig
from watchd.config.incidents import IncidentsConfig, TicketsConfig
from watchd.config.notify import MaintenanceConfig, NotifyConfig
from watchd.config.oncall import OncallConfig
from watchd.core.model import State
from watchd.core.state import StatePolicy
from watchd.delivery.icinga2.settings import Icinga2Settings
from watchd.delivery.notify.contacts import Contact
from watchd.sources import Source


@dataclass(frozen=True, slots=True)
class LogConfig:
    level: str = "info"
    format: str = "auto"  # auto: console on a TTY, JSON lines otherwise


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    max_concurrent: int = 32
    kill_grace: float = 2.0  # seconds between SIGTERM and SIGKILL on a plugin timeout
    shutdown_grace: float = 10.0  # how long running checks may finish on SIGTERM
    state_flush_interval: float = 1.0  # write-behind of unchanged statuses
    followup_interval: float = 15.0  # escalations, renotification, released silences, announcements
    granularity: float | None = None  # the start grid's step; None ("auto"): see daemon/scheduler.py


@dataclass(frozen=True, slots=True)
class CheckConfig:
    name: str
    type: str
    interval: float
    retry_interval: float
    max_attempts: int
    timeout: float
    timeout_state: State
    output_limit: int
    flap_detection: bool
    flap_low: float
    flap_high: float
    enabled: bool = True
    description: str = ""
    tags: tuple[str, ...] = ()
    command: tuple[str, ...] = ()  # plugin argv after macro substitution, argv[0] resolved
    env: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)  # built-in types' own keys
    impact: str | None = None  # None: from tags, then incidents.impact
    urgency: str | None = None
    tickets: tuple[str, ...] | None = None  # ticket backends; None: tickets.default
    notify: tuple[str, ...] | None = None  # contacts; None: notify.default
    depends_on: tuple[str, ...] = ()  # parent checks (validated: known, no cycles)
    source: Source | None = field(default=None, compare=False, repr=False)

    @property
    def policy(self) -> StatePolicy:
        return StatePolicy(self.max_attempts, self.flap_detection, self.flap_low, self.flap_high)


@dataclass(frozen=True, slots=True)
class Config:
    host: str
    data_dir: str
    plugin_dirs: tuple[str, ...]
    log: LogConfig
    scheduler: SchedulerConfig
    checks: Mapping[str, CheckConfig]
    incidents: IncidentsConfig = field(default_factory=IncidentsConfig)
    tickets: TicketsConfig = field(default_factory=TicketsConfig)
    contacts: Mapping[str, Contact] = field(default_factory=dict)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    maintenance: MaintenanceConfig = field(default_factory=MaintenanceConfig)
    oncall: OncallConfig = field(default_factory=OncallConfig)
    mqtt: MqttConfig | None = None
    api: ApiConfig = field(default_factory=ApiConfig)
    icinga2: Icinga2Settings | None = None
    files: tuple[str, ...] = ()
    timezone: str = "UTC"  # the display zone (top-level `timezone`, default the host's zone)

    @property
    def db_path(self) -> str:
        return f"{self.data_dir}/watchd.db"
