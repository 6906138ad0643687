"""SHOW ENDPOINTS / SERVICE CONTAINERS / SERVICE INSTANCES / ROLES IN SERVICE / IMAGES, SHOW SERVICES IN COMPUTE POOL."""

from __future__ import annotations

import dataclasses
from typing import Any

from spcs_emulator.account.context import Context
from spcs_emulator.account.handlers import objects
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.registry import ShowListing, StatementContext
from spcs_emulator.account.show import columns, like_regex, listing
from spcs_emulator.results import Result, table
from spcs_emulator.spcs import images
from spcs_emulator.spcs.lifecycle import ENDPOINT_PROVISIONING_TEXT, InstanceState, ServiceState
from spcs_emulator.spcs.statements.common import control_plane, epoch
from spcs_emulator.spcs.statements.services import SERVICE_COLUMNS, service_row
from spcs_emulator.sql import ast


def _service_for_show(ctx: Context, show: ast.Show, *privileges: str) -> CatalogObject:
    obj = ctx.lookup(ast.SERVICE, _scope_name(show))
    if privileges:
        ctx.require(obj, *privileges)
    return obj


def _scope_name(show: ast.Show) -> ast.Name:
    # SPCS_LISTINGS is keyed by the scope's kind, and those scopes always name their object.
    assert show.scope is not None
    assert show.scope.name is not None
    return show.scope.name


def _endpoints(ctx: StatementContext, stmt: ast.Show) -> Result:
    obj = _service_for_show(ctx, stmt, "USAGE")
    state = control_plane(ctx).services[obj.fqn]
    rows = []
    for e in state.spec.endpoints:
        url = None
        if e.public:
            url = state.ingress.get(e.name) or ENDPOINT_PROVISIONING_TEXT
        rows.append((e.name, e.port, None, e.protocol, e.public, url))
    # is_public is a BOOLEAN on an account (the REST API's schema; the connector decodes True/False).
    return table(columns("name port:int port_range protocol is_public:bool ingress_url"), rows)


def _service_containers(ctx: StatementContext, stmt: ast.Show) -> Result:
    return containers_of(ctx, _service_for_show(ctx, stmt, "MONITOR"))


def _service_instances(ctx: StatementContext, stmt: ast.Show) -> Result:
    return instances_of(ctx, _service_for_show(ctx, stmt, "MONITOR"))


def _service_roles(ctx: StatementContext, stmt: ast.Show) -> Result:
    obj = _service_for_show(ctx, stmt)
    roles = control_plane(ctx).services[obj.fqn].spec.service_roles
    return table(columns("created_on:ts name comment"), [(obj.created_on, r, None) for r in roles])


def _pool_services(ctx: StatementContext, stmt: ast.Show) -> Result:
    pool = ctx.lookup(ast.COMPUTE_POOL, _scope_name(stmt))
    inner = ast.Show("SERVICES", like=stmt.like, scope=ast.Scope(ast.ACCOUNT), limit=stmt.limit)
    return listing(
        ctx,
        inner,
        ast.SERVICE,
        SERVICE_COLUMNS,
        lambda o: service_row(ctx, o),
        objects=control_plane(ctx).pool_services(pool.name),
    )


def _images(ctx: StatementContext, stmt: ast.Show) -> Result:
    repo = ctx.lookup(ast.IMAGE_REPOSITORY, _scope_name(stmt))
    ctx.require(repo, "READ")
    pattern = like_regex(stmt.like) if stmt.like else None
    rows = [
        (
            i.created_on,
            i.name,
            f'["{i.tag}"]',
            i.digest,
            "/".join(p.lower() for p in repo.fqn) + f"/{i.name}:{i.tag}",
        )
        for i in images.images_of(repo).values()
        if pattern is None or pattern.match(i.name)
    ]
    return table(columns("created_on:ts image_name tags digest image_path"), rows)


def _excluding_jobs(listing_of: ShowListing) -> ShowListing:
    """SHOW SERVICES ... EXCLUDE JOBS: the listing without job services; without the flag, as it is."""

    def show(ctx: StatementContext, stmt: ast.Show) -> Result:
        return _services_by_job(ctx, stmt) if stmt.exclude_jobs else listing_of(ctx, stmt)

    return show


