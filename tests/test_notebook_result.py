from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from milvus_spcs.errors import HarnessError
from milvus_spcs.notebook import NOTEBOOK_RELATIVE_PATH, result_of


def _notebook(text: str, tags: list[str]) -> nbformat.NotebookNode:
    cell = new_code_cell("print(...)", metadata={"tags": tags})
    cell.outputs = [new_output("stream", name="stdout", text=text)]
    return new_notebook(cells=[cell])


def test_result_is_the_last_json_line_of_the_tagged_cell() -> None:
    assert result_of(_notebook('noise\n{"count": 3}\n', ["result"])) == {"count": 3}


def test_missing_result_cell_is_an_error() -> None:
    with pytest.raises(HarnessError, match="no cell tagged 'result'"):
        result_of(_notebook('{"count": 3}', []))


def test_silent_result_cell_is_an_error() -> None:
    with pytest.raises(HarnessError, match="printed nothing"):
        result_of(_notebook("", ["result"]))


def test_a_result_that_is_no_json_object_is_an_error() -> None:
    with pytest.raises(HarnessError, match="not a JSON object"):
        result_of(_notebook("[1, 2]", ["result"]))


def test_shipped_notebook_is_valid_and_uses_the_search_module(pytestconfig: pytest.Config) -> None:
    notebook = nbformat.read(pytestconfig.rootpath / NOTEBOOK_RELATIVE_PATH, as_version=4)
    nbformat.validate(notebook)
    source = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "from milvus_spcs.search import" in source
    assert 'os.environ.get("MILVUS_URI")' in source
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), "commit it unexecuted"
