"""Services: CREATE SERVICE (its own statement), and ALTER/DROP/DESCRIBE/SHOW through the kind registry."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.access import AccessControl, RoleId
from spcs_emulator.account.context import Context
from spcs_emulator.account.handlers.stages import read_stage_file
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.properties import check_properties
from spcs_emulator.account.show import columns, owner_of, tf
from spcs_emulator.results import Result, status, table
from spcs_emulator.spcs import images
from spcs_emulator.spcs.spec import ServiceSpec, parse_spec
from spcs_emulator.spcs.statements.common import control_plane, epoch, suspend_or_resume
from spcs_emulator.spcs.statements.snapshots import back_up_block_volumes
from spcs_emulator.sql import ast

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


def spec_text(ctx: Context, source: ast.SpecSource) -> str:
    if isinstance(source, ast.InlineSpec):
        return source.text
    return read_stage_file(ctx, source.stage, source.file)


# Each instance runs the spec's containers as processes or engine containers on this host: the
# emulator's own bound (Snowflake's is the compute pool's nodes).
MAX_INSTANCES_EMULATED = 10


def check_service_privileges(
    ctx: Context, spec: ServiceSpec, pool: CatalogObject, props: dict[str, Any]
) -> None:
    access, roles = ctx.state.access, ctx.primary_roles()
    if not access.holds(roles, pool.kind, pool.fqn, "USAGE"):
        raise errors.insufficient_privileges("compute pool", pool.name)
    if spec.public_endpoints and not access.has_account_privilege(roles, "BIND SERVICE ENDPOINT"):
        raise errors.insufficient_account_privileges(
            ctx.state.name, "BIND SERVICE ENDPOINT is required for public endpoints."
        )
    for container in spec.containers:
        ref = images.parse_image(container.image)
        repo = ctx.state.catalog.get(ast.IMAGE_REPOSITORY, ref.repository)
        if repo is None or not access.has_any(ctx.roles(), repo.kind, repo.fqn):
            raise errors.does_not_exist("Image repository", ".".join(ref.repository))
        if not access.holds(roles, repo.kind, repo.fqn, "READ"):
            raise errors.insufficient_privileges("image repository", repo.display)
    eais = props.get("EXTERNAL_ACCESS_INTEGRATIONS", ())
    for eai in eais if isinstance(eais, tuple) else (eais,):
        integration = ctx.lookup(ast.INTEGRATION, ast.Name((str(eai).upper(),)))
        if not access.holds(roles, integration.kind, integration.fqn, "USAGE"):
            raise errors.insufficient_privileges("integration", integration.name)


def _sees(access: AccessControl, roles: AbstractSet[RoleId], kind: str, fqn: tuple[str, ...]) -> bool:
    """Visible to ``roles``: some privilege on the object, and USAGE on its database and schema."""
    return (
        access.has_any(roles, kind, fqn)
        and access.holds(roles, ast.DATABASE, fqn[:1], "USAGE")
        and access.holds(roles, ast.SCHEMA, fqn[:2], "USAGE")
    )


def check_secrets(ctx: Context, spec: ServiceSpec, service_fqn: tuple[str, ...], owner: str) -> None:
    """Each ``snowflakeSecret`` is resolved as the service's owner role, which needs READ on it (USAGE,
    what UDFs need, is not enough for SPCS); a secret it cannot see is reported as missing."""
    access = ctx.state.access
    roles = access.closure([owner])
    for container in spec.containers:
        for mount in container.secrets:
            fqn = mount.fqn(service_fqn)
            secret = ctx.state.catalog.get(ast.SECRET, fqn)
            if secret is None or not _sees(access, roles, ast.SECRET, fqn):
                raise errors.does_not_exist("Secret", ".".join(fqn))
            if not access.holds(roles, ast.SECRET, fqn, "READ"):
                raise errors.insufficient_privileges("secret", secret.display)


def check_stage_volumes(ctx: Context, spec: ServiceSpec, service_fqn: tuple[str, ...], owner: str) -> None:
    """A ``source: stage`` volume's stage is resolved as the service's owner role, which needs READ on
    it (modelled on secrets; the docs do not spell the rule out): another database's stage is no wider
    open to a spec than to a statement."""
    access = ctx.state.access
    roles = access.closure([owner])
    for volume in spec.volumes:
        if volume.source != "stage" or volume.stage is None:
            continue
        name = volume.stage.removeprefix("@").split("/", 1)[0]
        parts = tuple(part.upper() for part in name.split("."))
        fqn = (*service_fqn[: 3 - len(parts)], *parts)
        stage = ctx.state.catalog.get(ast.STAGE, fqn) if len(parts) <= 3 and all(parts) else None
        if stage is None or not _sees(access, roles, ast.STAGE, fqn):
            raise errors.does_not_exist("Stage", ".".join(fqn))
        if not access.holds(roles, ast.STAGE, fqn, "READ"):
            raise errors.insufficient_privileges("stage", stage.display)


def _check_instance_counts(props: dict[str, Any]) -> int:
    """The rules of docs: sql-reference/sql/create-service (MIN_INSTANCES > 0, MAX_INSTANCES >=
    MIN_INSTANCES, 0 < MIN_READY_INSTANCES <= MIN_INSTANCES); returns MIN_INSTANCES, the instances the
    service runs (autoscaling to MAX_INSTANCES on CPU load is not emulated)."""
    low, high = props.get("MIN_INSTANCES", 1), props.get("MAX_INSTANCES", props.get("MIN_INSTANCES", 1))
    if not isinstance(low, int) or low < 1 or not isinstance(high, int) or high < low:
        raise errors.invalid("MIN_INSTANCES must be > 0 and MAX_INSTANCES >= MIN_INSTANCES")
    ready = props.get("MIN_READY_INSTANCES", low)  # defaults to MIN_INSTANCES (docs: create-service)
    if not isinstance(ready, int) or ready < 1 or ready > low:
        raise errors.invalid("MIN_READY_INSTANCES must be > 0 and <= MIN_INSTANCES")
    if high > MAX_INSTANCES_EMULATED:
        raise errors.invalid(f"MAX_INSTANCES may be at most {MAX_INSTANCES_EMULATED} on this emulator")
    return low


def create_service(ctx: Context, stmt: ast.CreateService) -> Result:
    if stmt.or_replace:
        # Services have no CREATE OR REPLACE (snowflake-cli PR#2059 drops first for that reason).
        raise errors.syntax_error(1, 18, "SERVICE")
    fqn = ctx.qualify(ast.SERVICE, stmt.name)
    if ctx.state.catalog.get(ast.SERVICE, fqn) is not None:
        if stmt.if_not_exists:
            return status(f"{fqn[-1]} already exists, statement succeeded.")
        raise errors.already_exists("Service", ".".join(fqn))
    props = check_properties(SERVICE_KIND, stmt.properties, creating=True)
    register_service(ctx, fqn, stmt.compute_pool, stmt.spec, props, instances=_check_instance_counts(props))
    return status(f"Service {fqn[-1]} successfully created.")


def register_service(
    ctx: Context,
    fqn: tuple[str, ...],
    compute_pool: ast.Name,
    spec_source: Any,
    props: dict[str, Any],
    *,
    instances: int = 1,
    **control: bool,
) -> CatalogObject:
    """What CREATE SERVICE and EXECUTE JOB SERVICE share: every check as the creating role (it becomes
    the owner), then the control plane, then the catalog. ``control``: the control plane's own flags
    (a job's ``job``, ``async_job``)."""
    ctx.require_create_in_schema(ast.SERVICE, fqn)
    pool = ctx.lookup(ast.COMPUTE_POOL, compute_pool)
    spec = parse_spec(spec_text(ctx, spec_source))
    check_service_privileges(ctx, spec, pool, props)
    check_secrets(ctx, spec, fqn, ctx.session.role)
    check_stage_volumes(ctx, spec, fqn, ctx.session.role)
    obj = CatalogObject(
        ast.SERVICE, fqn, owner=ctx.session.role, comment=props.pop("COMMENT", None), properties=props
    )
    obj.properties["COMPUTE_POOL"] = pool.name
    # First: it refuses (quotas, a full address block) before anything changes, so no half-created
    # service can break SHOW SERVICES for everyone.
    control_plane(ctx).service_created(obj, spec, ctx.session.role, instances=instances, **control)
    ctx.state.catalog.add(obj)
    ctx.state.access.set_owner(ast.SERVICE, fqn, ctx.session.role, ctx.session.role)
    return obj


def _check_drop(ctx: Context, obj: CatalogObject, stmt: ast.Drop) -> None:
    """DROP SERVICE: refused without FORCE when the service has a block volume; with FORCE, SPCS
    snapshots each block volume that does not opt out before deleting it (BCR-2206)."""
    state = control_plane(ctx).services.get(obj.fqn)
    if state is not None and state.spec.has_block_volume and not stmt.force:
        raise errors.service_has_block_volumes(obj.name)
    if stmt.force:
        back_up_block_volumes(ctx, obj)


def _service_drop(ctx: Context, obj: CatalogObject) -> None:
    control_plane(ctx).drop_service(obj)


def _service_alter(ctx: Context, obj: CatalogObject, stmt: ast.Alter) -> Result | None:
    cp = control_plane(ctx)
    if cp.services[obj.fqn].job:
        # A job runs once (EXECUTE JOB SERVICE): resuming or upgrading it would run it again.
        raise errors.not_emulated("ALTER SERVICE of a job service")
    if stmt.action == "FROM SPEC":
        ctx.require_owner(obj)
        assert stmt.spec is not None
        spec = parse_spec(spec_text(ctx, stmt.spec))
        pool = ctx.lookup(ast.COMPUTE_POOL, ast.Name((obj.properties["COMPUTE_POOL"],)))
        check_service_privileges(ctx, spec, pool, obj.properties)
        owner = ctx.state.access.owner(ast.SERVICE, obj.fqn) or ctx.session.role
        check_secrets(ctx, spec, obj.fqn, owner)
        check_stage_volumes(ctx, spec, obj.fqn, owner)
        cp.upgrade_service(obj, spec)
        return status()
    if stmt.action in ("SET", "UNSET"):
        ctx.require_owner(obj)
        changed = dict(obj.properties)
        if stmt.action == "SET":
            changed |= check_properties(SERVICE_KIND, stmt.properties, creating=False)
        for key in stmt.unset if stmt.action == "UNSET" else ():
            changed.pop(key.upper(), None)
        # An address for each instance it will run, before the catalog changes (the tick scales).
        cp.reserve_instances(obj, _check_instance_counts(changed))
        return None
    return suspend_or_resume(ctx, obj, stmt, cp.suspend_service, cp.resume_service)


def service_row(ctx: Context, obj: CatalogObject, describe: bool = False) -> tuple[Any, ...]:
    state, p = control_plane(ctx).services[obj.fqn], obj.properties
    record = control_plane(ctx).records[obj.fqn]
    eais = p.get("EXTERNAL_ACCESS_INTEGRATIONS")
    eai_text = None if not eais else "[" + ", ".join(eais if isinstance(eais, tuple) else (eais,)) + "]"
    running = sum(i.ready for i in state.instances) if state.status == "RUNNING" else 0
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
        control_plane(ctx).target_instances(obj, state),
        p.get("MIN_READY_INSTANCES", p.get("MIN_INSTANCES", 1)),
        p.get("MIN_INSTANCES", 1),
        p.get("MAX_INSTANCES", p.get("MIN_INSTANCES", 1)),
        tf(p.get("AUTO_RESUME", True) is not False),
        eai_text,
        obj.created_on,
        obj.created_on,
        epoch(record.resumed_on),  # NULL until the first RESUME, as SUSPEND's suspended_on (testint)
        epoch(record.suspended_on),
        p.get("AUTO_SUSPEND_SECS", 0),
        obj.comment,
        "ROLE",
        p.get("QUERY_WAREHOUSE"),
        tf(state.job),
        tf(state.async_job),
        state.spec.digest,
        tf(state.upgrading),
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

SERVICE_KIND = ObjectKind(
    kind=ast.SERVICE,
    word="Service",
    namespace="schema",
    create_privilege="CREATE SERVICE",
    privileges=("USAGE", "OPERATE", "MONITOR"),
    properties=SERVICE_PROPERTIES,
    plural="SERVICES",
    columns=SERVICE_COLUMNS,
    row=service_row,
    on_drop=_service_drop,
    check_drop=_check_drop,
    on_alter=_service_alter,
    roles=lambda ctx, obj: control_plane(ctx).service_roles(obj),
    describe=lambda ctx, obj: table(
        columns(f"{SERVICE_COLUMNS_HEAD} spec {SERVICE_COLUMNS_TAIL}"),
        [service_row(ctx, obj, describe=True)],
    ),
)
