"""admin: TODO docstring."""
