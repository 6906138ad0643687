"""Host paths built from what users choose stay inside their root.

Stage paths (``@stage/a/b``), spec file names and quoted identifiers (``CREATE STAGE "../x"``) come from
SQL. Every host path the emulator builds from them goes through here: a ``..`` segment (or an absolute
path where a relative one is expected) is refused with a Snowflake-style error before anything is read
or written, identifiers become one opaque directory name each, the joined path is checked to resolve
inside its root (symlinks included), and over-long names are refused before the file system sees them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

from spcs_emulator import errors

# A host file name holds at most 255 bytes (NAME_MAX); a stage path at most what an S3 key may (1024).
MAX_SEGMENT_BYTES = 255
MAX_PATH_BYTES = 1024
_SHOWN_CHARS = 80  # an error quotes at most this much of a value


def invalid_path(what: str, value: str, why: str) -> errors.SnowflakeError:
    """002043 (22023), as for any value a statement refuses; the text says what to fix."""
    shown = value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "..."
    return errors.invalid(f"Invalid {what} '{shown}': {why}.")


def segment_too_long(name: str) -> bool:
    return len(name.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES


def check_length(parts: tuple[str, ...], what: str) -> None:
    """Refuse a path no host file system would take (instead of failing with ENAMETOOLONG later)."""
    value = "/".join(parts)
    if any(segment_too_long(p) for p in parts):
        raise invalid_path(what, value, f"a path segment is longer than {MAX_SEGMENT_BYTES} bytes")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise invalid_path(what, value, f"the path is longer than {MAX_PATH_BYTES} bytes")


def relative_parts(value: str, what: str, *, allow_leading_slash: bool = True) -> tuple[str, ...]:
    """The segments of a slash-separated path inside some root; empty and ``.`` segments are dropped.

    ``allow_leading_slash``: a stage path is written ``@stage/a/b`` (its slash is a separator), but a
    file name that starts with ``/`` is an absolute host path and is refused."""
    if "\x00" in value or "\\" in value:
        raise invalid_path(what, value.replace("\x00", "\\0"), "NUL bytes and backslashes are not allowed")
    if value.startswith("/") and not allow_leading_slash:
        raise invalid_path(what, value, "an absolute path is not allowed, name a path inside the stage")
    parts = tuple(p for p in value.split("/") if p not in ("", "."))
    if ".." in parts:
        raise invalid_path(what, value, "'..' segments are not allowed")
    check_length(parts, what)
    return parts


def segment(identifier: str) -> str:
    """One directory name for an identifier, whatever a quoted identifier holds (``..``, ``/``, NUL).

    Percent-encoding with ``.`` encoded too is injective and never yields ``.``, ``..`` or a ``/``;
    unquoted identifiers (letters, digits, ``_``) come out unchanged."""
    return _bounded(quote(identifier, safe="").replace(".", "%2E"))


def _bounded(name: str) -> str:
    """A name the file system takes: one longer than NAME_MAX (a 255-character quoted identifier can
    encode to 2 KB) keeps a prefix and a digest after a ``+``, which percent-encoding never yields."""
    if len(name) <= MAX_SEGMENT_BYTES:
        return name
    return f"{name[:150]}+{hashlib.sha256(name.encode()).hexdigest()}"


def fqn_dir(root: Path, fqn: tuple[str, ...]) -> Path:
    """``root/<db>/<schema>/<name>``, one opaque directory per identifier."""
    return root.joinpath(*(segment(part) for part in fqn))


def fqn_name(fqn: tuple[str, ...]) -> str:
    """``DB.SCHEMA.NAME`` as one safe directory name (identifiers encoded, so the dots stay separators)."""
    return _bounded(".".join(quote(part, safe="").replace(".", "%2E") for part in fqn))


def inside(root: Path, parts: tuple[str, ...], what: str) -> Path:
    """``root`` joined with ``parts``, refused unless it resolves inside ``root`` (a symlink cannot lead out)
    and no file system would refuse its length."""
    check_length(parts, what)
    path = root.joinpath(*parts)
    if not path.resolve().is_relative_to(root.resolve()):
        raise invalid_path(what, "/".join(parts), "the path leads out of its stage")
    return path
