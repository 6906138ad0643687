"""Platform events: what ``<service>!SPCS_GET_EVENTS()`` answers, recorded by the control plane.

Snowflake records status changes of services, service instances and containers as events with a name,
a severity and a ``{"message", "status"}`` value (docs: developer-guide/snowpark-container-services/
monitoring-services, "Supported events"). The emulator records the same names, severities and
messages where it knows the cause; a message the runtime reports in its own words (a local process
that could not start) is kept as it is. The exit code of a container run is an emulator addition,
carried in RECORD_ATTRIBUTES (``exit_code``): Snowflake's own events leave that column NULL.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from spcs_emulator.spcs.runtime_api import ContainerHandle

# The emulator's own bound: Snowflake keeps events in the account's event table; a service here keeps
# its most recent ones only, so a crash loop cannot grow the emulator's memory without end.
MAX_EVENTS_PER_SERVICE = 1000

SERVICE_MESSAGES = {
    "PENDING": "Service is pending",
    "RESUMING": "Service is resuming",
    "RUNNING": "Service is ready",
    "SUSPENDING": "Service is suspending",
    "SUSPENDED": "Service has suspended",
    "UPGRADING": "Service is upgrading",
    "UPGRADED": "Service has been upgraded",
    "FAILED": "Service has failed",
}
INSTANCE_MESSAGES = {
    "PENDING": "Service instance is pending",
    "READY": "Service instance is running",
    "TERMINATING": "Service instance is terminating",
    "FAILED": "Service instance failed",
}
RUNNING = "Running"
WAITING = "Waiting to start"
PULL_FAILED = "Failed to pull image"
RETRYING = "Encountered fatal error, retrying"
OOM_KILLED = "Container was OOMKilled due to resource usage"


@dataclass(frozen=True)
class PlatformEvent:
    timestamp: float  # epoch seconds
    severity: str  # INFO | ERROR
    name: str  # SERVICE.STATUS_CHANGE | SERVICE_INSTANCE.STATUS_CHANGE | CONTAINER.STATUS_CHANGE
    message: str
    status: str
    instance_id: int | None = None
    container: str | None = None
    attributes: dict[str, Any] | None = None

    @property
    def details(self) -> dict[str, str]:
        return {"message": self.message, "status": self.status}

    @property
    def record(self) -> dict[str, str]:
        return {"name": self.name, "severity_text": self.severity}


@dataclass
class _Seen:
    """What a container's handle said at the last tick, to tell a change."""

    status: str = ""
    message: str = ""
    restarts: int = 0


@dataclass
class ServiceRecord:
    """What the control plane keeps of a service beyond its state: its events and the times SHOW gives
    as ``suspended_on`` / ``resumed_on`` (NULL until the first SUSPEND / RESUME, as on Snowflake)."""

    events: deque[PlatformEvent] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS_PER_SERVICE))
    suspended_on: float | None = None
    resumed_on: float | None = None
    _seen: dict[tuple[int, str], _Seen] = field(default_factory=dict)

    def add(self, event: PlatformEvent) -> None:
        self.events.append(event)

    def service(self, status: str) -> None:
        message = SERVICE_MESSAGES[status]
        self.add(PlatformEvent(time.time(), _severity(status), "SERVICE.STATUS_CHANGE", message, status))

    def instance(self, instance_id: int, status: str) -> None:
        self.add(
            PlatformEvent(
                time.time(),
                _severity(status),
                "SERVICE_INSTANCE.STATUS_CHANGE",
                INSTANCE_MESSAGES[status],
                status,
                instance_id=instance_id,
            )
        )

    def container(
        self,
        instance_id: int,
        container: str,
        status: str,
        message: str,
        *,
        error: bool = False,
        exit_code: int | None = None,
    ) -> None:
        self.add(
            PlatformEvent(
                time.time(),
                "ERROR" if error or status == "FAILED" else "INFO",
                "CONTAINER.STATUS_CHANGE",
                message,
                status,
                instance_id=instance_id,
                container=container,
                attributes=None if exit_code is None else {"exit_code": exit_code},
            )
        )

    def observe(
        self, instance_id: int, name: str, handle: ContainerHandle, readiness: tuple[int, str] | None
    ) -> None:
        """Record what changed in a container since the last look: its status, or a restart (a run that
        ended between two looks still shows as one failed run)."""
        status, message = handle.status()
        seen = self._seen.setdefault((instance_id, name), _Seen())
        restarts = handle.restart_count
        if restarts > seen.restarts and seen.status != "FAILED":
            self.container(instance_id, name, "FAILED", RETRYING, exit_code=handle.last_exit_code)
        if (status, message) != (seen.status, seen.message):
            said = platform_message(status, message, handle.start_time is not None, readiness)
            if said is not None:
                exit_code = handle.last_exit_code if status == "FAILED" else None
                self.container(instance_id, name, status, said, exit_code=exit_code)
        seen.status, seen.message, seen.restarts = status, message, restarts

    def forget_containers(self, instance_id: int | None = None) -> None:
        """The instances (or one, scaled in) are gone: the next ones are watched from the start."""
        if instance_id is None:
            self._seen.clear()
        else:
            self._seen = {key: seen for key, seen in self._seen.items() if key[0] != instance_id}

    def between(self, start: float, end: float) -> list[PlatformEvent]:
        return [e for e in self.events if start <= e.timestamp <= end]


def platform_message(
    status: str, message: str, started: bool, readiness: tuple[int, str] | None
) -> str | None:
    """The runtime's (status, message) as a platform event's message; None for what the platform does
    not report (a container the emulator stopped)."""
    if status == "DONE":
        return None
    if status == "READY":
        return RUNNING
    if status == "PENDING":
        if not started:
            return WAITING
        if readiness is not None:
            port, path = readiness
            return f"Readiness probe is failing at path: {path}, port: {port}"
        return message or WAITING
    if "OOMKilled" in message:
        return OOM_KILLED
    if "exited with code" in message:
        return RETRYING
    return message or RETRYING


def _severity(status: str) -> str:
    return "ERROR" if status in ("FAILED", "INTERNAL_ERROR") else "INFO"
