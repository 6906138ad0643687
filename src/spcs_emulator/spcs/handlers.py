"""The SPCS statements the account does not know by itself; importing registers pools, services and
the SYSTEM$ functions."""

from __future__ import annotations

from spcs_emulator.spcs.statements import functions as _functions  # noqa: F401  (registers SYSTEM$ functions)
from spcs_emulator.spcs.statements import pools as _pools  # noqa: F401  (registers the compute pool kind)
from spcs_emulator.spcs.statements.services import create_service
from spcs_emulator.spcs.statements.show import show
from spcs_emulator.sql import ast

SPCS_HANDLERS = {ast.CreateService: create_service, ast.Show: show}
