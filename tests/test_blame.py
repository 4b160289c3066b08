"""``lgtt blame`` on databases written by real LangGraph graphs (no mocks)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from tests.conftest import RunCli


def cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def history(graph: Any, thread: str) -> list[Any]:
    return list(reversed(list(graph.get_state_history(cfg(thread)))))


def cid(snapshot: Any) -> str:
    return str(snapshot.config["configurable"]["checkpoint_id"])


class Work(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    plan: str
    result: str
    left: str
    right: str
    task_progress: dict[str, Any]


def work_graph(saver: SqliteSaver) -> Any:
    def planner(s: Work) -> dict[str, Any]:
        return {
            "plan": "do it",
            "task_progress": {"current_step": "plan", "done": False},
            "messages": [AIMessage("planning", id="m-plan")],
        }

    def worker(s: Work) -> dict[str, Any]:
        return {
            "result": "42",
            "task_progress": {**s["task_progress"], "current_step": "work"},
            "messages": [AIMessage("working", id="m-work")],
        }

    def reviewer(s: Work) -> dict[str, Any]:
        return {"task_progress": {**s["task_progress"], "done": True}}

    b = StateGraph(Work)
    b.add_node("planner", planner)
    b.add_node("worker", worker)
    b.add_node("reviewer", reviewer)
    b.add_node("left", lambda s: {"left": "L"})
    b.add_node("right", lambda s: {"right": "R"})
    b.add_edge(START, "planner")
    b.add_edge("planner", "worker")
    b.add_edge("worker", "reviewer")
    b.add_edge("reviewer", "left")
    b.add_edge("reviewer", "right")
    b.add_edge(["left", "right"], END)
    return b.compile(checkpointer=saver)


class Counter(TypedDict):
    count: int


def counter_graph(saver: SqliteSaver) -> Any:
    b = StateGraph(Counter)
    b.add_node("inc", lambda s: {"count": s["count"] + 1})
    b.add_edge(START, "inc")
    b.add_conditional_edges("inc", lambda s: "inc" if s["count"] < 4 else END, ["inc", END])
    return b.compile(checkpointer=saver)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("blame") / "x.db"
    saver = SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))
    work = work_graph(saver)
    work.invoke({"messages": [HumanMessage("go", id="m-go")]}, cfg("w1"))
    work.invoke({"messages": [HumanMessage("go", id="m-go")]}, cfg("w2"))
    # as lgtt's own writes do: LangGraph does not store as_node, lgtt records it
    recorded = {**cfg("w2"), "metadata": {"lgtt_as_node": "worker"}}
    work.update_state(recorded, {"result": "43"}, as_node="worker")
    work.invoke({"messages": [HumanMessage("go", id="m-go")]}, cfg("w3"))
    work.update_state(cfg("w3"), {"result": "44"}, as_node="worker")

    counter = counter_graph(saver)
    counter.invoke({"count": 0}, cfg("c1"))
    at2 = next(s for s in history(counter, "c1") if s.values.get("count") == 2)
    forked = counter.update_state(at2.config, {"count": 0}, as_node="inc")
    counter.invoke(None, forked)
    yield {"db": path, "work": work, "counter": counter}
    saver.conn.close()


def blame_json(cli: RunCli, world: dict[str, Any], *args: str) -> Any:
    r = cli("blame", *args, "--db", world["db"], "--json")
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    return json.loads(r.stdout)


def first_index(world: dict[str, Any], thread: str, pred: Any) -> int:
    return next(k for k, s in enumerate(history(world["work"], thread)) if pred(s.values))


def test_blame_names_the_node_and_checkpoint(cli: RunCli, world: dict[str, Any]) -> None:
    doc = blame_json(cli, world, "w1", "result")
    at = first_index(world, "w1", lambda v: v.get("result") == "42")
    last = doc["last_change"]
    assert (last["index"], last["node"], last["kind"], last["new"]) == (at, "worker", "added", "42")
    assert last["checkpoint_id"] == cid(history(world["work"], "w1")[at])
    assert doc["path"] == "result" and doc["exists"] is True and doc["value"] == "42"
    assert doc["changes"] == [last]
    plan = blame_json(cli, world, "w1", "plan")["last_change"]
    assert plan["node"] == "planner"
    assert plan["index"] == first_index(world, "w1", lambda v: "plan" in v)


def test_nested_path_and_all(cli: RunCli, world: dict[str, Any]) -> None:
    doc = blame_json(cli, world, "w1", "task_progress.current_step", "--all")
    h = history(world["work"], "w1")
    planned = first_index(world, "w1", lambda v: "task_progress" in v)
    worked = first_index(
        world, "w1", lambda v: v.get("task_progress", {}).get("current_step") == "work"
    )
    # the reviewer rewrote task_progress but not current_step: not a change of the path
    assert [
        (c["index"], c["node"], c["kind"], c.get("old"), c.get("new")) for c in doc["changes"]
    ] == [
        (planned, "planner", "added", None, "plan"),
        (worked, "worker", "changed", "plan", "work"),
    ]
    assert doc["last_change"] == doc["changes"][-1]
    assert doc["last_change"]["checkpoint_id"] == cid(h[worked])
    done = blame_json(cli, world, "w1", "task_progress['done']")["last_change"]
    assert done["node"] == "reviewer" and (done["old"], done["new"]) == (False, True)


def test_message_content_and_deepdiff_paths(cli: RunCli, world: dict[str, Any]) -> None:
    doc = blame_json(cli, world, "w1", "messages[2].content")
    assert doc["value"] == "working" and doc["last_change"]["node"] == "worker"
    same = blame_json(cli, world, "w1", "root['messages'][2].content")
    assert same["last_change"] == doc["last_change"]
    whole = blame_json(cli, world, "w1", "messages", "--all")
    assert [c["node"] for c in whole["changes"]] == ["__start__", "planner", "worker"]


def test_parallel_writers_are_told_apart(cli: RunCli, world: dict[str, Any]) -> None:
    left = blame_json(cli, world, "w1", "left")["last_change"]
    right = blame_json(cli, world, "w1", "right")["last_change"]
    assert left["index"] == right["index"]
    assert sorted(left["ran"]) == ["left", "right"]
    assert (left["nodes"], right["nodes"]) == (["left"], ["right"])


def test_update_state_is_blamed_on_its_node(cli: RunCli, world: dict[str, Any]) -> None:
    last = blame_json(cli, world, "w2", "result")["last_change"]
    n = len(history(world["work"], "w2"))
    assert (last["index"], last["source"], last["node"]) == (n - 1, "update", "worker")
    assert (last["old"], last["new"]) == ("42", "43")
    # blame up to a checkpoint: before the update
    last = blame_json(cli, world, f"w2@{n - 2}", "result")["last_change"]
    assert (last["source"], last["new"]) == ("loop", "42")
    # an update made outside lgtt: the node is the one the timeline infers
    last = blame_json(cli, world, "w3", "result")["last_change"]
    timeline = json.loads(cli("timeline", "w3", "--db", world["db"], "--json").stdout)
    assert last["source"] == "update" and last["new"] == "44"
    assert [last["node"]] == timeline["checkpoints"][-1]["ran"]


def test_main_line_skips_abandoned_forks(cli: RunCli, world: dict[str, Any]) -> None:
    doc = blame_json(cli, world, "c1", "count", "--all")
    timeline = json.loads(cli("timeline", "c1", "--db", world["db"], "--json").stdout)
    by_index = {c["index"]: c for c in timeline["checkpoints"]}
    values = [(c.get("old"), c["new"]) for c in doc["changes"]]
    assert values == [(None, 0), (0, 1), (1, 2), (2, 0), (0, 1), (1, 2), (2, 3), (3, 4)]
    update = doc["changes"][3]
    assert update["source"] == "update" and update["node"] == "inc"
    # every blamed checkpoint is an ancestor of the head
    head = timeline["checkpoints"][-1]
    ancestors = set()
    cur: Any = head
    while cur is not None:
        ancestors.add(cur["index"])
        parent = cur["parent_checkpoint_id"]
        cur = next((c for c in by_index.values() if c["checkpoint_id"] == parent), None)
    assert {c["index"] for c in doc["changes"]} <= ancestors
    assert len(ancestors) < len(by_index)  # the abandoned branch is not on the main line


def test_human_output(cli: RunCli, world: dict[str, Any]) -> None:
    r = cli("blame", "w1", "task_progress.current_step", "--db", world["db"])
    assert r.exit_code == 0 and r.stderr == ""
    assert "last changed at w1@" in r.stdout and "worker" in r.stdout
    assert '"plan" → "work"' in r.stdout
    r = cli("blame", "c1", "count", "--all", "--db", world["db"])
    assert r.exit_code == 0
    assert len([line for line in r.stdout.splitlines() if " inc " in line]) == 7


def one_error_line(r: Any) -> str:
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("w1", "nope"), "nope does not exist"),
        (("w1", "messages[9].content"), "messages[9].content does not exist"),
        (("w1", "task_progress.nope"), "does not exist"),
        (("nope", "count"), "no thread 'nope'"),
        (("c1@99", "count"), "out of range"),
        (("w1", "plan[["), "cannot read state path"),
    ],
)
def test_bad_input_is_one_line(
    cli: RunCli, world: dict[str, Any], args: tuple[str, ...], words: str
) -> None:
    for extra in ((), ("--json",)):
        assert words in one_error_line(cli("blame", *args, *extra, "--db", world["db"]))


def test_missing_path_lists_the_state_keys(cli: RunCli, world: dict[str, Any]) -> None:
    line = one_error_line(cli("blame", "w1", "nope", "--db", world["db"]))
    assert "left, messages, plan, result, right, task_progress" in line
