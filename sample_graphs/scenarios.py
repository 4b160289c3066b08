"""Build a demo checkpoint database: one thread per interesting situation.

    from langgraph.checkpoint.sqlite import SqliteSaver
    build_demo(SqliteSaver(sqlite3.connect("demo.sqlite", check_same_thread=False)))

or ``python -m sample_graphs.scenarios [db_path]``. Works with any LangGraph
checkpointer (SQLite, PostgreSQL, in-memory); existing demo threads are replaced.
"""

from __future__ import annotations

import sqlite3
import sys
from contextlib import suppress

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from sample_graphs import (
    approval,
    business,
    chat_agent,
    conversation,
    map_reduce,
    recoverable,
    subgraph,
)


def build_demo(checkpointer: BaseCheckpointSaver) -> dict[str, str]:
    """Create the demo threads in ``checkpointer``; return ``{thread_id: description}``."""
    threads: dict[str, str] = {}

    def start(thread_id: str) -> RunnableConfig:
        checkpointer.delete_thread(thread_id)  # rebuilding the demo starts afresh
        return {"configurable": {"thread_id": thread_id}}

    # A finished two-turn chat; the first turn calls the get_weather tool.
    config = start("chat-1")
    app = chat_agent.make_graph(checkpointer)
    app.invoke(chat_agent.INITIAL, config)
    app.invoke(chat_agent.SECOND_TURN, config)
    threads["chat-1"] = "finished: two-turn chat agent, turn 1 calls the get_weather tool"

    # A finished business run: validated, priced, approved, with an audit trail.
    config = start("orders-7")
    result = business.make_graph(checkpointer).invoke(business.initial_input("order-7"), config)
    threads["orders-7"] = (
        f"finished: order-7 {result['decision']}, total {result['pricing']['total']}"
    )

    # A failed run: process_step raises at step fail_at (picked by seed 42).
    config = start("steps-42")
    inputs = recoverable.initial_input(task_id="steps-42", seed=42)
    with suppress(RuntimeError):  # expected: the error is saved with the last checkpoint
        recoverable.make_graph(checkpointer).invoke(inputs, config)
    threads["steps-42"] = (
        f"FAILED: process_step raised RuntimeError at step {inputs['fail_at']} of "
        f"{inputs['total_steps']}; set fail_at=None and resume"
    )

    # Interrupted: the first draft was rejected, the revision waits for an answer.
    config = start("approval-3")
    app = approval.make_graph(checkpointer)
    app.invoke(approval.INITIAL, config)  # pauses in approve's interrupt()
    app.invoke(Command(resume={"approved": False, "feedback": "mention lgtt diff"}), config)
    threads["approval-3"] = (
        "INTERRUPTED: draft 1 rejected, revision 2 waits at interrupt(); "
        "resume with Command(resume='yes')"
    )

    # A failed parallel run: the last of four Send workers raises.
    config = {**start("mapreduce-5"), **map_reduce.RUN_CONFIG}
    with suppress(ValueError):  # expected: the other workers' results are kept
        map_reduce.make_graph(checkpointer).invoke(map_reduce.initial_input("delta"), config)
    threads["mapreduce-5"] = "FAILED: 4 Send workers, 'delta' raised ValueError, 3 results kept"

    # A finished conversation, then a fork: edit an earlier checkpoint and run on from it.
    config = start("conversation-1")
    app = conversation.make_graph(checkpointer)
    app.invoke(conversation.INITIAL, config)
    # get_state_history is newest first; pick the checkpoint before process_message ran.
    before = next(s for s in app.get_state_history(config) if s.next == ("process_message",))
    # update_state writes a new checkpoint whose parent is `before`: a second branch.
    forked = app.update_state(
        before.config, {"task_progress": {"current_step": 0, "total_steps": 2}}
    )
    app.invoke(None, forked)  # run the fork on to the end; it is now the thread's head
    threads["conversation-1"] = (
        "finished, then FORKED: task_progress edited to total_steps=2 before "
        "process_message, and the fork run to the end"
    )

    # A finished parent run whose research node is a subgraph (own checkpoint_ns).
    config = start("nested-1")
    subgraph.make_graph(checkpointer).invoke(subgraph.INITIAL, config)
    threads["nested-1"] = "finished: parent graph with a subgraph node (checkpoint_ns 'research:…')"

    return threads


if __name__ == "__main__":
    from langgraph.checkpoint.sqlite import SqliteSaver

    db_path = sys.argv[1] if len(sys.argv) > 1 else "demo.sqlite"
    saver = SqliteSaver(sqlite3.connect(db_path, check_same_thread=False))
    for thread_id, description in build_demo(saver).items():
        print(f"{thread_id:>15}  {description}")
