"""``lgtt diff`` on databases written by real LangGraph graphs (no mocks).

Checkpoint diffs (exact changes, --ignore, --ignore-order, --keys, --quiet, messages by
id), thread diffs (alignment, the first divergence, forks made by copying history), and
the bad-input catalogue (exit 2, one line).
"""

from __future__ import annotations

import json
import operator
import random
import sqlite3
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, RemoveMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import copy_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import REMOVE_ALL_MESSAGES, add_messages
from pydantic import BaseModel

from lgtt.diff import DiffOptions, diff_values
from tests.conftest import RunCli


def cfg(thread: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, **extra}}


def history(graph: Any, thread: str) -> list[Any]:
    """Snapshots oldest first: on a thread without forks, position = lgtt index."""
    return list(reversed(list(graph.get_state_history(cfg(thread)))))


def cid(snapshot: Any) -> str:
    return str(snapshot.config["configurable"]["checkpoint_id"])


# --- graphs ----------------------------------------------------------------------------


class Counter(TypedDict):
    count: int
    steps: Annotated[list[str], operator.add]
    note: str


def counter_graph(saver: SqliteSaver) -> Any:
    def inc(s: Counter) -> dict[str, Any]:
        n = s["count"] + 1
        return {"count": n, "steps": [f"step{n}"], "note": "x" * 100 + str(n) + "y" * 100}

    def more(s: Counter, config: RunnableConfig) -> str:
        return "inc" if s["count"] < config["configurable"].get("limit", 4) else END

    b = StateGraph(Counter)
    b.add_node("inc", inc)
    b.add_edge(START, "inc")
    b.add_conditional_edges("inc", more, ["inc", END])
    return b.compile(checkpointer=saver)


class Settings(BaseModel):
    level: int
    mode: str


class Profile(TypedDict):
    profile: dict[str, Any]
    settings: Settings
    tags: list[str]


def profile_graph(saver: SqliteSaver) -> Any:
    def edit(s: Profile) -> dict[str, Any]:
        p = dict(s["profile"])
        p["name"] = "Ada Lovelace"
        p["langs"] = [*p["langs"], "c"]
        del p["age"]
        return {
            "profile": p,
            "settings": Settings(level=s["settings"].level + 1, mode=s["settings"].mode),
            "tags": list(reversed(s["tags"])),
        }

    b = StateGraph(Profile)
    b.add_node("edit", edit)
    b.add_edge(START, "edit")
    b.add_edge("edit", END)
    return b.compile(checkpointer=saver)


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def chat_graph(saver: SqliteSaver) -> Any:
    def reply(s: Chat) -> dict[str, Any]:
        last = s["messages"][-1]
        return {"messages": [AIMessage(f"re: {last.content}", id=f"ai-{last.id}")]}

    b = StateGraph(Chat)
    b.add_node("reply", reply)
    b.add_edge(START, "reply")
    b.add_edge("reply", END)
    return b.compile(checkpointer=saver)


class Rolls(TypedDict):
    i: int
    trace: Annotated[list[int], operator.add]


def dice_graph(saver: SqliteSaver) -> Any:
    """Six seeded rolls; ``flip_at`` makes the roll of that step different."""

    def roll(s: Rolls, config: RunnableConfig) -> dict[str, Any]:
        c = config["configurable"]
        value = random.Random(c["seed"] * 1000 + s["i"]).randint(1, 6)
        if s["i"] == c.get("flip_at"):
            value += 10
        return {"i": s["i"] + 1, "trace": [value]}

    b = StateGraph(Rolls)
    b.add_node("roll", roll)
    b.add_edge(START, "roll")
    b.add_conditional_edges("roll", lambda s: "roll" if s["i"] < 6 else END, ["roll", END])
    return b.compile(checkpointer=saver)


class Route(TypedDict):
    x: int
    path: Annotated[list[str], operator.add]


