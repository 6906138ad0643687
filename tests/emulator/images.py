"""Images published to an emulator through its control API: a repository URL answered by a runtime."""

from __future__ import annotations

from pathlib import Path

from spcs_emulator import ControlClient, Emulator


def control_client(emu: Emulator) -> ControlClient:
    """The typed client of ``emu``'s control API, with its admin password."""
    return ControlClient(emu.host, emu.port, emu.admin_password, timeout=10)


def publish(emu: Emulator, image: str, runtime: str) -> None:
    control_client(emu).publish_image(image, runtime)


def publish_files(emu: Emulator, image: str, runtime_kind: str, files: Path) -> None:
    """``image`` answered by ``runtime_kind``, with ``files`` as the image's files (a notebook's)."""
    control_client(emu).publish_image(image, runtime_kind, files)
