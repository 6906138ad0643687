"""Search at scale: ``python -m bench.scale --help`` (the code is milvus_spcs.bench, so that
``milvus-spcs bench`` and the SPCS kernel can use it too)."""

from __future__ import annotations

import sys

from milvus_spcs.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
