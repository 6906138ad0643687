"""PUT into, LIST and REMOVE on internal stages; files live in the account's state directory."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from functools import partial
from typing import TYPE_CHECKING

from spcs_emulator import errors
from spcs_emulator.account.auth import check_session, role_usable
from spcs_emulator.account.context import Context
from spcs_emulator.account.kinds.stages import stage_directory
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.session import Session
from spcs_emulator.account.show import columns
from spcs_emulator.paths import inside, relative_parts
from spcs_emulator.protocol.backend import Upload
from spcs_emulator.results import Result, table
from spcs_emulator.sql import ast

if TYPE_CHECKING:
    from spcs_emulator.account.engine import Account


def _stage(ctx: Context, ref: ast.StageRef):
    return ctx.lookup(ast.STAGE, ref.stage)


def _stage_path(ref: ast.StageRef) -> tuple[str, ...]:
    """The segments of ``@stage/<path>``; ``..`` is refused before anything is read or written."""
    return relative_parts(ref.path, "stage path")


def _flag(options: dict, key: str, default: bool) -> bool:
    value = options.get(key, default)
    if isinstance(value, ast.Ident):
        value = value.value
    if isinstance(value, str):
        return value.upper() == "TRUE"
    return bool(value)


def put(ctx: Context, stmt: ast.Put) -> Upload:
    stage = _stage(ctx, stmt.target)
    ctx.require(stage, "WRITE")
    directory = inside(stage_directory(ctx, stage.fqn), _stage_path(stmt.target), "stage path")
    directory.mkdir(parents=True, exist_ok=True)
    compression = stmt.options.get("SOURCE_COMPRESSION", "auto_detect")
    return Upload(
        src_locations=(stmt.local_path,),
        directory=directory,
        auto_compress=_flag(stmt.options, "AUTO_COMPRESS", True),
        overwrite=_flag(stmt.options, "OVERWRITE", False),
        source_compression=compression.value if isinstance(compression, ast.Ident) else str(compression),
        still_allowed=partial(may_still_write, ctx.account, ctx.session, stage),
    )


def may_still_write(account: Account, session: Session, stage: CatalogObject) -> bool:
    """Whether an upload a PUT granted may still land: the session is alive and may act with its role,
    the stage is the same object (not dropped, not re-created), and the session still holds WRITE on it."""
    with account.lock:
        if account.catalog.get(ast.STAGE, stage.fqn) is not stage:
            return False
        try:
            check_session(account, session)
        except errors.SnowflakeError:
            return False
        if not role_usable(account, session.user, session.role):
            return False
        return account.access.holds(Context(account, session).roles(), stage.kind, stage.fqn, "WRITE")


def _files(ctx: Context, ref: ast.StageRef, pattern: str | None):
    stage = _stage(ctx, ref)
    root = stage_directory(ctx, stage.fqn)
    prefix = "/".join(_stage_path(ref))
    regex = re.compile(pattern) if pattern else None
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if prefix and not (relative == prefix or relative.startswith(prefix.rstrip("/") + "/")):
            continue
        if regex and not regex.fullmatch(relative):
            continue
        yield stage, relative, path


def list_stage(ctx: Context, stmt: ast.ListStage) -> Result:
    rows = []
    for stage, relative, path in _files(ctx, stmt.target, stmt.pattern):
        ctx.require(stage, "READ")
        data = path.read_bytes()
        modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).strftime(
            "%a, %d %b %Y %H:%M:%S GMT"
        )
        rows.append((f"{stage.name.lower()}/{relative}", len(data), hashlib.md5(data).hexdigest(), modified))
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
    """A spec file from a stage (for CREATE SERVICE ... FROM @stage SPECIFICATION_FILE = '...')."""
    stage = _stage(ctx, ref)
    ctx.require(stage, "READ")
    parts = _stage_path(ref) + relative_parts(file, "specification file", allow_leading_slash=False)
    path = inside(stage_directory(ctx, stage.fqn), parts, "specification file")
    if not path.is_file():
        raise errors.SnowflakeError(
            2003,
            "02000",
            f"SQL compilation error:\nSpecification file '{file}' does not exist in stage '{stage.display}'.",
        )
    return path.read_text()
