"""The state of one account: its objects, grants, sessions, injected faults, and the lock that guards them.

Nothing here runs statements (engine.py does) or knows any statement: handlers and object kinds read
and change this state under :attr:`AccountState.lock`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from spcs_emulator.account.access import AccessControl
from spcs_emulator.account.catalog import Catalog
from spcs_emulator.account.extensions import Extensions
from spcs_emulator.account.faults import Faults
from spcs_emulator.account.kind_table import KindTable
from spcs_emulator.account.session import Session

log = logging.getLogger(__name__)

DEFAULT_REGISTRY_HOST = "registry.local"


class AccountState:
    """Shared by the protocol thread, the ingress proxies and the control plane: take :attr:`lock`."""

    def __init__(self, *, name: str, state_dir: Path, registry_host: str = DEFAULT_REGISTRY_HOST) -> None:
        self.name = name
        self.state_dir = state_dir
        self.registry_host = registry_host  # the host part of image repository URLs
        self.lock = threading.RLock()
        # The registered kinds' facts that name resolution and grants need (filled by Registry.add_kinds).
        self.kinds = KindTable()
        self.catalog = Catalog(self.kinds)
        self.access = AccessControl()
        self.faults = Faults()
        self.sessions: dict[int, Session] = {}
        # Told the id of every session the account ends (the protocol's token store forgets it).
        self.session_end_listeners: list[Callable[[int], None]] = []
        self.extensions = Extensions()

    def end_sessions(self, which: Callable[[Session], bool]) -> None:
        """End the sessions ``which`` selects (their user was dropped or disabled); call with the lock held."""
        for session in [s for s in self.sessions.values() if which(s)]:
            del self.sessions[session.id]
            log.debug("session %s of user %r ended", session.id, session.user)
            for listener in self.session_end_listeners:
                listener(session.id)
