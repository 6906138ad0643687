"""PUT into, GET from, LIST and REMOVE on internal stages; files live in the account's state directory."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import regex

from spcs_emulator import errors, stage_digests
from spcs_emulator.account.auth import check_session
from spcs_emulator.account.context import Context
from spcs_emulator.account.kinds.stages import stage_directory
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.show import columns
from spcs_emulator.paths import inside, relative_parts
from spcs_emulator.protocol.backend import Download, Upload
from spcs_emulator.results import Result, table
from spcs_emulator.sql import ast

# PATTERN is a user's regular expression run over every file name: bounded in length, and all its
# matching in one statement bounded in time (a backtracking pattern such as '(a|aa)+$' would otherwise
# hold the account's lock for as long as it likes).
PATTERN_MAX_CHARS = 1000
PATTERN_SECONDS = 1.0
# 100048 (2201B) "Invalid regular expression": 2201B is the SQL standard's state for it; Snowflake's
# errno for a bad PATTERN on LIST/REMOVE is unconfirmed.


def _stage(ctx: Context, ref: ast.StageRef) -> CatalogObject:
    return ctx.lookup(ast.STAGE, ref.stage)


def _stage_path(ref: ast.StageRef) -> tuple[str, ...]:
    """The segments of ``@stage/<path>``; ``..`` is refused before anything is read or written."""
    return relative_parts(ref.path, "stage path")


def _flag(options: dict[str, Any], key: str, default: bool) -> bool:
    value = options.get(key, default)
    if isinstance(value, ast.Ident):
        value = value.value
    if isinstance(value, str):
        return value.upper() == "TRUE"
    return bool(value)


def put(ctx: Context, stmt: ast.Put) -> Upload:
    stage = _stage(ctx, stmt.target)
    ctx.require(stage, "WRITE")
    parts = _stage_path(stmt.target)
    directory = inside(stage_directory(ctx, stage.fqn), parts, "stage path")
    directory.mkdir(parents=True, exist_ok=True)
    compression = stmt.options.get("SOURCE_COMPRESSION", "auto_detect")
    return Upload(
        src_locations=(stmt.local_path,),
        directory=directory,
        auto_compress=_flag(stmt.options, "AUTO_COMPRESS", True),
        overwrite=_flag(stmt.options, "OVERWRITE", False),
        source_compression=compression.value if isinstance(compression, ast.Ident) else str(compression),
        still_allowed=partial(may_still_write, ctx, stage, parts),
    )


def may_still_write(ctx: Context, stage: CatalogObject, parts: tuple[str, ...]) -> bool:
    """Whether an upload a PUT granted may still land: PUT's own checks, on the account as it is now
    (the session is alive and may act with its role, the stage is the same object, not dropped or
    re-created, the session still holds WRITE on it, and the directory still resolves inside the stage,
    no symlink planted in its path since)."""
    root = stage_directory(ctx, stage.fqn)
    with ctx.state.lock:
        if ctx.state.catalog.get(ast.STAGE, stage.fqn) is not stage or root.is_symlink():
            return False
        try:
            check_session(ctx.state, ctx.session)
            ctx.require(stage, "WRITE")
            inside(root, parts, "stage path")
        except errors.SnowflakeError:
            return False
        return True


def get(ctx: Context, stmt: ast.GetStage) -> Download:
    """The files of ``@stage/<path>`` (all below it, as LIST), for the client to fetch one by one."""
    stage = _stage(ctx, stmt.source)
    ctx.require(stage, "READ")
    pattern = stmt.options.get("PATTERN")
    files = tuple(relative for _stage_obj, relative, _path in _files(ctx, stmt.source, _text(pattern)))
    return Download(
        files=files,
        root=stage_directory(ctx, stage.fqn),
        local_directory=stmt.local_path,
        still_allowed=partial(may_still_read, ctx, stage),
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.value if isinstance(value, ast.Ident) else str(value)


def may_still_read(ctx: Context, stage: CatalogObject) -> bool:
    """Whether a download a GET granted may still be fetched: the session is alive and may act with its
    role, the stage is the same object (not dropped or re-created) and the session still holds READ."""
    with ctx.state.lock:
        if ctx.state.catalog.get(ast.STAGE, stage.fqn) is not stage:
            return False
        try:
            check_session(ctx.state, ctx.session)
            ctx.require(stage, "READ")
        except errors.SnowflakeError:
            return False
        return True


def _compile_pattern(pattern: str) -> regex.Pattern[str]:
    if len(pattern) > PATTERN_MAX_CHARS:
        raise errors.invalid_regex(pattern, f"longer than {PATTERN_MAX_CHARS} characters")
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise errors.invalid_regex(pattern, str(exc)) from None


def _stage_files(root: Path) -> Iterator[Path]:
    """Regular files under ``root``, sorted; symlinks (to files or directories) are never followed or
    listed: a process sharing the user id could plant one to read or delete a host file through LIST."""
    if root.is_symlink():
        return
    found = []
    for directory, _subdirectories, names in os.walk(root, followlinks=False):
        for name in names:
            path = Path(directory, name)
            if not path.is_symlink() and path.is_file():
                found.append(path)
    yield from sorted(found)


def _files(ctx: Context, ref: ast.StageRef, pattern: str | None) -> Iterator[tuple[CatalogObject, str, Path]]:
    stage = _stage(ctx, ref)
    root = stage_directory(ctx, stage.fqn)
    prefix = "/".join(_stage_path(ref))
    compiled = _compile_pattern(pattern) if pattern else None
    deadline = time.monotonic() + PATTERN_SECONDS
    for path in _stage_files(root):
        relative = path.relative_to(root).as_posix()
        if prefix and not (relative == prefix or relative.startswith(prefix.rstrip("/") + "/")):
            continue
        if compiled is not None and not _matches(compiled, relative, deadline):
            continue
        yield stage, relative, path


def _matches(compiled: regex.Pattern[str], name: str, deadline: float) -> bool:
    try:
        return compiled.fullmatch(name, timeout=max(deadline - time.monotonic(), 0.001)) is not None
    except TimeoutError:
        raise errors.invalid_regex(
            compiled.pattern, f"matching took longer than its time limit of {PATTERN_SECONDS:g} s"
        ) from None


def list_stage(ctx: Context, stmt: ast.ListStage) -> Result:
    rows = []
    for stage, relative, path in _files(ctx, stmt.target, stmt.pattern):
        ctx.require(stage, "READ")
        # Under the account's lock: the digest the upload took, not a read of the file (stage_digests).
        digest = stage_digests.md5_of(path)
        if digest is None:  # no longer a regular file (e.g. swapped for a symlink)
            continue
        md5, status = digest
        modified = dt.datetime.fromtimestamp(status.st_mtime, dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
        rows.append((f"{stage.name.lower()}/{relative}", status.st_size, md5, modified))
    stage = _stage(ctx, stmt.target)
    ctx.require(stage, "READ")
    return table(columns("name size:int md5 last_modified"), rows)


def remove_stage(ctx: Context, stmt: ast.RemoveStage) -> Result:
    stage = _stage(ctx, stmt.target)
    ctx.require(stage, "WRITE")
    removed = []
    for _stage_obj, relative, path in list(_files(ctx, stmt.target, stmt.pattern)):
        path.unlink()
        removed.append((f"{stage.name.lower()}/{relative}", "removed"))
    return table(columns("name result"), removed)


def read_stage_file(ctx: Context, ref: ast.StageRef, file: str) -> str:
    """A file from a stage, read whole (a statement's ``FROM @stage SPECIFICATION_FILE = '...'``)."""
    stage = _stage(ctx, ref)
    ctx.require(stage, "READ")
    parts = _stage_path(ref) + relative_parts(file, "specification file", allow_leading_slash=False)
    path = inside(stage_directory(ctx, stage.fqn), parts, "specification file")
    if not path.is_file():
        raise errors.spec_file_missing(file, stage.display)
    return path.read_text()