def route_graph(saver: SqliteSaver) -> Any:
    b = StateGraph(Route)
    b.add_node("start", lambda s: {"x": s["x"] + 1, "path": ["start"]})
    b.add_node("left", lambda s: {"path": ["left"]})
    b.add_node("right", lambda s: {"path": ["right"]})
    b.add_edge(START, "start")

    def pick(s: Route, config: RunnableConfig) -> str:
        return str(config["configurable"]["route"])

    b.add_conditional_edges("start", pick, ["left", "right"])
    b.add_edge("left", END)
    b.add_edge("right", END)
    return b.compile(checkpointer=saver)


def sub_graph(saver: SqliteSaver) -> Any:
    sub = StateGraph(Counter)
    sub.add_node("twice", lambda s: {"count": s["count"] * 2, "steps": ["twice"]})
    sub.add_edge(START, "twice")
    b = StateGraph(Counter)
    b.add_node("inner", sub.compile())
    b.add_edge(START, "inner")
    return b.compile(checkpointer=saver)


def copy_history(saver: SqliteSaver, source: str, target: str, upto: int) -> None:
    """What ``lgtt branch`` does: copy checkpoints 0..upto into a new thread, new ids."""
    tuples = list(reversed(list(saver.list(cfg(source)))))[: upto + 1]
    new_ids: dict[str, str] = {}
    for t in tuples:
        cp = copy_checkpoint(t.checkpoint)
        cp["id"] = str(uuid6(clock_seq=-2))
        parent = t.parent_config["configurable"]["checkpoint_id"] if t.parent_config else None
        conf = cfg(target, checkpoint_ns="")
        if parent:
            conf["configurable"]["checkpoint_id"] = new_ids[parent]
        stored = saver.put(conf, cp, t.metadata, cp["channel_versions"])
        new_ids[t.config["configurable"]["checkpoint_id"]] = cp["id"]
        for task_id, channel, value in t.pending_writes or []:
            saver.put_writes(stored, [(channel, value)], task_id)


