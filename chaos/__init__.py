"""chaosdrill: chaos and resilience experiments against Docker and Docker Swarm.

The library API lives in :mod:`chaos.api`; the CLI, the pytest plugin and the
scheduler are thin clients of it.
"""

__version__ = "0.1.0"
