"""Scrubbing an answer: what depends on the run, the account or the clock becomes a placeholder, so
that an answer recorded on one account compares with another's, and nothing secret is written."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# Run-independent shapes, most specific first: (pattern, placeholder).
VOLATILE = [
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<timestamp>"),
    (re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT"), "<timestamp>"),
    # The registry and ingress hosts name the account (or the emulator's loopback port).
    (re.compile(r"[A-Za-z0-9_.-]+\.registry\.[A-Za-z0-9.-]+"), "<registry-host>"),
    (re.compile(r"[a-z0-9-]+\.snowflakecomputing\.app"), "<ingress-host>"),
    (re.compile(r"(?:127\.0\.0\.1|localhost):\d+"), "<ingress-host>"),
    (re.compile(r"\b(\d{1,3}\.){3}\d{1,3}\b"), "<ip>"),
    (re.compile(r"\.[a-z0-9]{4,8}\.svc\.spcs\.internal"), ".<dns-id>.svc.spcs.internal"),
    (re.compile(r"sha256:[0-9a-f]{64}"), "sha256:<digest>"),
    (re.compile(r"\b[0-9a-f]{32,64}\b"), "<digest>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<id>"),
]


def _word(text: str) -> re.Pattern[str]:
    """``text`` as a whole word in any case: a user named AB leaves ABC and AB_2 alone."""
    return re.compile(rf"(?<![A-Za-z0-9_$]){re.escape(text)}(?![A-Za-z0-9_$])", re.IGNORECASE)


@dataclass
class Scrubber:
    """``names``: run-drawn names (upper case) by placeholder, e.g. {"MILVUS_SPCS_AB12CD_DB": "{db}"};
    ``secrets``: values never to write; ``values``: whole values drawn at random (the DNS id);
    ``identities``: who recorded (the connection's account, user and host) by placeholder."""

    names: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    identities: dict[str, str] = field(default_factory=dict)

    def identify(self, *, account: str | None, user: str | None, host: str | None) -> None:
        """A recording names no account, user or host: they become <account>, <user>, <host>."""
        for value, placeholder in ((host, "<host>"), (account, "<account>"), (user, "<user>")):
            if value and value.strip():
                self.identities[value.strip()] = placeholder

    def text(self, value: str) -> str:
        if value in self.values:  # whole values only: a short random id could be part of a word
            return self.values[value]
        for secret in sorted(filter(None, self.secrets), key=len, reverse=True):
            value = value.replace(secret, "<secret>")
        for name in sorted(self.names, key=len, reverse=True):
            # As SHOW gives it (upper), as URLs and paths give it (lower), and as DNS names (dashes).
            for form in {name, name.lower(), name.lower().replace("_", "-")}:
                value = re.sub(re.escape(form), self.names[name], value)
        for pattern, placeholder in VOLATILE:
            value = pattern.sub(placeholder, value)
        # After the shapes above (a registry or ingress host holds the account: it stays one placeholder);
        # the longest first, so that a host goes whole before the account inside it.
        for identity in sorted(self.identities, key=len, reverse=True):
            value = _word(identity).sub(self.identities[identity], value)
        return value

    def value(self, value: Any) -> Any:
        """A YAML-safe value with nothing run-dependent in it."""
        if isinstance(value, dt.datetime | dt.date | dt.time):
            return "<timestamp>"
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else str(value)
        if isinstance(value, bytes):
            return "<bytes>"
        if isinstance(value, str):
            return self.text(value)
        return value


def expand(text: str, placeholders: dict[str, str]) -> str:
    """``text`` with each {placeholder} replaced by this run's value (unknown braces stay)."""
    for key, value in placeholders.items():
        text = text.replace("{" + key + "}", value)
    return text
