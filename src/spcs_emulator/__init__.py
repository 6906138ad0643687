"""A local stand-in for one Snowflake account: SQL endpoint, access control, SPCS control plane and runtime."""
