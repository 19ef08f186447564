"""Built-in fault types, one module per family, each registered as a plugin."""
