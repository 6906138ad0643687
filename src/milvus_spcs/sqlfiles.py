"""The sql/ files: parameterised with snow's `<% name %>` syntax, rendered here with validated values.

Every value is checked before anything is substituted, and only values of a closed set of names with
strict shapes (identifiers, the run label, a password alphabet without quotes) are accepted: the
rendered SQL can hold nothing a caller did not put there on purpose. The same files run by hand with
`snow sql -f FILE -D name=value`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from milvus_spcs.naming import LABEL_PATTERN, RUN_ID_PATTERN, StackNames
from milvus_spcs.paths import HARNESS_FILES

SQL_DIR = HARNESS_FILES / "sql"

# A `<% name %>` of a template; group 1 is the name.
TEMPLATE_VARIABLE = re.compile(r"<%\s*([A-Za-z_][A-Za-z0-9_]*)\s*%>")
# Applied with fullmatch (a `$` would let a trailing newline through).
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}")
# The label's created= part ends up inside '...': an ISO 8601 alphabet, so no quote or backslash.
CREATED = re.compile(r"[0-9A-Za-z:.+\-]+")
PASSWORD = re.compile(r"[A-Za-z0-9_\-]{16,256}")

IDENTIFIER_NAMES = frozenset(StackNames("aaaaaa").variables()) - {"run_id"}
SECRET_NAMES = frozenset({"password"})
KNOWN_NAMES = IDENTIFIER_NAMES | SECRET_NAMES | {"run_id", "comment"}


def _check_value(name: str, value: str, run_id: str | None) -> None:
    if not isinstance(value, str):
        raise ValueError(f"SQL variable {name!r} must be a string, got {type(value).__name__}")
    if name == "run_id":
        ok = bool(RUN_ID_PATTERN.fullmatch(value))
    elif name == "comment":
        label = LABEL_PATTERN.fullmatch(value)
        ok = bool(label and CREATED.fullmatch(label["created"]) and run_id in (None, label["run"]))
    elif name == "password":
        ok = bool(PASSWORD.fullmatch(value))
        if not ok:  # never echo a secret, not even a malformed one
            raise ValueError("SQL variable 'password' must be 16+ characters of [A-Za-z0-9_-]")
    else:
        ok = bool(IDENTIFIER.fullmatch(value))
    if not ok:
        raise ValueError(f"SQL variable {name!r} has an invalid value {value!r}")


def template_variables(sql_text: str) -> set[str]:
    """The variable names a file needs. A `<%` that is not a plain `<% name %>` is refused."""
    if sql_text.count("<%") != len(TEMPLATE_VARIABLE.findall(sql_text)):
        raise ValueError("malformed template: every '<%' must open a plain '<% name %>'")
    return set(TEMPLATE_VARIABLE.findall(sql_text))


def validate(sql_text: str, variables: Mapping[str, str]) -> None:
    """Raise ValueError, naming the variable, unless every value is known, well-formed and every
    template variable has one. Values the file does not use are fine when they are known names, so that
    one mapping (StackNames.variables() + comment + password) serves every file."""
    for name in variables:
        if name not in KNOWN_NAMES:
            raise ValueError(f"unknown SQL variable {name!r} (known: {', '.join(sorted(KNOWN_NAMES))})")
    run_id = variables.get("run_id")
    for name, value in variables.items():
        _check_value(name, value, run_id)
    missing = sorted(template_variables(sql_text) - set(variables))
    if missing:
        raise ValueError(f"SQL variable(s) without a value: {', '.join(missing)}")


def split_statements(sql_text: str) -> list[str]:
    """Statements of a script, comments stripped: split on ';' outside '...', "...", $$...$$ and
    comments. Quoted text is kept verbatim (a '--' inside a string is not a comment)."""
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(sql_text)
    while i < n:
        char, pair = sql_text[i], sql_text[i : i + 2]
        if pair == "--":
            end = sql_text.find("\n", i)
            i = n if end < 0 else end  # keep the newline
        elif pair == "/*":
            end = sql_text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            current.append(" ")
        elif pair == "$$":
            end = sql_text.find("$$", i + 2)
            end = n if end < 0 else end + 2
            current.append(sql_text[i:end])
            i = end
        elif char in "'\"":
            j = i + 1
            while j < n:
                # a backslash escape (strings only), or a doubled quote ('' or "")
                escaped = (char == "'" and sql_text[j] == "\\") or sql_text[j : j + 2] == char * 2
                if escaped:
                    j += 2
                elif sql_text[j] == char:
                    break
                else:
                    j += 1
            current.append(sql_text[i : j + 1])
            i = j + 1
        elif char == ";":
            statements.append("".join(current))
            current = []
            i += 1
        else:
            current.append(char)
            i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def render(sql_text: str, variables: Mapping[str, str]) -> list[str]:
    """The statements of `sql_text` with every `<% name %>` replaced, after validating everything."""
    validate(sql_text, variables)
    return [TEMPLATE_VARIABLE.sub(lambda m: variables[m[1]], s) for s in split_statements(sql_text)]


# What a local path inside PUT 'file://...' may not hold: a quote or backslash would end or escape the
# literal, and PUT expands * ? [ ] as wildcards; control characters have no business in a path.
PUT_PATH_FORBIDDEN = frozenset("'\"\\*?[]") | {chr(c) for c in range(32)} | {chr(127)}


def put_path_problem(path: Path) -> str | None:
    """Why the absolute form of ``path`` cannot go into PUT 'file://...', or None."""
    bad = sorted({c for c in str(Path(path).resolve()) if c in PUT_PATH_FORBIDDEN})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return f"{str(path)!r} contains {shown}, which a PUT of a local file cannot hold"
    return None


def put_file(path: Path, stage: str, options: str = "") -> str:
    """``PUT 'file://<absolute path>' @stage options``, refusing a path that would not stay one literal."""
    problem = put_path_problem(path)
    if problem:
        raise ValueError(problem)
    return f"PUT 'file://{Path(path).resolve()}' @{stage} {options}".rstrip()


def redact(statement: str, secrets: Iterable[str]) -> str:
    """The statement with every secret value replaced by ****: the only form that may be logged."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        statement = statement.replace(secret, "****")
    return statement


def secrets_of(variables: Mapping[str, str]) -> list[str]:
    """The values among `variables` that must never be logged."""
    return [v for k, v in variables.items() if k in SECRET_NAMES]


@dataclass(frozen=True)
class SqlFile:
    """One stage's file, e.g. sql/03_storage.sql (name '03_storage.sql')."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def variables(self) -> set[str]:
        return template_variables(self.text)

    def statements(self, variables: Mapping[str, str]) -> list[str]:
        return render(self.text, variables)


def load_sql_dir(path: Path = SQL_DIR) -> dict[str, SqlFile]:
    """The directory's *.sql files by file name ('03_storage.sql'), in name order (the stages' order)."""
    files = sorted(Path(path).glob("*.sql"))
    if not files:
        raise FileNotFoundError(f"no .sql files in {path}")
    return {f.name: SqlFile(f) for f in files}
