"""What SPCS says about a run's compute pools, services and endpoints: the probes the plan's waits poll
(readiness, or a failure to report at once) and a service's logs."""

from __future__ import annotations

import json
from typing import Any

from milvus_spcs.errors import WaitFailed
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.waits import Probe

# What SHOW ENDPOINTS gives as the ingress URL while the ingress is being provisioned.
ENDPOINT_PROVISIONING_TEXT = "Endpoints provisioning in progress"


def pool_ready(runner: SqlRunner, pool: str) -> Probe[None]:
    """IDLE or ACTIVE is done (a pool with no service yet is IDLE)."""
    row = runner.query("USE ROLE SYSADMIN", f"DESCRIBE COMPUTE POOL {pool}")[0]
    state = f"{row['state']} {row.get('status_message') or ''}".strip()
    return Probe(row["state"] in ("IDLE", "ACTIVE"), state=state)


def service_logs(runner: SqlRunner, fqn: str, container: str, *, previous: bool = False) -> str:
    """A container's last 200 log lines (``previous``: of its instance before the last restart)."""
    rows = runner.query(
        "USE ROLE SYSADMIN",
        f"CALL SYSTEM$GET_SERVICE_LOGS('{fqn}', '0', '{container}', 200, {str(previous).upper()})",
    )
    return str(next(iter(rows[0].values()))) if rows else ""


def service_events(runner: SqlRunner, fqn: str) -> list[dict[str, Any]]:
    """The service's platform events of the last day, oldest first (MONITOR on the service: the role
    that owns it, as for its containers and logs)."""
    rows = runner.query("USE ROLE SYSADMIN", f"SELECT * FROM TABLE({fqn}!SPCS_GET_EVENTS())")
    return sorted(reversed(rows), key=lambda r: str(r.get("TIMESTAMP") or ""))  # newest first -> oldest


def _object(value: object) -> dict[str, Any]:
    """An OBJECT column: the connector gives its JSON text (or a dict, from other clients)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip():
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def event_line(event: dict[str, Any]) -> str:
    """'2025-06-26 00:23:40 ERROR CONTAINER.STATUS_CHANGE main: FAILED, Encountered fatal error (exit 1)'."""
    details = _object(event.get("EVENT_DETAILS"))
    attributes = _object(event.get("RECORD_ATTRIBUTES"))
    when = str(event.get("TIMESTAMP") or "")[:19]
    where = f" {event['CONTAINER_NAME']}" if event.get("CONTAINER_NAME") else ""
    said = ", ".join(str(details[k]) for k in ("status", "message") if details.get(k))
    code = f" (exit code {attributes['exit_code']})" if attributes.get("exit_code") is not None else ""
    head = " ".join(str(p) for p in (when, event.get("SEVERITY"), event.get("EVENT_NAME")) if p)
    return f"{head}{where}: {said or 'no details'}{code}"


def container_line(row: dict[str, Any]) -> str:
    """One SHOW SERVICE CONTAINERS row in words. No instance yet (PENDING, SUSPENDED) leaves every
    container field NULL: said so, never 'None: None'."""
    name = row.get("container_name")
    if name is None and row.get("status") is None:
        status = row.get("service_status") or "unknown"
        return f"no container started yet (service {status}, no instance)"
    parts = [str(row.get("status") or "status unknown")]
    if row.get("restart_count") is not None:
        parts.append(f"restarts {row['restart_count']}")
    if row.get("last_exit_code") is not None:
        parts.append(f"last exit code {row['last_exit_code']}")
    if row.get("message"):
        parts.append(f"message {row['message']!r}")
    return f"container {name or '(unnamed)'}: {', '.join(parts)}"


def service_running(runner: SqlRunner, fqn: str, container: str) -> Probe[None]:
    """RUNNING is done; FAILED fails the wait at once, with the containers' messages and last logs."""
    status = runner.query("USE ROLE SYSADMIN", f"DESCRIBE SERVICE {fqn}")[0]["status"]
    if status == "FAILED":
        containers = runner.query("USE ROLE SYSADMIN", f"SHOW SERVICE CONTAINERS IN SERVICE {fqn}")
        messages = "; ".join(container_line(c) for c in containers)
        try:
            logs = service_logs(runner, fqn, container)
        except Exception as exc:  # no running container means no logs; say so
            logs = f"(no logs: {exc})"
        raise WaitFailed(f"service {fqn} FAILED ({messages})\n--- last logs ---\n{logs}")
    return Probe(status == "RUNNING", state=status)


def is_true(value: object) -> bool:
    """A SHOW column's boolean by value: the emulator answers the text "true", the REST schema says
    boolean, and the connector decodes either (a real account may give True)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def ingress_url(runner: SqlRunner, service: str) -> Probe[str]:
    """The public endpoint's URL once SHOW ENDPOINTS gives a real one (not the provisioning text)."""
    rows = runner.query("USE ROLE SYSADMIN", f"SHOW ENDPOINTS IN SERVICE {service}")
    url = next((r["ingress_url"] for r in rows if is_true(r["is_public"])), None) or ""
    return Probe(bool(url) and ENDPOINT_PROVISIONING_TEXT not in url, url, state=url or "no public endpoint")
