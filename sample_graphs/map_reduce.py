"""Map-reduce with ``Send``: one parallel worker per item, then a single reduce step.

``plan`` returns nothing itself; its conditional edge ``fan_out`` returns one
``Send("work", payload)`` per item. Each ``Send`` starts its own ``work`` task with
its own input (the payload, not the graph state), and all of them run in the same
superstep. Their results are merged by the ``operator.add`` reducer (in task order,
so the result is deterministic), and ``reduce`` runs once they are all done.

Items are ``Item`` dataclasses and the summary is a ``Summary`` dataclass: custom
types are stored in the checkpoints too.

Set ``fail_on`` to an item name and that worker raises: the superstep fails, the
other workers' results are kept as pending writes of the last checkpoint, and a
resume only re-runs the failed worker. Two things to know:

* Workers run in threads. When one raises, LangGraph cancels the siblings that have
  not started yet, so *which* results survive depends on timing. For a reproducible
  failure, run with ``{"max_concurrency": 1}`` in the config and fail the last item
  (``RUN_CONFIG`` and ``initial_input("delta")``).
* Each ``Send`` payload is saved with the checkpoint, including its copy of
  ``fail_on``, so editing ``fail_on`` in the *failed* checkpoint does not help the
  worker. Fork from the checkpoint *before* the fan-out (``next == ("plan",)``) with
  ``fail_on=None``, or fix the code, and the run completes.

    python sample_graphs/map_reduce.py [db_path] [thread_id] [fail_on]
"""

from __future__ import annotations

import operator
import sqlite3
import sys
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send


@dataclass(frozen=True)
class Item:
    name: str
    size: int


@dataclass(frozen=True)
class Summary:
    count: int
    total_size: int
    largest: str


class MapReduceState(TypedDict, total=False):
    items: list[Item]
    fail_on: str | None  # name of an item whose worker raises
    results: Annotated[list[dict[str, Any]], operator.add]
    summary: Summary


class WorkInput(TypedDict):
    """What each worker receives: the Send payload, not the whole state."""

    item: Item
    fail_on: str | None


def plan(state: MapReduceState) -> dict[str, Any]:
    return {}  # a real graph might fetch or split the work here


def fan_out(state: MapReduceState) -> list[Send]:
    """One Send per item: LangGraph runs a ``work`` task for each, in parallel."""
    return [Send("work", {"item": i, "fail_on": state.get("fail_on")}) for i in state["items"]]


def work(state: WorkInput) -> dict[str, Any]:
    item = state["item"]
    if item.name == state["fail_on"]:
        raise ValueError(f"worker for {item.name!r} failed (fail_on={item.name!r})")
    return {"results": [{"name": item.name, "size": item.size, "score": item.size * 10}]}


def reduce(state: MapReduceState) -> dict[str, Any]:
    results = state["results"]
    largest = max(results, key=lambda r: r["size"])["name"] if results else ""
    total = sum(r["size"] for r in results)
    return {"summary": Summary(count=len(results), total_size=total, largest=largest)}


builder = StateGraph(MapReduceState)
builder.add_node("plan", plan)
builder.add_node("work", work, input_schema=WorkInput)  # input: a Send payload
builder.add_node("reduce", reduce)
builder.add_edge(START, "plan")
builder.add_conditional_edges("plan", fan_out, ["work"])
builder.add_edge("work", "reduce")  # reduce waits for every work task of the superstep
builder.add_edge("reduce", END)

graph = builder.compile()


def make_graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    """The graph compiled with a checkpointer, so every step is saved."""
    return builder.compile(checkpointer=checkpointer)


# One worker at a time: a failed run then keeps exactly the results of the workers
# before the failing one (see the module docstring).
RUN_CONFIG: RunnableConfig = {"max_concurrency": 1}


def initial_input(fail_on: str | None = None) -> MapReduceState:
    """Four items; ``fail_on="delta"`` makes the last worker raise."""
    items = [Item("alpha", 3), Item("beta", 5), Item("gamma", 2), Item("delta", 8)]
    return {"items": items, "fail_on": fail_on, "results": []}


INITIAL = initial_input()


if __name__ == "__main__":
    from langgraph.checkpoint.sqlite import SqliteSaver

    db_path = sys.argv[1] if len(sys.argv) > 1 else "map_reduce.sqlite"
    thread_id = sys.argv[2] if len(sys.argv) > 2 else "mapreduce-5"
    fail_on = sys.argv[3] if len(sys.argv) > 3 else None
    app = make_graph(SqliteSaver(sqlite3.connect(db_path, check_same_thread=False)))
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}, **RUN_CONFIG}

    try:
        result = app.invoke(initial_input(fail_on), config)
        print(f"[{thread_id}] {result['summary']}")
    except ValueError as exc:
        print(f"[{thread_id}] failed: {exc}")
