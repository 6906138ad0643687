"""A container's environment: what SPCS gives a container, plus what a local process needs to run at all.

On SPCS a container sees its image's ENV, the spec's ``env`` and ``secrets`` (``envVarName``), and the
platform's own variables (``SNOWFLAKE_ACCOUNT``, ``SNOWFLAKE_HOST``, ``SNOWFLAKE_DATABASE``, ...; the
control plane adds those, see ``launches.Launches.platform_environment``). It never sees the
environment of whoever runs the platform. Here the platform is the emulator process, whose environment
holds ``SPCS_EMULATOR_ADMIN_PASSWORD``, ``SNOWFLAKE_PRIVATE_KEY_PASSPHRASE``, cloud credentials, ...: a
notebook cell run through the ingress must not read them. So a container's environment is built from
nothing and an allowlist (:data:`HOST_ALLOWLIST`): the search path for programs and libraries, the
locale and time zone, and ``PYTHONPATH`` (the emulated images are this host's Python environment).
``HOME`` and ``TMPDIR`` point into the container's own directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# Taken from the emulator's environment when set: nothing here is a credential.
HOST_ALLOWLIST = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "PYTHONPATH",  # the emulated images run this host's Python: a source checkout must stay importable
    "LD_LIBRARY_PATH",
)
DEFAULT_LANG = "C.UTF-8"


def base_environment(home: Path, tmp: Path) -> dict[str, str]:
    """The allowlisted host variables, with HOME and TMPDIR private to the container."""
    env = {name: os.environ[name] for name in HOST_ALLOWLIST if name in os.environ}
    env.setdefault("PATH", os.defpath)
    env.setdefault("LANG", DEFAULT_LANG)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
    env["HOME"] = str(home)
    env["TMPDIR"] = str(tmp)
    return env


def container_environment(home: Path, tmp: Path, *layers: Mapping[str, str]) -> dict[str, str]:
    """The base environment, then each layer in order (a later layer wins)."""
    env = base_environment(home, tmp)
    for layer in layers:
        env.update(layer)
    return env
