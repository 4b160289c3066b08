"""fetch fails its first ``fail_times`` calls (counted in a file), then succeeds:
a transient failure such as a flaky network."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict):
    counter: str
    fail_times: int
    log: Annotated[list[str], operator.add]


def start(s: State) -> dict[str, Any]:
    return {"log": ["start"]}


def fetch(s: State) -> dict[str, Any]:
    path = Path(s["counter"])
    calls = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(calls))
    if calls <= s["fail_times"]:
        raise ConnectionError(f"timeout (call {calls})")
    return {"log": [f"fetched on call {calls}"]}


builder = StateGraph(State)
builder.add_node("start", start)
builder.add_node("fetch", fetch)
builder.add_edge(START, "start")
builder.add_edge("start", "fetch")
builder.add_edge("fetch", END)
graph = builder.compile()
