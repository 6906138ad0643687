"""An offline corpus of distinct English sentences, taken from the docstrings of the Python installed here.

No network and no data set: the standard library and site-packages carry hundreds of thousands of
sentences of technical English. Files are parsed (never imported) in sorted order, docstrings are split
into sentences, and an English-ish filter drops code, tables and fragments. The same installation and
seed give the same corpus; its digest is printed in every report, so two runs can be compared.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import sys
import sysconfig
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MIN_WORDS, MAX_WORDS = 5, 50
# A sentence ends at . ! or ? followed by whitespace and a capital letter (abbreviations mostly survive).
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
# Code, markup and references: a sentence with any of these is not prose.
NOT_PROSE = re.compile(r">>>|::|--|[=_`{}\[\]<>|\\#*@$~^]|\.\.|\bhttps?:|\w\.\w+\(|\(\)|\b[a-z]+[A-Z]\w*")
# Words that mark an English sentence (a sentence needs two of them).
_MARKERS = "the a an is are was be to of and in that it for on with as by this if not or from can when which"
ENGLISH_WORDS = frozenset(_MARKERS.split(" "))


@dataclass(frozen=True)
class Corpus:
    documents: list[str]
    queries: list[str]  # held out: none of them is a document
    seed: int

    @property
    def digest(self) -> str:
        """Identifies the exact texts (and their order): the key of the embedding cache."""
        h = hashlib.sha256()
        for text in (*self.documents, "\x00", *self.queries):
            h.update(text.encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()[:16]


def source_roots() -> list[Path]:
    """The standard library first, then site-packages: fixed roots, fixed order."""
    paths = sysconfig.get_paths()
    roots = [Path(paths["stdlib"]), Path(paths["purelib"]), Path(paths["platlib"])]
    unique: list[Path] = []
    for root in roots:
        if root.is_dir() and root not in unique:
            unique.append(root)
    return unique


def python_files(roots: Iterable[Path]) -> Iterator[Path]:
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root).parts
            # site-packages inside the stdlib root is walked as its own root; tests are repetitive prose
            if "site-packages" in relative or "test" in relative or "tests" in relative:
                continue
            yield path


def docstrings(path: Path) -> Iterator[str]:
    try:
        source = path.read_text(encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in old files
            tree = ast.parse(source)
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError, RecursionError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            text = ast.get_docstring(node, clean=True)
            if text:
                yield text


def sentences(docstring: str) -> Iterator[str]:
    # Paragraphs first: a blank line ends a sentence whatever its punctuation.
    for paragraph in docstring.split("\n\n"):
        flat = " ".join(paragraph.split())
        for sentence in SENTENCE_END.split(flat):
            if is_english_sentence(sentence):
                yield sentence


def is_english_sentence(text: str) -> bool:
    if not text or not text[0].isupper() or text[-1] not in ".!?" or not text.isascii():
        return False
    if NOT_PROSE.search(text):
        return False
    tokens = text.split()
    if not MIN_WORDS <= len(tokens) <= MAX_WORDS:
        return False
    words = [t for t in tokens if WORD.fullmatch(t.strip(".,;:!?()\"'"))]
    if len(words) < 0.8 * len(tokens):  # numbers, paths, identifiers
        return False
    return sum(w.lower().strip(".,;:!?()\"'") in ENGLISH_WORDS for w in words) >= 2


def distinct_sentences(roots: Iterable[Path] | None = None) -> list[str]:
    """Every distinct sentence (case-insensitive) in file order."""
    seen: set[str] = set()
    found: list[str] = []
    for path in python_files(roots if roots is not None else source_roots()):
        for docstring in docstrings(path):
            for sentence in sentences(docstring):
                key = sentence.lower()
                if key not in seen:
                    seen.add(key)
                    found.append(sentence)
    return found


def installation_fingerprint() -> str:
    """Names the sentence pool: the Python version, every installed distribution, the filter's rules."""
    from importlib.metadata import distributions

    # A set: a distribution found twice (an editable checkout's egg-info under src/ on sys.path, as in
    # pytest's workers) is the same installation, and must name the same cached pool.
    installed = sorted({f"{d.metadata['Name']}=={d.version}" for d in distributions()})
    rules = f"{MIN_WORDS},{MAX_WORDS},{NOT_PROSE.pattern},{SENTENCE_END.pattern},{sorted(ENGLISH_WORDS)}"
    text = "\n".join([sys.version, rules, *installed])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def sentence_pool(cache_dir: Path | None, *, stdlib_only: bool = False) -> list[str]:
    """All distinct sentences of this installation (or of its standard library alone); a scan takes
    ~90 s on 2 cores (the standard library ~15 s), so the pool is cached per installation."""
    roots = [Path(sysconfig.get_paths()["stdlib"])] if stdlib_only else source_roots()
    if cache_dir is None:
        return distinct_sentences(roots)
    kind = "stdlib" if stdlib_only else "all"
    path = cache_dir / f"sentences-{kind}-{installation_fingerprint()}.txt"
    if path.is_file():
        return path.read_text(encoding="utf-8").splitlines()
    pool = distinct_sentences(roots)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")  # concurrent runs (the drills) write their own
    partial.write_text("\n".join(pool) + "\n", encoding="utf-8")
    partial.replace(path)
    return pool


def ranked(pool: list[str], seed: int) -> list[str]:
    """The pool in the order of a seeded hash of each text: a random order that a sentence added to
    or removed from the pool (another package installed) barely changes, so cached vectors still serve."""
    salt = f"{seed}\x00".encode()
    return sorted(pool, key=lambda text: hashlib.sha256(salt + text.encode("utf-8")).digest())


def draw_corpus(pool: list[str], size: int, queries: int, seed: int) -> Corpus:
    """The pool ranked by ``seed``: the first ``queries`` sentences are the held-out queries, the next
    ``size`` the documents (a smaller run's texts are a prefix of a larger one's)."""
    if size < 1 or queries < 1:
        raise ValueError("size and queries must be positive")
    if len(pool) < size + queries:
        raise ValueError(
            f"only {len(pool)} distinct sentences in this installation; asked for {size} + {queries} queries"
        )
    order = ranked(pool, seed)
    return Corpus(documents=order[queries : queries + size], queries=order[:queries], seed=seed)
