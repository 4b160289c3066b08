"""``lgtt replay``: re-run recorded threads with today's code; ``--check`` for CI."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from lgtt.graphs import load_graph
from tests.conftest import RunCli, file_digest
from tests.graphs import counter

GRAPHS = Path(__file__).resolve().parent / "graphs"
COUNTER = str(GRAPHS / "counter.py")
CHAT = str(GRAPHS / "chat.py")

# Two versions of one graph module: v2 changes what `dbl` does once the count passes 8.
MODULE = """
import operator, time
from typing import Annotated, TypedDict
from langgraph.graph import END, START, StateGraph

class State(TypedDict, total=False):
    count: int
    steps: Annotated[list[str], operator.add]
    stamp: int

def inc(s):
    return {{"count": s["count"] + 1, "steps": ["inc"]{stamp}}}

def dbl(s):
    if s["count"] > 8:
        {dbl_late}
    return {{"count": s["count"] * 2, "steps": ["dbl"]}}

builder = StateGraph(State)
builder.add_node("inc", inc)
builder.add_node("dbl", dbl)
builder.add_edge(START, "inc")
builder.add_edge("inc", "dbl")
builder.add_conditional_edges("dbl", lambda s: "inc" if s["count"] < {limit} else END)
graph = builder.compile()
"""
V1 = {"dbl_late": "pass", "limit": 20, "stamp": ""}


def module(tmp_path: Path, name: str, **changes: Any) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(MODULE.format(**{**V1, **changes}))
    return f"{path}:graph"


def cfg(thread: str) -> Any:
    return {"configurable": {"thread_id": thread}}


def record(db: Path, spec: str, thread: str, *inputs: Any) -> Any:
    """Run the graph named by ``spec`` into ``db`` (as the user's app would have)."""
    conn = sqlite3.connect(str(db), check_same_thread=False)
    try:
        g = load_graph(spec).bind(SqliteSaver(conn))
        for value in inputs:
            with contextlib.suppress(ValueError):  # a failed run is a recording too
                g.invoke(value, cfg(thread))
        return g.get_state(cfg(thread)).values
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "golden.sqlite"
    record(path, COUNTER, "golden", counter.INPUT)
    return path


def replay(cli: RunCli, db: Path, spec: str, *args: str, code: int = 0) -> dict[str, Any]:
    r = cli("replay", "--db", db, "--graph", spec, "--json", *args)
    assert r.exit_code == code, r.stderr
    return json.loads(r.stdout)


# --- an unchanged graph reproduces its recording -------------------------------------------


def test_check_passes_and_leaves_the_database_untouched(cli: RunCli, db: Path) -> None:
    digest = file_digest(db)
    r = cli("replay", "golden", "--check", "--db", db, "--graph", COUNTER)
    assert r.exit_code == 0, r.stderr
    assert "same: the replay reproduces the recording" in r.stdout
    assert "not kept" in r.stdout
    assert file_digest(db) == digest  # --check runs in a scratch copy by default


def test_replay_json_and_the_kept_thread(cli: RunCli, db: Path) -> None:
    doc = replay(cli, db, COUNTER, "golden")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    first = conn.execute(
        "SELECT checkpoint_id FROM checkpoints WHERE thread_id = 'golden' ORDER BY 1 LIMIT 1"
    ).fetchone()[0]
    conn.close()
    assert doc["thread_id"] == "golden-replay-1"
    assert doc["from"] == {"thread_id": "golden", "checkpoint_id": first, "index": 0}
    assert doc["diverged"] is False
    assert doc["divergence"] is None
    assert doc["changes"] == []
    assert doc["status"] == doc["recorded_status"] == "done"
    assert doc["steps"] == {"recorded": 7, "replayed": 7}
    assert doc["kept"] is True
    assert doc["rerun_before_start"] == []
    # LangGraph reads the replay thread like any other and sees the same run
    conn = sqlite3.connect(str(db), check_same_thread=False)
    g = counter.builder.compile(checkpointer=SqliteSaver(conn))
    history = list(g.get_state_history(cfg("golden-replay-1")))
    recorded = list(g.get_state_history(cfg("golden")))
    assert [h.values for h in history] == [h.values for h in recorded]
    assert [h.next for h in history] == [h.next for h in recorded]
    assert history[-1].config["configurable"]["checkpoint_id"] == first  # the copied input
    conn.close()
    assert replay(cli, db, COUNTER, "golden")["thread_id"] == "golden-replay-2"


def test_replay_from_a_middle_checkpoint_runs_only_what_follows(cli: RunCli, db: Path) -> None:
    doc = replay(cli, db, COUNTER, "golden", "--from", "5")
    assert doc["diverged"] is False
    assert doc["steps"] == {"recorded": 2, "replayed": 2}
    assert doc["copied"]["checkpoints"] == 6
    assert doc["rerun_before_start"] == []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    src = conn.execute(
        "SELECT checkpoint_id, checkpoint FROM checkpoints WHERE thread_id = 'golden'"
        " ORDER BY checkpoint_id"
    ).fetchall()
    new = conn.execute(
        "SELECT checkpoint_id, parent_checkpoint_id, checkpoint FROM checkpoints"
        " WHERE thread_id = 'golden-replay-1' ORDER BY checkpoint_id"
    ).fetchall()
    conn.close()
    assert [(c, b) for c, _, b in new[:6]] == src[:6]  # the history before, as it was
    assert new[6][1] == src[5][0]  # the first replayed step follows the starting checkpoint


def test_multi_turn_with_interrupts_replays(cli: RunCli, tmp_path: Path) -> None:
    db = tmp_path / "chat.sqlite"
    record(
        db,
        CHAT,
        "chat",
        {"messages": ["hi"]},
        Command(resume="yes"),
        {"messages": ["again"]},
        Command(resume={"approved": False}),
    )
    doc = replay(cli, db, CHAT, "chat", "--check")
    assert doc["diverged"] is False, doc["divergence"]
    assert doc["steps"]["replayed"] == doc["steps"]["recorded"] > 6
    # from the second turn's input on
    doc = replay(cli, db, CHAT, "chat", "--from", "5", "--check")
    assert doc["diverged"] is False, doc["divergence"]


def test_a_recorded_failure_that_fails_again_is_reproduced(cli: RunCli, tmp_path: Path) -> None:
    db = tmp_path / "fail.sqlite"
    record(db, COUNTER, "f", {**counter.INPUT, "fail": True})
    doc = replay(cli, db, COUNTER, "f", "--check")
    assert doc["status"] == doc["recorded_status"] == "failed"
    assert doc["diverged"] is False
    assert "dbl refuses" in doc["error"]


# --- a changed graph diverges, and the report names the step and node --------------------------


def test_changed_node_fails_the_check_naming_its_step(cli: RunCli, tmp_path: Path) -> None:
    db = tmp_path / "golden.sqlite"
    v1 = module(tmp_path, "flow_v1")
    v2 = module(tmp_path, "flow_v2", dbl_late='return {"count": s["count"] * 3, "steps": ["dbl"]}')
    record(db, v1, "golden", {"count": 1, "steps": []})
    r = cli("replay", "golden", "--check", "--db", db, "--graph", v2)
    assert r.exit_code == 1, r.stderr
    # counts 2, 4, 5, 10, 11: the third dbl (count 11 > 8) is the first to change, step 6
    assert "diverged at step 6, node dbl: golden@7 vs golden-replay-1@7" in r.stdout
    assert "node dbl wrote something else: root['count']: 22 → 33" in r.stdout
    assert "~ root['count']: 22 → 33" in r.stdout
    doc = replay(cli, db, v2, "golden", "--check", code=1)
    d = doc["divergence"]
    assert doc["diverged"] is True
    assert (d["step"], d["node"], d["a_index"], d["b_index"]) == (6, "dbl", 7, 7)
    assert d["aspects"] == ["writes"] and d["keys"] == ["count"]
    assert {"path": "root['count']", "kind": "changed", "old": 22, "new": 33} in doc["changes"]
    # without --check the report is the same but the exit code is 0
    assert replay(cli, db, v2, "golden", "--to", "look")["diverged"] is True


def test_a_graph_that_goes_further_or_stops_early(cli: RunCli, tmp_path: Path) -> None:
    db = tmp_path / "golden.sqlite"
    record(db, module(tmp_path, "flow_v1"), "golden", {"count": 1, "steps": []})
    doc = replay(cli, db, module(tmp_path, "longer", limit=40), "golden", "--check", code=1)
    assert doc["divergence"]["aspects"] == ["next"]  # dbl now routes to inc again
    assert doc["steps"]["replayed"] > doc["steps"]["recorded"]
    raising = module(tmp_path, "raising", dbl_late='raise ValueError("boom")')
    doc = replay(cli, db, raising, "golden", "--check", code=1)
    assert doc["status"] == "failed" and "boom" in doc["error"]
    assert doc["divergence"]["aspects"] == ["length"]
    assert doc["divergence"]["node"] == "dbl"
    assert "the replay stopped" in doc["divergence"]["reason"]


def test_ignore_drops_values_that_legitimately_differ(cli: RunCli, tmp_path: Path) -> None:
    db = tmp_path / "golden.sqlite"
    stamped = module(tmp_path, "stamped", stamp=', "stamp": time.time_ns()')
    record(db, stamped, "golden", {"count": 1, "steps": []})
    doc = replay(cli, db, stamped, "golden", "--check", code=1)
    assert doc["divergence"]["keys"] == ["stamp"]
    doc = replay(cli, db, stamped, "golden", "--check", "--ignore", r"\['stamp'\]")
    assert doc["diverged"] is False
    r = cli("replay", "golden", "--check", "--ignore", "[", "--db", db, "--graph", stamped)
    assert r.exit_code == 2 and "invalid --ignore regex" in r.stderr


# --- writes nothing when asked not to ---------------------------------------------------------


def test_dry_run_writes_nothing(cli: RunCli, db: Path) -> None:
    digest = file_digest(db)
    r = cli("replay", "golden", "--from", "3", "--dry-run", "--db", db, "--graph", COUNTER)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == "dry run: nothing written"
    assert "then run inc" in r.stdout
    doc = replay(cli, db, COUNTER, "golden", "--dry-run", "--keep")
    assert doc["dry_run"] is True and doc["diverged"] is None and doc["would_run"] == ["__start__"]
    assert file_digest(db) == digest


def test_check_can_keep_and_replay_can_skip_keeping(cli: RunCli, db: Path) -> None:
    digest = file_digest(db)
    doc = replay(cli, db, COUNTER, "golden", "--no-keep")
    assert doc["kept"] is False
    assert file_digest(db) == digest
    doc = replay(cli, db, COUNTER, "golden", "--check", "--keep")
    assert doc["kept"] is True
    r = cli("threads", "--db", db, "--json")
    assert {t["thread_id"] for t in json.loads(r.stdout)["threads"]} == {
        "golden",
        "golden-replay-1",
    }


def test_existing_target_is_refused(cli: RunCli, db: Path) -> None:
    r = cli("replay", "golden", "--to", "golden", "--db", db, "--graph", COUNTER)
    assert r.exit_code == 2 and "already exists" in r.stderr


def test_nodes_rerun_before_the_start_are_reported(cli: RunCli, db: Path) -> None:
    """The check behind ``rerun_before_start``: fake the two traces a re-run would leave."""
    from lgtt.actions.replay import plan_replay, reruns_before_start
    from lgtt.refs import resolve
    from lgtt.store.sqlite import SqliteStore

    replay(cli, db, COUNTER, "golden", "--from", "4")
    with SqliteStore(str(db)) as store:
        planned = plan_replay(store, resolve(store, "golden@4"), to="unused", keep=True)
        plan = replace(planned, thread="golden-replay-1")
        assert reruns_before_start(store, plan) == ()
        early = plan.copy.ids[2]
    conn = sqlite3.connect(str(db), check_same_thread=False)
    g = counter.builder.compile(checkpointer=SqliteSaver(conn))
    at = {
        "configurable": {
            "thread_id": "golden-replay-1",
            "checkpoint_ns": "",
            "checkpoint_id": early,
        }
    }
    g.checkpointer.put_writes(at, [("count", 99)], "f" * 32, "~__pregel_pull, inc")
    g.update_state(at, {"count": 50}, as_node="inc")
    conn.close()
    with SqliteStore(str(db)) as store:
        found = reruns_before_start(store, plan)
    assert found[0] == "inc"
    assert found[1].startswith("a new checkpoint golden-replay-1@") and found[1].endswith("@2")
