"""Parse one Snowflake statement (sql/grammar.lark) into the typed statements of sql/ast.py.

``parse(sql)`` is the whole API. Anything the grammar does not know, including a second statement,
is the 001003 (42000) syntax error Snowflake sends, naming the line, the position (0-based, within
the line) and the offending token. A statement too large to parse cheaply is refused before the parser
sees it, and an identifier over 255 characters as soon as it is read (sql/limits.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError
from lark.tree import Meta

from spcs_emulator.errors import SnowflakeError, incompatible_options, syntax_error
from spcs_emulator.sql import ast, limits

__all__ = ["parse"]


def parse(sql: str) -> ast.Statement:
    """One statement, surrounded by any blanks and comments, with at most one trailing ``;``."""
    limits.check_statement(sql)
    try:
        tree = _lark().parse(sql, start="start")
        statement: ast.Statement = _ToAst(sql).transform(tree)
        return statement
    except UnexpectedInput as e:
        raise _syntax_error(sql, e) from None
    except VisitError as e:
        if isinstance(e.orig_exc, SnowflakeError):
            raise e.orig_exc from None
        raise


class _IdentEverywhere:
    """Post-lexer hook that lets the contextual lexer read a word as IDENT in every parser state.

    The keywords a state accepts are then retyped from IDENT by whole-word match, so a keyword never
    matches the front of a longer word, and a stray word is reported whole (``unexpected 'FOO'``).
    """

    always_accept = ("IDENT",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return stream


@functools.cache
def _lark() -> Lark:
    return Lark.open(
        "grammar.lark",
        rel_to=__file__,
        parser="lalr",
        lexer="contextual",
        start=["start", "bare_name"],
        postlex=_IdentEverywhere(),
        propagate_positions=True,
    )


def _syntax_error(sql: str, e: UnexpectedInput) -> SnowflakeError:
    if isinstance(e, UnexpectedToken) and e.token.type != "$END":
        # A token may be a long literal: the message (kept in the query history) quotes a prefix.
        return syntax_error(e.token.line or 1, (e.token.column or 1) - 1, limits.shown(str(e.token), 255))
    if isinstance(e, UnexpectedCharacters):
        return syntax_error(e.line, e.column - 1, sql[e.pos_in_stream or 0])
    # End of input: Snowflake points just past the last character.
    lines = sql.rstrip().split("\n")
    return syntax_error(len(lines), len(lines[-1]), "<EOF>")


# Snowflake's escapes in '...' literals; any other escaped character stands for itself.
_ESCAPE = re.compile(r"''|\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[0-7]{3}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0", "z": "\x1a"}


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code is None:
        return "'"
    if code[0] in "xu" and len(code) > 1:
        return chr(int(code[1:], 16))
    if len(code) == 3:
        return chr(int(code, 8))
    return _SIMPLE_ESCAPES.get(code, code)


# Kinds whose CREATE has no OR REPLACE (docs: sql-reference/sql/create-compute-pool's syntax is
# CREATE COMPUTE POOL [ IF NOT EXISTS ] <name>); CREATE OR REPLACE SERVICE is refused by its handler.
_NO_OR_REPLACE = frozenset({ast.COMPUTE_POOL})
_OR_REPLACE = re.compile(r"(?:\s|--[^\n]*|/\*[\s\S]*?\*/)*CREATE\s+OR\s+REPLACE\s+", re.IGNORECASE)


def _words(_self: Any, tokens: list[Token]) -> str:
    """A keyword phrase as one upper-cased, single-spaced string: 'IMAGE REPOSITORY'."""
    return " ".join(token.upper() for token in tokens)


class _ToAst(Transformer[Token, Any]):
    """Bottom-up: terminals become Python values, rules become ast dataclasses (or their parts)."""

    def __init__(self, sql: str) -> None:
        super().__init__()
        self._sql = sql

    # ---------------------------------------------------------------- terminals

    def IDENT(self, token: Token) -> str:
        return limits.check_identifier(token.upper())

    def QUOTED_IDENT(self, token: Token) -> str:
        return limits.check_identifier(token[1:-1].replace('""', '"'))

    def STRING(self, token: Token) -> str:
        return _ESCAPE.sub(_unescape, token[1:-1])

    def DOLLAR_STRING(self, token: Token) -> str:
        return token[2:-2]

    def NUMBER(self, token: Token) -> int | float:
        try:
            return int(token)
        except ValueError:
            return float(token)

    def STAGE_PATH(self, token: Token) -> str:
        return token[1:]

    # ---------------------------------------------------------------- names and values

    def name(self, parts: list[str]) -> ast.Name:
        return ast.Name(tuple(parts))

    @v_args(meta=True)
    def identifier_fn(self, meta: Meta, children: list[str]) -> ast.Name:
        (text,) = children
        try:
            name: ast.Name = self.transform(_lark().parse(text, start="bare_name"))
            return name
        except VisitError as e:
            if isinstance(e.orig_exc, SnowflakeError):  # an identifier too long: said as it is
                raise e.orig_exc from None
            raise syntax_error(meta.line, meta.column - 1, limits.shown(text, 255)) from None
        except LarkError:
            raise syntax_error(meta.line, meta.column - 1, limits.shown(text, 255)) from None

    def bare_name(self, children: list[ast.Name]) -> ast.Name:
        return children[0]

    def service_role(self, children: list[Any]) -> ast.ServiceRoleName:
        service, role = children
        return ast.ServiceRoleName(service, role)

    def value_name(self, children: list[ast.Name]) -> ast.Ident | ast.Name:
        (name,) = children
        return ast.Ident(name.last) if len(name.parts) == 1 else name

    def true(self, _: list[Any]) -> bool:
        return True

    def false(self, _: list[Any]) -> bool:
        return False

    def null(self, _: list[Any]) -> None:
        return None

    def tuple_value(self, items: list[ast.Value]) -> tuple[ast.Value, ...]:
        return tuple(items)

    def prop(self, children: list[Any]) -> tuple[str, ast.Value]:
        key, value = children
        return key, value

    def props(self, pairs: list[tuple[str, ast.Value]]) -> dict[str, ast.Value]:
        return dict(pairs)

    dict_value = props

    def unset_keys(self, keys: list[str]) -> tuple[str, ...]:
        return tuple(keys)

    use_kind = secondary_roles = create_kind = other_kind = drop_option = show_noun = _words
    current_kind = container_kind = grantee_kind = _words

    def or_replace(self, _: list[Any]) -> bool:
        return True

    if_not_exists = if_exists = terse = with_grant_option = job = exclude_jobs = or_replace

    # ---------------------------------------------------------------- statements

    def start(self, children: list[ast.Statement]) -> ast.Statement:
        return children[0]

    def use(self, children: list[Any]) -> ast.Use:
        kind, name = children
        return ast.Use(kind or ast.DATABASE, name)

    def use_secondary(self, children: list[str]) -> ast.Use:
        return ast.Use("SECONDARY ROLES", None, secondary=children[0])

    @v_args(meta=True)
    def create(self, meta: Meta, children: list[Any]) -> ast.Create:
        or_replace, kind, if_not_exists, name, props = children
        if or_replace and if_not_exists:
            raise incompatible_options("IF NOT EXISTS", "OR REPLACE")
        if or_replace and kind in _NO_OR_REPLACE:
            raise self._unexpected_kind(meta, kind)
        return ast.Create(kind, name, bool(or_replace), bool(if_not_exists), props or {})

    def create_service(self, children: list[Any]) -> ast.CreateService:
        or_replace, if_not_exists, name, pool, spec, props = children
        if or_replace and if_not_exists:
            raise incompatible_options("IF NOT EXISTS", "OR REPLACE")
        return ast.CreateService(name, pool, spec, bool(if_not_exists), bool(or_replace), props or {})

    def execute_job(self, children: list[Any]) -> ast.ExecuteJobService:
        pool, before, spec, after = children
        # A property given twice counts once, the last, as in every other property list (props).
        return ast.ExecuteJobService(pool, spec, {**(before or {}), **(after or {})})

    def _unexpected_kind(self, meta: Meta, kind: str) -> SnowflakeError:
        """The syntax error at the kind's first word, after CREATE OR REPLACE: Snowflake's grammar has
        no OR REPLACE for it."""
        head = _OR_REPLACE.match(self._sql, meta.start_pos)
        offset = head.end() if head else meta.start_pos
        before = self._sql[:offset]
        line = before.count("\n") + 1
        return syntax_error(line, offset - (before.rfind("\n") + 1), self._sql[offset:].split()[0])

    def inline_spec(self, children: list[str]) -> ast.InlineSpec:
        return ast.InlineSpec(children[0])

    def stage_spec(self, children: list[Any]) -> ast.StageSpec:
        stage, file = children
        return ast.StageSpec(stage, file)

    def drop(self, children: list[Any]) -> ast.Drop:
        kind, if_exists, name, *options = children
        return ast.Drop(kind, name, bool(if_exists), "FORCE" in options)

    def alter(self, children: list[Any]) -> ast.Alter:
        kind, if_exists, name, action = children
        return ast.Alter(kind, name, if_exists=bool(if_exists), **action)

    def suspend(self, _: list[Any]) -> dict[str, Any]:
        return {"action": "SUSPEND"}

    def resume(self, _: list[Any]) -> dict[str, Any]:
        return {"action": "RESUME"}

    def stop_all(self, _: list[Any]) -> dict[str, Any]:
        return {"action": "STOP ALL"}

    def set_props(self, children: list[dict[str, ast.Value]]) -> dict[str, Any]:
        return {"action": "SET", "properties": children[0]}

    def unset_props(self, children: list[tuple[str, ...]]) -> dict[str, Any]:
        return {"action": "UNSET", "unset": children[0]}

    def from_spec(self, children: list[ast.SpecSource]) -> dict[str, Any]:
        return {"action": "FROM SPEC", "spec": children[0]}

    def add_pat(self, children: list[Any]) -> dict[str, Any]:
        token, props = children
        return {"action": "ADD PAT", "token_name": token, "properties": props or {}}

    def remove_pat(self, children: list[str]) -> dict[str, Any]:
        return {"action": "REMOVE PAT", "token_name": children[0]}

    def alter_session(self, children: list[dict[str, ast.Value]]) -> ast.AlterSession:
        return ast.AlterSession(properties=children[0])

    def alter_session_unset(self, children: list[tuple[str, ...]]) -> ast.AlterSession:
        return ast.AlterSession(unset=children[0])

    def describe(self, children: list[Any]) -> ast.Describe:
        kind, name = children
        return ast.Describe(kind, name)

    def show(self, children: list[Any]) -> ast.Show:
        terse, what, like, scope, starts_with, limit = children
        what, exclude_jobs = what if isinstance(what, tuple) else (what, False)
        return ast.Show(what, like, scope, bool(terse), starts_with, limit, exclude_jobs)

    def show_services(self, children: list[Any]) -> tuple[str, bool]:
        job, exclude_jobs = children
        return ("JOB SERVICES" if job else "SERVICES"), bool(exclude_jobs)

    def show_tokens(self, children: list[ast.Name | None]) -> ast.ShowTokens:
        return ast.ShowTokens(children[0])

    def like(self, children: list[str]) -> str:
        return children[0]

    starts_with = like

    @v_args(meta=True)
    def limit(self, meta: Meta, children: list[int | float]) -> int:
        (value,) = children
        if not isinstance(value, int):  # SHOW's LIMIT takes an integer literal (1e400 was an HTTP 500)
            number = self._sql[meta.start_pos : meta.end_pos].split()[-1]
            raise syntax_error(meta.line, meta.end_column - 1 - len(number), limits.shown(number, 255))
        return value

    def scope_account(self, _: list[Any]) -> ast.Scope:
        return ast.Scope(ast.ACCOUNT)

    def scope_in(self, children: list[Any]) -> ast.Scope:
        kind, name = children
        return ast.Scope(kind, name)

    def show_grants(self, children: list[ast.ShowGrants | None]) -> ast.ShowGrants:
        return children[0] or ast.ShowGrants("")

    def grants_to_role(self, children: list[ast.Name]) -> ast.ShowGrants:
        return ast.ShowGrants("TO ROLE", name=children[0])

    def grants_of_role(self, children: list[ast.Name]) -> ast.ShowGrants:
        return ast.ShowGrants("OF ROLE", name=children[0])

    def grants_to_user(self, children: list[ast.Name]) -> ast.ShowGrants:
        return ast.ShowGrants("TO USER", name=children[0])

    def grants_to_service_role(self, children: list[ast.ServiceRoleName]) -> ast.ShowGrants:
        return ast.ShowGrants("TO SERVICE ROLE", name=children[0])

    def grants_of_service_role(self, children: list[ast.ServiceRoleName]) -> ast.ShowGrants:
        return ast.ShowGrants("OF SERVICE ROLE", name=children[0])

    def grants_on_account(self, _: list[Any]) -> ast.ShowGrants:
        return ast.ShowGrants("ON", kind=ast.ACCOUNT)

    def grants_on(self, children: list[Any]) -> ast.ShowGrants:
        kind, name = children
        return ast.ShowGrants("ON", kind=kind, name=name)

    def grant(self, children: list[Any], revoke: bool = False) -> ast.Grant:
        privileges, (on_kind, on_name), (grantee_kind, grantee), *option = children
        return ast.Grant(privileges, on_kind, on_name, grantee, grantee_kind, any(option), revoke)

    def revoke(self, children: list[Any]) -> ast.Grant:
        return self.grant(children, revoke=True)

    def privileges(self, children: list[str]) -> tuple[str, ...]:
        return tuple(children)

    def all_privileges(self, _: list[Any]) -> str:
        return "ALL"

    def privilege_words(self, words: list[str]) -> str:
        return " ".join(words)

    def on_account(self, _: list[Any]) -> tuple[str, None]:
        return ast.ACCOUNT, None

    def on_object(self, children: list[Any]) -> tuple[str, ast.Name]:
        kind, name = children
        return kind, name

    def grantee(self, children: list[Any]) -> tuple[str, ast.Name]:
        kind, name = children
        return kind or ast.ROLE, name

    def grant_role(self, children: list[Any], revoke: bool = False) -> ast.GrantRole:
        role, grantee_kind, grantee = children
        return ast.GrantRole(role, grantee_kind, grantee, revoke)

    def revoke_role(self, children: list[Any]) -> ast.GrantRole:
        return self.grant_role(children, revoke=True)

    def put(self, children: list[Any]) -> ast.Put:
        local_path, target, options = children
        return ast.Put(local_path, target, options or {})

    def get_stage(self, children: list[Any]) -> ast.GetStage:
        source, local_path, options = children
        return ast.GetStage(source, local_path, options or {})

    def local_file(self, children: list[str]) -> str:
        """The text after ``file://``, whether the URL was written bare or quoted."""
        path = str(children[0])
        return path[len("file://") :] if path.lower().startswith("file://") else path

    def list_stage(self, children: list[Any]) -> ast.ListStage:
        return ast.ListStage(*children)

    def remove_stage(self, children: list[Any]) -> ast.RemoveStage:
        return ast.RemoveStage(*children)

    def pattern(self, children: list[str]) -> str:
        return children[0]

    def stage_ref(self, children: list[Any]) -> ast.StageRef:
        stage, path = children
        return ast.StageRef(stage, path or "")

    def call(self, children: list[ast.FunctionCall]) -> ast.Call:
        return ast.Call(children[0])

    def function_call(self, children: list[Any]) -> ast.FunctionCall:
        name, *args = children
        return ast.FunctionCall(str(name), tuple(args))

    def select_service_fn(self, children: list[Any]) -> ast.SelectServiceFunction:
        service, function, args = children
        return ast.SelectServiceFunction(service, str(function).upper(), tuple(args or ()))

    def named_args(self, children: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        return children

    def named_arg(self, children: list[Any]) -> tuple[str, Any]:
        name, value = children
        return str(name).upper(), value

    def arg_call(self, children: list[Any]) -> ast.FunctionCall:
        name, *args = children
        return ast.FunctionCall(str(name).upper(), tuple(args))

    def select(self, items: list[tuple[Any, str | None, str]]) -> ast.Select:
        values, aliases, sources = zip(*items, strict=True)
        return ast.Select(values, aliases, sources)

    def select_item(self, children: list[Any]) -> tuple[Any, str | None, str]:
        (value, source), alias = children
        return value, alias, source

    @v_args(meta=True)
    def select_expr(self, meta: Meta, children: list[Any]) -> tuple[Any, str]:
        return children[0], self._sql[meta.start_pos : meta.end_pos]

    def begin(self, _: list[Any]) -> ast.Begin:
        return ast.Begin("BEGIN")

    def commit(self, _: list[Any]) -> ast.Begin:
        return ast.Begin("COMMIT")

    def rollback(self, _: list[Any]) -> ast.Begin:
        return ast.Begin("ROLLBACK")
