"""Statement results and their JSON wire encoding (reference/snowflake.md §8.3).

Engines return :class:`Result` with Python values; :func:`encode_rowset` turns them into the strings the
connector's JSON converter expects (booleans "1"/"0", timestamps "epoch.fraction", numbers as text).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

ColumnType = Literal[
    "text", "fixed", "boolean", "timestamp_ltz", "timestamp_ntz", "variant", "object", "real"
]

STATEMENT_TYPE_SELECT = 0x1000
STATEMENT_TYPE_DDL = 0x6000  # "other"; the connector only treats 0x3xxx (DML) specially


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "text"
    nullable: bool = True


@dataclass(frozen=True)
class Result:
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...] = ()
    statement_type: int = STATEMENT_TYPE_DDL

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"row has {len(row)} values for {len(self.columns)} columns: {row!r}")

    def as_dicts(self) -> list[dict[str, Any]]:
        names = [c.name for c in self.columns]
        return [dict(zip(names, row, strict=True)) for row in self.rows]


def status(message: str = "Statement executed successfully.") -> Result:
    """The one-column ``status`` row DDL statements return (reference §1.20)."""
    return Result(columns=(Column("status"),), rows=((message,),))


def table(columns: Sequence[Column | str], rows: Sequence[Sequence[Any]], *, select: bool = False) -> Result:
    cols = tuple(c if isinstance(c, Column) else Column(c) for c in columns)
    return Result(
        columns=cols,
        rows=tuple(tuple(r) for r in rows),
        statement_type=STATEMENT_TYPE_SELECT if select else STATEMENT_TYPE_DDL,
    )


def encode_value(value: Any, column: Column) -> str | None:
    if value is None:
        return None
    if column.type == "boolean":
        return "1" if value else "0"
    if column.type in ("timestamp_ltz", "timestamp_ntz"):
        if isinstance(value, dt.datetime):
            value = value.timestamp()
        return f"{float(value):.9f}"
    if column.type in ("variant", "object"):
        return value if isinstance(value, str) else json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_rowset(result: Result) -> list[list[str | None]]:
    return [[encode_value(v, c) for v, c in zip(row, result.columns, strict=True)] for row in result.rows]


def rowtype(result: Result) -> list[dict[str, Any]]:
    """Column metadata with the six keys the connector requires (name, type, nullable, length, precision, scale)."""
    out = []
    for column in result.columns:
        entry: dict[str, Any] = {
            "name": column.name,
            "type": column.type,
            "nullable": column.nullable,
            "length": None,
            "precision": None,
            "scale": None,
            "byteLength": None,
            "collation": None,
            "database": "",
            "schema": "",
            "table": "",
        }
        if column.type == "text":
            entry["length"] = entry["byteLength"] = 16_777_216
        elif column.type == "fixed":
            entry["precision"], entry["scale"] = 38, 0
        elif column.type in ("timestamp_ltz", "timestamp_ntz"):
            entry["precision"], entry["scale"] = 0, 9
        out.append(entry)
    return out
