"""SQL for compute pools, services, endpoints, containers, images and the SPCS SYSTEM$ functions."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.handlers import objects, session
from spcs_emulator.account.handlers.kinds import KindSpec, register
from spcs_emulator.account.handlers.stages import read_stage_file
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.show import columns, like_regex, owner_of, tf
from spcs_emulator.results import Result, status, table
from spcs_emulator.spcs import images
from spcs_emulator.spcs.control import ControlPlane
from spcs_emulator.spcs.lifecycle import ENDPOINT_PLACEHOLDER
from spcs_emulator.spcs.spec import ServiceSpec, parse_spec
from spcs_emulator.sql import ast

INSTANCE_FAMILIES = frozenset(
    [
        "CPU_X64_XS",
        "CPU_X64_S",
        "CPU_X64_M",
        "CPU_X64_SL",
        "CPU_X64_L",
        "HIGHMEM_X64_S",
        "HIGHMEM_X64_M",
        "HIGHMEM_X64_L",
        "HIGHMEM_X64_SL",
        "GPU_NV_S",
        "GPU_NV_M",
        "GPU_NV_L",
        "GPU_NV_XS",
        "GPU_NV_SM",
        "GPU_NV_2M",
        "GPU_NV_3M",
        "GPU_NV_SL",
        "GEN_X64_G2_2",
        "GEN_X64_G2_4",
        "GEN_X64_G2_8",
        "GEN_X64_G2_16",
        "GEN_X64_G2_32",
        "GEN_ARM_G1_2",
        "GEN_ARM_G1_4",
        "GEN_ARM_G1_8",
        "MEM_X64_G2_8",
        "MEM_X64_G2_32",
    ]
)
SERVICE_PROPERTIES = frozenset(
    {
        "MIN_INSTANCES",
        "MAX_INSTANCES",
        "MIN_READY_INSTANCES",
        "AUTO_RESUME",
        "AUTO_SUSPEND_SECS",
        "EXTERNAL_ACCESS_INTEGRATIONS",
        "QUERY_WAREHOUSE",
        "LOG_LEVEL",
        "COMMENT",
    }
)


def _cp(ctx: Context) -> ControlPlane:
    return ctx.account.extensions["spcs"]


def _epoch(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


# -- compute pools ---------------------------------------------------------------------------------------


def _pool_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    min_nodes, max_nodes = props.get("MIN_NODES"), props.get("MAX_NODES")
    if not isinstance(min_nodes, int) or min_nodes < 1:
        raise errors.invalid("MIN_NODES must be an integer greater than 0")
    if not isinstance(max_nodes, int) or max_nodes < min_nodes:
        raise errors.invalid("MAX_NODES must be an integer greater than or equal to MIN_NODES")
    family = str(props.get("INSTANCE_FAMILY", "")).upper()
    if family not in INSTANCE_FAMILIES:
        raise errors.invalid(f"invalid value '{family}' for property 'INSTANCE_FAMILY'")
    auto_suspend = props.get("AUTO_SUSPEND_SECS", 3600)
    if not isinstance(auto_suspend, int) or auto_suspend < 0:
        raise errors.invalid("AUTO_SUSPEND_SECS must be a non-negative integer")
    obj.properties.update({"INSTANCE_FAMILY": family, "AUTO_SUSPEND_SECS": auto_suspend})
    obj.properties.setdefault("AUTO_RESUME", True)
    _cp(ctx).pool_created(obj, suspended=props.get("INITIALLY_SUSPENDED") is True)


def _pool_drop(ctx: Context, obj: CatalogObject) -> None:
    services = _cp(ctx).pool_services(obj.name)
    if services:
        raise errors.SnowflakeError(
            391415,
            "55000",
            f"Cannot drop compute pool {obj.name} because it has {len(services)} service(s) or job(s) running. "
            f"Drop them first, or run ALTER COMPUTE POOL {obj.name} STOP ALL.",
        )
    _cp(ctx).pools.pop(obj.fqn, None)


def _pool_alter(ctx: Context, obj: CatalogObject, stmt: ast.Alter) -> Result | None:
    cp = _cp(ctx)
    if stmt.action in ("SUSPEND", "RESUME"):
        ctx.require(obj, "OPERATE")
        (cp.suspend_pool if stmt.action == "SUSPEND" else cp.resume_pool)(obj)
        return status()
    if stmt.action == "STOP ALL":
        ctx.require(obj, "OPERATE")
        for service in cp.pool_services(obj.name):
            objects.drop_object(ctx, SERVICE_KIND, service)
        return status()
    return None


def _pool_row(ctx: Context, obj: CatalogObject, describe: bool = False) -> tuple[Any, ...]:
    cp, p = _cp(ctx), obj.properties
    state = cp.pool_state(obj)
    up = state in ("IDLE", "ACTIVE")
    services = len(cp.pool_services(obj.name))
    row = (
        obj.name,
        state,
        p["MIN_NODES"],
        p["MAX_NODES"],
        p["INSTANCE_FAMILY"],
        services,
        0,
        p["AUTO_SUSPEND_SECS"],
        tf(p.get("AUTO_RESUME") is not False),
        p["MIN_NODES"] if up and services else 0,
        p["MIN_NODES"] if up and not services else 0,
        0 if state == "SUSPENDED" else p["MIN_NODES"],
        obj.created_on,
        obj.created_on,
        obj.created_on,
        owner_of(ctx, obj),
        obj.comment,
        False,
        None,
        None,
    )
    if describe:
        pool = cp.pools[obj.fqn]
        row += (pool.error_code, pool.status_message)
    return row


POOL_COLUMNS = columns(
    "name state min_nodes:int max_nodes:int instance_family num_services:int num_jobs:int auto_suspend_secs:int "
    "auto_resume active_nodes:int idle_nodes:int target_nodes:int created_on:ts resumed_on:ts updated_on:ts owner "
    "comment is_exclusive:bool application budget"
)

POOL_KIND = register(
    KindSpec(
        kind=ast.COMPUTE_POOL,
        word="Compute pool",
        scope="account",
        create_privilege="CREATE COMPUTE POOL",
        properties=frozenset(
            {
                "MIN_NODES",
                "MAX_NODES",
                "INSTANCE_FAMILY",
                "AUTO_RESUME",
                "INITIALLY_SUSPENDED",
                "AUTO_SUSPEND_SECS",
                "COMMENT",
            }
        ),
        required=frozenset({"MIN_NODES", "MAX_NODES", "INSTANCE_FAMILY"}),
        plural="COMPUTE POOLS",
        columns=POOL_COLUMNS,
        row=_pool_row,
        on_create=_pool_create,
        on_drop=_pool_drop,
        on_alter=_pool_alter,
        describe=lambda ctx, obj: table(
            POOL_COLUMNS + columns("error_code status_message"), [_pool_row(ctx, obj, describe=True)]
        ),
    )
)


# -- services --------------------------------------------------------------------------------------------


def _spec_text(ctx: Context, source: ast.SpecSource) -> str:
    if isinstance(source, ast.InlineSpec):
        return source.text
    return read_stage_file(ctx, source.stage, source.file)


def _check_service_privileges(
    ctx: Context, spec: ServiceSpec, pool: CatalogObject, props: dict[str, Any]
) -> None:
    access, roles = ctx.account.access, ctx.primary_roles()
    if not access.holds(roles, pool.kind, pool.fqn, "USAGE"):
        raise errors.insufficient_privileges("compute pool", pool.name)
    if spec.public_endpoints and not access.has_account_privilege(roles, "BIND SERVICE ENDPOINT"):
        raise errors.SnowflakeError(
            3001,
            "42501",
            "SQL access control error:\nInsufficient privileges to operate on account: BIND SERVICE ENDPOINT is required for public endpoints.",
        )
    for container in spec.containers:
        ref = images.parse_image(container.image)
        repo = ctx.account.catalog.get(ast.IMAGE_REPOSITORY, ref.repository)
        if repo is None or not access.has_any(ctx.roles(), repo.kind, repo.fqn):
            raise errors.does_not_exist("Image repository", ".".join(ref.repository))
        if not access.holds(roles, repo.kind, repo.fqn, "READ"):
            raise errors.insufficient_privileges("image repository", repo.display)
    eais = props.get("EXTERNAL_ACCESS_INTEGRATIONS", ())
    for eai in eais if isinstance(eais, tuple) else (eais,):
        integration = ctx.lookup(ast.INTEGRATION, ast.Name((str(eai).upper(),)))
        if not access.holds(roles, integration.kind, integration.fqn, "USAGE"):
            raise errors.insufficient_privileges("integration", integration.name)


def _check_instances(props: dict[str, Any]) -> None:
    low, high = props.get("MIN_INSTANCES", 1), props.get("MAX_INSTANCES", props.get("MIN_INSTANCES", 1))
    if not isinstance(low, int) or low < 1 or not isinstance(high, int) or high < low:
        raise errors.invalid("MIN_INSTANCES must be > 0 and MAX_INSTANCES >= MIN_INSTANCES")
    if high > 1:
        raise errors.not_emulated("services with more than one instance")


def create_service(ctx: Context, stmt: ast.CreateService) -> Result:
    if stmt.or_replace:
        # Services have no CREATE OR REPLACE (snowflake-cli PR#2059 drops first for that reason).
        raise errors.syntax_error(1, 18, "SERVICE")
    fqn = ctx.qualify(ast.SERVICE, stmt.name)
    if ctx.account.catalog.get(ast.SERVICE, fqn) is not None:
        if stmt.if_not_exists:
            return status(f"{fqn[-1]} already exists, statement succeeded.")
        raise errors.already_exists("Service", ".".join(fqn))
    props = objects.check_properties(SERVICE_KIND, stmt.properties, creating=True)
    _check_instances(props)
    ctx.require_create_in_schema(ast.SERVICE, fqn)
    pool = ctx.lookup(ast.COMPUTE_POOL, stmt.compute_pool)
    spec = parse_spec(_spec_text(ctx, stmt.spec))
    _check_service_privileges(ctx, spec, pool, props)
    obj = CatalogObject(
        ast.SERVICE, fqn, owner=ctx.session.role, comment=props.pop("COMMENT", None), properties=props
    )
    obj.properties["COMPUTE_POOL"] = pool.name
    ctx.account.catalog.add(obj)
    ctx.account.access.set_owner(ast.SERVICE, fqn, ctx.session.role, ctx.session.role)
    _cp(ctx).service_created(obj, spec)
    return status(f"Service {fqn[-1]} successfully created.")


def _service_drop(ctx: Context, obj: CatalogObject) -> None:
    state = _cp(ctx).services.get(obj.fqn)
    if state is not None and state.spec.has_block_volume and not obj.properties.get("_FORCE"):
        raise errors.SnowflakeError(
            391417,
            "55000",
            f"Service {obj.name} has block storage volumes; use DROP SERVICE {obj.name} FORCE to drop it and its volumes.",
        )
    _cp(ctx).drop_service(ctx, obj)


def _service_alter(ctx: Context, obj: CatalogObject, stmt: ast.Alter) -> Result | None:
    cp = _cp(ctx)
    if stmt.action in ("SUSPEND", "RESUME"):
        ctx.require(obj, "OPERATE")
        (cp.suspend_service if stmt.action == "SUSPEND" else cp.resume_service)(obj)
        return status()
    if stmt.action == "FROM SPEC":
        ctx.require_owner(obj)
        assert stmt.spec is not None
        spec = parse_spec(_spec_text(ctx, stmt.spec))
        pool = ctx.lookup(ast.COMPUTE_POOL, ast.Name((obj.properties["COMPUTE_POOL"],)))
        _check_service_privileges(ctx, spec, pool, obj.properties)
        cp.suspend_service(obj)
        cp.services[obj.fqn].spec = spec
        cp.resume_service(obj)
        return status()
    if stmt.action == "SET":
        _check_instances(
            {**obj.properties, **objects.check_properties(SERVICE_KIND, stmt.properties, creating=False)}
        )
    return None


def _service_row(ctx: Context, obj: CatalogObject, describe: bool = False) -> tuple[Any, ...]:
    state, p = _cp(ctx).services[obj.fqn], obj.properties
    eais = p.get("EXTERNAL_ACCESS_INTEGRATIONS")
    eai_text = None if not eais else "[" + ", ".join(eais if isinstance(eais, tuple) else (eais,)) + "]"
    running = 1 if state.status == "RUNNING" else 0
    head: tuple[Any, ...] = (
        obj.name,
        state.status,
        obj.fqn[0],
        obj.fqn[1],
        owner_of(ctx, obj),
        p["COMPUTE_POOL"],
    )
    if describe:
        head += (state.spec.text,)
    return (
        *head,
        state.dns_name,
        running,
        0 if state.status in ("SUSPENDED", "SUSPENDING") else p.get("MIN_INSTANCES", 1),
        p.get("MIN_READY_INSTANCES", 1),
        p.get("MIN_INSTANCES", 1),
        p.get("MAX_INSTANCES", p.get("MIN_INSTANCES", 1)),
        tf(p.get("AUTO_RESUME", True) is not False),
        eai_text,
        obj.created_on,
        obj.created_on,
        None,
        None,
        p.get("AUTO_SUSPEND_SECS", 0),
        obj.comment,
        "ROLE",
        p.get("QUERY_WAREHOUSE"),
        "false",
        "false",
        state.spec.digest,
        "false",
        None,
        None,
    )


SERVICE_COLUMNS_HEAD = "name status database_name schema_name owner compute_pool"
SERVICE_COLUMNS_TAIL = (
    "dns_name current_instances:int target_instances:int min_ready_instances:int min_instances:int "
    "max_instances:int auto_resume external_access_integrations created_on:ts updated_on:ts resumed_on:ts "
    "suspended_on:ts auto_suspend_secs:int comment owner_role_type query_warehouse is_job is_async_job "
    "spec_digest is_upgrading managing_object_domain managing_object_name"
)
SERVICE_COLUMNS = columns(f"{SERVICE_COLUMNS_HEAD} {SERVICE_COLUMNS_TAIL}")

SERVICE_KIND = register(
    KindSpec(
        kind=ast.SERVICE,
        word="Service",
        scope="schema",
        create_privilege="CREATE SERVICE",
        properties=SERVICE_PROPERTIES,
        plural="SERVICES",
        columns=SERVICE_COLUMNS,
        row=_service_row,
        on_drop=_service_drop,
        on_alter=_service_alter,
        describe=lambda ctx, obj: table(
            columns(f"{SERVICE_COLUMNS_HEAD} spec {SERVICE_COLUMNS_TAIL}"),
            [_service_row(ctx, obj, describe=True)],
        ),
    )
)


def _service_for_show(ctx: Context, show: ast.Show, *privileges: str) -> CatalogObject:
    assert show.scope is not None
    assert show.scope.name is not None
    obj = ctx.lookup(ast.SERVICE, show.scope.name)
    if privileges:
        ctx.require(obj, *privileges)
    return obj


def show(ctx: Context, stmt: ast.Show) -> Result:
    cp = _cp(ctx)
    scope_kind = stmt.scope.kind if stmt.scope else None
    if stmt.what == "ENDPOINTS" and scope_kind == ast.SERVICE:
        obj = _service_for_show(ctx, stmt, "USAGE")
        state = cp.services[obj.fqn]
        rows = []
        for e in state.spec.endpoints:
            url = None
            if e.public:
                url = state.ingress.get(e.name) or ENDPOINT_PLACEHOLDER
            rows.append((e.name, e.port, None, e.protocol, tf(e.public), url))
        return table(columns("name port:int port_range protocol is_public ingress_url"), rows)
    if stmt.what in ("SERVICE CONTAINERS", "SERVICE INSTANCES") and scope_kind == ast.SERVICE:
        obj = _service_for_show(ctx, stmt, "MONITOR")
        return _containers(ctx, obj) if stmt.what == "SERVICE CONTAINERS" else _instances(ctx, obj)
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
            lambda o: _service_row(ctx, o),
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


def _containers(ctx: Context, obj: CatalogObject) -> Result:
    state = _cp(ctx).services[obj.fqn]
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
                        _epoch(handle.start_time),
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


def _instances(ctx: Context, obj: CatalogObject) -> Result:
    state = _cp(ctx).services[obj.fqn]
    rows = [
        (
            obj.fqn[0],
            obj.fqn[1],
            obj.name,
            state.status,
            str(i.id),
            "READY" if state.status == "RUNNING" else "PENDING",
            state.spec.digest,
            _epoch(i.start_time),
            _epoch(i.start_time),
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


# -- SYSTEM$ functions ------------------------------------------------------------------------------------


def _service_arg(ctx: Context, value: Any) -> CatalogObject:
    obj = ctx.lookup(ast.SERVICE, ast.Name(tuple(p.upper() for p in str(value).split("."))))
    ctx.require(obj, "MONITOR")
    return obj


def _get_service_status(ctx: Context, args: tuple[Any, ...]) -> tuple[Any, str]:
    obj = _service_arg(ctx, args[0])
    containers = _containers(ctx, obj).as_dicts()
    out = []
    for c in containers:
        start = c["start_time"].strftime("%Y-%m-%dT%H:%M:%SZ") if c["start_time"] else None
        out.append(
            {
                "status": c["status"] or "PENDING",
                "message": c["message"] or "",
                "containerName": c["container_name"],
                "instanceId": c["instance_id"],
                "serviceName": obj.name,
                "image": c["image_name"],
                "restartCount": c["restart_count"] or 0,
                "startTime": start,
            }
        )
    return json.dumps(out), "text"


def _get_service_logs(ctx: Context, args: tuple[Any, ...]) -> tuple[Any, str]:
    if len(args) < 3:
        raise errors.SnowflakeError(
            1044,
            "42P13",
            "SQL compilation error:\nSYSTEM$GET_SERVICE_LOGS needs service, instance id and container",
        )
    obj = _service_arg(ctx, args[0])
    instance_id, container = str(args[1]), str(args[2])
    lines = int(args[3]) if len(args) > 3 and args[3] not in (None, "") else None
    previous = bool(args[4]) if len(args) > 4 else False
    timestamps = bool(args[6]) if len(args) > 6 else False
    state = _cp(ctx).services[obj.fqn]
    for instance in state.instances:
        if str(instance.id) == instance_id and container in instance.containers:
            return instance.containers[container].logs(
                previous=previous, lines=lines, timestamps=timestamps
            ), "text"
    raise errors.SnowflakeError(
        391403,
        "22023",
        f"Container '{container}' of instance {instance_id} of service {obj.name} is not running.",
    )


def _get_compute_pool_status(ctx: Context, args: tuple[Any, ...]) -> tuple[Any, str]:
    obj = ctx.lookup(ast.COMPUTE_POOL, ast.Name((str(args[0]).upper(),)))
    pool = _cp(ctx).pools[obj.fqn]
    return json.dumps({"status": _cp(ctx).pool_state(obj), "message": pool.status_message}), "text"


def _get_service_dns_domain(ctx: Context, args: tuple[Any, ...]) -> tuple[Any, str]:
    schema = ctx.lookup(ast.SCHEMA, ast.Name(tuple(p.upper() for p in str(args[0]).split("."))))
    return _cp(ctx).dns_domain(schema.fqn), "text"


def _registry_list_images(ctx: Context, args: tuple[Any, ...]) -> tuple[Any, str]:
    parts = tuple(p.upper() for p in str(args[0]).strip("/").split("/"))
    repo = ctx.lookup(ast.IMAGE_REPOSITORY, ast.Name(parts))
    ctx.require(repo, "READ")
    return json.dumps({"images": sorted({i.name for i in images.images_of(repo).values()})}), "text"


session.FUNCTIONS.update(
    {
        "SYSTEM$GET_SERVICE_STATUS": _get_service_status,
        "SYSTEM$GET_SERVICE_LOGS": _get_service_logs,
        "SYSTEM$GET_COMPUTE_POOL_STATUS": _get_compute_pool_status,
        "SYSTEM$GET_SERVICE_DNS_DOMAIN": _get_service_dns_domain,
        "SYSTEM$REGISTRY_LIST_IMAGES": _registry_list_images,
    }
)

SPCS_HANDLERS = {ast.CreateService: create_service, ast.Show: show}
