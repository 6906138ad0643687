"""The harness plugin's fixtures, one module per concern (milvus_spcs.pytest_plugin lists them)."""
