"""ops: TODO docstring."""
