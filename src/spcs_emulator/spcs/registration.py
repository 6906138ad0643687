"""What SPCS adds to an account: the compute pool, service and snapshot kinds, CREATE SERVICE and EXECUTE
JOB SERVICE, the SPCS SHOW listings and service-role grants, the SYSTEM$ functions, and the control
plane they all drive."""

from __future__ import annotations

from spcs_emulator.account.engine import Account
from spcs_emulator.spcs.control import ControlPlane
from spcs_emulator.spcs.statements.events import select_service_function
from spcs_emulator.spcs.statements.functions import SPCS_FUNCTIONS
from spcs_emulator.spcs.statements.grants import spcs_show_grants
from spcs_emulator.spcs.statements.jobs import execute_job_service
from spcs_emulator.spcs.statements.pools import POOL_KIND
from spcs_emulator.spcs.statements.services import SERVICE_KIND, create_service
from spcs_emulator.spcs.statements.show import spcs_show
from spcs_emulator.spcs.statements.snapshots import SNAPSHOT_KIND
from spcs_emulator.sql import ast


def register_spcs(account: Account, control: ControlPlane) -> None:
    """Make ``account`` an SPCS account driven by ``control`` (once, before it serves)."""
    account.state.extensions.add(control)
    account.add_kinds([POOL_KIND, SERVICE_KIND, SNAPSHOT_KIND])
    account.add_functions(SPCS_FUNCTIONS)
    account.add_handlers(
        {
            ast.CreateService: create_service,
            ast.ExecuteJobService: execute_job_service,
            ast.SelectServiceFunction: select_service_function,
            ast.Show: spcs_show(account.handler(ast.Show)),
            ast.ShowGrants: spcs_show_grants(account.handler(ast.ShowGrants)),
        }
    )
