"""What every SPCS statement module needs: the account's control plane, epoch conversion, and the
one way ALTER ... SUSPEND/RESUME is authorised and applied."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from spcs_emulator.account.context import Context
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.results import Result, status
from spcs_emulator.spcs.control import ControlPlane
from spcs_emulator.sql import ast


def control_plane(ctx: Context) -> ControlPlane:
    return ctx.state.extensions.get(ControlPlane)


def epoch(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


def suspend_or_resume(
    ctx: Context,
    obj: CatalogObject,
    stmt: ast.Alter,
    suspend: Callable[[CatalogObject], None],
    resume: Callable[[CatalogObject], None],
) -> Result | None:
    """ALTER <pool or service> SUSPEND | RESUME: needs OPERATE; None for any other action."""
    if stmt.action not in ("SUSPEND", "RESUME"):
        return None
    ctx.require(obj, "OPERATE")
    (suspend if stmt.action == "SUSPEND" else resume)(obj)
    return status()
