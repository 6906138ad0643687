"""The stack: a plan of steps (each with its undo and its wait), run concurrently where independent,
torn down in reverse on every exit path."""
