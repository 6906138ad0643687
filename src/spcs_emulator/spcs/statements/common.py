"""What every SPCS statement module needs: the control plane of the account, epoch conversion."""

from __future__ import annotations

import datetime as dt

from spcs_emulator.account.context import Context
from spcs_emulator.spcs.control import ControlPlane


def control_plane(ctx: Context) -> ControlPlane:
    return ctx.account.extensions["spcs"]


def epoch(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)
