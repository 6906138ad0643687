"""Where the harness's own files live: the checkout it runs from (sql/, specs/, images/)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
