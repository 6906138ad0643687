"""Snowflake's SQL REST endpoint as the real connector and `snow` speak it (reference/snowflake.md §8)."""
