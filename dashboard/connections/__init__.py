"""connections: TODO docstring."""
