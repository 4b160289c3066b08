"""A graph module that fails on import."""

raise RuntimeError("no API key in the environment")
