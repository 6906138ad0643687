"""Typed statements the parser produces and the account engine executes.

Identifier rules (Snowflake's): an unquoted identifier is stored upper-cased; a quoted one keeps its
case and loses the quotes ("a""b" -> a"b); ``IDENTIFIER('db.s.x')`` parses its string as a (possibly
qualified) identifier with the same rules. Keywords are case-insensitive. Property names (the ``X`` in
``X = value``) are stored upper-cased.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Object kinds, always in this spelling (upper case, single spaces).
DATABASE, SCHEMA, WAREHOUSE, STAGE = "DATABASE", "SCHEMA", "WAREHOUSE", "STAGE"
IMAGE_REPOSITORY, COMPUTE_POOL, SERVICE = "IMAGE REPOSITORY", "COMPUTE POOL", "SERVICE"
SNAPSHOT = "SNAPSHOT"  # of a block volume (SPCS)
ROLE, USER, SECRET, NETWORK_RULE = "ROLE", "USER", "SECRET", "NETWORK RULE"
INTEGRATION = "INTEGRATION"  # GRANT ... ON INTEGRATION, DROP INTEGRATION, SHOW INTEGRATIONS
EXTERNAL_ACCESS_INTEGRATION = "EXTERNAL ACCESS INTEGRATION"
SECURITY_INTEGRATION = "SECURITY INTEGRATION"
ACCOUNT = "ACCOUNT"


@dataclass(frozen=True)
class Name:
    """A possibly qualified identifier: ``parts`` is 1 to 3 normalised parts, e.g. ('DB', 'PUBLIC', 'SVC')."""

    parts: tuple[str, ...]

    @property
    def last(self) -> str:
        return self.parts[-1]

    def __str__(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class ServiceRoleName:
    """``svc!ALL_ENDPOINTS_USAGE``: a service role, named by its service and its own name."""

    service: Name
    role: str


@dataclass(frozen=True)
class Ident:
    """A bare identifier used as a property value (``INSTANCE_FAMILY = CPU_X64_S``), upper-cased unless quoted."""

    value: str


# A property value: 'string', number, TRUE/FALSE, NULL, a bare identifier, a parenthesised list
# ``('a', 'b')`` / ``(rule1, rule2)``, or a nested property list ``(TYPE = 'SNOWFLAKE_SSE')``.
Value = str | int | float | bool | None | Ident | Name | tuple["Value", ...] | dict[str, "Value"]


@dataclass(frozen=True)
class StageRef:
    """``@db.schema.stage/some/path``: ``path`` has no leading slash ('' for the stage root)."""

    stage: Name
    path: str = ""


@dataclass(frozen=True)
class InlineSpec:
    """``FROM SPECIFICATION $$...$$`` (or a quoted string): the raw YAML or JSON text."""

    text: str


@dataclass(frozen=True)
class StageSpec:
    """``FROM @stage SPECIFICATION_FILE = 'f.yaml'`` and the guide's ``FROM @stage SPEC = 'f.yaml'``."""

    stage: StageRef
    file: str


SpecSource = InlineSpec | StageSpec


@dataclass(frozen=True)
class Use:
    """USE ROLE r / USE [DATABASE] d / USE SCHEMA [d.]s / USE WAREHOUSE w / USE SECONDARY ROLES ALL|NONE."""

    kind: str  # ROLE, DATABASE, SCHEMA, WAREHOUSE, SECONDARY ROLES
    name: Name | None  # None for SECONDARY ROLES
    secondary: str | None = None  # 'ALL' or 'NONE' for USE SECONDARY ROLES


@dataclass(frozen=True)
class Create:
    """CREATE [OR REPLACE] <kind> [IF NOT EXISTS] name [WITH] props... (every kind but SERVICE).

    For ``CREATE SECURITY INTEGRATION`` / ``CREATE EXTERNAL ACCESS INTEGRATION`` the kind is the full
    phrase. Properties keep their order of appearance in the dict.
    """

    kind: str
    name: Name
    or_replace: bool = False
    if_not_exists: bool = False
    properties: dict[str, Value] = field(default_factory=dict)


