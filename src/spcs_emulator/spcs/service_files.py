"""Where a service's data lives on the host: keyed by the service object's id, gone with the service.

A service's volumes (``<state>/volumes/<key>/<volume>``) and container logs (``<state>/logs/<key>/
<container>``) belong to one service *object*, ``<key>`` being its object id (``s42``), never its name:
a service dropped and created again under the same name (by another role, say) starts with empty
volumes, and names that fold into one file name (``"X RUN DB"`` and ``X_RUN_DB``) never share a folder.
They outlive SUSPEND/RESUME and ALTER SERVICE ... FROM SPECIFICATION (block volumes must) and go once
the object's containers have stopped: at its DROP (its own, or with its database or schema), at a reset
and when the emulator stops. The catalog is not kept across runs, so whatever an emulator killed before
its cleanup left here belongs to nobody: the next emulator on the state directory removes it
(``leftovers.reap``).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from spcs_emulator.account.objects import CatalogObject

VOLUMES = "volumes"
LOGS = "logs"
_KEY = re.compile(r"s[0-9]+")


def service_key(service: CatalogObject) -> str:
    """The name of everything a service object owns outside the catalog (folders, engine containers)."""
    return f"s{service.object_id}"


def volume_dir(state_dir: Path, key: str, volume: str, instance: int | None) -> Path:
    """The host folder of one volume of the service ``key`` (created; the spec's volume names are DNS
    labels, checked by ``spec``): each instance has its own (block, local, memory volumes, as on SPCS),
    ``instance`` None for one all instances share (a stage's)."""
    owner = "shared" if instance is None else f"instance-{int(instance)}"
    path = state_dir / VOLUMES / _checked(key) / owner / volume
    path.mkdir(parents=True, exist_ok=True)  # the state directory (0700) keeps others out
    return path


def log_dir(state_dir: Path, key: str, container: str) -> Path:
    return state_dir / LOGS / _checked(key) / container


def remove(state_dir: Path, key: str) -> None:
    """The service ``key`` is gone and its containers have stopped: its volumes and logs go too."""
    for kind in (VOLUMES, LOGS):
        shutil.rmtree(state_dir / kind / _checked(key), ignore_errors=True)


def remove_all(state_dir: Path) -> None:
    """Every service's volumes and logs (no service exists: a new emulator, before it serves)."""
    for kind in (VOLUMES, LOGS):
        shutil.rmtree(state_dir / kind, ignore_errors=True)


def _checked(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a service key: {key!r}")
    return key
