"""Human approval with ``interrupt()``: the run pauses until a person answers.

``write_draft -> approve -> publish`` (or ``-> revise -> approve`` again).

``approve`` calls ``interrupt(payload)``. The first time, that *stops the run*: the
checkpoint is saved with the payload in ``get_state(config).interrupts`` and
``next == ("approve",)``. To continue, invoke the thread with
``Command(resume=answer)``: ``approve`` runs again from its start, and this time
``interrupt()`` returns ``answer``. (So code before ``interrupt()`` runs twice: keep it
free of side effects.)

The answer is ``"yes"``/``"no"`` or ``{"approved": bool, "feedback": str}``.

    python sample_graphs/approval.py [db_path] [thread_id] [answer]
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any, Literal, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt


class ApprovalState(TypedDict, total=False):
    topic: str
    draft: str
    revision: int
    feedback: str
    status: str  # "drafting", "published"


def write_draft(state: ApprovalState) -> dict[str, Any]:
    return {
        "draft": f"Announcing {state['topic']}: faster, simpler, better.",
        "revision": 1,
        "status": "drafting",
    }


def approve(state: ApprovalState) -> Command[Literal["publish", "revise"]]:
    """Ask a human; the answer picks the next node (Command's ``goto``)."""
    answer = interrupt({"question": "Publish this draft?", "draft": state["draft"]})
    if isinstance(answer, dict):
        approved, feedback = bool(answer.get("approved")), str(answer.get("feedback", ""))
    else:
        approved, feedback = str(answer).strip().lower() in {"y", "yes"}, ""
    return Command(goto="publish" if approved else "revise", update={"feedback": feedback})


def revise(state: ApprovalState) -> dict[str, Any]:
    revision = state["revision"] + 1
    note = state.get("feedback") or "more detail"
    return {"draft": f"{state['draft']} (rev {revision}: {note})", "revision": revision}


def publish(state: ApprovalState) -> dict[str, Any]:
    return {"status": "published"}


builder = StateGraph(ApprovalState)
builder.add_node("write_draft", write_draft)
builder.add_node("approve", approve)  # its edges come from Command(goto=...)
builder.add_node("revise", revise)
builder.add_node("publish", publish)
builder.add_edge(START, "write_draft")
builder.add_edge("write_draft", "approve")
builder.add_edge("revise", "approve")
builder.add_edge("publish", END)

graph = builder.compile()


def make_graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    """``interrupt()`` needs a checkpointer: the paused run lives in it."""
    return builder.compile(checkpointer=checkpointer)


INITIAL: ApprovalState = {"topic": "lgtt 1.0"}


if __name__ == "__main__":
    from langgraph.checkpoint.sqlite import SqliteSaver

    db_path = sys.argv[1] if len(sys.argv) > 1 else "approval.sqlite"
    thread_id = sys.argv[2] if len(sys.argv) > 2 else "approval-3"
    app = make_graph(SqliteSaver(sqlite3.connect(db_path, check_same_thread=False)))
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}

    if len(sys.argv) > 3:  # an answer was given: resume the paused run with it
        app.invoke(Command(resume=sys.argv[3]), config)
    else:
        app.invoke(INITIAL, config)
    state = app.get_state(config)
    if state.interrupts:
        print(f"[{thread_id}] waiting for approval: {state.interrupts[0].value}")
        print(f"answer with `python {sys.argv[0]} {db_path} {thread_id} yes` (or no)")
    else:
        print(f"[{thread_id}] {state.values['status']}: {state.values['draft']}")
