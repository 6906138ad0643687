"""Library warnings that are not the user's business, kept off the terminal (CLI; pytest has the same
filter in pyproject.toml). Only by message: any other warning of the same class still shows."""

from __future__ import annotations

import warnings

# snowflake-connector-python 5.x: a logout default that will change; we never run async queries.
CONNECTOR_LOGOUT_DEFAULT = r"enable_server_session_keep_alive_auto_detection was not set"


def silence_library_warnings() -> None:
    warnings.filterwarnings("ignore", message=CONNECTOR_LOGOUT_DEFAULT, category=FutureWarning)
