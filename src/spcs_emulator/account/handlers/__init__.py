"""Statement handlers, keyed by statement type (sql/ast.py)."""

from __future__ import annotations

from spcs_emulator.account import kinds as _kinds  # noqa: F401  (registers the object kinds)
from spcs_emulator.account.handlers import grants, objects, session, stages
from spcs_emulator.sql import ast

ALL_HANDLERS = {
    ast.Use: session.use,
    ast.AlterSession: session.alter_session,
    ast.Select: session.select,
    ast.Call: session.call,
    ast.Begin: session.begin,
    ast.Create: objects.create,
    ast.Drop: objects.drop,
    ast.Alter: objects.alter,
    ast.Describe: objects.describe,
    ast.Show: objects.show,
    ast.Grant: grants.grant,
    ast.GrantRole: grants.grant_role,
    ast.ShowGrants: grants.show_grants,
    ast.Put: stages.put,
    ast.ListStage: stages.list_stage,
    ast.RemoveStage: stages.remove_stage,
}