def _services_by_job(ctx: StatementContext, stmt: ast.Show) -> Result:
    """SHOW JOB SERVICES lists job services only, SHOW SERVICES EXCLUDE JOBS all but them (docs:
    sql-reference/sql/show-services): SHOW SERVICES' listing in the same scope, filtered on is_job
    before its LIMIT."""
    jobs = stmt.what == "JOB SERVICES"
    listed = objects.show(ctx, dataclasses.replace(stmt, what="SERVICES", exclude_jobs=False, limit=None))
    is_job = [c.name for c in listed.columns].index("is_job")
    rows = [r for r in listed.rows if (r[is_job] == "true") == jobs and not (jobs and stmt.exclude_jobs)]
    return table(listed.columns, rows[: stmt.limit] if stmt.limit is not None else rows)


# (what is shown, the kind of its IN scope; None: any) -> listing; every other SHOW is a kind's own.
SPCS_LISTINGS: dict[tuple[str, str | None], ShowListing] = {
    ("ENDPOINTS", ast.SERVICE): _endpoints,
    ("SERVICE CONTAINERS", ast.SERVICE): _service_containers,
    ("SERVICE INSTANCES", ast.SERVICE): _service_instances,
    ("ROLES", ast.SERVICE): _service_roles,
    ("SERVICES", ast.COMPUTE_POOL): _excluding_jobs(_pool_services),
    ("SERVICES", None): _excluding_jobs(objects.show_kind),
    ("JOB SERVICES", None): _services_by_job,
    ("IMAGES", ast.IMAGE_REPOSITORY): _images,
}


CONTAINER_COLUMNS = columns(
    "database_name schema_name service_name service_status instance_id instance_status container_name status "
    "message image_name image_digest restart_count:int start_time:ts last_exit_code:int last_restart_time:ts"
)


def _started_containers(obj: CatalogObject, state: ServiceState) -> list[tuple[Any, ...]]:
    """One row per container the runtime started, with what its handle reports."""
    images_by_name = {c.name: c.image for c in state.spec.containers}
    rows: list[tuple[Any, ...]] = []
    for instance in state.instances:
        instance_status = _instance_status(state, instance)
        for name, handle in instance.containers.items():
            container_status, message = handle.status()
            rows.append(
                (
                    *obj.fqn,
                    state.status,
                    str(instance.id),
                    instance_status,
                    name,
                    container_status,
                    message,
                    images_by_name[name],
                    None,
                    handle.restart_count,
                    epoch(handle.start_time),
                    handle.last_exit_code,
                    None,
                )
            )
    return rows


def _instance_status(state: ServiceState, instance: InstanceState) -> str:
    """READY once all its containers are; a job's instance ends SUCCEEDED or FAILED (the instance
    states of docs: show-service-containers-in-service)."""
    if state.job and state.status == "DONE":
        return "SUCCEEDED"
    if state.status == "FAILED":
        return "FAILED"
    return "READY" if instance.ready else "PENDING"


def _unstarted_containers(obj: CatalogObject, state: ServiceState) -> list[tuple[Any, ...]]:
    """Before any container runs. PENDING or SUSPENDED: one row whose instance and container fields
    are all NULL (docs: show-service-containers-in-service, instance_id). FAILED to start: the spec's
    containers, each with the failure (the emulator's reading; Snowflake keeps such a service PENDING)."""
    if state.status != "FAILED":
        return [(*obj.fqn, state.status) + (None,) * (len(CONTAINER_COLUMNS) - 4)]
    return [
        (*obj.fqn, state.status, None, None, c.name, "FAILED", state.failure or None, c.image) + (None,) * 5
        for c in state.spec.containers
    ]


def containers_of(ctx: Context, obj: CatalogObject) -> Result:
    state = control_plane(ctx).services[obj.fqn]
    rows = _started_containers(obj, state) if state.instances else _unstarted_containers(obj, state)
    return table(CONTAINER_COLUMNS, rows)


def instances_of(ctx: Context, obj: CatalogObject) -> Result:
    state = control_plane(ctx).services[obj.fqn]
    rows = [
        (
            obj.fqn[0],
            obj.fqn[1],
            obj.name,
            state.status,
            str(i.id),
            _instance_status(state, i),
            state.spec.digest,
            epoch(i.start_time),
            epoch(i.start_time),
            i.ip,
        )
        for i in state.instances
    ]
    return table(
        columns(
            "database_name schema_name service_name service_status instance_id status spec_digest creation_time:ts start_time:ts ip_address"
        ),
        rows,
    )
