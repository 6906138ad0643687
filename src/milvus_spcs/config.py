"""One frozen configuration, resolved once: command line > environment > default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from milvus_spcs.backends import BACKEND_NAMES
from milvus_spcs.errors import PreflightError
from milvus_spcs.naming import check_run_id, new_run_id


@dataclass(frozen=True)
class Setting:
    option: str
    env: str
    default: str | None
    help: str


SETTINGS: dict[str, Setting] = {
    "milvus_backend": Setting(
        "--milvus-backend",
        "MILVUS_SPCS_BACKEND",
        "lite",
        f"local Milvus for -m local: {', '.join(BACKEND_NAMES)} (default lite)",
    ),
    "milvus_uri": Setting(
        "--milvus-uri", "MILVUS_SPCS_MILVUS_URI", None, "address of an existing Milvus (backend uri)"
    ),
    "milvus_image": Setting(
        "--milvus-image", "MILVUS_SPCS_MILVUS_IMAGE", None, "Milvus image for the container backend"
    ),
    "artifacts_dir": Setting(
        "--artifacts-dir", "MILVUS_SPCS_ARTIFACTS", "artifacts", "where logs and reports of a run go"
    ),
    "run_id": Setting(
        "--run-id", "MILVUS_SPCS_RUN_ID", None, "6-character [a-z0-9] run id (default: random)"
    ),
}


@dataclass(frozen=True)
class HarnessConfig:
    run_id: str
    milvus_backend: str
    milvus_uri: str | None
    milvus_image: str | None
    artifacts_dir: Path

    @property
    def run_artifacts(self) -> Path:
        return self.artifacts_dir / self.run_id


def resolve_config(options: Mapping[str, str | None], env: Mapping[str, str]) -> HarnessConfig:
    """Build the config from parsed options (keyed like ``SETTINGS``) and the environment."""
    unknown = set(options) - set(SETTINGS)
    if unknown:
        raise PreflightError(f"unknown settings: {', '.join(sorted(unknown))}")

    def pick(key: str) -> str | None:
        setting = SETTINGS[key]
        value = options.get(key)
        if value in (None, ""):
            value = env.get(setting.env) or setting.default
        return value

    backend = pick("milvus_backend") or "lite"
    if backend not in BACKEND_NAMES:
        raise PreflightError(
            f"unknown Milvus backend {backend!r} (from {SETTINGS['milvus_backend'].option} or "
            f"{SETTINGS['milvus_backend'].env})",
            [f"choose one of: {', '.join(BACKEND_NAMES)}"],
        )
    uri = pick("milvus_uri")
    if backend == "uri" and not uri:
        raise PreflightError(
            "--milvus-backend uri needs the address of a running Milvus",
            ["pass --milvus-uri http://HOST:19530", f"or set {SETTINGS['milvus_uri'].env}"],
        )
    run_id = pick("run_id")
    try:
        run_id = check_run_id(run_id) if run_id else new_run_id()
    except ValueError as exc:
        raise PreflightError(str(exc)) from None
    return HarnessConfig(
        run_id=run_id,
        milvus_backend=backend,
        milvus_uri=uri,
        milvus_image=pick("milvus_image"),
        artifacts_dir=Path(pick("artifacts_dir") or "artifacts"),
    )
