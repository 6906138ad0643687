"""Build both images, on their real bases or on stand-ins (``--bases real|local|auto``).

The Dockerfiles keep the real pins as the defaults of their base argument (MILVUS_BASE, PYTHON_BASE).
``auto`` takes a real base that the engine has or can pull, and a stand-in otherwise; an engine whose
proxy is a loopback address (scripts/install-docker.sh starts it so) cannot pull, and is not asked to.
Builds on a stand-in run with no network. Each build ends with one line per image:
``image: <reference> base=<real|stand-in> milvus=<version or ->``.
"""

from __future__ import annotations

import fcntl
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from milvus_spcs.docker_engine import MILVUS_VERSION_LABEL, docker_client, image_labels
from milvus_spcs.errors import PreflightError
from milvus_spcs.images import standins
from milvus_spcs.images.commands import BuildLog
from milvus_spcs.paths import REPO_ROOT

BASES_CHOICES = ("real", "local", "auto")
DEFAULT_TAG = "dev"
IMAGE_PREFIX = "milvus-spcs"
BUILD_SECONDS = 3600  # the Jupyter image installs torch; a first real-base build downloads ~1 GB
PULL_SECONDS = 1800


@dataclass(frozen=True)
class Recipe:
    name: str
    dockerfile: Path
    context: Path
    base_arg: str

    def real_base(self) -> str:
        """The ARG default in the Dockerfile: the one place the real pin is written."""
        found = re.search(rf"^ARG\s+{self.base_arg}=(\S+)", self.dockerfile.read_text(), re.MULTILINE)
        if not found:
            raise PreflightError(f"{self.dockerfile}: no ARG {self.base_arg}=<image> default")
        return found.group(1)


RECIPES = (
    Recipe("milvus", REPO_ROOT / "images/milvus/Dockerfile", REPO_ROOT / "images/milvus", "MILVUS_BASE"),
    # The Jupyter image installs this project, so its context is the repository root (.dockerignore).
    Recipe("jupyter", REPO_ROOT / "images/jupyter/Dockerfile", REPO_ROOT, "PYTHON_BASE"),
)


@dataclass(frozen=True)
class Base:
    reference: str
    standin: bool
    milvus: str | None  # the Milvus release it runs (the Milvus recipe only)


@dataclass(frozen=True)
class BuiltImage:
    reference: str
    base: Base

    def line(self) -> str:
        kind = "stand-in" if self.base.standin else "real"
        return f"image: {self.reference} base={kind} milvus={self.base.milvus or '-'}"


def milvus_release(reference: str) -> str | None:
    """``milvusdb/milvus:v2.6.10`` → ``2.6.10``."""
    found = re.search(r":v?(\d+\.\d+\.\d+)$", reference)
    return found.group(1) if found else None


def pull_refusal() -> str | None:
    """Why the engine cannot pull from a remote registry, without asking one: its proxy is a loopback
    address (nothing there forwards anywhere), as scripts/install-docker.sh configures it."""
    client = docker_client()
    try:
        info = client.info()
    finally:
        client.close()
    for key in ("HttpsProxy", "HttpProxy"):
        host = urlsplit(info.get(key) or "").hostname
        if host in ("127.0.0.1", "localhost", "::1"):
            return f"the engine's {key} is {info[key]} (remote pulls are refused on this machine)"
    return None


def pull(reference: str, log: BuildLog) -> None:
    refusal = pull_refusal()
    if refusal:
        raise PreflightError(
            f"base image {reference} is not on the engine and cannot be pulled: {refusal}",
            ["build on stand-in bases: milvus-spcs images build --bases local (or auto)"],
        )
    log.run(
        ["docker", "pull", "--platform", "linux/amd64", reference],
        what=f"docker pull {reference}",
        timeout=PULL_SECONDS,
    )


def choose_base(recipe: Recipe, mode: str, log: BuildLog) -> Base:
    real = recipe.real_base()
    release = milvus_release(real) if recipe.name == "milvus" else None
    present = image_labels(real) is not None
    if mode == "real" or (mode == "auto" and (present or pull_refusal() is None)):
        if not present:
            pull(real, log)
        return Base(real, standin=False, milvus=release)
    if recipe.name == "milvus":
        reference = standins.build_milvus(log)
        return Base(reference, standin=True, milvus=(image_labels(reference) or {}).get(MILVUS_VERSION_LABEL))
    return Base(standins.build_python(log), standin=True, milvus=None)


def choose_bases(mode: str, log: BuildLog) -> dict[str, Base]:
    if mode not in BASES_CHOICES:
        raise PreflightError(f"unknown bases {mode!r}", [f"choose one of: {', '.join(BASES_CHOICES)}"])
    return {recipe.name: choose_base(recipe, mode, log) for recipe in RECIPES}


def image_reference(name: str, tag: str, prefix: str = IMAGE_PREFIX) -> str:
    return f"{prefix}/{name}:{tag}"


def build_images(mode: str, tag: str, log: BuildLog, *, prefix: str = IMAGE_PREFIX) -> list[BuiltImage]:
    """Build both images on the chosen bases; returns them in recipe order."""
    bases = choose_bases(mode, log)
    built = []
    for recipe in RECIPES:
        base = bases[recipe.name]
        built.append(_build_on(recipe, base, image_reference(recipe.name, tag, prefix), log))
    return built


def _build_on(recipe: Recipe, base: Base, reference: str, log: BuildLog) -> BuiltImage:
    """``docker build`` of one recipe on ``base`` (no network on a stand-in), labelled with its Milvus."""
    labels = ["--label", f"{MILVUS_VERSION_LABEL}={base.milvus}"] if base.milvus else []
    network = ["--network", "none"] if base.standin else []
    log.run(
        [
            "docker",
            "build",
            "--force-rm",
            "--platform",
            "linux/amd64",
            *network,
            "--build-arg",
            f"{recipe.base_arg}={base.reference}",
            *labels,
            "-t",
            reference,
            "-f",
            str(recipe.dockerfile),
            str(recipe.context),
        ],
        what=f"docker build of {reference}",
        timeout=BUILD_SECONDS,
    )
    return BuiltImage(reference, base)


def build_milvus_release(release: str, tag: str, log: BuildLog, *, prefix: str = IMAGE_PREFIX) -> BuiltImage:
    """The Milvus image on a stand-in of another Milvus release (offline): the upgrade suite's older
    image, ``<prefix>/milvus:<tag>``."""
    recipe = RECIPES[0]
    standins.CACHE.mkdir(parents=True, exist_ok=True)
    # Two runs at once (the drills) build the same release: one builds, the other then finds it.
    with (standins.CACHE / f"milvus-{release}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_milvus_release(recipe, release, tag, log, prefix)


def _build_milvus_release(recipe: Recipe, release: str, tag: str, log: BuildLog, prefix: str) -> BuiltImage:
    standin = standins.build_milvus(log, release)
    base = Base(standin, standin=True, milvus=(image_labels(standin) or {}).get(MILVUS_VERSION_LABEL))
    return _build_on(recipe, base, image_reference(recipe.name, tag, prefix), log)


def compose_environment(bases: dict[str, Base]) -> dict[str, str]:
    """What images/compose.yaml reads to build on these bases (no network when all are stand-ins)."""
    env = {recipe.base_arg: bases[recipe.name].reference for recipe in RECIPES}
    env["MILVUS_SPCS_BUILD_NETWORK"] = "none" if all(b.standin for b in bases.values()) else "default"
    return env
