"""Graph modules the recovery tests pass to ``--graph`` (and run directly to build
databases). Each exposes ``builder`` (a StateGraph) and ``graph`` (compiled without a
checkpointer: lgtt binds its own)."""
