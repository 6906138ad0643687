"""EXECUTE JOB SERVICE (docs: sql-reference/sql/execute-job-service): a service that runs to completion.

The job is a service object (SHOW SERVICES lists it with ``is_job``; DESCRIBE, the SYSTEM$ functions
and DROP SERVICE take it as they take a service), created as CREATE SERVICE creates one; the control
plane runs its containers once and records DONE or FAILED. Its name stays taken until it is dropped
(a second EXECUTE JOB SERVICE under it is 002002, as CREATE SERVICE on an existing name is;
Terraform's job service resource drops the job before it executes it again).

Synchronous (the default): the statement answers once the job has ended. It waits on the control
plane's ``ticked`` condition, whose lock is the account's: ``Condition.wait`` releases the account lock
(all its levels: it is an RLock) while it waits, so every other session's statements go on meanwhile,
and takes it back to read the outcome. At most ``MAX_SYNC_WAITS`` statements wait at once: each holds
one of the protocol's few statement workers (account/engine.py ``STATEMENT_WORKERS``) for as long as
its job runs. ``ASYNC = TRUE`` answers at once.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.properties import boolean, check_properties
from spcs_emulator.account.registry import StatementContext
from spcs_emulator.results import Result, status
from spcs_emulator.spcs.statements.common import control_plane
from spcs_emulator.spcs.statements.services import MAX_INSTANCES_EMULATED, SERVICE_KIND, register_service
from spcs_emulator.sql import ast

JOB_PROPERTIES = frozenset(
    {"NAME", "ASYNC", "REPLICAS", "QUERY_WAREHOUSE", "COMMENT", "EXTERNAL_ACCESS_INTEGRATIONS"}
)
# What the statement takes (NAME is required: the emulator does not make up a job's name).
JOB_KIND = dataclasses.replace(SERVICE_KIND, properties=JOB_PROPERTIES, required=frozenset({"NAME"}))
# The emulator's own bound (Snowflake has none): with STATEMENT_WORKERS = 4, two workers stay free for
# every other statement and login however many jobs run synchronously.
MAX_SYNC_WAITS = 2
# How long one wait lasts before the outcome is read again (the reconciler notifies after each tick).
WAIT_SECONDS = 1.0


def execute_job_service(ctx: StatementContext, stmt: ast.ExecuteJobService) -> Result:
    props = check_properties(JOB_KIND, stmt.properties, creating=True)
    name = props.pop("NAME")
    fqn = ctx.qualify(ast.SERVICE, _job_name(name))
    asynchronous = boolean("ASYNC", props.pop("ASYNC", False))
    replicas = props.pop("REPLICAS", 1)
    if not isinstance(replicas, int) or replicas < 1:
        raise errors.invalid("REPLICAS must be a positive integer")
    if replicas > MAX_INSTANCES_EMULATED:
        raise errors.invalid(f"REPLICAS may be at most {MAX_INSTANCES_EMULATED} on this emulator")
    if ctx.state.catalog.get(ast.SERVICE, fqn) is not None:
        raise errors.already_exists("Service", ".".join(fqn))  # dropped first, then executed again
    cp = control_plane(ctx)
    if not asynchronous and cp.sync_job_waits >= MAX_SYNC_WAITS:
        raise errors.SnowflakeError(
            391418,  # as the control plane's other limits (control._limit)
            "54000",
            f"Cannot execute job service {fqn[-1]} synchronously: {MAX_SYNC_WAITS} statements already "
            "wait for their jobs, the most this emulator lets wait at once; run it with ASYNC = TRUE.",
        )
    # Each replica is an instance of the job (ids 0..REPLICAS-1): DONE once every one's containers are.
    obj = register_service(
        ctx, fqn, stmt.compute_pool, stmt.spec, props, instances=replicas, job=True, async_job=asynchronous
    )
    if asynchronous:
        # The emulator's own words: the docs say only that the statement returns at once.
        return status(f"Job {fqn[-1]} successfully submitted.")
    return _wait_for(ctx, obj)


def _job_name(value: Any) -> ast.Name:
    """NAME = job | db.schema.job | 'schema.job' (the native apps guide quotes it)."""
    if isinstance(value, ast.Name):
        return value
    text = str(value)
    parts = tuple(part.upper() for part in text.split("."))
    if not 1 <= len(parts) <= 3 or not all(parts):
        raise errors.invalid(f"invalid job name '{text}'")
    return ast.Name(parts)


def _wait_for(ctx: Context, obj: CatalogObject) -> Result:
    """Wait, with the account lock released, until the job has ended (see the module doc)."""
    cp = control_plane(ctx)
    cp.sync_job_waits += 1
    try:
        outcome = cp.job_outcome(obj)
        while outcome is None:
            cp.ticked.wait(WAIT_SECONDS)
            outcome = cp.job_outcome(obj)
    finally:
        cp.sync_job_waits -= 1
    job_status, failure = outcome
    if job_status == "DONE":
        return status(f"Job {obj.name} completed successfully with status: DONE.")
    if job_status == "DROPPED":
        # The emulator's own words (its errno as the container-state errors'): dropped while it ran.
        raise errors.SnowflakeError(391430, "22000", f"Job {obj.name} was dropped before it completed.")
    # The emulator's own words and errno: the docs say only that the statement fails with the job.
    raise errors.SnowflakeError(
        391431, "22000", f"Job {obj.name} failed with status: {job_status}. {failure}".rstrip()
    )
