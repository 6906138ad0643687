"""Session and master tokens of logged-in sessions (reference/snowflake.md §8.2, §8.4).

A login yields one master token and one session token. The session token authenticates every request
and expires first; the client then trades its master token for a new one (RENEW) and retries. ISSUE
hands out an extra session token for the same session (the snow CLI uses it for registry logins).
Expired tokens are remembered until their session dies so that an expired token answers 390112
("renew") rather than 390104 ("log in again").
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from spcs_emulator.errors import SnowflakeError
from spcs_emulator.protocol.backend import AccountSession

DEFAULT_SESSION_VALIDITY = 3600
DEFAULT_MASTER_VALIDITY = 14400
TOKEN_BYTES = 32

# The account's own session type: the store hands back exactly what the account logged in.
S = TypeVar("S", bound=AccountSession)

# Session and authentication GS codes (reference §7.3); the connector keys on the number.
SESSION_TOKEN_MISSING = 390103
SESSION_TOKEN_UNKNOWN = 390104
SESSION_TOKEN_EXPIRED = 390112
MASTER_TOKEN_NOT_FOUND = 390113
MASTER_TOKEN_EXPIRED = 390114
BAD_REQUEST = 390400


class TokenError(SnowflakeError):
    """A token the store cannot accept; the code tells the client whether to renew or log in again."""

    def __init__(self, errno: int, message: str) -> None:
        super().__init__(errno, "08001", message)


def missing_token() -> TokenError:
    return TokenError(SESSION_TOKEN_MISSING, "Session token not found in the request data.")


def unknown_token() -> TokenError:
    return TokenError(SESSION_TOKEN_UNKNOWN, "User must login again to access the service.")


@dataclass(frozen=True)
class Tokens:
    """What a login or a token request hands to the client."""

    session_id: int
    session_token: str
    master_token: str
    validity: int
    master_validity: int


@dataclass
class _Entry(Generic[S]):
    session: S
    master_token: str
    master_expires: float
    session_tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry


class SessionStore(Generic[S]):
    """Thread-safe: the protocol loop and the ingress proxies (other threads) share one store."""

    def __init__(
        self,
        *,
        session_validity: int = DEFAULT_SESSION_VALIDITY,
        master_validity: int = DEFAULT_MASTER_VALIDITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if session_validity <= 0 or master_validity <= 0:
            raise ValueError(f"validities must be positive (got {session_validity}, {master_validity})")
        self.session_validity = session_validity
        self.master_validity = master_validity
        self._clock = clock
        self._lock = threading.Lock()
        self._by_master: dict[str, _Entry[S]] = {}
        self._by_session_token: dict[str, _Entry[S]] = {}

    # -- login and token requests ------------------------------------------------------------

    def create(self, session: S) -> Tokens:
        """Register a freshly logged-in session."""
        now = self._clock()
        with self._lock:
            entry = _Entry(session, _new_token(), now + self.master_validity)
            self._by_master[entry.master_token] = entry
            return self._add_session_token(entry, now)

    def renew(self, master_token: str, old_session_token: str | None) -> Tokens:
        """RENEW: a new session token replaces the old one (which may be expired or already gone)."""
        now = self._clock()
        with self._lock:
            entry = self._master_entry(master_token, now)
            if old_session_token is not None:
                owner = self._by_session_token.get(old_session_token)
                if owner is not None and owner is not entry:
                    raise TokenError(BAD_REQUEST, "The session token does not belong to this master token.")
                if owner is entry:
                    self._drop_session_token(entry, old_session_token)
            return self._add_session_token(entry, now)

    def issue(self, master_token: str) -> Tokens:
        """ISSUE: an additional session token for the same session; existing tokens stay valid."""
        now = self._clock()
        with self._lock:
            return self._add_session_token(self._master_entry(master_token, now), now)

    # -- authentication ----------------------------------------------------------------------

    def lookup(self, token: str | None) -> S:
        """The session a session token authenticates; raises :class:`TokenError` (390103/390104/390112)."""
        if not token:
            raise missing_token()
        now = self._clock()
        with self._lock:
            entry = self._by_session_token.get(token)
            if entry is None or entry.master_expires <= now:
                raise unknown_token()
            if entry.session_tokens[token] <= now:
                raise TokenError(SESSION_TOKEN_EXPIRED, "Session token expired.")
            return entry.session

    def alive(self, session: S) -> bool:
        """Whether ``session`` is still logged in (not logged out, ended by the account or expired)."""
        now = self._clock()
        with self._lock:
            return any(e.session is session and e.master_expires > now for e in self._by_master.values())

    def heartbeat(self, token: str | None) -> S:
        """Activity keeps the session alive: the master token's validity restarts."""
        session = self.lookup(token)
        with self._lock:
            entry = self._by_session_token.get(token or "")
            if entry is not None:
                entry.master_expires = self._clock() + self.master_validity
        return session

    def delete(self, token: str | None) -> S | None:
        """Forget the whole session a session token belongs to (logout); None if it is not known."""
        with self._lock:
            entry = self._by_session_token.get(token or "")
            if entry is None:
                return None
            self._forget(entry)
            return entry.session

    def end(self, session_id: int) -> None:
        """Forget every token of a session the account ended (its user was dropped or disabled)."""
        with self._lock:
            for entry in [e for e in self._by_master.values() if e.session.id == session_id]:
                self._forget(entry)

    def purge(self) -> list[S]:
        """Forget sessions whose master token expired; returns them so the caller can log them out."""
        now = self._clock()
        with self._lock:
            dead = [entry for entry in self._by_master.values() if entry.master_expires <= now]
            for entry in dead:
                self._forget(entry)
        return [entry.session for entry in dead]

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_master)

    # -- test hooks --------------------------------------------------------------------------

    def expire(self, token: str, *, master: bool = False) -> None:
        """Expire a session token now (and with ``master`` its session's master token too)."""
        now = self._clock()
        with self._lock:
            entry = self._by_session_token.get(token) or self._by_master.get(token)
            if entry is None:
                raise KeyError("token not known to this store")
            if token in entry.session_tokens:
                entry.session_tokens[token] = now
            if master:
                entry.master_expires = now

    # -- internals (call with the lock held) ---------------------------------------------------

    def _master_entry(self, master_token: str | None, now: float) -> _Entry[S]:
        entry = self._by_master.get(master_token or "")
        if entry is None:
            raise TokenError(MASTER_TOKEN_NOT_FOUND, "Master token not found.")
        if entry.master_expires <= now:
            raise TokenError(
                MASTER_TOKEN_EXPIRED, "Authentication token has expired. The user must authenticate again."
            )
        return entry

    def _add_session_token(self, entry: _Entry[S], now: float) -> Tokens:
        token = _new_token()
        entry.session_tokens[token] = now + self.session_validity
        self._by_session_token[token] = entry
        return Tokens(
            session_id=entry.session.id,
            session_token=token,
            master_token=entry.master_token,
            validity=self.session_validity,
            master_validity=max(0, round(entry.master_expires - now)),
        )

    def _drop_session_token(self, entry: _Entry[S], token: str) -> None:
        entry.session_tokens.pop(token, None)
        self._by_session_token.pop(token, None)

    def _forget(self, entry: _Entry[S]) -> None:
        for token in list(entry.session_tokens):
            self._drop_session_token(entry, token)
        self._by_master.pop(entry.master_token, None)


def _new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)
