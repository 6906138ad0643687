"""An answer against an expectation: the differences, one readable line each (empty: they agree).
Only what the expectation states is compared: a hand-written fact may name a few columns of a row."""

from __future__ import annotations

import re
from typing import Any


def value_matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict) and set(expected) == {"re"}:
        return actual is not None and re.fullmatch(str(expected["re"]), str(actual), re.DOTALL) is not None
    return bool(expected == actual)


def columns_match(expected: list[str], actual: list[str]) -> bool:
    """In order; an expected "name" without a type checks the name only (a source that gives no type)."""
    if len(expected) != len(actual):
        return False
    return all(
        want == got if " " in want else want == got.split(" ")[0]
        for want, got in zip(expected, actual, strict=True)
    )


def differences(expect: dict[str, Any], answer: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if "error" in expect:
        if "error" not in answer:
            return [
                f"expected the refusal {expect['error']}, got a result with {answer.get('row_count')} row(s)"
            ]
        for key, want in expect["error"].items():
            got = answer["error"].get(key)
            if not value_matches(want, got):
                out.append(f"error {key}: expected {want!r}, got {got!r}")
        return out
    if "error" in answer:
        return [f"expected a result, got the refusal {answer['error']}"]
    for key in ("status", "location", "row_count"):
        if key in expect and not value_matches(expect[key], answer.get(key)):
            out.append(f"{key}: expected {expect[key]!r}, got {answer.get(key)!r}")
    if "columns" in expect and not columns_match(expect["columns"], answer.get("columns") or []):
        out.append(f"columns: expected {expect['columns']}, got {answer.get('columns')}")
    if "rows" in expect:
        got_rows = answer.get("rows") or []
        if len(expect["rows"]) != len(got_rows):
            out.append(f"rows: expected {len(expect['rows'])}, got {len(got_rows)}: {got_rows}")
        for i, (want, got) in enumerate(zip(expect["rows"], got_rows, strict=False)):
            for column, value in want.items():
                if column not in got:
                    out.append(f"row {i}: no column {column!r}")
                elif not value_matches(value, got[column]):
                    out.append(f"row {i} {column}: expected {value!r}, got {got[column]!r}")
    return out
