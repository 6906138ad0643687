"""A Milvus client that runs inside the stack: each call is a ``MilvusClient`` method run in a kernel of
the Jupyter service, against the Milvus service reached by its DNS name (``MILVUS_URI`` in the Jupyter
container's environment), as a user's notebook reaches it. On SPCS the Milvus endpoint is not public:
this is how a test on the outside talks to it.

Arguments and results cross as JSON: lists, dicts, strings, numbers (vectors as lists of floats).
What pymilvus returns is turned into those (its hits and results are dicts and lists already).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from milvus_spcs.errors import HarnessError

# Sent once per kernel: the client is made on first use and reused by every later call.
PRELUDE = """
import json as _ms_json, os as _ms_os
from collections.abc import Mapping as _MsMapping
from pymilvus import MilvusClient as _MsMilvusClient

def _ms_plain(value):
    if isinstance(value, _MsMapping):
        return {str(k): _ms_plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _ms_plain(value.tolist())
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    try:  # lists, tuples and pymilvus's own sequences (hits; ids are a protobuf container)
        return [_ms_plain(v) for v in list(value)]
    except TypeError:
        return str(value)

def _ms_call(name, payload):
    global _ms_client
    if "_ms_client" not in globals():
        _ms_client = _MsMilvusClient(_ms_os.environ["MILVUS_URI"], timeout=60)
    args = _ms_json.loads(payload)
    result = getattr(_ms_client, name)(*args["args"], **args["kwargs"])
    print(_ms_json.dumps({"result": _ms_plain(result)}))
"""


class RunsCode(Protocol):
    """What runs Python in the stack: a kernel (``jupyter_client.Kernel``)."""

    def run(self, *cells: str) -> list[str]: ...


class RemoteMilvusError(HarnessError):
    """A call that failed in the kernel; the message carries the kernel's traceback."""


class RemoteMilvus:
    """``remote.insert(collection_name="docs", data=[...])`` runs ``MilvusClient.insert`` in the stack and
    returns its result as plain JSON values. Any ``MilvusClient`` method is reachable by its name."""

    def __init__(self, kernel: RunsCode) -> None:
        self.kernel = kernel
        self._ready = False

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if not method.isidentifier() or method.startswith("_"):
            raise ValueError(f"{method!r} is not a MilvusClient method name")
        payload = json.dumps({"args": list(args), "kwargs": kwargs})  # a TypeError here: not JSON
        cells = [] if self._ready else [PRELUDE]
        cells.append(f"_ms_call({method!r}, {payload!r})")
        try:
            outputs = self.kernel.run(*cells)
        except HarnessError as exc:
            raise RemoteMilvusError(f"MilvusClient.{method} failed in the stack's kernel: {exc}") from exc
        self._ready = True
        return result_of(outputs[-1], method)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)


def result_of(output: str, method: str) -> Any:
    """The call's result: the last line the kernel printed is ``{"result": ...}``."""
    lines = output.strip().splitlines()
    try:
        return json.loads(lines[-1])["result"]
    except (IndexError, ValueError, KeyError, TypeError):
        raise RemoteMilvusError(
            f"MilvusClient.{method} in the stack's kernel printed no result: {output[-500:]!r}"
        ) from None
