"""The run journal: the complete, redacted record of one run, written as JSON."""
