"""Graph modules the hardening and crash tests pass as ``--graph``."""
