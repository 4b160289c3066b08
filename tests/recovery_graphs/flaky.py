"""prepare → work → finish; ``work`` raises until the state says ``ok``."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict):
    ok: bool
    log: Annotated[list[str], operator.add]


def prepare(s: State) -> dict[str, Any]:
    return {"log": ["prepare"]}


def work(s: State) -> dict[str, Any]:
    if not s["ok"]:
        raise ValueError("work needs ok=true")
    return {"log": ["work"]}


def finish(s: State) -> dict[str, Any]:
    return {"log": ["finish"]}


builder = StateGraph(State)
builder.add_node("prepare", prepare)
builder.add_node("work", work)
builder.add_node("finish", finish)
builder.add_edge(START, "prepare")
builder.add_edge("prepare", "work")
builder.add_edge("work", "finish")
builder.add_edge("finish", END)
graph = builder.compile()
