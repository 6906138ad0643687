"""Execute the demo notebook in a fresh Jupyter kernel and read its machine-readable result."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from milvus_spcs.errors import HarnessError

if TYPE_CHECKING:
    import nbformat

RESULT_TAG = "result"
NOTEBOOK_RELATIVE_PATH = Path("images") / "jupyter" / "TestMilvus.ipynb"


@dataclass(frozen=True)
class NotebookRun:
    result: dict[str, Any]
    notebook: nbformat.NotebookNode


def result_json(line: str) -> dict[str, Any]:
    """The result cell's last printed line, which must be one JSON object."""
    result = json.loads(line)
    if not isinstance(result, dict):
        raise HarnessError(f"the notebook's result is not a JSON object: {line[:200]!r}")
    return result


def result_of(notebook: nbformat.NotebookNode) -> dict[str, Any]:
    """The JSON printed by the cell tagged ``result``."""
    for cell in notebook.cells:
        if RESULT_TAG in cell.get("metadata", {}).get("tags", []):
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")
            if not text.strip():
                raise HarnessError("the notebook's result cell printed nothing")
            return result_json(text.strip().splitlines()[-1])
    raise HarnessError(f"the notebook has no cell tagged {RESULT_TAG!r}")


def execute_notebook(
    path: Path, *, milvus_uri: str, collection: str, timeout: float = 600, workdir: Path | None = None
) -> NotebookRun:
    """Run every cell of ``path`` with ``MILVUS_URI`` set; a failing cell raises with its traceback."""
    # Imported here: nbformat's schema validation takes a second to import, and the SPCS path (which
    # runs the notebook in the service's kernel) needs only the result helpers above.
    import nbformat
    from nbclient import NotebookClient

    # nbformat ships py.typed but leaves read() unannotated.
    notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    env = {**os.environ, "MILVUS_URI": milvus_uri, "MILVUS_COLLECTION": collection, "HF_HUB_OFFLINE": "1"}
    client = NotebookClient(
        notebook,
        timeout=int(timeout),
        kernel_name="python3",
        # The kernel's state is of no use once the last cell ran: don't wait for a graceful exit.
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(workdir or path.parent)}},
    )
    client.execute(env=env)
    return NotebookRun(result=result_of(notebook), notebook=notebook)
