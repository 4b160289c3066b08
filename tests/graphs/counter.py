"""A deterministic loop: ``inc`` adds one, ``dbl`` doubles, until the count reaches 20.

Input ``{"count": 1}`` runs inc, dbl, inc, dbl, inc, dbl (count 2, 4, 5, 10, 11, 22).
``fail=True`` in the state makes ``dbl`` raise. The module exposes the graph every way
``--graph`` accepts one.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    count: int
    steps: Annotated[list[str], operator.add]
    fail: bool


def inc(state: State) -> dict[str, Any]:
    return {"count": state["count"] + 1, "steps": ["inc"]}


def dbl(state: State) -> dict[str, Any]:
    if state.get("fail"):
        raise ValueError(f"dbl refuses {state['count']}")
    return {"count": state["count"] * 2, "steps": ["dbl"]}


def again(state: State) -> str:
    return "inc" if state["count"] < 20 else END


builder = StateGraph(State)
builder.add_node("inc", inc)
builder.add_node("dbl", dbl)
builder.add_edge(START, "inc")
builder.add_edge("inc", "dbl")
builder.add_conditional_edges("dbl", again, ["inc", END])

# compiled with a checkpointer of its own: lgtt must bind its saver instead
graph = builder.compile(checkpointer=InMemorySaver())
plain = builder.compile()
interrupting = builder.compile(interrupt_before=["dbl"])
not_a_graph = {"count": 1}


def make_graph() -> Any:
    return builder.compile()


def make_graph_with_config(config: RunnableConfig) -> Any:
    assert "configurable" in config
    return builder.compile()


def make_builder() -> StateGraph[State]:
    return builder


def needs_two(a: int, b: int) -> Any:
    return builder.compile()


def make_nothing() -> int:
    return 7


INPUT: State = {"count": 1, "steps": []}
