"""One frozen configuration, resolved once: command line > environment > default."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from milvus_spcs.backends import BACKEND_NAMES
from milvus_spcs.errors import PreflightError
from milvus_spcs.naming import check_run_id, image_tag_problem, new_run_id
from milvus_spcs.sqlfiles import put_path_problem


@dataclass(frozen=True)
class Setting:
    option: str
    env: str
    default: str | None
    help: str
    flag: bool = False  # a switch: given means "1"; the environment says 1/true/yes


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
    "image_bases": Setting(
        "--image-bases",
        "MILVUS_SPCS_IMAGE_BASES",
        "auto",
        "bases of the images -m docker builds: real, local (stand-ins) or auto (default)",
    ),
    "artifacts_dir": Setting(
        "--artifacts-dir", "MILVUS_SPCS_ARTIFACTS", "artifacts", "where logs and reports of a run go"
    ),
    "run_id": Setting(
        "--run-id", "MILVUS_SPCS_RUN_ID", None, "6-character [a-z0-9] run id (default: random)"
    ),
    "snowflake_connection": Setting(
        "--snowflake-connection",
        "MILVUS_SPCS_SNOWFLAKE_CONNECTION",
        None,
        "connections.toml entry for -m spcs (a real account costs credits); default: the bundled emulator",
    ),
    "keep_stack": Setting(
        "--keep-stack",
        "MILVUS_SPCS_KEEP_STACK",
        None,
        "keep the provisioned stack (remove it with milvus-spcs down)",
        flag=True,
    ),
    "image_tag": Setting(
        "--image-tag",
        "MILVUS_SPCS_IMAGE_TAG",
        None,
        "use images already pushed with this tag instead of building",
    ),
    "image_repository": Setting(
        "--image-repository",
        "MILVUS_SPCS_IMAGE_REPOSITORY",
        None,
        "DB.SCHEMA.REPO holding images pushed with `milvus-spcs images push` (needed on a real account)",
    ),
    "upgrade_to_tag": Setting(
        "--upgrade-to-tag",
        "MILVUS_SPCS_UPGRADE_TO_TAG",
        None,
        "a real account's upgrade suite: the newer Milvus image's tag, pushed next to --image-tag",
    ),
    "image_source": Setting(
        "--image-source",
        "MILVUS_SPCS_IMAGE_SOURCE",
        "publish",
        "emulator images: publish (stand-ins by name, no engine needed) or push (build both images and "
        "push them to the emulator's registry, as on an account)",
    ),
    "emulator_runtime": Setting(
        "--emulator-runtime",
        "MILVUS_SPCS_EMULATOR_RUNTIME",
        "process",
        "what runs the self-started emulator's services: process (local stand-ins), docker (the pushed "
        "images, in Docker; implies --image-source push) or auto (docker where an engine answers)",
    ),
    "emulator_profile": Setting(
        "--emulator-profile",
        "MILVUS_SPCS_EMULATOR_PROFILE",
        "instant",
        "self-started emulator timing: instant or realistic",
    ),
    "emulator_time_scale": Setting(
        "--emulator-time-scale",
        "MILVUS_SPCS_EMULATOR_TIME_SCALE",
        "1.0",
        "multiplies the emulator profile's delays",
    ),
    "specs_dir": Setting(
        "--specs-dir",
        "MILVUS_SPCS_SPECS_DIR",
        None,
        "a folder with your own milvus.yaml and jupyter.yaml service specs (held to the bundled specs' "
        "policy); default: the bundled ones",
    ),
    "notebooks_dir": Setting(
        "--notebooks-dir",
        "MILVUS_SPCS_NOTEBOOKS_DIR",
        None,
        "a folder of your own .ipynb notebooks, uploaded to the Jupyter service (the spcs_notebook "
        "fixture runs them)",
    ),
}

TRUE_WORDS = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class HarnessConfig:
    run_id: str
    milvus_backend: str
    milvus_uri: str | None
    milvus_image: str | None
    artifacts_dir: Path
    image_bases: str = "auto"
    snowflake_connection: str | None = None
    keep_stack: bool = False
    image_tag: str | None = None
    image_repository: str | None = None
    image_source: str = "publish"
    upgrade_to_tag: str | None = None
    emulator_runtime: str = "process"
    emulator_profile: str = "instant"
    emulator_time_scale: float = 1.0
    specs_dir: Path | None = None  # None: the bundled specs
    notebooks_dir: Path | None = None

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
    profile = pick("emulator_profile") or "instant"
    if profile not in ("instant", "realistic"):
        raise PreflightError(f"unknown emulator profile {profile!r}", ["choose instant or realistic"])
    try:
        time_scale = float(pick("emulator_time_scale") or "1.0")
    except ValueError:
        raise PreflightError(
            f"--emulator-time-scale {pick('emulator_time_scale')!r} is not a number"
        ) from None
    if time_scale <= 0:
        raise PreflightError("--emulator-time-scale must be positive")
    connection = pick("snowflake_connection")
    if connection is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", connection):
        raise PreflightError(f"--snowflake-connection {connection!r} is not a connections.toml entry name")
    tag = pick("image_tag")
    if tag is not None and image_tag_problem(tag):
        raise PreflightError(f"--image-tag {image_tag_problem(tag)}")
    repository = pick("image_repository")
    if repository is not None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){2}", repository):
            raise PreflightError(f"--image-repository {repository!r} must be DATABASE.SCHEMA.REPOSITORY")
        repository = repository.upper()
    image_bases = pick("image_bases") or "auto"
    if image_bases not in ("real", "local", "auto"):
        raise PreflightError(f"unknown image bases {image_bases!r}", ["choose real, local or auto"])
    upgrade_to_tag = pick("upgrade_to_tag")
    if upgrade_to_tag is not None and image_tag_problem(upgrade_to_tag):
        raise PreflightError(f"--upgrade-to-tag {image_tag_problem(upgrade_to_tag)}")
    emulator_runtime = pick("emulator_runtime") or "process"
    if emulator_runtime not in ("process", "docker", "auto"):
        raise PreflightError(
            f"unknown emulator runtime {emulator_runtime!r}", ["choose process, docker or auto"]
        )
    image_source = pick("image_source") or "publish"
    if image_source not in ("publish", "push"):
        raise PreflightError(f"unknown image source {image_source!r}", ["choose publish or push"])
    artifacts_dir = Path(pick("artifacts_dir") or "artifacts")
    problem = put_path_problem(artifacts_dir)  # the run's specs are PUT from inside it
    if problem:
        raise PreflightError(f"--artifacts-dir {problem}", ["choose a directory without those characters"])
    specs_dir = existing_folder("specs_dir", pick("specs_dir"), ("milvus.yaml", "jupyter.yaml"))
    notebooks_dir = existing_folder("notebooks_dir", pick("notebooks_dir"), ())
    if notebooks_dir is not None and not any(notebooks_dir.glob("*.ipynb")):
        raise PreflightError(f"--notebooks-dir {notebooks_dir} holds no .ipynb file")
    return HarnessConfig(
        run_id=run_id,
        milvus_backend=backend,
        milvus_uri=uri,
        milvus_image=pick("milvus_image"),
        artifacts_dir=artifacts_dir,
        image_bases=image_bases,
        snowflake_connection=connection,
        keep_stack=str(pick("keep_stack") or "").lower() in TRUE_WORDS,
        image_tag=tag,
        image_repository=repository,
        image_source=image_source,
        upgrade_to_tag=upgrade_to_tag,
        emulator_runtime=emulator_runtime,
        emulator_profile=profile,
        emulator_time_scale=time_scale,
        specs_dir=specs_dir,
        notebooks_dir=notebooks_dir,
    )


def existing_folder(key: str, value: str | None, needed: tuple[str, ...]) -> Path | None:
    """A folder the user named (absolute, so a later chdir cannot change it) holding ``needed``."""
    if value is None:
        return None
    option = SETTINGS[key].option
    folder = Path(value).expanduser().resolve()
    if not folder.is_dir():
        raise PreflightError(f"{option} {value!r} is not a folder")
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise PreflightError(
            f"{option} {value!r} lacks {', '.join(missing)}",
            [f"a specs folder holds {' and '.join(needed)}, as the bundled specs/ does"],
        )
    return folder
