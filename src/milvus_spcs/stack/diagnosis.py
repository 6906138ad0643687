"""A run's services, diagnosed: each service's status row, its containers, its platform events and
their last log lines. Written in full to the run's diagnostics folder, and told in short where the
failure is reported (the pytest report, the CLI's error), so that nobody has to open the folder to see
what went wrong. A stuck service has NULL container fields (no instance yet) and no logs: its events
(``SPCS_GET_EVENTS``: image pull, readiness, exits) are then what says why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from milvus_spcs.naming import StackNames
from milvus_spcs.stack.service_status import container_line, event_line, service_events, service_logs
from milvus_spcs.stack.sql_runner import SqlRunner

SHORT_LOG_LINES = 20
SHORT_EVENTS = 10
STATUS_COLUMNS = ("status", "compute_pool", "current_instances", "target_instances")


@dataclass
class ServiceDiagnosis:
    service: str  # DATABASE.SCHEMA.NAME
    container: str
    sections: dict[str, str] = field(default_factory=dict)  # title: text (or why it is unavailable)
    status: dict[str, Any] | None = None
    containers: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    logs: str = ""

    def text(self) -> str:
        """The full diagnostics file (the format the diagnostics folder always had)."""
        return "\n".join(f"=== {title}\n{body}" for title, body in self.sections.items()) + "\n"

    def short(self, log_lines: int = SHORT_LOG_LINES) -> str:
        """Its status row, each container's status and message, and its last log lines."""
        if self.status is None:
            return f"service {self.service}: {self.sections.get('describe', 'no status')}"
        row = ", ".join(f"{k}={self.status[k]}" for k in STATUS_COLUMNS if k in self.status)
        lines = [f"service {self.service}: {row}"]
        lines += [f"  {container_line(c)}" for c in self.containers]
        recent = self.events[-SHORT_EVENTS:]
        if recent:
            lines.append(f"  last {len(recent)} platform events:")
            lines += [f"    {event_line(e)}" for e in recent]
        tail = self.logs.rstrip("\n").splitlines()[-log_lines:]
        if tail:
            lines.append(f"  last {len(tail)} log lines of {self.container}:")
            lines += [f"    | {line}" for line in tail]
        return "\n".join(lines)


def _attempt(diagnosis: ServiceDiagnosis, title: str, action: Callable[[], Any]) -> Any:
    try:
        value = action()
    except Exception as exc:  # a missing service or container is a finding, not an error
        diagnosis.sections[title] = f"(unavailable: {type(exc).__name__}: {exc})"
        return None
    diagnosis.sections[title] = str(value)
    return value


def diagnose_service(runner: SqlRunner, fqn: str, container: str) -> ServiceDiagnosis:
    """DESCRIBE, SHOW SERVICE CONTAINERS, current and previous logs of one service."""
    d = ServiceDiagnosis(fqn, container)
    rows = _attempt(d, "describe", lambda: runner.query("USE ROLE SYSADMIN", f"DESCRIBE SERVICE {fqn}"))
    d.status = rows[0] if rows else None
    containers = _attempt(
        d,
        "containers",
        lambda: runner.query("USE ROLE SYSADMIN", f"SHOW SERVICE CONTAINERS IN SERVICE {fqn}"),
    )
    d.containers = containers or []
    d.events = _attempt(d, "events", lambda: service_events(runner, fqn)) or []
    d.logs = _attempt(d, "logs", lambda: service_logs(runner, fqn, container)) or ""
    _attempt(d, "previous logs", lambda: service_logs(runner, fqn, container, previous=True))
    return d


def diagnose(runner: SqlRunner, names: StackNames) -> list[ServiceDiagnosis]:
    """Both services, Milvus first."""
    prefix = f"{names.database}.{names.schema}"
    return [
        diagnose_service(runner, f"{prefix}.{names.milvus_service}", "milvus"),
        diagnose_service(runner, f"{prefix}.{names.jupyter_service}", "jupyter"),
    ]


def write_diagnoses(diagnoses: list[ServiceDiagnosis], folder: Path, names: StackNames) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for d, service in zip(diagnoses, (names.milvus_service, names.jupyter_service), strict=True):
        (folder / f"{service.lower()}.txt").write_text(d.text())


def explain(diagnoses: list[ServiceDiagnosis], folder: Path) -> str:
    """What the report shows: services that are not RUNNING first, each in short, then the path of
    the full diagnostics."""
    ordered = sorted(diagnoses, key=lambda d: (d.status or {}).get("status") == "RUNNING")
    parts = [d.short() for d in ordered]
    return "\n".join([*parts, f"full diagnostics: {folder}/"])
