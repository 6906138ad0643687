"""The object kinds of the account, one module each (compute pools and services: spcs/handlers.py).

Importing this package registers every kind in handlers.kinds.KINDS."""

from spcs_emulator.account.kinds import (  # noqa: F401  (registration on import)
    databases,
    network,
    principals,
    repositories,
    secrets,
    stages,
    warehouses,
)
