"""refresh: TODO docstring."""
