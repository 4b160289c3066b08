"""A small loop whose ``items`` reducer can stop dead: the crash tests kill lgtt there.

``add`` appends an item until there are ``until`` of them. The ``items`` reducer is
plain list concatenation, except when ``LGTT_TEST_PAUSE`` names a file that does not
exist yet: it then creates the file and sleeps, so a test knows the process is inside
the reducer — for ``lgtt branch --set items=…``, inside the transaction that holds the
copy and the edit — and kills it there. Without the variable it is an ordinary graph.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph


def pausing_add(left: list[str], right: list[str]) -> list[str]:
    marker = os.environ.get("LGTT_TEST_PAUSE")
    if marker and not Path(marker).exists():
        Path(marker).write_text("paused in the items reducer")
        time.sleep(120)  # the test kills the process here
    return [*(left or []), *(right or [])]


class State(TypedDict):
    until: int
    items: Annotated[list[str], pausing_add]


def add(state: State) -> dict[str, Any]:
    return {"items": [f"item{len(state['items']) + 1}"]}


def more(state: State) -> str:
    return "add" if len(state["items"]) < state["until"] else END


builder = StateGraph(State)
builder.add_node("add", add)
builder.add_edge(START, "add")
builder.add_conditional_edges("add", more, ["add", END])
graph = builder.compile()

INPUT: State = {"until": 4, "items": []}
