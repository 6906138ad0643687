"""SHOW ENDPOINTS / SERVICE CONTAINERS / SERVICE INSTANCES / ROLES IN SERVICE / IMAGES, SHOW SERVICES IN COMPUTE POOL."""

from __future__ import annotations

from spcs_emulator.account.context import Context
from spcs_emulator.account.handlers import objects
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.show import columns, like_regex, tf
from spcs_emulator.results import Result, table
from spcs_emulator.spcs import images
from spcs_emulator.spcs.lifecycle import ENDPOINT_PROVISIONING_TEXT
from spcs_emulator.spcs.statements.common import control_plane, epoch
from spcs_emulator.spcs.statements.services import SERVICE_COLUMNS, service_row
from spcs_emulator.sql import ast


def _service_for_show(ctx: Context, show: ast.Show, *privileges: str) -> CatalogObject:
    assert show.scope is not None
    assert show.scope.name is not None
    obj = ctx.lookup(ast.SERVICE, show.scope.name)
    if privileges:
        ctx.require(obj, *privileges)
    return obj


def show(ctx: Context, stmt: ast.Show) -> Result:
    cp = control_plane(ctx)
    scope_kind = stmt.scope.kind if stmt.scope else None
    if stmt.what == "ENDPOINTS" and scope_kind == ast.SERVICE:
        obj = _service_for_show(ctx, stmt, "USAGE")
        state = cp.services[obj.fqn]
        rows = []
        for e in state.spec.endpoints:
            url = None
            if e.public:
                url = state.ingress.get(e.name) or ENDPOINT_PROVISIONING_TEXT
            rows.append((e.name, e.port, None, e.protocol, tf(e.public), url))
        return table(columns("name port:int port_range protocol is_public ingress_url"), rows)
    if stmt.what in ("SERVICE CONTAINERS", "SERVICE INSTANCES") and scope_kind == ast.SERVICE:
        obj = _service_for_show(ctx, stmt, "MONITOR")
        return containers_of(ctx, obj) if stmt.what == "SERVICE CONTAINERS" else instances_of(ctx, obj)
    if stmt.what == "ROLES" and scope_kind == ast.SERVICE:
        obj = _service_for_show(ctx, stmt)
        roles = cp.services[obj.fqn].spec.service_roles
        return table(columns("created_on:ts name comment"), [(obj.created_on, r, None) for r in roles])
    if stmt.what == "SERVICES" and scope_kind == ast.COMPUTE_POOL:
        assert stmt.scope is not None
        assert stmt.scope.name is not None
        pool = ctx.lookup(ast.COMPUTE_POOL, stmt.scope.name)
        inner = ast.Show("SERVICES", like=stmt.like, scope=ast.Scope(ast.ACCOUNT), limit=stmt.limit)
        from spcs_emulator.account.show import listing

        return listing(
            ctx,
            inner,
            ast.SERVICE,
            SERVICE_COLUMNS,
            lambda o: service_row(ctx, o),
            objects=cp.pool_services(pool.name),
        )
    if stmt.what == "IMAGES" and scope_kind == ast.IMAGE_REPOSITORY:
        assert stmt.scope is not None
        assert stmt.scope.name is not None
        repo = ctx.lookup(ast.IMAGE_REPOSITORY, stmt.scope.name)
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
    return objects.show(ctx, stmt)


def containers_of(ctx: Context, obj: CatalogObject) -> Result:
    state = control_plane(ctx).services[obj.fqn]
    rows = []
    if state.instances:
        for instance in state.instances:
            for name, handle in instance.containers.items():
                container_status, message = handle.status()
                image = next(c.image for c in state.spec.containers if c.name == name)
                rows.append(
                    (
                        obj.fqn[0],
                        obj.fqn[1],
                        obj.name,
                        state.status,
                        str(instance.id),
                        "READY" if state.status == "RUNNING" else "PENDING",
                        name,
                        container_status,
                        message,
                        image,
                        None,
                        handle.restart_count,
                        epoch(handle.start_time),
                        handle.last_exit_code,
                        None,
                    )
                )
    else:
        for container in state.spec.containers:
            message = state.failure or ("Waiting for compute" if state.status == "PENDING" else "")
            container_status = "FAILED" if state.status == "FAILED" else None
            rows.append(
                (
                    obj.fqn[0],
                    obj.fqn[1],
                    obj.name,
                    state.status,
                    None,
                    None,
                    container.name,
                    container_status,
                    message or None,
                    container.image,
                    None,
                    None,
                    None,
                    None,
                    None,
                )
            )
    return table(
        columns(
            "database_name schema_name service_name service_status instance_id instance_status container_name status "
            "message image_name image_digest restart_count:int start_time:ts last_exit_code:int last_restart_time:ts"
        ),
        rows,
    )


def instances_of(ctx: Context, obj: CatalogObject) -> Result:
    state = control_plane(ctx).services[obj.fqn]
    rows = [
        (
            obj.fqn[0],
            obj.fqn[1],
            obj.name,
            state.status,
            str(i.id),
            "READY" if state.status == "RUNNING" else "PENDING",
            state.spec.digest,
            epoch(i.start_time),
            epoch(i.start_time),
            state.ip,
        )
        for i in state.instances
    ]
    return table(
        columns(
            "database_name schema_name service_name service_status instance_id status spec_digest creation_time:ts start_time:ts ip_address"
        ),
        rows,
    )
