"""A parent graph with a compiled subgraph as one of its nodes.

Parent: ``prepare -> research -> write_report``, where ``research`` is itself a
compiled graph: ``gather -> summarize``. The two graphs share the ``topic`` and
``notes`` keys, so the subgraph reads the parent's state and its updates flow back.

Compiled *without* a checkpointer, the subgraph inherits the parent's. Its
checkpoints are stored in the same thread under a non-empty ``checkpoint_ns``
(``"research:<task id>"``); the parent's use ``""``. See them with
``graph.get_state(config, subgraphs=True)`` while a run is inside the subgraph, or
in the ``checkpoints`` table.

    python sample_graphs/subgraph.py [db_path] [thread_id]
"""

from __future__ import annotations

import operator
import sqlite3
import sys
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

SOURCES = {
    "checkpoints": ["saved after every superstep", "keyed by thread_id"],
    "time travel": ["replay from any checkpoint", "fork with update_state"],
}


# --- the subgraph --------------------------------------------------------------


class ResearchState(TypedDict):
    topic: str  # shared with the parent
    notes: Annotated[list[str], operator.add]  # shared with the parent
    sources_read: int  # private to the subgraph


def gather(state: ResearchState) -> dict[str, Any]:
    found = SOURCES.get(state["topic"], ["nothing found"])
    return {"notes": [f"fact: {fact}" for fact in found], "sources_read": len(found)}


def summarize(state: ResearchState) -> dict[str, Any]:
    return {"notes": [f"summary: {state['sources_read']} sources on {state['topic']}"]}


research_builder = StateGraph(ResearchState)
research_builder.add_node("gather", gather)
research_builder.add_node("summarize", summarize)
research_builder.add_edge(START, "gather")
research_builder.add_edge("gather", "summarize")
research_builder.add_edge("summarize", END)
research = research_builder.compile()  # no checkpointer: it uses the parent's


# --- the parent graph ----------------------------------------------------------


class ParentState(TypedDict, total=False):
    topic: str
    # No reducer here, on purpose: the subgraph hands back its *whole* final ``notes``
    # (the parent's notes plus its own), which must replace the parent's list. With
    # operator.add here too, the parent's notes would appear twice.
    notes: list[str]
    report: str


def prepare(state: ParentState) -> dict[str, Any]:
    notes = [*state.get("notes", []), "plan: research, then write"]
    return {"topic": state["topic"].strip().lower(), "notes": notes}


def write_report(state: ParentState) -> dict[str, Any]:
    lines = "\n".join(f"- {note}" for note in state["notes"])
    return {"report": f"Report on {state['topic']}:\n{lines}"}


builder = StateGraph(ParentState)
builder.add_node("prepare", prepare)
builder.add_node("research", research)  # a compiled graph is a node like any other
builder.add_node("write_report", write_report)
builder.add_edge(START, "prepare")
builder.add_edge("prepare", "research")
builder.add_edge("research", "write_report")
builder.add_edge("write_report", END)

graph = builder.compile()


def make_graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    """The parent compiled with a checkpointer; the subgraph checkpoints into it too."""
    return builder.compile(checkpointer=checkpointer)


INITIAL: ParentState = {"topic": " Time Travel ", "notes": []}


if __name__ == "__main__":
    from langgraph.checkpoint.sqlite import SqliteSaver

    db_path = sys.argv[1] if len(sys.argv) > 1 else "subgraph.sqlite"
    thread_id = sys.argv[2] if len(sys.argv) > 2 else "nested-1"
    conn = sqlite3.connect(db_path, check_same_thread=False)
    app = make_graph(SqliteSaver(conn))
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}

    print(app.invoke(INITIAL, config)["report"])
    rows = conn.execute(
        "SELECT checkpoint_ns, count(*) FROM checkpoints WHERE thread_id = ? GROUP BY 1",
        (thread_id,),
    ).fetchall()
    for ns, count in rows:
        print(f"  namespace {ns or '(root)'!r}: {count} checkpoints")
