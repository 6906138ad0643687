"""One emulated account: catalog of objects, access control, sessions, statement execution."""
