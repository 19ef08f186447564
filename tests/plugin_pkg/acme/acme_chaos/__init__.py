"""ACME chaos plugin (test fixture)."""
