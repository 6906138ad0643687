"""What a run used, measured by the run itself (no price list): node-minutes per compute pool and
instance family, the warehouse's running time, the objects created. Written as artifacts/<run>/
usage.json so that a nightly's cost can be tracked over time.

A pool counts from the end of its CREATE to the end of its DROP (the time it can bill), times the
nodes DESCRIBE COMPUTE POOL gave; the warehouse's state is sampled at the end of provisioning and at
the start of teardown and held in between (it is created suspended and the harness runs no query on
it, so running time should stay 0)."""

from __future__ import annotations

import itertools
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from milvus_spcs.naming import StackNames
from milvus_spcs.stack.snapshots import BACKUP_PREFIX
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.stack.timeline import PROVISIONING, TEARDOWN, TimelineRecorder

log = logging.getLogger(__name__)


@dataclass
class PoolFacts:
    name: str
    step: str  # the plan step that creates it (and whose undo drops it)
    instance_family: str = "unknown"
    nodes: int = 0


@dataclass
class UsageMeter:
    runner: SqlRunner
    names: StackNames
    recorder: TimelineRecorder
    pools: list[PoolFacts] = field(default_factory=list)
    warehouse_states: list[tuple[float, str]] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    # Backup snapshots of the run's services still in the account after the teardown (BCR-2206: billed
    # for 7 days); None when they could not be listed.
    backups_kept: list[str] | None = None

    def __post_init__(self) -> None:
        self.pools = [
            PoolFacts(self.names.milvus_pool, "pool_milvus"),
            PoolFacts(self.names.jupyter_pool, "pool_jupyter"),
        ]

    def sample(self) -> None:
        """Pools' family and nodes, the warehouse's state (never fails the run: usage is a report)."""
        for pool in self.pools:
            try:
                row = self.runner.query("USE ROLE SYSADMIN", f"DESCRIBE COMPUTE POOL {pool.name}")[0]
            except Exception as exc:
                log.warning("usage: DESCRIBE COMPUTE POOL %s failed: %s", pool.name, exc)
                continue
            pool.instance_family = str(row.get("instance_family") or pool.instance_family)
            nodes = int(row.get("active_nodes") or 0) + int(row.get("idle_nodes") or 0)
            pool.nodes = max(pool.nodes, nodes, int(row.get("target_nodes") or 0))
        try:
            rows = self.runner.query("USE ROLE SYSADMIN", f"SHOW WAREHOUSES LIKE '{self.names.warehouse}'")
            state = str(rows[0].get("state")) if rows else "absent"
        except Exception as exc:
            state = f"unknown ({type(exc).__name__})"
        self.warehouse_states.append((self.recorder.now(), state))

    def sample_backups(self) -> None:
        """The run's services' SYS_BACKUP_ON_DELETE snapshots that are still there (never fails the run)."""
        prefix = f"{self.names.database}.{self.names.schema}.".upper()
        try:
            rows = self.runner.query(
                "USE ROLE SYSADMIN", f"SHOW SNAPSHOTS LIKE '{BACKUP_PREFIX}%' IN ACCOUNT"
            )
        except Exception as exc:
            log.warning("usage: SHOW SNAPSHOTS failed: %s", exc)
            return
        self.backups_kept = [
            str(r["name"]) for r in rows if str(r.get("service_name") or "").upper().startswith(prefix)
        ]

    def lifetime(self, step: str) -> tuple[float | None, float | None]:
        """(created, dropped) in seconds since the run began: the end of the step's statements and
        the end of its undo (None: not created, or still there)."""
        made = self.recorder.bar_times(PROVISIONING, step)
        undone = self.recorder.bar_times(TEARDOWN, step)
        created = None if made is None else made.wait_start if made.wait_start is not None else made.end
        dropped = undone.end if undone is not None and undone.status == "done" else None
        return created, dropped

    def document(self) -> dict[str, Any]:
        now = self.recorder.now()
        pools: list[dict[str, Any]] = []
        by_family: dict[str, float] = {}
        for pool in self.pools:
            created, dropped = self.lifetime(pool.step)
            seconds = 0.0 if created is None else (dropped if dropped is not None else now) - created
            node_minutes = round(pool.nodes * seconds / 60, 3)
            by_family[pool.instance_family] = by_family.get(pool.instance_family, 0.0) + node_minutes
            pools.append(
                {
                    "name": pool.name,
                    "instance_family": pool.instance_family,
                    "nodes": pool.nodes,
                    "created_at": created,
                    "dropped_at": dropped,
                    "still_there": created is not None and dropped is None,
                    "seconds": round(seconds, 3),
                    "node_minutes": node_minutes,
                }
            )
        created, dropped = self.lifetime("storage")
        end = dropped if dropped is not None else now
        samples = [*self.warehouse_states, (end, "")]
        running = sum(
            later - at for (at, state), (later, _) in itertools.pairwise(samples) if state == "STARTED"
        )
        kinds = Counter(obj.rsplit(" ", 1)[0] for obj in self.objects)
        return {
            "run_id": self.names.run_id,
            "measured": "by this run (seconds since it began); no price list",
            "compute_pools": pools,
            "node_minutes_by_instance_family": {k: round(v, 3) for k, v in by_family.items()},
            "warehouse": {
                "name": self.names.warehouse,
                "existed_seconds": 0.0 if created is None else round(end - created, 3),
                "running_seconds": round(running, 3),
                "states_sampled": [{"at": at, "state": state} for at, state in self.warehouse_states],
            },
            "objects_created": {"total": len(self.objects), "by_kind": dict(sorted(kinds.items()))},
            "backup_snapshots_kept": self.backups_kept,
        }


def usage_line(document: dict[str, Any]) -> str:
    """One line for the terminal: `usage: node-minutes CPU_X64_XS=0.53; warehouse running 0s of 41s; ...`"""
    families = ", ".join(f"{k}={v:.2f}" for k, v in document["node_minutes_by_instance_family"].items())
    warehouse = document["warehouse"]
    return (
        f"usage: node-minutes {families or '-'}; warehouse running {warehouse['running_seconds']:.0f}s "
        f"of {warehouse['existed_seconds']:.0f}s; objects created {document['objects_created']['total']}"
    )


def write_usage(folder: Path, document: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "usage.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
