"""The guide's demo data: three documents and the question the notebook asks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    id: int
    text: str


# Verbatim from the guide's notebook (seeds/integrate_with_snowpark.md, "Utilizar Notebook").
GUIDE_DOCUMENTS: tuple[Document, ...] = (
    Document(0, "Artificial intelligence was founded as an academic discipline in 1956."),
    Document(1, "Alan Turing was the first person to conduct substantial research in AI."),
    Document(2, "Born in Maida Vale, London, Turing was raised in southern England."),
)

GUIDE_QUERY = "Who started AI research?"
