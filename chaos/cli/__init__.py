"""The ``chaosdrill`` command: parses arguments, calls :mod:`chaos.api`, prints."""
