"""milvus-spcs: acceptance-test harness for Milvus on Snowpark Container Services."""

__version__ = "0.1.0"
