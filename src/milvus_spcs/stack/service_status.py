"""What SPCS says about a run's compute pools, services and endpoints: the probes the plan's waits poll
(readiness, or a failure to report at once) and a service's logs."""

from __future__ import annotations

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


def service_running(runner: SqlRunner, fqn: str, container: str) -> Probe[None]:
    """RUNNING is done; FAILED fails the wait at once, with the containers' messages and last logs."""
    status = runner.query("USE ROLE SYSADMIN", f"DESCRIBE SERVICE {fqn}")[0]["status"]
    if status == "FAILED":
        containers = runner.query("USE ROLE SYSADMIN", f"SHOW SERVICE CONTAINERS IN SERVICE {fqn}")
        messages = "; ".join(f"{c['container_name']}: {c['message']}" for c in containers)
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
