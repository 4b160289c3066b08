"""The sample graphs and the demo threads, checked with LangGraph's own API."""

from __future__ import annotations

import importlib
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from sample_graphs import (
    MODULES,
    approval,
    business,
    chat_agent,
    conversation,
    map_reduce,
    recoverable,
    subgraph,
)
from sample_graphs.scenarios import build_demo

REPO = Path(__file__).resolve().parents[1]
# Each demo thread and the module whose graph made it (get_state only shows the
# channels of the graph it is called on).
THREADS = {
    "chat-1": chat_agent,
    "orders-7": business,
    "steps-42": recoverable,
    "approval-3": approval,
    "mapreduce-5": map_reduce,
    "conversation-1": conversation,
    "nested-1": subgraph,
}
# The only values allowed to differ between two runs (wall-clock fields).
WALL_CLOCK = re.compile(r"^(timestamp|last_updated|.*_at)$")


def cfg(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def open_saver(path: Path) -> SqliteSaver:
    return SqliteSaver(sqlite3.connect(path, check_same_thread=False))


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[SqliteSaver, dict[str, str]]]:
    saver = open_saver(tmp_path / "demo.sqlite")
    yield saver, build_demo(saver)
    saver.conn.close()


def test_every_module_follows_the_convention() -> None:
    for name in MODULES:
        module = importlib.import_module(f"sample_graphs.{name}")
        assert module.graph.checkpointer is None, name  # the debugger binds its own
        assert module.builder.compiled is True, name  # graph came from this builder
        assert hasattr(module, "INITIAL") or hasattr(module, "initial_input"), name
        with sqlite3.connect(":memory:", check_same_thread=False) as conn:
            saver = SqliteSaver(conn)
            assert module.make_graph(saver).checkpointer is saver, name


def test_build_demo_returns_every_thread(demo: tuple[SqliteSaver, dict[str, str]]) -> None:
    _, threads = demo
    assert list(threads) == list(THREADS)
    assert all(isinstance(d, str) and d and "\n" not in d for d in threads.values())


def test_chat_is_finished_with_a_tool_call(demo: tuple[SqliteSaver, dict[str, str]]) -> None:
    saver, _ = demo
    state = chat_agent.make_graph(saver).get_state(cfg("chat-1"))
    assert state.next == ()
    messages = state.values["messages"]
    assert [m.id for m in messages] == ["human-1", "ai-1", "tool-call-1", "ai-2", "human-2", "ai-3"]
    assert messages[1].tool_calls[0]["name"] == "get_weather"
    assert isinstance(messages[2], ToolMessage) and "Paris" in messages[2].content


def test_order_is_finished_with_pydantic_state(demo: tuple[SqliteSaver, dict[str, str]]) -> None:
    saver, _ = demo
    state = business.make_graph(saver).get_state(cfg("orders-7"))
    assert state.next == ()
    assert isinstance(state.values["order"], business.Order)
    assert state.values["decision"] == "approved"
    assert [e["action"] for e in state.values["audit_trail"]] == ["validated", "priced", "decided"]


def test_steps_run_failed_and_can_be_recovered(demo: tuple[SqliteSaver, dict[str, str]]) -> None:
    saver, _ = demo
    app = recoverable.make_graph(saver)
    state = app.get_state(cfg("steps-42"))
    assert state.next == ("process_step",)
    assert any(t.error and "RuntimeError" in str(t.error) for t in state.tasks)
    fail_at = state.values["fail_at"]
    assert fail_at == recoverable.initial_input(seed=42)["fail_at"]  # reproducible
    assert len(state.values["steps_done"]) == fail_at - 1

    app.update_state(cfg("steps-42"), {"fail_at": None})  # the state edit that fixes it
    result = app.invoke(None, cfg("steps-42"))
    assert result["steps_done"] == [f"step_{i}_done" for i in range(1, 6)]
    assert app.get_state(cfg("steps-42")).next == ()


def test_approval_is_interrupted_and_resumable(demo: tuple[SqliteSaver, dict[str, str]]) -> None:
    saver, _ = demo
    app = approval.make_graph(saver)
    state = app.get_state(cfg("approval-3"))
    assert state.next == ("approve",)
    assert state.interrupts and state.interrupts[0].value["question"] == "Publish this draft?"
    assert state.values["revision"] == 2

    app.invoke(Command(resume="yes"), cfg("approval-3"))
    state = app.get_state(cfg("approval-3"))
    assert state.next == () and not state.interrupts
    assert state.values["status"] == "published"


