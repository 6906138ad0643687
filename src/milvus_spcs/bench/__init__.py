"""Search at scale: ``python -m bench.scale`` and ``milvus-spcs bench`` (README, "Search at scale")."""
