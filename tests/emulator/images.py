"""Images published to an emulator through its control API: a repository URL answered by a runtime."""

from __future__ import annotations

from pathlib import Path

import requests

from spcs_emulator.emulator import Emulator


def publish(emu: Emulator, image: str, runtime: str) -> None:
    response = requests.post(
        f"http://127.0.0.1:{emu.port}/_emulator/images",
        json={"image": image, "runtime": runtime},
        headers={"X-Emulator-Admin-Password": emu.admin_password},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def publish_files(emu: Emulator, image: str, runtime_kind: str, files: Path) -> None:
    """``image`` answered by ``runtime_kind``, with ``files`` as the image's files (a notebook's)."""
    requests.post(
        f"http://127.0.0.1:{emu.port}/_emulator/images",
        json={"image": image, "runtime": runtime_kind, "files": str(files)},
        headers={"X-Emulator-Admin-Password": emu.admin_password},
        timeout=10,
    ).raise_for_status()
