"""Tutorial example 1: a persistent conversation with a long-running task.

Three nodes run in a line: ``save_checkpoint -> process_message -> task_processor``.
Each invocation answers the latest user message and advances the task by one step,
so invoking the same thread again continues where the last run stopped.

Nodes return *partial updates* (only the keys they change) instead of mutating the
state in place: LangGraph merges the update into the state and checkpoints it.

Everything is deterministic except ``task_progress["last_updated"]``, a wall-clock
timestamp. It differs between two runs of the same input, which is what
``lgtt diff --ignore last_updated`` is for.

    python sample_graphs/conversation.py [db_path] [thread_id]
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


class PersistentState(TypedDict):
    user_id: str
    conversation_id: str
    # operator.add is the reducer: a node's {"messages": [new]} is appended,
    # and so is the input of the next invocation on the same thread.
    messages: Annotated[list[dict[str, str]], operator.add]
    task_progress: dict[str, Any]
    last_checkpoint: str


def save_checkpoint(state: PersistentState) -> dict[str, Any]:
    """Record a label for this point of the conversation (deterministic, no clock)."""
    label = f"checkpoint_{state['conversation_id']}_{len(state['messages'])}"
    return {"last_checkpoint": label}


def process_message(state: PersistentState) -> dict[str, Any]:
    """Answer the latest user message."""
    latest = state["messages"][-1] if state["messages"] else None
    if latest is None or latest["role"] != "user":
        return {}  # nothing new to answer: an empty update changes nothing
    reply = {"role": "assistant", "content": f"Processed: {latest['content']}"}
    return {"messages": [reply]}


def task_processor(state: PersistentState) -> dict[str, Any]:
    """Advance the simulated long-running task by one step."""
    progress = state.get("task_progress") or {}
    step, total = progress.get("current_step", 0), progress.get("total_steps", 5)
    if step >= total:
        return {}
    step += 1
    return {
        # A new dict, not progress.update(...): never mutate the state you were given.
        "task_progress": {
            "current_step": step,
            "total_steps": total,
            "progress_percentage": step * 100 // total,
            # The one wall-clock value in this graph.
            "last_updated": datetime.now(UTC).isoformat(),
        }
    }


builder = StateGraph(PersistentState)
builder.add_node("save_checkpoint", save_checkpoint)
builder.add_node("process_message", process_message)
builder.add_node("task_processor", task_processor)
builder.add_edge(START, "save_checkpoint")
builder.add_edge("save_checkpoint", "process_message")
builder.add_edge("process_message", "task_processor")
builder.add_edge("task_processor", END)

graph = builder.compile()


def make_graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    """The graph compiled with a checkpointer, so every step is saved."""
    return builder.compile(checkpointer=checkpointer)


INITIAL: PersistentState = {
    "user_id": "user_001",
    "conversation_id": "conv_456",
    "messages": [{"role": "user", "content": "Start the task"}],
    "task_progress": {"current_step": 0, "total_steps": 5},
    "last_checkpoint": "",
}

# The input of a follow-up invocation: only the new message, the rest is restored.
FOLLOW_UP = {"messages": [{"role": "user", "content": "Continue the task"}]}


if __name__ == "__main__":
    from langgraph.checkpoint.sqlite import SqliteSaver

    db_path = sys.argv[1] if len(sys.argv) > 1 else "conversation.sqlite"
    thread_id = sys.argv[2] if len(sys.argv) > 2 else "conversation-1"
    app = make_graph(SqliteSaver(sqlite3.connect(db_path, check_same_thread=False)))
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}

    # A new thread starts from INITIAL; an existing one just gets the next message.
    first = not app.get_state(config).values
    result = app.invoke(INITIAL if first else FOLLOW_UP, config)
    print(f"[{thread_id}] task progress: {result['task_progress']}")
    print(f"[{thread_id}] {len(result['messages'])} messages, saved to {db_path}")
