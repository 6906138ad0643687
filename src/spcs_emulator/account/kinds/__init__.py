"""The object kinds of the account, one module each (compute pools and services: spcs/statements/);
engine.py registers them."""
