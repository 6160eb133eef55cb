"""Test and demo tooling that is not part of the product (``dashboard`` never imports it)."""
