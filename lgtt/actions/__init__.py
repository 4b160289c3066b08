"""The commands that write: ``branch``, ``replay`` (and later ``recover``).

Each write goes through LangGraph's own checkpointer or one SQLite transaction, never
rewrites an existing checkpoint, and can be tried with ``--dry-run`` (which works on a
scratch copy and leaves the database byte-identical):

- :mod:`lgtt.actions.history` — copying a thread's history into a new thread (one
  transaction), where writes go (the database or a scratch copy), and the outcome;
- :mod:`lgtt.actions.edits` — ``--set``/``--patch``/``--as-node`` and applying them with
  LangGraph's ``update_state``;
- :mod:`lgtt.actions.branch`, :mod:`lgtt.actions.replay` — the commands' cores.
"""
