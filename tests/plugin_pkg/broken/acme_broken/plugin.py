"""Fails at import, like a plugin whose own dependency is missing."""

raise ImportError("acme_broken needs the 'nonexistent-sdk' package")
