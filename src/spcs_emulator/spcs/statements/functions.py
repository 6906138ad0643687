"""The SPCS SYSTEM$ functions, callable with CALL and SELECT."""

from __future__ import annotations

import json
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.properties import boolean
from spcs_emulator.account.registry import Function
from spcs_emulator.results import ColumnType
from spcs_emulator.spcs import images
from spcs_emulator.spcs.container_logs import DEFAULT_TAIL_BYTES, last_bytes
from spcs_emulator.spcs.statements.common import control_plane
from spcs_emulator.spcs.statements.show import containers_of
from spcs_emulator.sql import ast


def _service_arg(ctx: Context, value: Any) -> CatalogObject:
    obj = ctx.lookup(ast.SERVICE, ast.Name(tuple(p.upper() for p in str(value).split("."))))
    ctx.require(obj, "MONITOR")
    return obj


def _get_service_status(ctx: Context, args: tuple[Any, ...]) -> tuple[Any, ColumnType]:
    obj = _service_arg(ctx, args[0])
    state = control_plane(ctx).services[obj.fqn]
    if not state.instances and state.status != "FAILED":
        # No instance: one PENDING entry per container of the spec ("Waiting for compute", §2.1).
        message = "Waiting for compute" if state.status == "PENDING" else ""
        pending = [
            {"status": "PENDING", "message": message, "containerName": c.name}
            | {"instanceId": None, "serviceName": obj.name, "image": c.image, "restartCount": 0}
            | {"startTime": None}
            for c in state.spec.containers
        ]
        return json.dumps(pending), "text"
    containers = containers_of(ctx, obj).as_dicts()
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


def _number(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        raise errors.numeric_value_not_recognized(value) from None


def _flag(name: str, args: tuple[Any, ...], index: int) -> bool:
    """A BOOLEAN argument, FALSE when absent or NULL; a string is read as TO_BOOLEAN reads it."""
    value = args[index] if len(args) > index else None
    return False if value in (None, "") else boolean(name, value)


def _container_pending() -> errors.SnowflakeError:
    # The text clients match on: snowflake-ml-python waits for a job's logs while the error says
    # "Container Status: PENDING" (its tests give the whole message as below). The error code and
    # SQLSTATE are those of a container that is not running here (the emulator's own choice).
    return errors.SnowflakeError(391403, "22023", "Waiting to start, Container Status: PENDING")


def _get_service_logs(ctx: Context, args: tuple[Any, ...]) -> tuple[Any, ColumnType]:
    if len(args) < 3:
        raise errors.wrong_function_arguments(
            "SYSTEM$GET_SERVICE_LOGS needs service, instance id and container"
        )
    obj = _service_arg(ctx, args[0])
    instance_id, container = str(args[1]), str(args[2])
    lines = _number(args[3]) if len(args) > 3 and args[3] not in (None, "") else None
    # previous_logs and include_timestamps are BOOLEANs: 'false' is false, as Snowflake casts a string.
    previous = _flag("PREVIOUS_LOGS", args, 4)
    timestamps = _flag("INCLUDE_TIMESTAMPS", args, 6)
    state = control_plane(ctx).services[obj.fqn]
    if state.status == "PENDING" and container in {c.name for c in state.spec.containers}:
        handle_of = next((i.containers.get(container) for i in state.instances), None)
        if handle_of is None or handle_of.start_time is None:
            raise _container_pending()
    for instance in state.instances:
        if str(instance.id) == instance_id and container in instance.containers:
            handle = instance.containers[container]
            if lines is not None:  # the runtimes read a bounded tail (container_logs.TAIL_MAX_BYTES)
                return handle.logs(previous=previous, lines=lines, timestamps=timestamps), "text"
            # Snowflake's default: up to 100 KB of the most recent lines (each line has a byte at least).
            text = handle.logs(previous=previous, lines=DEFAULT_TAIL_BYTES, timestamps=timestamps)
            return last_bytes(text, DEFAULT_TAIL_BYTES), "text"
    raise errors.container_not_running(container, instance_id, obj.name)


def _get_compute_pool_status(ctx: Context, args: tuple[Any, ...]) -> tuple[Any, ColumnType]:
    obj = ctx.lookup(ast.COMPUTE_POOL, ast.Name((str(args[0]).upper(),)))
    pool = control_plane(ctx).pools[obj.fqn]
    return json.dumps({"status": control_plane(ctx).pool_state(obj), "message": pool.status_message}), "text"


def _get_service_dns_domain(ctx: Context, args: tuple[Any, ...]) -> tuple[Any, ColumnType]:
    schema = ctx.lookup(ast.SCHEMA, ast.Name(tuple(p.upper() for p in str(args[0]).split("."))))
    return control_plane(ctx).dns_domain(schema.fqn), "text"


def _registry_list_images(ctx: Context, args: tuple[Any, ...]) -> tuple[Any, ColumnType]:
    parts = tuple(p.upper() for p in str(args[0]).strip("/").split("/"))
    repo = ctx.lookup(ast.IMAGE_REPOSITORY, ast.Name(parts))
    ctx.require(repo, "READ")
    return json.dumps({"images": sorted({i.name for i in images.images_of(repo).values()})}), "text"


SPCS_FUNCTIONS: dict[str, Function] = {
    "SYSTEM$GET_SERVICE_STATUS": _get_service_status,
    "SYSTEM$GET_SERVICE_LOGS": _get_service_logs,
    "SYSTEM$GET_COMPUTE_POOL_STATUS": _get_compute_pool_status,
    "SYSTEM$GET_SERVICE_DNS_DOMAIN": _get_service_dns_domain,
    "SYSTEM$REGISTRY_LIST_IMAGES": _registry_list_images,
}
