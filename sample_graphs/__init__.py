"""Small, runnable LangGraph graphs to learn from and to debug with lgtt.

Every module follows the LangGraph CLI convention (``./file.py:graph``):

* ``builder``          the uncompiled :class:`~langgraph.graph.StateGraph`;
* ``graph``            ``builder.compile()`` with no checkpointer (the tool binds its own);
* ``make_graph(cp)``   the same graph compiled with checkpointer ``cp``;
* ``INITIAL`` / ``initial_input()``  a sensible first input.

Run one against a SQLite file with ``python sample_graphs/<module>.py [db_path] [thread_id]``.
:func:`sample_graphs.scenarios.build_demo` builds a whole demo database at once.
"""

MODULES = (
    "conversation",
    "database_ops",
    "recoverable",
    "business",
    "chat_agent",
    "approval",
    "map_reduce",
    "subgraph",
)
