"""tokens: TODO docstring."""
