"""draft → ask (interrupt: waits for an answer) → publish."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt


class State(TypedDict):
    draft: str
    answer: Any
    log: Annotated[list[str], operator.add]


def draft(s: State) -> dict[str, Any]:
    return {"draft": s["draft"].strip(), "log": ["draft"]}


def ask(s: State) -> dict[str, Any]:
    answer = interrupt({"question": "publish?", "draft": s["draft"]})
    return {"answer": answer, "log": [f"ask={answer}"]}


def publish(s: State) -> dict[str, Any]:
    return {"log": ["published" if s["answer"] == "yes" else "dropped"]}


builder = StateGraph(State)
builder.add_node("draft", draft)
builder.add_node("ask", ask)
builder.add_node("publish", publish)
builder.add_edge(START, "draft")
builder.add_edge("draft", "ask")
builder.add_edge("ask", "publish")
builder.add_edge("publish", END)
graph = builder.compile()
