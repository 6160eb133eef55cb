"""security: TODO docstring."""
