"""Catalog objects. Names are fully qualified tuples of normalised identifiers; kinds use ast spellings."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from spcs_emulator.sql import ast

# Which kinds live where, and which hold others, is declared by each kind (object_kinds.ObjectKind) and
# derived by kind_table.KindTable.

# Both integration flavours share their names with plain integrations, as in Snowflake.
INTEGRATION_FAMILY = frozenset({ast.INTEGRATION, ast.EXTERNAL_ACCESS_INTEGRATION, ast.SECURITY_INTEGRATION})


def family(kind: str) -> str:
    """The kind objects are kept and granted under (EXTERNAL ACCESS and SECURITY INTEGRATION -> INTEGRATION)."""
    return ast.INTEGRATION if kind in INTEGRATION_FAMILY else kind


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Object ids: one per object created in this process, never reused (a dropped object's id dies with it,
# even when another object takes its name). What other layers keep for an object outside the catalog
# (volumes, logs, container folders, engine containers) is keyed by this id, never by its name.
_object_ids = itertools.count(1)


def next_object_id() -> int:
    return next(_object_ids)


@dataclass
class CatalogObject:
    kind: str  # family() spelling for integrations; `subtype` says which
    fqn: tuple[str, ...]
    owner: str
    comment: str | None = None
    created_on: dt.datetime = field(default_factory=now)
    properties: dict[str, Any] = field(default_factory=dict)
    subtype: str | None = None
    object_id: int = field(default_factory=next_object_id)

    @property
    def name(self) -> str:
        return self.fqn[-1]

    @property
    def display(self) -> str:
        return ".".join(self.fqn)


@dataclass(frozen=True)
class AccessToken:
    """A programmatic access token of a user: what authenticates, and what SHOW USER PATS lists."""

    secret: str
    role: str | None  # the role restriction
    expires_at: dt.datetime
    comment: str | None = None
    created_by: str | None = None  # the user who added it
    mins_to_bypass_network_policy: int | None = None
    created_on: dt.datetime = field(default_factory=now)


@dataclass
class User(CatalogObject):
    password: str | None = None
    rsa_public_key: str | None = None
    rsa_public_key_2: str | None = None  # a second key, for rotation
    default_role: str | None = None
    default_secondary_roles: tuple[str, ...] = ()
    tokens: dict[str, AccessToken] = field(default_factory=dict)  # by name


@dataclass
class StageObject(CatalogObject):
    directory: Any = None  # pathlib.Path of the stage's files
