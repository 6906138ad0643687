"""The object kinds of the account, one module each; engine.py registers them. Other layers declare
their kinds in their own packages and register them with the account."""
