"""The wheel carries the harness's own files (sql/, specs/, images/) inside the package, so an installed
milvus-spcs (its pytest plugin, its CLI) works without this repository: see milvus_spcs/paths.py.
Everything else is in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED_FOLDERS = ("sql", "specs", "images")  # milvus_spcs.paths.HARNESS_FILES finds them


class BuildWithHarnessFiles(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's folders themselves
            return
        target = Path(self.build_lib) / "milvus_spcs" / "harness_files"
        for folder in SHIPPED_FOLDERS:
            shutil.copytree(
                ROOT / folder,
                target / folder,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__"),
            )


setup(cmdclass={"build_py": BuildWithHarnessFiles})
