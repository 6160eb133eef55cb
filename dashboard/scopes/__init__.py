"""scopes: TODO docstring."""
