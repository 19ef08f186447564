"""A plugin package whose plugin module cannot be imported (test fixture)."""
