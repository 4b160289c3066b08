"""Tutorial example 3: a step processor that fails, and is recovered from its checkpoint.

``process_step`` does one step per superstep and loops back to itself until
``current_step == total_steps``. At step ``fail_at`` it raises ``RuntimeError``.
When a node raises, LangGraph keeps the last good checkpoint plus the error of the
failed task, so nothing already done is lost:

    graph.invoke(initial_input(), config)         # raises RuntimeError at step fail_at
    graph.get_state(config).tasks[0].error        # the error, stored with the checkpoint
    graph.update_state(config, {"fail_at": None}) # fix the state (or fix the code) ...
    graph.invoke(None, config)                    # ... and resume: runs to completion

The failure is deterministic: ``fail_at`` is part of the state, and when you do not
give it, ``initial_input`` picks it with ``random.Random(seed)``, so a seed always
fails at the same step.

    python sample_graphs/recoverable.py [db_path] [thread_id]   # fails
    python sample_graphs/recoverable.py [db_path] [thread_id]   # same thread: recovers
"""

from __future__ import annotations

import operator
import random
import sqlite3
import sys
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph


class RecoverableState(TypedDict):
    task_id: str
    steps_done: Annotated[list[str], operator.add]
    current_step: int
    total_steps: int
    fail_at: int | None  # the step that raises; None means "never fail"
    seed: int  # how fail_at was chosen (kept for the record)


def process_step(state: RecoverableState) -> dict[str, Any]:
    """Do the next step, or raise if it is the step that is set to fail."""
    step = state["current_step"] + 1
    if step == state["fail_at"]:
        # A raised exception aborts the superstep: its writes are discarded, the
        # error is saved with the checkpoint, and invoke() re-raises it.
        raise RuntimeError(f"step {step} of {state['task_id']} failed (fail_at={step})")
    return {"steps_done": [f"step_{step}_done"], "current_step": step}


def route(state: RecoverableState) -> str:
    """Loop until every step is done."""
    return "process_step" if state["current_step"] < state["total_steps"] else END


builder = StateGraph(RecoverableState)
builder.add_node("process_step", process_step)
builder.add_edge(START, "process_step")
builder.add_conditional_edges("process_step", route, ["process_step", END])

graph = builder.compile()


def make_graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    """The graph compiled with a checkpointer, so a failed run can be resumed."""
    return builder.compile(checkpointer=checkpointer)


_UNSET: Any = object()


def initial_input(
    task_id: str = "demo_task", total_steps: int = 5, fail_at: int | None = _UNSET, seed: int = 42
) -> RecoverableState:
    """A first input. Without ``fail_at``, the seed picks the failing step reproducibly."""
    if fail_at is _UNSET:
        fail_at = random.Random(seed).randint(2, total_steps)  # never step 1: show progress
    return {
        "task_id": task_id,
        "steps_done": [],
        "current_step": 0,
        "total_steps": total_steps,
        "fail_at": fail_at,
        "seed": seed,
    }


INITIAL = initial_input()


if __name__ == "__main__":
    from langgraph.checkpoint.sqlite import SqliteSaver

    db_path = sys.argv[1] if len(sys.argv) > 1 else "recoverable.sqlite"
    thread_id = sys.argv[2] if len(sys.argv) > 2 else "steps-42"
    app = make_graph(SqliteSaver(sqlite3.connect(db_path, check_same_thread=False)))
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}

    if app.get_state(config).next:
        # The thread stopped before the end (it failed last time): fix and resume.
        app.update_state(config, {"fail_at": None})
        result = app.invoke(None, config)
        print(f"[{thread_id}] recovered: {result['steps_done']}")
    else:
        try:
            app.invoke(INITIAL, config)
        except RuntimeError as exc:
            done = app.get_state(config).values["steps_done"]
            print(f"[{thread_id}] failed: {exc}; kept {done}")
            print(f"run `python {sys.argv[0]} {db_path} {thread_id}` again to resume")
