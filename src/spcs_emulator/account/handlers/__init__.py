"""Statement handlers, one module per family of statements; engine.py maps statement types to them."""
