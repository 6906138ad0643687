"""Clients inside the provisioned stack: the Jupyter service (with the user's notebooks uploaded), a
kernel in it, a Milvus client that runs in that kernel, and a notebook runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from milvus_spcs.config import HarnessConfig
from milvus_spcs.jupyter_client import JupyterOverIngress, Kernel
from milvus_spcs.remote_milvus import RemoteMilvus
from milvus_spcs.stack.spcs_plan import StackState


@pytest.fixture(scope="session")
def spcs_jupyter(ingress_url: str, run_user_token: str, harness_config: HarnessConfig) -> JupyterOverIngress:
    """The Jupyter service through its ingress, as the run's user. The notebooks of --notebooks-dir are
    uploaded to its root first (the bundled TestMilvus.ipynb is there already)."""
    jupyter = JupyterOverIngress(ingress_url, run_user_token)
    if harness_config.notebooks_dir is not None:
        for notebook in sorted(harness_config.notebooks_dir.glob("*.ipynb")):
            jupyter.upload(notebook.name, notebook.read_bytes())
    return jupyter


@pytest.fixture(scope="module")
def spcs_kernel(spcs_jupyter: JupyterOverIngress) -> Iterator[Kernel]:
    """One kernel in the Jupyter service per test module (variables carry over between its tests); it
    exits in the background, and the stack's teardown waits for it."""
    with spcs_jupyter.kernel(background_shutdown=True) as kernel:
        yield kernel


@pytest.fixture(scope="module")
def spcs_milvus(spcs_kernel: Kernel) -> RemoteMilvus:
    """A MilvusClient reached from inside the stack: ``spcs_milvus.search(collection_name=..., ...)``
    runs in ``spcs_kernel`` against the Milvus service, by its DNS name."""
    return RemoteMilvus(spcs_kernel)


@pytest.fixture
def spcs_notebook(spcs_jupyter: JupyterOverIngress, spcs_stack: StackState) -> Callable[..., dict[str, Any]]:
    """``spcs_notebook("mine.ipynb", collection="docs")``: runs a notebook of the Jupyter service cell by
    cell in a fresh kernel (``MILVUS_COLLECTION`` set to ``collection``, default one per run) and returns
    the JSON its cell tagged ``result`` printed last."""

    def run(name: str, *, collection: str | None = None) -> dict[str, Any]:
        return spcs_jupyter.run_notebook(name, collection=collection or f"nb_{spcs_stack.names.run_id}")

    return run
