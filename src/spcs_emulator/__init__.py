"""A local stand-in for one Snowflake account: SQL endpoint, access control, SPCS control plane and runtime.

What a user or the harness needs is exported here; everything else is the emulator's own and may change:

- :class:`Emulator` (``with Emulator() as emu: emu.connection_parameters()``), :class:`SharedStateDir`
  and :class:`StateDirInUse` (why one cannot start on a state directory);
- :class:`ControlClient` / :class:`ControlError` / :class:`PublishedImage`: its control API, typed;
- :data:`PROFILES` (timing profiles), :data:`RUNTIMES` (the process runtime's stand-ins),
  :data:`CONTAINER_RUNTIMES` (``process``, ``docker``, ``auto``);
- :class:`SnowflakeError` (what a statement fails with);
- :data:`DOCKER_INSTANCE_LABEL` / :data:`DOCKER_STATE_LABEL` and :func:`docker_state_label`: the labels
  the docker runtime puts on its containers and networks (one emulator; one state directory), so that a
  tool can find what an emulator left in the engine.

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
    from spcs_emulator.spcs.docker_runtime import INSTANCE_LABEL as DOCKER_INSTANCE_LABEL
    from spcs_emulator.spcs.docker_runtime import STATE_LABEL as DOCKER_STATE_LABEL
    from spcs_emulator.spcs.docker_runtime import state_label as docker_state_label
    from spcs_emulator.spcs.images import RUNTIMES
    from spcs_emulator.spcs.leftovers import StateDirInUse
    from spcs_emulator.spcs.lifecycle import PROFILES

# name -> "module" (the same name there) or "module:name" (exported under another name)
_EXPORTS = {
    "ControlClient": "spcs_emulator.control_client",
    "ControlError": "spcs_emulator.control_client",
    "PublishedImage": "spcs_emulator.control_client",
    "CONTAINER_RUNTIMES": "spcs_emulator.emulator",
    "Emulator": "spcs_emulator.emulator",
    "SharedStateDir": "spcs_emulator.emulator",
    "SnowflakeError": "spcs_emulator.errors",
    "DOCKER_INSTANCE_LABEL": "spcs_emulator.spcs.docker_runtime:INSTANCE_LABEL",
    "DOCKER_STATE_LABEL": "spcs_emulator.spcs.docker_runtime:STATE_LABEL",
    "docker_state_label": "spcs_emulator.spcs.docker_runtime:state_label",
    "RUNTIMES": "spcs_emulator.spcs.images",
    "StateDirInUse": "spcs_emulator.spcs.leftovers",
    "PROFILES": "spcs_emulator.spcs.lifecycle",
}
__all__ = [  # literal, for linters and type checkers; the same names as _EXPORTS (tests check it)
    "CONTAINER_RUNTIMES",
    "DOCKER_INSTANCE_LABEL",
    "DOCKER_STATE_LABEL",
    "PROFILES",
    "RUNTIMES",
    "ControlClient",
    "ControlError",
    "Emulator",
    "PublishedImage",
    "SharedStateDir",
    "SnowflakeError",
    "StateDirInUse",
    "docker_state_label",
]


def __getattr__(name: str) -> Any:
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module 'spcs_emulator' has no attribute {name!r}")
    module, _, attribute = where.partition(":")
    return getattr(importlib.import_module(module), attribute or name)
