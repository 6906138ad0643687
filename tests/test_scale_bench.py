"""The pure parts of ``python -m bench.scale``: corpus, recall, percentiles, exact search, the cache."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from milvus_spcs.bench.corpus import distinct_sentences, draw_corpus, is_english_sentence, ranked
from milvus_spcs.bench.measure import exact_top_k, percentiles, recall_at_k
from milvus_spcs.bench.run import parse_targets
from milvus_spcs.bench.vectors import embed_corpus

POOL = [f"Sentence number {i} is about the topic of things." for i in range(200)]


def test_the_same_seed_draws_the_same_corpus_and_another_seed_another() -> None:
    first, again = draw_corpus(POOL, 50, 10, seed=1), draw_corpus(POOL, 50, 10, seed=1)
    assert (first.documents, first.queries, first.digest) == (again.documents, again.queries, again.digest)
    assert draw_corpus(POOL, 50, 10, seed=2).digest != first.digest


def test_queries_are_held_out_and_every_text_is_distinct() -> None:
    corpus = draw_corpus(POOL, 150, 50, seed=0)
    assert not set(corpus.queries) & set(corpus.documents)
    assert len(set(corpus.documents)) == 150


def test_a_smaller_run_is_a_prefix_of_a_larger_one_and_additions_barely_move_the_order() -> None:
    assert draw_corpus(POOL, 20, 10, 0).documents == draw_corpus(POOL, 100, 10, 0).documents[:20]
    order = ranked(POOL, 0)
    grown = ranked([*POOL, "An added sentence that comes from a new package."], 0)
    assert [t for t in grown if t in set(POOL)] == order


def test_too_small_a_pool_is_refused_with_the_numbers() -> None:
    with pytest.raises(ValueError, match="only 200 distinct sentences"):
        draw_corpus(POOL, 500, 10, 0)


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("Return the number of items in the queue.", True),
        ("Examples -------- The following example calculates the signal.", False),
        (">>> x = f(1) is the value of it.", False),
        ("See :func:`foo` for the details of this.", False),
        ("lowercase start is not a sentence of ours.", False),
        ("Too short a line.", False),
    ],
)
def test_the_english_filter(text: str, english: bool) -> None:
    assert is_english_sentence(text) is english


def test_sentences_come_from_docstrings_in_file_order_without_duplicates(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        '"""This module is the first one to be read.\n\nIt has a second sentence in it."""\n'
        'def f():\n    """This module is the first one to be read."""\n'
    )
    (tmp_path / "b.py").write_text('class C:\n    """A class that is here for the test of it."""\n')
    assert distinct_sentences([tmp_path]) == [
        "This module is the first one to be read.",
        "It has a second sentence in it.",
        "A class that is here for the test of it.",
    ]


def test_percentiles_are_nearest_rank() -> None:
    samples = [float(i) for i in range(1, 101)]
    assert percentiles(samples) == {"p50": 50.0, "p95": 95.0, "p99": 99.0}
    assert percentiles([7.0]) == {"p50": 7.0, "p95": 7.0, "p99": 7.0}
    with pytest.raises(ValueError, match="no samples"):
        percentiles([])


def test_recall_counts_the_true_neighbours_found_among_the_first_k() -> None:
    truth = np.array([[1, 2, 3], [4, 5, 6]])
    assert recall_at_k([[1, 2, 3], [4, 5, 6]], truth, k=3) == 1.0
    assert recall_at_k([[3, 2, 9], [7, 8, 9]], truth, k=3) == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match="1 results for 2 queries"):
        recall_at_k([[1]], truth, k=3)


def test_exact_top_k_matches_a_full_sort() -> None:
    rng = np.random.default_rng(0)
    docs = rng.normal(size=(300, 8)).astype(np.float32)
    queries = rng.normal(size=(20, 8)).astype(np.float32)
    expected = np.argsort(-(queries @ docs.T), axis=1)[:, :10]
    assert (exact_top_k(docs, queries, k=10, chunk=7) == expected).all()


def test_the_vector_cache_embeds_only_texts_it_has_not_seen(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def embed(texts: Sequence[str]) -> list[list[float]]:
        batch = list(texts)
        calls.append(batch)
        return [[float(len(t)), 1.0] for t in batch]

    model = tmp_path / "model"
    model.mkdir()
    (model / "weights").write_bytes(b"w")
    small = draw_corpus(POOL, 20, 5, 0)
    first = embed_corpus(small, tmp_path, embed=embed, model_dir=model, report=lambda _: None)
    assert first.embedded_now == 25
    assert first.documents.shape == (20, 2)
    larger = embed_corpus(draw_corpus(POOL, 40, 5, 0), tmp_path, embed=embed, model_dir=model, report=print)
    assert larger.embedded_now == 20  # the first 25 texts came from the cache
    assert (larger.documents[:20] == first.documents).all()
    assert sum(len(c) for c in calls) == 45


def test_backend_names_are_checked() -> None:
    assert parse_targets("lite, server,spcs") == ["lite", "server", "spcs"]
    with pytest.raises(ValueError, match="docker"):
        parse_targets("lite,docker")


def test_the_installation_fingerprint_ignores_a_distribution_found_twice(tmp_path: Path) -> None:
    """pytest puts src/ on sys.path (pythonpath), where an editable checkout keeps its egg-info: the
    same installation must name the same cached sentence pool (it was scanned again, ~13 s of CI's
    spcs-path benchmark)."""
    import subprocess
    import sys

    egg = tmp_path / "milvus_spcs.egg-info"
    egg.mkdir()
    from importlib.metadata import version

    (egg / "PKG-INFO").write_text(
        f"Metadata-Version: 2.1\nName: milvus-spcs\nVersion: {version('milvus-spcs')}\n"
    )
    code = (
        "import sys\n"
        "from milvus_spcs.bench.corpus import installation_fingerprint\n"
        "first = installation_fingerprint()\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "print(first == installation_fingerprint())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "True"
