"""The engine: plans a run, drives faults and probes on a timeline, decides the verdict."""
