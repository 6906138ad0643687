"""What SPCS adds to an account: the image repository, compute pool, service and snapshot kinds, its
account privileges and service roles, CREATE SERVICE and EXECUTE JOB SERVICE, the SPCS SHOW listings
and SHOW GRANTS modes, the SYSTEM$ functions, and the control plane they all drive."""

from __future__ import annotations

from spcs_emulator.account.engine import Account
from spcs_emulator.spcs.control import ControlPlane
from spcs_emulator.spcs.statements.events import select_service_function
from spcs_emulator.spcs.statements.functions import SPCS_FUNCTIONS
from spcs_emulator.spcs.statements.grants import (
    SERVICE_ROLE_GRANTS,
    SERVICE_ROLE_NAMES,
    SPCS_ACCOUNT_PRIVILEGES,
    SPCS_BOOTSTRAP_GRANTS,
)
from spcs_emulator.spcs.statements.jobs import execute_job_service
from spcs_emulator.spcs.statements.pools import POOL_KIND
from spcs_emulator.spcs.statements.repositories import IMAGE_REPOSITORY_KIND
from spcs_emulator.spcs.statements.services import SERVICE_KIND, create_service
from spcs_emulator.spcs.statements.show import SPCS_LISTINGS
from spcs_emulator.spcs.statements.snapshots import SNAPSHOT_KIND
from spcs_emulator.sql import ast


def register_spcs(account: Account, control: ControlPlane) -> None:
    """Make ``account`` an SPCS account driven by ``control`` (once, before it serves)."""
    account.state.extensions.add(control)
    # In this order, their CREATE privileges follow the schema's own in GRANT ALL ON SCHEMA.
    account.add_kinds([IMAGE_REPOSITORY_KIND, POOL_KIND, SERVICE_KIND, SNAPSHOT_KIND])
    account.add_account_privileges(SPCS_ACCOUNT_PRIVILEGES, SPCS_BOOTSTRAP_GRANTS)
    account.add_object_role_names(SERVICE_ROLE_NAMES)
    account.add_grants_listings(SERVICE_ROLE_GRANTS)
    account.add_show_listings(SPCS_LISTINGS)
    account.add_functions(SPCS_FUNCTIONS)
    account.add_handlers(
        {
            ast.CreateService: create_service,
            ast.ExecuteJobService: execute_job_service,
            ast.SelectServiceFunction: select_service_function,
        }
    )
