"""installs: TODO docstring."""
