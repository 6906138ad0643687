"""A local stand-in for one Snowflake account: SQL endpoint, access control, SPCS control plane and runtime.

What a user or the harness needs is exported here; everything else is the emulator's own and may change:

- :class:`Emulator` (``with Emulator() as emu: emu.connection_parameters()``), :class:`SharedStateDir`
  and :class:`StateDirInUse` (why one cannot start on a state directory);
- :class:`ControlClient` / :class:`ControlError` / :class:`PublishedImage`: its control API, typed;
- :data:`PROFILES` (timing profiles), :data:`RUNTIMES` (the process runtime's stand-ins),
  :data:`CONTAINER_RUNTIMES` (``process``, ``docker``, ``auto``);
- :class:`SnowflakeError` (what a statement fails with).

The names are imported on first use: a container's watchdog or a tool that needs one module never loads
the whole emulator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spcs_emulator.control_client import ControlClient, ControlError, PublishedImage
    from spcs_emulator.emulator import CONTAINER_RUNTIMES, Emulator, SharedStateDir
    from spcs_emulator.errors import SnowflakeError
    from spcs_emulator.spcs.images import RUNTIMES
    from spcs_emulator.spcs.leftovers import StateDirInUse
    from spcs_emulator.spcs.lifecycle import PROFILES

_EXPORTS = {
    "ControlClient": "spcs_emulator.control_client",
    "ControlError": "spcs_emulator.control_client",
    "PublishedImage": "spcs_emulator.control_client",
    "CONTAINER_RUNTIMES": "spcs_emulator.emulator",
    "Emulator": "spcs_emulator.emulator",
    "SharedStateDir": "spcs_emulator.emulator",
    "SnowflakeError": "spcs_emulator.errors",
    "RUNTIMES": "spcs_emulator.spcs.images",
    "StateDirInUse": "spcs_emulator.spcs.leftovers",
    "PROFILES": "spcs_emulator.spcs.lifecycle",
}
__all__ = [  # literal, for linters and type checkers; the same names as _EXPORTS (tests check it)
    "CONTAINER_RUNTIMES",
    "PROFILES",
    "RUNTIMES",
    "ControlClient",
    "ControlError",
    "Emulator",
    "PublishedImage",
    "SharedStateDir",
    "SnowflakeError",
    "StateDirInUse",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'spcs_emulator' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
