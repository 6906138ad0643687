"""What a statement may cost before the parser sees it, and how much of it the emulator keeps.

The parser (Lark, LALR, in Python) spends about 35 µs a token, and its tree transformer recurses once
per nesting level: a 200 KB ``SELECT 1,1,...`` took 4 s and 2 MB a minute, and 600 nested parentheses
raised RecursionError. So a statement is measured first, by one linear regular-expression scan that
stops at the first bound it passes, and refused with :func:`errors.statement_too_large` before parsing:

- at most 1 MB of text (UTF-8): what Snowflake documents for query text [DOC query-size-limits] (it
  recommends at most 1 MB a statement, runs longer ones but truncates their history; the emulator
  refuses them);
- at most 10,000 tokens and 32 nested parentheses: the emulator's own bounds for its own grammar (no
  statement it implements needs more; 10,000 tokens parse in about half a second).

Identifiers hold at most 255 characters, quoted or not (Snowflake's limit [DOC identifiers-syntax]).
"""

from __future__ import annotations

import re

from spcs_emulator import errors

MAX_STATEMENT_BYTES = 1024 * 1024
MAX_STATEMENT_TOKENS = 10_000
MAX_NESTING = 32
MAX_IDENTIFIER_CHARS = 255
# What the emulator keeps of a statement's text (query history, logs): its own bound, so the thousand
# statements the protocol remembers hold at most 16 MiB whatever was sent.
KEPT_PREFIX_CHARS = 4096
_SHOWN_CHARS = 80  # an error quotes at most this much of a name

# Roughly the grammar's tokens. Every alternative consumes at least one character and an unterminated
# literal or comment runs to the end of the text, so the scan is linear in the text whatever it holds.
_TOKEN = re.compile(
    r"""
      '(?:[^'\\]++|\\.|'')*+(?:'|\Z)      # 'string', with \x and '' escapes
    | "(?:[^"]++|"")*+(?:"|\Z)            # "quoted identifier"
    | \$\$.*?(?:\$\$|\Z)                  # $$dollar string$$
    | --[^\n]*+                           # line comment
    | /\*.*?(?:\*/|\Z)                    # block comment
    | [\w$]++                             # word or number
    | \S                                  # any other character: ( ) , . = ; ...
    """,
    re.VERBOSE | re.DOTALL,
)


def check_statement(sql: str) -> None:
    """Refuse a statement too large to parse cheaply; a cheap scan that never looks past the bounds."""
    if len(sql) > MAX_STATEMENT_BYTES or len(sql.encode("utf-8", "surrogatepass")) > MAX_STATEMENT_BYTES:
        raise errors.statement_too_large(f"it is longer than {MAX_STATEMENT_BYTES:,} bytes (1 MB)")
    depth = 0
    for tokens, match in enumerate(_TOKEN.finditer(sql), start=1):
        if tokens > MAX_STATEMENT_TOKENS:
            raise errors.statement_too_large(f"it has more than {MAX_STATEMENT_TOKENS:,} tokens")
        text = match.group()
        if text == "(":
            depth += 1
            if depth > MAX_NESTING:
                raise errors.statement_too_large(f"its parentheses nest deeper than {MAX_NESTING}")
        elif text == ")":
            depth = max(0, depth - 1)


def check_identifier(name: str) -> str:
    """``name`` (unquoted and upper-cased, or the content of a quoted one) if it is short enough."""
    if len(name) > MAX_IDENTIFIER_CHARS:
        raise errors.identifier_too_long(shown(name), len(name), MAX_IDENTIFIER_CHARS)
    return name


def shown(text: str, limit: int = _SHOWN_CHARS) -> str:
    """At most ``limit`` characters of ``text`` for an error message."""
    return text if len(text) <= limit else text[:limit] + "..."


def kept(sql: str) -> str:
    """The prefix of a statement the emulator remembers (query history, monitoring, logs)."""
    if len(sql) <= KEPT_PREFIX_CHARS:
        return sql
    return f"{sql[:KEPT_PREFIX_CHARS]}... [{len(sql) - KEPT_PREFIX_CHARS:,} more characters not kept]"
