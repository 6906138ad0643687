from __future__ import annotations

from milvus_spcs.search import GUIDE_DOCUMENTS, GUIDE_QUERY


def test_the_guides_documents_verbatim() -> None:
    assert [(d.id, d.text) for d in GUIDE_DOCUMENTS] == [
        (0, "Artificial intelligence was founded as an academic discipline in 1956."),
        (1, "Alan Turing was the first person to conduct substantial research in AI."),
        (2, "Born in Maida Vale, London, Turing was raised in southern England."),
    ]
    assert GUIDE_QUERY == "Who started AI research?"