def test_map_reduce_failed_in_one_worker(demo: tuple[SqliteSaver, dict[str, str]]) -> None:
    saver, _ = demo
    app = map_reduce.make_graph(saver)
    state = app.get_state(cfg("mapreduce-5"))
    assert [t.name for t in state.tasks] == ["work"] * 4
    failed = [t for t in state.tasks if t.error]
    assert len(failed) == 1 and "delta" in str(failed[0].error)
    assert sum(t.result is not None for t in state.tasks) == 3  # siblings' writes kept
    assert all(isinstance(i, map_reduce.Item) for i in state.values["items"])

    # The Sends carry their own fail_on: recover by forking from before the fan-out.
    before = next(s for s in app.get_state_history(cfg("mapreduce-5")) if s.next == ("plan",))
    fork = app.update_state(before.config, {"fail_on": None})
    config: RunnableConfig = {**fork, **map_reduce.RUN_CONFIG}
    result = app.invoke(None, config)
    assert result["summary"] == map_reduce.Summary(count=4, total_size=18, largest="delta")


def test_conversation_contains_a_fork(demo: tuple[SqliteSaver, dict[str, str]]) -> None:
    saver, _ = demo
    app = conversation.make_graph(saver)
    history = list(app.get_state_history(cfg("conversation-1")))
    children = Counter(
        s.parent_config["configurable"]["checkpoint_id"] for s in history if s.parent_config
    )
    assert max(children.values()) == 2  # one checkpoint, two branches
    head = app.get_state(cfg("conversation-1"))
    assert head.next == ()
    assert head.values["task_progress"]["total_steps"] == 2  # the fork's edit ran on
    assert head.values["task_progress"]["progress_percentage"] == 50
    assert head.metadata is not None and head.metadata["source"] == "loop"


def test_nested_run_has_subgraph_checkpoints(demo: tuple[SqliteSaver, dict[str, str]]) -> None:
    saver, _ = demo
    assert subgraph.make_graph(saver).get_state(cfg("nested-1")).next == ()
    namespaces = [
        ns
        for (ns,) in saver.conn.execute(
            "SELECT checkpoint_ns FROM checkpoints WHERE thread_id = 'nested-1'"
        )
    ]
    nested = [ns for ns in namespaces if ns]
    assert nested and all(ns.startswith("research:") for ns in nested)
    assert "" in namespaces


def test_demo_is_deterministic_apart_from_wall_clock_fields(tmp_path: Path) -> None:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not WALL_CLOCK.match(str(k))}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    runs = []
    for name in ("a.sqlite", "b.sqlite"):
        saver = open_saver(tmp_path / name)
        build_demo(saver)
        runs.append({t: m.make_graph(saver).get_state(cfg(t)).values for t, m in THREADS.items()})
        saver.conn.close()
    assert strip(runs[0]) == strip(runs[1])
    # ...and the wall-clock fields are really there, for users to learn --ignore on.
    assert "last_updated" in runs[0]["conversation-1"]["task_progress"]
    assert all("timestamp" in entry for entry in runs[0]["orders-7"]["audit_trail"])


def test_build_demo_twice_replaces_the_threads(tmp_path: Path) -> None:
    saver = open_saver(tmp_path / "demo.sqlite")
    build_demo(saver)
    first = saver.conn.execute("SELECT count(*) FROM checkpoints").fetchone()
    build_demo(saver)
    assert saver.conn.execute("SELECT count(*) FROM checkpoints").fetchone() == first
    saver.conn.close()


@pytest.mark.parametrize("module", MODULES)
def test_module_runs_as_a_script(module: str, tmp_path: Path) -> None:
    db = tmp_path / f"{module}.sqlite"
    proc = subprocess.run(
        [sys.executable, f"sample_graphs/{module}.py", str(db), "t-1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM checkpoints WHERE thread_id = 't-1'"
        ).fetchone()
    assert count > 0


def test_scenarios_run_as_a_script(tmp_path: Path) -> None:
    db = tmp_path / "demo.sqlite"
    proc = subprocess.run(
        [sys.executable, "-m", "sample_graphs.scenarios", str(db)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(db) as conn:
        found = {t for (t,) in conn.execute("SELECT DISTINCT thread_id FROM checkpoints")}
    assert found == set(THREADS)
