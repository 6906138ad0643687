"""Block-volume snapshots: SHOW, DESCRIBE and DROP SNAPSHOT, and the backups SPCS takes on its own.

Since the 2026_01 bundle (BCR-2206, docs: release-notes/bcr-bundles/2026_01/bcr-2206), `DROP SERVICE
... FORCE` and `ALTER COMPUTE POOL ... STOP ALL` first snapshot every block volume they delete, name the
snapshot ``SYS_BACKUP_ON_DELETE<string>_<timestamp>``, keep it 7 days (``snapshotDeleteAfter``) and bill
it, unless the volume's ``blockConfig.snapshotOnDelete`` is false. The docs do not say which schema the
backup lands in nor who owns it; here it is the service's schema and the service's owner (the schema
``fromSnapshot`` resolves in, docs: block-storage-volume). CREATE SNAPSHOT and restoring from a snapshot
are not emulated (CREATE SNAPSHOT is a syntax error here, 001003).

Columns: the SHOW SNAPSHOTS and DESCRIBE SNAPSHOT docs' Output tables (docs: sql-reference/sql/
show-snapshots, desc-snapshot; their examples also show an ``updated_on``, which the tables omit).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any

from spcs_emulator.account.context import Context
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.show import columns, owner_of
from spcs_emulator.results import table
from spcs_emulator.spcs.statements.common import control_plane
from spcs_emulator.sql import ast

BACKUP_PREFIX = "SYS_BACKUP_ON_DELETE"
SNAPSHOT_COLUMNS = columns(
    "name state database_name schema_name service_name volume_name instance:int size:int comment owner "
    "owner_role_type created_on:ts encryption"
)


def gigabytes(size: str | None) -> int:
    """A spec size ("10Gi", "10G", "10737418240") in whole GB, as the snapshot's size column gives it."""
    found = re.fullmatch(r"\s*(\d+)\s*(Gi|G|Mi|M|Ki|K)?\s*", size or "")
    if not found:
        return 0
    value, unit = int(found.group(1)), found.group(2)
    per_gb = {None: 1024**3, "Ki": 1024**2, "K": 1024**2, "Mi": 1024, "M": 1024, "Gi": 1, "G": 1}[unit]
    return max(1, -(-value // per_gb))


def expiry(created: dt.datetime, delete_after: str) -> dt.datetime:
    amount, unit = int(delete_after[:-1]), delete_after[-1]
    return created + (dt.timedelta(hours=amount) if unit == "h" else dt.timedelta(days=amount))


def back_up_block_volumes(ctx: Context, service: CatalogObject) -> list[CatalogObject]:
    """BCR-2206: a snapshot of each block volume of ``service`` that does not opt out, per instance."""
    state = control_plane(ctx).services.get(service.fqn)
    if state is None:
        return []
    owner = ctx.state.access.owner(ast.SERVICE, service.fqn) or ctx.session.role
    created = []
    for volume in state.spec.volumes:
        if volume.source != "block" or not volume.snapshot_on_delete:
            continue
        for instance in range(max(1, len(state.instances))):
            now = dt.datetime.now(dt.UTC)
            name = f"{BACKUP_PREFIX}{secrets.token_hex(4).upper()}_{now:%Y%m%d%H%M%S}"
            fqn = (service.fqn[0], service.fqn[1], name)
            snapshot = CatalogObject(
                ast.SNAPSHOT,
                fqn,
                owner=owner,
                properties={
                    "STATE": "CREATED",
                    "SERVICE_NAME": ".".join(service.fqn),
                    "VOLUME_NAME": volume.name,
                    "INSTANCE": instance,
                    "SIZE": gigabytes(volume.size),
                    "ENCRYPTION": "SNOWFLAKE_SSE",
                    "_EXPIRES_ON": expiry(now, volume.snapshot_delete_after),
                },
            )
            ctx.state.catalog.add(snapshot)
            ctx.state.access.set_owner(ast.SNAPSHOT, fqn, owner, owner)
            created.append(snapshot)
    return created


def _row(ctx: Context, obj: CatalogObject) -> tuple[Any, ...]:
    p = obj.properties
    return (
        obj.name,
        p["STATE"],
        obj.fqn[0],
        obj.fqn[1],
        p["SERVICE_NAME"],
        p["VOLUME_NAME"],
        p["INSTANCE"],
        p["SIZE"],
        obj.comment,
        owner_of(ctx, obj),
        "ROLE",
        obj.created_on,
        p["ENCRYPTION"],
    )


SNAPSHOT_KIND = ObjectKind(
    kind=ast.SNAPSHOT,
    word="Snapshot",
    namespace="schema",
    create_privilege="CREATE SNAPSHOT",
    privileges=("USAGE",),
    properties=frozenset({"COMMENT"}),
    plural="SNAPSHOTS",
    columns=SNAPSHOT_COLUMNS,
    row=_row,
    describe=lambda ctx, obj: table(SNAPSHOT_COLUMNS, [_row(ctx, obj)]),
)
