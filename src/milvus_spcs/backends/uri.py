"""A Milvus someone else runs: the harness only checks that it answers and never stops it."""

from __future__ import annotations

from milvus_spcs.backends.base import MilvusBackend
from milvus_spcs.errors import PreflightError


class UriBackend(MilvusBackend):
    name = "uri"

    def __init__(self, uri: str | None) -> None:
        super().__init__()
        if not uri or not uri.startswith(("http://", "https://", "tcp://", "unix:")):
            raise PreflightError(
                f"Milvus URI {uri!r} is missing or malformed", ["use e.g. http://127.0.0.1:19530"]
            )
        self._given = uri

    def _launch(self) -> str:
        return self._given

    def stop(self) -> None:
        self._uri = None

    def describe(self) -> str:
        return f"uri ({self._given})"
