"""Small graph modules the branch/replay/graph-loading tests pass as ``--graph``."""
