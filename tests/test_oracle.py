"""lgtt against LangGraph's own API on the same database: the oracle.

Every checkpoint of every scenario thread: same ids, parents, steps, sources and
times as ``get_state_history``; ``next`` and ``values`` as the ``StateSnapshot``;
``changed`` = the keys whose values differ from the parent's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lgtt.jsonable import to_jsonable
from tests.conftest import RunCli
from tests.scenarios import build_all, cfg

THREADS = [
    "count",
    "fanout",
    "approval",
    "approved",
    "shop",
    "shop-exit",
    "failing",
    "func",
    "func-int",
    "goto",
    "exit-fail",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    path = tmp_path_factory.mktemp("oracle") / "all.sqlite"
    graphs, saver = build_all(path)
    yield path, graphs
    saver.conn.close()


def _history(graph: Any, thread: str, ns: str = "") -> list[Any]:
    config = cfg(thread, checkpoint_ns=ns) if ns else cfg(thread)
    return list(reversed(list(graph.get_state_history(config))))


@pytest.mark.parametrize("thread", THREADS)
def test_timeline_matches_get_state_history(cli: RunCli, built: Any, thread: str) -> None:
    db, graphs = built
    r = cli("timeline", thread, "--db", db, "--json")
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    doc = json.loads(r.stdout)
    history = _history(graphs[thread], thread)
    got = doc["checkpoints"]
    assert doc["thread_id"] == thread and doc["total"] == len(history)
    assert [c["checkpoint_id"] for c in got] == [
        s.config["configurable"]["checkpoint_id"] for s in history
    ]
    assert [c["index"] for c in got] == list(range(len(history)))
    by_id = {s.config["configurable"]["checkpoint_id"]: s for s in history}
    shown_before: dict[str, set[str]] = {}
    functional = any(not isinstance(s.values, dict) for s in history)
    for c in got:
        snap = by_id[c["checkpoint_id"]]
        parent = snap.parent_config["configurable"]["checkpoint_id"] if snap.parent_config else None
        assert c["parent_checkpoint_id"] == parent
        assert c["step"] == snap.metadata["step"]
        assert c["source"] == snap.metadata["source"]
        assert c["created_at"] == snap.created_at
        # LangGraph orders parallel nodes by the graph's node order, which is not
        # stored; lgtt lists them by name. Same tasks, same multiplicity.
        assert sorted(c["next"]) == sorted(snap.next)
        assert c["interrupts"] == [to_jsonable(i.value) for i in snap.interrupts]
        errors = [t.error for t in snap.tasks if t.error is not None]
        assert (c["error"] is not None) == bool(errors)
        if errors:
            assert c["error"] == to_jsonable(errors[0])
        shown_values = json.loads(
            cli("show", f"{thread}@{c['index']}", "--db", db, "--json").stdout
        )["values"]
        if functional:  # the entrypoint's return value; there are no state channels
            assert shown_values == to_jsonable(snap.values)
            assert c["changed"] == []
            continue
        shown = set(shown_values)
        old = _as_lgtt_can_know(by_id[parent].values, shown_before.get(parent)) if parent else {}
        new = _as_lgtt_can_know(snap.values, shown)
        shown_before[c["checkpoint_id"]] = shown
        expect = sorted(
            k for k in set(old) | set(new) if old.get(k, _MISSING) != new.get(k, _MISSING)
        )
        assert c["changed"] == expect, c["checkpoint_id"]


_MISSING = object()


def _as_lgtt_can_know(langgraph: dict[str, Any], lgtt_keys: set[str] | None) -> dict[str, Any]:
    """LangGraph's values, less reducer keys shown at their empty default that the
    database holds no trace of (never stored, never written twice in a step): the one
    documented gap of reading without the graph. Everything else must match exactly."""
    if lgtt_keys is None or not isinstance(langgraph, dict):
        return langgraph
    return {k: v for k, v in langgraph.items() if k in lgtt_keys or v not in ([], {}, 0, "")}


@pytest.mark.parametrize("thread", THREADS)
def test_show_matches_get_state(cli: RunCli, built: Any, thread: str) -> None:
    db, graphs = built
    for snap in _history(graphs[thread], thread):
        cid = snap.config["configurable"]["checkpoint_id"]
        r = cli("show", f"{thread}@{cid}", "--db", db, "--json")
        assert r.exit_code == 0, r.stderr
        doc = json.loads(r.stdout)
        via_get_state = graphs[thread].get_state(snap.config)
        keys = set(doc["values"]) if isinstance(doc["values"], dict) else None
        expect = _as_lgtt_can_know(via_get_state.values, keys)
        assert doc["values"] == to_jsonable(expect)
        assert sorted(doc["next"]) == sorted(via_get_state.next)
        assert doc["checkpoint_id"] == cid


def test_head_matches_live_get_state_when_nothing_ran_partially(cli: RunCli, built: Any) -> None:
    db, graphs = built
    for thread in ["count", "approval", "shop", "failing"]:
        doc = json.loads(cli("show", thread, "--db", db, "--json").stdout)
        live = graphs[thread].get_state(cfg(thread))
        assert doc["values"] == to_jsonable(live.values)
        assert sorted(doc["next"]) == sorted(live.next)


def test_reducer_keys_show_their_empty_default_where_unstored(cli: RunCli, built: Any) -> None:
    """The input checkpoint stores no state; LangGraph shows reducer keys empty there."""
    db, graphs = built
    for thread, expect in [("count", {"steps": []}), ("fanout", {"results": []})]:
        doc = json.loads(cli("show", f"{thread}@0", "--db", db, "--json").stdout)
        assert doc["values"] == expect
        first = _history(graphs[thread], thread)[0]
        assert first.values == expect  # what LangGraph itself says
        tl = json.loads(cli("timeline", thread, "--db", db, "--json").stdout)["checkpoints"]
        assert tl[0]["changed"] == sorted(expect)
        assert next(iter(expect)) not in tl[1]["changed"]  # [] then [] again: unchanged


def test_fork_is_visible_in_tree_and_json(cli: RunCli, built: Any) -> None:
    db, _graphs = built
    doc = json.loads(cli("timeline", "count", "--db", db, "--json").stdout)
    parents = [c["parent_checkpoint_id"] for c in doc["checkpoints"]]
    forked = {p for p in parents if p and parents.count(p) > 1}
    assert len(forked) == 1
    update = next(c for c in doc["checkpoints"] if c["source"] == "update")
    assert update["ran"] == ["inc"] and update["changed"] == ["count"]
    text = cli("timeline", "count", "--db", db).stdout
    assert "●─╮" in text and "1 fork" in text


def test_ran_names_the_nodes_that_produced_each_checkpoint(cli: RunCli, built: Any) -> None:
    db, _ = built
    doc = json.loads(cli("timeline", "fanout", "--db", db, "--json").stdout)
    assert [c["ran"] for c in doc["checkpoints"]] == [
        [],
        ["__start__"],
        ["left", "right"],
        ["merge"],
    ]
    assert doc["checkpoints"][-1]["next"] == ["work", "work", "work"]
    assert doc["checkpoints"][-1]["error"] == "ValueError('cannot handle item 2')"


def test_subgraph_namespace_is_marked_and_reachable(cli: RunCli, built: Any) -> None:
    db, graphs = built
    doc = json.loads(cli("timeline", "approval", "--db", db, "--json").stdout)
    assert len(doc["namespaces"]) == 1
    ns = doc["namespaces"][0]
    assert ns.startswith("prepare:")
    marked = [c for c in doc["checkpoints"] if c["subgraphs"]]
    assert [c["subgraphs"] for c in marked] == [[ns]] and marked[0]["next"] == ["prepare"]
    sub = json.loads(cli("timeline", "approval", "--ns", ns, "--db", db, "--json").stdout)
    history = _history(graphs["approval"], "approval", ns)
    assert [c["checkpoint_id"] for c in sub["checkpoints"]] == [
        s.config["configurable"]["checkpoint_id"] for s in history
    ]
    last = json.loads(cli("show", "approval@-1", "--ns", ns, "--db", db, "--json").stdout)
    assert last["values"]["draft"] == "Hello world"


def test_durability_exit_has_one_checkpoint_and_still_works(cli: RunCli, built: Any) -> None:
    db, _ = built
    doc = json.loads(cli("timeline", "shop-exit", "--db", db, "--json").stdout)
    (only,) = doc["checkpoints"]
    assert only["parent_checkpoint_id"] is None
    assert only["ran"] == ["price", "confirm"]
    assert only["changed"] == ["messages", "order", "price"]


def test_values_show_models_dataclasses_and_messages_as_fields(cli: RunCli, built: Any) -> None:
    db, _ = built
    values = json.loads(cli("show", "shop", "--db", db, "--json").stdout)["values"]
    assert values["order"] == {"sku": "widget", "qty": 2, "tags": ["confirmed"]}
    assert values["price"] == {"amount": 19.0, "currency": "EUR"}
    assert [m["type"] for m in values["messages"]] == ["human", "ai", "ai"]
    assert values["messages"][1]["content"] == "widget costs 19.0"


@pytest.mark.parametrize(
    ("thread", "status", "nxt"),
    [
        ("count", "done", []),
        ("fanout", "failed", ["work", "work", "work"]),
        ("approval", "interrupted", ["ask"]),
        ("approved", "done", []),
        ("shop", "done", []),
        ("shop-exit", "done", []),
        ("failing", "failed", ["boom"]),
        ("func", "done", []),
        ("func-int", "interrupted", ["workflow"]),
        ("goto", "done", []),
        ("exit-fail", "failed", ["boom"]),
    ],
)
def test_threads_status(cli: RunCli, built: Any, thread: str, status: str, nxt: list[str]) -> None:
    db, graphs = built
    doc = json.loads(cli("threads", "--db", db, "--json").stdout)
    row = next(t for t in doc["threads"] if t["thread_id"] == thread)
    assert row["status"] == status
    assert row["next"] == nxt
    snap = graphs[thread].get_state(cfg(thread))
    assert row["latest_checkpoint_id"] == snap.config["configurable"]["checkpoint_id"]
    assert row["step"] == snap.metadata["step"]
    assert row["updated_at"] == snap.created_at
    assert row["checkpoints"] == len(list(graphs[thread].get_state_history(cfg(thread))))
    if status == "interrupted":
        assert row["interrupts"] == [to_jsonable(i.value) for i in snap.interrupts]
    if status == "failed":
        assert row["error"]


def test_threads_status_of_an_update_head_that_leaves_work_due(cli: RunCli, tmp_path: Path) -> None:
    """update_state on an old checkpoint whose edge leads on: the head is pending."""
    from tests.scenarios import counter_graph, saver_for

    saver = saver_for(tmp_path / "u.sqlite")
    g = counter_graph(saver)
    g.invoke({"count": 0, "steps": []}, cfg("u"))
    early = next(s for s in g.get_state_history(cfg("u")) if s.values.get("count") == 1)
    g.update_state(early.config, {"count": 2}, as_node="inc")
    head = g.get_state(cfg("u"))
    assert head.next == ("inc",)
    row = json.loads(cli("threads", "--db", tmp_path / "u.sqlite", "--json").stdout)["threads"][0]
    assert (row["status"], row["next"]) == ("pending", ["inc"])
    saver.conn.close()
