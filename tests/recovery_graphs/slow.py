"""one → two → three; ``two`` blocks (sleeps) the first time it runs, after leaving a
marker file: a test kills the process there. Run as a script to start a thread:
``python slow.py DB THREAD MARKER`` (durability "sync": each step is stored before
the next starts)."""

from __future__ import annotations

import operator
import sys
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict):
    marker: str
    log: Annotated[list[str], operator.add]


def one(s: State) -> dict[str, Any]:
    return {"log": ["one"]}


def two(s: State) -> dict[str, Any]:
    marker = Path(s["marker"])
    if not marker.exists():
        marker.write_text("blocked")
        time.sleep(120)  # the test kills the process here
    return {"log": ["two"]}


def three(s: State) -> dict[str, Any]:
    return {"log": ["three"]}


builder = StateGraph(State)
builder.add_node("one", one)
builder.add_node("two", two)
builder.add_node("three", three)
builder.add_edge(START, "one")
builder.add_edge("one", "two")
builder.add_edge("two", "three")
builder.add_edge("three", END)
graph = builder.compile()


if __name__ == "__main__":
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    db, thread, marker = sys.argv[1:4]
    saver = SqliteSaver(sqlite3.connect(db, check_same_thread=False))
    app = builder.compile(checkpointer=saver)
    app.invoke(
        {"marker": marker, "log": []},
        {"configurable": {"thread_id": thread}},
        durability="sync",
    )