# --- the database ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("diff") / "x.db"
    saver = SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))
    g: dict[str, Any] = {"db": path}

    counter = counter_graph(saver)
    for thread in ("t1", "t1-again"):
        counter.invoke({"count": 0, "steps": []}, cfg(thread))
    counter.invoke({"count": 0, "steps": []}, cfg("t1-short", limit=3))
    copy_history(saver, "t1", "t1-copy", upto=5)
    copy_history(saver, "t1", "t1-branch", upto=3)
    branch_head = history(counter, "t1-branch")[-1]
    counter.update_state(branch_head.config, {"count": 10}, as_node="inc")
    copy_history(saver, "t1", "t1-prefix", upto=3)
    g["counter"] = counter

    prof = profile_graph(saver)
    prof.invoke(
        {
            "profile": {"name": "Ada", "age": 36, "langs": ["en", "fr"]},
            "settings": Settings(level=1, mode="fast"),
            "tags": ["a", "b", "c"],
        },
        cfg("p1"),
    )
    g["profile"] = prof

    chat = chat_graph(saver)
    for thread in ("m1", "m2", "m3", "m4"):
        chat.invoke({"messages": [HumanMessage("hi", id="h1")]}, cfg(thread))
        chat.invoke({"messages": [HumanMessage("more", id="h2")]}, cfg(thread))
    msgs = chat.get_state(cfg("m2")).values["messages"]  # h1, ai-h1, h2, ai-h2
    note = AIMessage("a note", id="x1")
    chat.update_state(
        cfg("m2"),
        {"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), *msgs[:2], note, *msgs[2:]]},
    )
    edited = msgs[1].model_copy(update={"content": "re: hi (edited)"})
    chat.update_state(
        cfg("m3"),
        {"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), msgs[0], note, edited, *msgs[2:]]},
    )
    chat.update_state(cfg("m4"), {"messages": [RemoveMessage(id="h2")]})
    g["chat"] = chat

    dice = dice_graph(saver)
    dice.invoke({"i": 0, "trace": []}, cfg("r1", seed=7))
    dice.invoke({"i": 0, "trace": []}, cfg("r2", seed=7, flip_at=3))
    g["dice"] = dice

    route = route_graph(saver)
    route.invoke({"x": 0, "path": []}, cfg("left", route="left"))
    route.invoke({"x": 0, "path": []}, cfg("right", route="right"))
    g["route"] = route

    sub_graph(saver).invoke({"count": 3, "steps": [], "note": ""}, cfg("s1"))

    yield g
    saver.conn.close()


def run_json(cli: RunCli, world: dict[str, Any], *args: str, code: int | None = None) -> Any:
    r = cli("diff", *args, "--db", world["db"], "--json")
    assert r.stderr == "", r.stderr
    if code is not None:
        assert r.exit_code == code, r.stdout
    return json.loads(r.stdout)


# --- checkpoint diffs ------------------------------------------------------------------


def test_known_differences_appear_exactly(cli: RunCli, world: dict[str, Any]) -> None:
    doc = run_json(cli, world, "t1@2", "t1@4", code=1)
    h = history(world["counter"], "t1")
    assert doc["a"] == {
        "thread_id": "t1",
        "checkpoint_ns": "",
        "checkpoint_id": cid(h[2]),
        "index": 2,
    }
    assert doc["b"]["index"] == 4 and doc["b"]["checkpoint_id"] == cid(h[4])
    assert doc["identical"] is False
    assert doc["divergence"] is None and doc["mode"] == "checkpoints"
    assert doc["changes"] == [
        {"path": "root['count']", "kind": "changed", "old": 1, "new": 3},
        {"path": "root['steps'][1]", "kind": "added", "new": "step2"},
        {"path": "root['steps'][2]", "kind": "added", "new": "step3"},
        {
            "path": "root['note']",
            "kind": "changed",
            "old": "x" * 100 + "1" + "y" * 100,
            "new": "x" * 100 + "3" + "y" * 100,
        },
    ]


def test_reversed_diff_reports_removals(cli: RunCli, world: dict[str, Any]) -> None:
    doc = run_json(cli, world, "t1@4", "t1@-4", code=1)  # @-4 is @2 of 6
    assert doc["b"]["index"] == 2
    assert {"path": "root['steps'][2]", "kind": "removed", "old": "step3"} in doc["changes"]


def test_identical_states_exit_0(cli: RunCli, world: dict[str, Any]) -> None:
    head = history(world["counter"], "t1")[-1]
    for a, b in (("t1@-1", "t1"), ("t1", f"t1@{cid(head)[:20]}"), ("t1", "t1")):
        doc = run_json(cli, world, a, b, code=0)
        assert doc["identical"] is True and doc["changes"] == []
    # checkpoints of different threads holding the same state
    assert run_json(cli, world, "t1@3", "t1-again@3", code=0)["identical"] is True


def test_nested_values_records_and_lists(cli: RunCli, world: dict[str, Any]) -> None:
    changes = run_json(cli, world, "p1@1", "p1@2", code=1)["changes"]
    assert changes == [
        {"path": "root['profile']['name']", "kind": "changed", "old": "Ada", "new": "Ada Lovelace"},
        {"path": "root['profile']['age']", "kind": "removed", "old": 36},
        {"path": "root['profile']['langs'][2]", "kind": "added", "new": "c"},
        {"path": "root['settings']['level']", "kind": "changed", "old": 1, "new": 2},
        {"path": "root['tags'][0]", "kind": "changed", "old": "a", "new": "c"},
        {"path": "root['tags'][2]", "kind": "changed", "old": "c", "new": "a"},
    ]


def test_ignore_order(cli: RunCli, world: dict[str, Any]) -> None:
    doc = run_json(cli, world, "p1@1", "p1@2", "--ignore-order", code=1)
    assert not [c for c in doc["changes"] if c["path"].startswith("root['tags']")]
    assert len(doc["changes"]) == 4


def test_ignore_removes_exactly_what_it_matches(cli: RunCli, world: dict[str, Any]) -> None:
    full = run_json(cli, world, "t1@2", "t1@4")["changes"]
    some = run_json(cli, world, "t1@2", "t1@4", "--ignore", r"\['note'\]")["changes"]
    assert some == [c for c in full if c["path"] != "root['note']"]
    some = run_json(cli, world, "t1@2", "t1@4", "--ignore", r"\['steps'\]\[2\]")["changes"]
    assert some == [c for c in full if c["path"] != "root['steps'][2]"]
    # repeatable; a pattern that matches a parent drops everything below it
    some = run_json(
        cli, world, "p1@1", "p1@2", "--ignore", r"root\['profile'\]$", "--ignore", "tags"
    )["changes"]
    assert [c["path"] for c in some] == ["root['settings']['level']"]
    # ignoring every difference makes the states identical
    doc = run_json(cli, world, "t1@2", "t1@4", "--ignore", "note|count|steps", code=0)
    assert doc["identical"] is True


def test_keys_restricts_to_top_level_keys(cli: RunCli, world: dict[str, Any]) -> None:
    doc = run_json(cli, world, "t1@2", "t1@4", "--keys", "count,steps", code=1)
    assert [c["path"] for c in doc["changes"]] == [
        "root['count']",
        "root['steps'][1]",
        "root['steps'][2]",
    ]
    assert run_json(cli, world, "t1@3", "t1-branch@4", "--keys", "steps", code=0)["identical"]


def test_quiet_prints_nothing(cli: RunCli, world: dict[str, Any]) -> None:
    for args, code in ((("t1@2", "t1@4"), 1), (("t1", "t1-again"), 0), (("t1", "t1-short"), 1)):
        for flag in ("--quiet", "-q"):
            r = cli("diff", *args, flag, "--db", world["db"])
            assert (r.exit_code, r.stdout, r.stderr) == (code, "", "")
        r = cli("diff", *args, "-q", "--json", "--db", world["db"])
        assert (r.exit_code, r.stdout) == (code, "")


def test_human_output(cli: RunCli, world: dict[str, Any]) -> None:
    r = cli("diff", "t1@2", "t1@4", "--db", world["db"])
    assert r.exit_code == 1 and r.stderr == ""
    out = r.stdout
    assert "3 changes" not in out and "4 changes" in out
    assert "root['count']" in out
    assert "+2 appended" in out and "root['steps'][1:]" in out and '"step3"' in out
    # the long strings are shortened around where they differ
    note = next(line for line in out.splitlines() if "root['note']" in line)
    assert "…" in note and "1y" in note and "3y" in note and "x" * 100 not in note
    full = cli("diff", "t1@2", "t1@4", "--full", "--db", world["db"]).stdout
    assert full.count("x") == 200 and full.count("y") == 200
    same = cli("diff", "t1", "t1-again@-1", "--db", world["db"])
    assert same.exit_code == 0 and "identical" in same.stdout


# --- messages --------------------------------------------------------------------------


def test_inserted_message_is_one_change(cli: RunCli, world: dict[str, Any]) -> None:
    doc = run_json(cli, world, "m1", "m2@-1", code=1)
    assert len(doc["changes"]) == 1
    (change,) = doc["changes"]
    assert change["path"] == "root['messages'][2]" and change["kind"] == "added"
    assert change["new"]["id"] == "x1" and change["new"]["content"] == "a note"
    assert change["new"]["type"] == "ai"
    # within the thread: before and after the insertion
    doc = run_json(cli, world, "m2@-2", "m2@-1", code=1)
    assert [(c["path"], c["kind"]) for c in doc["changes"]] == [("root['messages'][2]", "added")]


def test_messages_are_matched_by_id(cli: RunCli, world: dict[str, Any]) -> None:
    # m3: a message inserted before an edited one (same id): one insertion, one edit
    doc = run_json(cli, world, "m1", "m3", code=1)
    assert doc["changes"] == [
        {"path": "root['messages'][1]", "kind": "added", "new": doc["changes"][0]["new"]},
        {
            "path": "root['messages'][2].content",
            "kind": "changed",
            "old": "re: hi",
            "new": "re: hi (edited)",
        },
    ]
    assert doc["changes"][0]["new"]["id"] == "x1"


def test_ignore_applies_inside_objects(cli: RunCli, world: dict[str, Any]) -> None:
    doc = run_json(cli, world, "m1", "m3", "--ignore", r"\.content$", code=1)
    assert [c["path"] for c in doc["changes"]] == ["root['messages'][1]"]


def test_subgraph_namespace(cli: RunCli, world: dict[str, Any]) -> None:
    timeline = json.loads(cli("timeline", "s1", "--db", world["db"], "--json").stdout)
    (ns,) = timeline["namespaces"]
    doc = run_json(cli, world, "s1@1", "s1@-1", "--ns", ns, code=1)
    assert doc["a"]["checkpoint_ns"] == ns
    assert {"path": "root['count']", "kind": "changed", "old": 3, "new": 6} in doc["changes"]
    r = cli("blame", "s1", "count", "--ns", ns, "--db", world["db"], "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["last_change"]["node"] == "twice"


def test_removed_message_is_one_change(cli: RunCli, world: dict[str, Any]) -> None:
    doc = run_json(cli, world, "m4@-2", "m4@-1", code=1)
    assert [(c["path"], c["kind"], c["old"]["id"]) for c in doc["changes"]] == [
        ("root['messages'][2]", "removed", "h2")
    ]


def test_diff_values_without_ids_falls_back_to_deepdiff() -> None:
    a = {"xs": [{"v": 1}, {"v": 2}, {"v": 3}]}
    b = {"xs": [{"v": 1}, {"v": 20}, {"v": 3}, {"v": 4}]}
    got = [(c.path, c.kind, c.old, c.new) for c in diff_values(a, b)]
    assert got == [
        ("root['xs'][1]['v']", "changed", 2, 20),
        ("root['xs'][3]", "added", None, {"v": 4}),
    ]
    assert diff_values(a, a) == []
    sets = diff_values({"s": {1, 2}}, {"s": {2, 3}}, DiffOptions())
    assert [(c.path, c.kind) for c in sets] == [
        ("root['s'][1]", "removed"),
        ("root['s'][3]", "added"),
    ]


# --- threads ---------------------------------------------------------------------------


def test_same_runs_align_completely(cli: RunCli, world: dict[str, Any]) -> None:
    doc = run_json(cli, world, "t1", "t1-again", code=0)
    assert doc["mode"] == "threads" and doc["divergence"] is None and doc["identical"] is True
    assert doc["a"]["thread_id"] == "t1" and doc["b"]["thread_id"] == "t1-again"


def test_copied_history_aligns(cli: RunCli, world: dict[str, Any]) -> None:
    doc = run_json(cli, world, "t1", "t1-copy", code=0)
    assert doc["divergence"] is None and doc["changes"] == []


def test_seeded_runs_diverge_at_the_known_step(cli: RunCli, world: dict[str, Any]) -> None:
    dice = world["dice"]
    h1, h2 = history(dice, "r1"), history(dice, "r2")
    # the checkpoint written after the roll of step i=3 is the first to differ
    at = next(k for k, s in enumerate(h2) if len(s.values.get("trace", [])) == 4)
    assert h1[at - 1].values == h2[at - 1].values and h1[at].values != h2[at].values
    doc = run_json(cli, world, "r1", "r2", code=1)
    d = doc["divergence"]
    assert (d["a_index"], d["b_index"]) == (at, at)
    assert d["aspects"] == ["state"] and d["keys"] == ["trace"]
    assert d["a_checkpoint_id"] == cid(h1[at]) and d["b_checkpoint_id"] == cid(h2[at])
    assert "trace" in d["reason"]
    assert doc["changes"] == [
        {
            "path": "root['trace'][3]",
            "kind": "changed",
            "old": h1[-1].values["trace"][3],
            "new": h2[-1].values["trace"][3],
        }
    ]
    # ignoring the trace, the runs agree
    assert run_json(cli, world, "r1", "r2", "--ignore", "trace", code=0)["divergence"] is None


def test_different_route_diverges_at_next(cli: RunCli, world: dict[str, Any]) -> None:
    d = run_json(cli, world, "left", "right", code=1)["divergence"]
    h = history(world["route"], "left")
    at = next(k for k, s in enumerate(h) if s.next == ("left",))
    assert (d["a_index"], d["b_index"]) == (at, at)
    assert d["aspects"] == ["next"]
    assert "left" in d["reason"] and "right" in d["reason"]


def test_fork_with_an_edit_aligns_on_the_shared_history(cli: RunCli, world: dict[str, Any]) -> None:
    doc = run_json(cli, world, "t1", "t1-branch", code=1)
    d = doc["divergence"]
    assert (d["a_index"], d["b_index"], d["position"]) == (4, 4, 4)
    assert "state" in d["aspects"] and d["keys"] == ["count", "steps", "note"]
    assert "sources: a loop, b update" in d["reason"]
    assert {"path": "root['count']", "kind": "changed", "old": 4, "new": 10} in doc["changes"]


def test_a_thread_that_stops_early(cli: RunCli, world: dict[str, Any]) -> None:
    d = run_json(cli, world, "t1", "t1-prefix", code=1)["divergence"]
    assert d["aspects"] == ["length"] and (d["a_index"], d["b_index"]) == (4, 3)
    assert "b ends at t1-prefix@3" in d["reason"]
    d = run_json(cli, world, "t1-short", "t1", code=1)["divergence"]
    assert d["aspects"] == ["next"]  # limit 3: the short run stops where t1 goes on


def test_checkpoint_forms_are_checkpoint_diffs(cli: RunCli, world: dict[str, Any]) -> None:
    doc = run_json(cli, world, "t1@-1", "t1-branch", code=1)
    assert doc["mode"] == "checkpoints" and doc["divergence"] is None


def test_thread_diff_human_output(cli: RunCli, world: dict[str, Any]) -> None:
    r = cli("diff", "r1", "r2", "--db", world["db"])
    assert r.exit_code == 1
    assert "first divergence" in r.stdout and "final states" in r.stdout
    r = cli("diff", "t1", "t1-copy", "--db", world["db"])
    assert r.exit_code == 0 and "agree step by step" in r.stdout


# --- bad input -------------------------------------------------------------------------


def one_error_line(r: Any) -> str:
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("nope", "t1"), "no thread 'nope'"),
        (("t1", "nope@2"), "no thread 'nope'"),
        (("t1@99", "t1"), "out of range"),
        (("t1@zzzz", "t1"), "no checkpoint of t1"),
        (("t1", "t1-again", "--ignore", "[unclosed"), "invalid --ignore regex"),
        (("t1@1", "t1@2", "--ignore", "ok", "--ignore", "(x"), "invalid --ignore regex"),
        (("t1@1", "t1@2", "--keys", "count,nope"), "--keys names 'nope'"),
        (("t1", "t1-again", "--keys", ","), "--keys is empty"),
        (("t1", "t1-again", "--ns", "sub"), "no checkpoints in namespace"),
    ],
)
def test_bad_input_is_one_line(
    cli: RunCli, world: dict[str, Any], args: tuple[str, ...], words: str
) -> None:
    for extra in ((), ("--json",), ("-q",)):
        assert words in one_error_line(cli("diff", *args, *extra, "--db", world["db"]))


def test_keys_error_lists_the_state_keys(cli: RunCli, world: dict[str, Any]) -> None:
    line = one_error_line(cli("diff", "t1@1", "t1@2", "--keys", "nope", "--db", world["db"]))
    assert "count, note, steps" in line
