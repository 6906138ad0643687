"""Property values of CREATE/ALTER: checked against the kind's list, read as Python data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.sql import ast


def plain(value: Any) -> Any:
    """A property value as Python data: identifiers and names become their text."""
    if isinstance(value, ast.Ident):
        return value.value
    if isinstance(value, ast.Name):
        return str(value)
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


# Properties that are booleans wherever they appear. Snowflake also takes them as strings, read as
# TO_BOOLEAN reads them ('TRUE', 'false', 'yes', 'off', ...): stored as the string, DISABLED = 'TRUE'
# would not disable.
BOOLEAN_PROPERTIES = frozenset(
    {"DISABLED", "MUST_CHANGE_PASSWORD", "ENABLED", "AUTO_RESUME", "INITIALLY_SUSPENDED"}
)
_TRUE_WORDS = frozenset({"TRUE", "T", "YES", "Y", "ON", "1"})
_FALSE_WORDS = frozenset({"FALSE", "F", "NO", "N", "OFF", "0"})


def boolean(name: str, value: Any) -> bool:
    """A boolean property's value; anything else is refused before any change (002043 (22023);
    Snowflake's exact text for this case is unconfirmed)."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().upper()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise errors.invalid(f"invalid value [{str(value)[:40]!r}] for parameter '{name}'")


def check_property_names(kind: ObjectKind, names: Iterable[str]) -> None:
    """001008 (22023) for a property the kind does not have (SET and UNSET alike)."""
    unknown = [p for p in names if p not in kind.properties]
    if unknown:
        raise errors.compilation(
            f"invalid property '{unknown[0]}' for '{kind.kind}'", errno=1008, sqlstate="22023"
        )


def check_properties(kind: ObjectKind, properties: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    check_property_names(kind, properties)
    if creating:
        missing = sorted(kind.required - set(properties))
        if missing:
            raise errors.compilation(
                f"missing option(s) [{', '.join(missing)}]", errno=2043, sqlstate="22023"
            )
    values = {k: plain(v) for k, v in properties.items()}
    return {k: boolean(k, v) if k in BOOLEAN_PROPERTIES else v for k, v in values.items()}