@dataclass(frozen=True)
class CreateService:
    """CREATE SERVICE [IF NOT EXISTS] name IN COMPUTE POOL pool FROM <spec> [props...].

    ``or_replace`` is recorded so that the engine can refuse it the way Snowflake does.
    """

    name: Name
    compute_pool: Name
    spec: SpecSource
    if_not_exists: bool = False
    or_replace: bool = False
    properties: dict[str, Value] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecuteJobService:
    """EXECUTE JOB SERVICE IN COMPUTE POOL pool FROM <spec> NAME = job [ASYNC = ...] [props...].

    The docs give an order (FROM, NAME, ASYNC, REPLICAS, QUERY_WAREHOUSE, COMMENT, EAIs); their own
    examples and snowflake-cli write NAME before FROM or the EAIs before QUERY_WAREHOUSE, so the
    properties are taken on either side of FROM, in any order. ``properties`` holds NAME too.
    """

    compute_pool: Name
    spec: SpecSource
    properties: dict[str, Value] = field(default_factory=dict)


@dataclass(frozen=True)
class Drop:
    """DROP <kind> [IF EXISTS] name [FORCE] [CASCADE|RESTRICT]."""

    kind: str
    name: Name
    if_exists: bool = False
    force: bool = False


@dataclass(frozen=True)
class Alter:
    """ALTER <kind> [IF EXISTS] name <action>.

    action is one of: SUSPEND, RESUME, STOP ALL (compute pool), SET (``properties``), UNSET
    (``unset``), FROM SPEC (``spec``; ALTER SERVICE ... FROM ...), ADD PAT (ALTER USER u ADD
    PROGRAMMATIC ACCESS TOKEN <token_name> [props]: ``token_name`` and ``properties``),
    REMOVE PAT (``token_name``).
    """

    kind: str
    name: Name
    action: str
    if_exists: bool = False
    properties: dict[str, Value] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    spec: SpecSource | None = None
    token_name: str | None = None


@dataclass(frozen=True)
class AlterSession:
    """ALTER SESSION SET k = v [, k2 = v2] / ALTER SESSION UNSET k."""

    properties: dict[str, Value] = field(default_factory=dict)
    unset: tuple[str, ...] = ()


@dataclass(frozen=True)
class Describe:
    """DESCRIBE|DESC <kind> name."""

    kind: str
    name: Name


@dataclass(frozen=True)
class Scope:
    """``IN ACCOUNT`` / ``IN DATABASE d`` / ``IN SCHEMA s`` / ``IN COMPUTE POOL p`` / ``IN SERVICE s`` /
    ``IN IMAGE REPOSITORY r``; ``name`` is None for ACCOUNT (and for bare ``IN DATABASE``/``IN SCHEMA``
    meaning the current one)."""

    kind: str
    name: Name | None = None


@dataclass(frozen=True)
class Show:
    """SHOW [TERSE] <what> [LIKE 'pattern'] [IN <scope>] [STARTS WITH 'x'] [LIMIT n].

    ``what`` is the plural noun phrase, upper-cased with single spaces: SERVICES, COMPUTE POOLS,
    ENDPOINTS, SERVICE CONTAINERS, SERVICE INSTANCES, ROLES, USERS, WAREHOUSES, DATABASES, SCHEMAS,
    STAGES, IMAGE REPOSITORIES, IMAGES, NETWORK RULES, EXTERNAL ACCESS INTEGRATIONS, INTEGRATIONS,
    SECURITY INTEGRATIONS, SECRETS, PARAMETERS. ``like`` keeps the pattern text as written in the
    SQL literal after unescaping the literal (so ``'MILVUS\\\\_REPO'`` gives ``MILVUS\\_REPO``: the
    LIKE escape is the engine's business).
    """

    what: str
    like: str | None = None
    scope: Scope | None = None
    terse: bool = False
    starts_with: str | None = None
    limit: int | None = None
    exclude_jobs: bool = False  # SHOW SERVICES EXCLUDE JOBS (``what`` is JOB SERVICES for SHOW JOB SERVICES)


@dataclass(frozen=True)
class ShowTokens:
    """SHOW USER { PROGRAMMATIC ACCESS TOKENS | PATS } [FOR USER u]; no user: the session's own."""

    user: Name | None = None


@dataclass(frozen=True)
class ShowGrants:
    """SHOW GRANTS [TO ROLE r | OF ROLE r | TO USER u | ON ACCOUNT | ON <kind> name |
    TO SERVICE ROLE svc!r | OF SERVICE ROLE svc!r]. ``mode`` is 'TO ROLE', 'OF ROLE', 'TO USER', 'ON',
    'TO SERVICE ROLE', 'OF SERVICE ROLE' or '' (bare SHOW GRANTS)."""

    mode: str
    kind: str | None = None  # for ON: the object kind, ACCOUNT for ON ACCOUNT
    name: Name | ServiceRoleName | None = None


