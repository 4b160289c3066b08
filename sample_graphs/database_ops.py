"""Tutorial example 2: a (simulated) database operation checkpointed to SQLite.

``database_operation -> error_handling -> session_manager``. The operation fails
(status ``"error"``) when the user record has no email, and ``error_handling`` turns
failed results into error-log entries, so you can watch both lists grow in the
checkpoint history. ``processing_results`` and ``error_log`` use the ``operator.add``
reducer: nodes return only the *new* entries.

The only wall-clock value is ``session_info["last_activity_at"]``.

    python sample_graphs/database_ops.py [db_path] [thread_id]
"""

from __future__ import annotations

import operator
import sqlite3
import sys
from datetime import UTC, datetime
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph


class DatabaseState(TypedDict):
    user_data: dict[str, Any]
    session_info: dict[str, Any]
    processing_results: Annotated[list[dict[str, Any]], operator.add]
    error_log: Annotated[list[dict[str, Any]], operator.add]


def database_operation(state: DatabaseState) -> dict[str, Any]:
    """Pretend to write the user record; a record without an email is rejected."""
    user = state["user_data"]
    result: dict[str, Any] = {
        "operation": "upsert_user",
        "op_id": len(state["processing_results"]) + 1,
        "user_id": user.get("user_id"),
        "data_size": len(str(sorted(user.items()))),
        "status": "completed",
    }
    if not user.get("email"):
        result |= {"status": "error", "error_message": "email is required"}
    return {"processing_results": [result]}


def error_handling(state: DatabaseState) -> dict[str, Any]:
    """Log the latest result if it failed (earlier ones were logged by earlier runs)."""
    latest = state["processing_results"][-1]
    if latest["status"] != "error":
        return {}
    entry = {
        "error_id": f"err_{len(state['error_log']) + 1}",
        "operation": latest["operation"],
        "op_id": latest["op_id"],
        "error_message": latest["error_message"],
    }
    return {"error_log": [entry]}


def session_manager(state: DatabaseState) -> dict[str, Any]:
    """Update the session counters."""
    return {
        "session_info": {
            **state["session_info"],
            "operation_count": len(state["processing_results"]),
            "error_count": len(state["error_log"]),
            "last_activity_at": datetime.now(UTC).isoformat(),  # wall clock
        }
    }


builder = StateGraph(DatabaseState)
builder.add_node("database_operation", database_operation)
builder.add_node("error_handling", error_handling)
builder.add_node("session_manager", session_manager)
builder.add_edge(START, "database_operation")
builder.add_edge("database_operation", "error_handling")
builder.add_edge("error_handling", "session_manager")
builder.add_edge("session_manager", END)

graph = builder.compile()


def make_graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    """The graph compiled with a checkpointer, so every step is saved."""
    return builder.compile(checkpointer=checkpointer)


def initial_input(user_id: str = "user123", email: str | None = "zhang@example.com") -> dict:
    """A first input; pass ``email=None`` to make the operation fail and log an error."""
    return {
        "user_data": {"user_id": user_id, "name": "Zhang San", "email": email},
        "session_info": {"session_id": f"session_{user_id}"},
        "processing_results": [],
        "error_log": [],
    }


INITIAL = initial_input()


if __name__ == "__main__":
    from langgraph.checkpoint.sqlite import SqliteSaver

    db_path = sys.argv[1] if len(sys.argv) > 1 else "database_ops.sqlite"
    thread_id = sys.argv[2] if len(sys.argv) > 2 else "sqlite_session_001"
    app = make_graph(SqliteSaver(sqlite3.connect(db_path, check_same_thread=False)))
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}

    # Two operations on one thread: the second input only replaces user_data (the rest
    # is restored from the thread) and has no email, so its failure is logged.
    app.invoke(INITIAL, config)
    no_email = initial_input(email=None)
    result = app.invoke({"user_data": no_email["user_data"]}, config)
    print(f"[{thread_id}] results: {[r['status'] for r in result['processing_results']]}")
    print(f"[{thread_id}] errors: {result['error_log']}")
    history = list(app.get_state_history(config))
    print(f"[{thread_id}] {len(history)} checkpoints saved to {db_path}")
