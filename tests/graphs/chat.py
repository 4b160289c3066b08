"""Multi-turn with a human in the loop: ``reply`` echoes the last message, ``review``
asks (``interrupt``) and records the answer. Deterministic."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt


class Chat(TypedDict, total=False):
    messages: Annotated[list[str], operator.add]
    verdicts: Annotated[list[str], operator.add]


def reply(state: Chat) -> dict[str, Any]:
    return {"messages": [f"echo: {state['messages'][-1]}"]}


def review(state: Chat) -> dict[str, Any]:
    answer = interrupt({"question": "ok?", "last": state["messages"][-1]})
    return {"verdicts": [str(answer)]}


builder = StateGraph(Chat)
builder.add_node("reply", reply)
builder.add_node("review", review)
builder.add_edge(START, "reply")
builder.add_edge("reply", "review")
builder.add_edge("review", END)
graph = builder.compile()
