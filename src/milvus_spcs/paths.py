"""Where the harness's own files live (sql/, specs/, images/).

From a checkout (an editable install) they are the checkout's folders. A wheel carries copies in the
package (``harness_files/``: setup.py's build step copies sql/, specs/ and images/ there), so an
installed harness finds them without the repository.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout; only meaningful in one
PACKAGED_FILES = Path(__file__).resolve().parent / "harness_files"
HARNESS_FILES = PACKAGED_FILES if (PACKAGED_FILES / "sql").is_dir() else REPO_ROOT