@dataclass(frozen=True)
class Grant:
    """GRANT privs ON <kind> name TO [ROLE] r [WITH GRANT OPTION]; REVOKE ... FROM [ROLE] r (``revoke``).

    ``privileges`` are upper-cased phrases ('USAGE', 'BIND SERVICE ENDPOINT', 'CREATE COMPUTE POOL');
    ``ALL`` and ``ALL PRIVILEGES`` both give ('ALL',). ``on_kind`` is ACCOUNT (``on_name`` None) or an
    object kind; ``GRANT ... ON INTEGRATION x`` keeps INTEGRATION. The guide omits the ROLE keyword
    before the grantee (``TO MILVUS_ROLE``): accepted.
    """

    privileges: tuple[str, ...]
    on_kind: str
    on_name: Name | None
    grantee: Name
    grantee_kind: str = ROLE
    with_grant_option: bool = False
    revoke: bool = False


@dataclass(frozen=True)
class GrantRole:
    """GRANT ROLE r TO ROLE|USER x / GRANT SERVICE ROLE svc!r TO ROLE|USER x / REVOKE ... FROM ..."""

    role: Name | ServiceRoleName
    grantee_kind: str  # ROLE or USER
    grantee: Name
    revoke: bool = False


@dataclass(frozen=True)
class Put:
    """PUT 'file://path' @stage[/path] [AUTO_COMPRESS=..] [OVERWRITE=..] [SOURCE_COMPRESSION=..]
    [PARALLEL=n]. ``local_path`` is the text after ``file://`` (may contain glob characters)."""

    local_path: str
    target: StageRef
    options: dict[str, Value] = field(default_factory=dict)


@dataclass(frozen=True)
class GetStage:
    """GET @stage[/path] 'file://dir' [PARALLEL=n] [PATTERN='re']: ``local_path`` is the text after
    ``file://``."""

    source: StageRef
    local_path: str
    options: dict[str, Value] = field(default_factory=dict)


@dataclass(frozen=True)
class ListStage:
    """LIST|LS @stage[/path] [PATTERN = 're']."""

    target: StageRef
    pattern: str | None = None


@dataclass(frozen=True)
class RemoveStage:
    """REMOVE|RM @stage[/path] [PATTERN = 're']."""

    target: StageRef
    pattern: str | None = None


@dataclass(frozen=True)
class FunctionCall:
    """A call in CALL or SELECT: ``name`` upper-cased (SYSTEM$GET_SERVICE_LOGS, CURRENT_ROLE)."""

    name: str
    args: tuple[Value, ...] = ()


@dataclass(frozen=True)
class Call:
    """CALL SYSTEM$...(args)."""

    call: FunctionCall


@dataclass(frozen=True)
class SelectServiceFunction:
    """``SELECT * FROM TABLE(<service>!<FUNCTION>(NAME => value, ...))``: ``function`` upper-cased
    (SPCS_GET_EVENTS); ``args`` maps each upper-cased argument name to a value or a call
    (``DATEADD('hour', -1, CURRENT_TIMESTAMP())``)."""

    service: Name
    function: str
    args: tuple[tuple[str, Value | FunctionCall], ...] = ()


@dataclass(frozen=True)
class Select:
    """SELECT item [AS alias], ... with no FROM: items are function calls or literals.

    ``aliases`` holds the alias or None per item; the engine names unaliased columns after their
    source text, upper-cased, as Snowflake does (``SELECT current_role()`` -> ``CURRENT_ROLE()``);
    ``sources`` holds that original text of each item.
    """

    items: tuple[FunctionCall | Value, ...]
    aliases: tuple[str | None, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Begin:
    """BEGIN / START TRANSACTION / COMMIT / ROLLBACK (the connector may send these); ``word`` says which."""

    word: str


Statement = (
    Use
    | Create
    | CreateService
    | ExecuteJobService
    | Drop
    | Alter
    | AlterSession
    | Describe
    | Show
    | ShowGrants
    | Grant
    | GrantRole
    | Put
    | GetStage
    | ListStage
    | RemoveStage
    | Call
    | Select
    | Begin
)
