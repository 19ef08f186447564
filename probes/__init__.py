"""Built-in probes. Each module is a plugin registered through ``chaos.hookspecs``,
exactly as a third-party probe package would be."""
