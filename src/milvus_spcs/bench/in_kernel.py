"""The benchmark inside SPCS: run in the Jupyter service's kernel, through the ingress, against the
Milvus service by its DNS name (the kernel's ``MILVUS_URI``), as the suites run the notebook.

The vectors and the exact top-k go up as one ``.npz`` file through Jupyter's contents API, and the
measuring code as the source of :mod:`milvus_spcs.bench.measure`: the kernel needs only numpy and
pymilvus, not this project's version of the benchmark.
"""

from __future__ import annotations

import inspect
import io
import json
import uuid
from collections.abc import Sequence

import numpy as np

from milvus_spcs.bench import measure
from milvus_spcs.bench.measure import IndexSpec, Matrix, Result
from milvus_spcs.errors import HarnessError
from milvus_spcs.jupyter_client import JupyterOverIngress

RESULT_PREFIX = "SCALE-RESULT "
MODULE = "milvus_spcs_scale_measure"


def load_module_cell() -> str:
    """Defines the measuring module in the kernel (registered in sys.modules: dataclasses look it up)."""
    source = inspect.getsource(measure)
    return (
        "import sys, types\n"
        f"_scale = types.ModuleType({MODULE!r})\n"
        f"sys.modules[{MODULE!r}] = _scale\n"
        f"exec(compile({source!r}, {MODULE + '.py'!r}, 'exec'), _scale.__dict__)\n"
    )


def measure_cell(data_file: str, specs: Sequence[IndexSpec], concurrencies: Sequence[int]) -> str:
    spec_args = [(s.name, s.build, s.search_sweep, s.search) for s in specs]
    return (
        "import json, os\n"
        "import numpy as np\n"
        f"_data = np.load({data_file!r})\n"
        "_docs, _queries, _truth = _data['documents'], _data['queries'], _data['truth']\n"
        f"_conc = {list(concurrencies)!r}\n"
        "_results = [_scale.numpy_baseline(_docs, _queries, _truth, _conc)]\n"
        f"for _args in {spec_args!r}:\n"
        "    _results.append(_scale.milvus_index(os.environ['MILVUS_URI'], 'spcs', _scale.IndexSpec(*_args),"
        " _docs, _queries, _truth, _conc, report=lambda line: print(line, flush=True)))\n"
        f"print({RESULT_PREFIX!r} + json.dumps([r.as_json() for r in _results]))\n"
    )


def run_in_kernel(
    jupyter: JupyterOverIngress,
    documents: Matrix,
    queries: Matrix,
    truth: np.ndarray,
    specs: Sequence[IndexSpec],
    concurrencies: Sequence[int],
) -> list[Result]:
    """numpy baseline and each index, measured in the kernel; the file is removed afterwards."""
    buffer = io.BytesIO()
    np.savez(buffer, documents=documents, queries=queries, truth=truth)
    data_file = f"scale-{uuid.uuid4().hex[:8]}.npz"
    jupyter.upload(data_file, buffer.getvalue())
    try:
        outputs = jupyter.run(load_module_cell(), measure_cell(data_file, specs, concurrencies))
    finally:
        jupyter.delete(data_file)
    for line in reversed(outputs[-1].splitlines()):
        if line.startswith(RESULT_PREFIX):
            results = [Result.from_json(item) for item in json.loads(line[len(RESULT_PREFIX) :])]
            for result in results:
                result.target = "spcs" if result.target == "spcs" else f"spcs-{result.target}"
                if result.target == "spcs":
                    result.notes.append("peak RSS: the Milvus service is another container, not measured")
            return results
    raise HarnessError(f"the kernel printed no {RESULT_PREFIX.strip()} line:\n{outputs[-1][-2000:]}")
