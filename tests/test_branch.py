"""``lgtt branch``: checked against LangGraph itself on the same database."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from lgtt.jsonable import to_jsonable
from tests.conftest import RunCli, file_digest
from tests.graphs import counter

COUNTER = str(Path(__file__).resolve().parent / "graphs" / "counter.py")


def cfg(thread: str, checkpoint_id: str | None = None) -> Any:
    c: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ""}
    if checkpoint_id:
        c["checkpoint_id"] = checkpoint_id
    return {"configurable": c}


def langgraph(path: Path) -> Any:
    """The test graph compiled onto ``path``: LangGraph as the oracle."""
    conn = sqlite3.connect(str(path), check_same_thread=False)
    return counter.builder.compile(checkpointer=SqliteSaver(conn))


def rows(path: Path, thread: str) -> list[tuple[Any, ...]]:
    """Raw checkpoint rows (ids, parent, blob, metadata), read with sqlite3."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute(
            "SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata"
            " FROM checkpoints WHERE thread_id = ? ORDER BY checkpoint_ns, checkpoint_id",
            (thread,),
        ).fetchall()


def write_rows(path: Path, thread: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute(
            "SELECT checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, value"
            " FROM writes WHERE thread_id = ? ORDER BY checkpoint_id, task_id, idx",
            (thread,),
        ).fetchall()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """One finished counter thread ``t`` (12 checkpoints: input, start, 6 nodes...)."""
    path = tmp_path / "runs.sqlite"
    g = langgraph(path)
    g.invoke(counter.INPUT, cfg("t"))
    g.checkpointer.conn.close()  # no connection left open: file digests stay still
    return path


def ids(path: Path, thread: str) -> list[str]:
    return [r[1] for r in rows(path, thread) if r[0] == ""]


def branch(cli: RunCli, db: Path, *args: str) -> dict[str, Any]:
    r = cli("branch", "t", "--db", db, "--json", *args)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


# --- a plain copy ---------------------------------------------------------------------------


def test_plain_copy_is_the_history_up_to_ref_byte_for_byte(cli: RunCli, db: Path) -> None:
    before = rows(db, "t"), write_rows(db, "t")
    source_ids = ids(db, "t")
    doc = branch(cli, db, "--from", "3")  # no --graph needed
    assert doc["thread_id"] == "t-branch-3"
    assert doc["checkpoint_id"] == source_ids[3]
    assert doc["forked_from"] == {"thread_id": "t", "checkpoint_id": source_ids[3], "index": 3}
    assert doc["ran"] is False
    assert doc["status"] == "pending"
    assert doc["copied"] == {
        "checkpoints": 4,
        "writes": len([w for w in before[1] if w[1] in source_ids[:3]]),
    }
    # the source is untouched, ids and blobs
    assert (rows(db, "t"), write_rows(db, "t")) == before
    # the copy: the same rows (ids, parents, blobs, metadata) up to REF ...
    assert rows(db, "t-branch-3") == [r for r in before[0] if r[1] in source_ids[:4]]
    # ... with the writes that produced them, and none of REF's own
    assert write_rows(db, "t-branch-3") == [w for w in before[1] if w[1] in source_ids[:3]]

    # LangGraph reads the copy as it reads the source, and can continue it
    g = langgraph(db)
    copied = list(g.get_state_history(cfg("t-branch-3")))
    assert [s.config["configurable"]["checkpoint_id"] for s in copied] == source_ids[3::-1]
    for snap in copied:
        original = g.get_state(cfg("t", snap.config["configurable"]["checkpoint_id"]))
        assert (snap.values, snap.next) == (original.values, original.next)
    assert doc["values"] == to_jsonable(copied[0].values)
    assert g.invoke(None, cfg("t-branch-3")) == g.get_state(cfg("t")).values


def test_existing_thread_is_refused(cli: RunCli, db: Path) -> None:
    branch(cli, db, "--from", "2")
    digest = file_digest(db)
    for extra in ([], ["--to", "t"]):
        r = cli("branch", "t", "--from", "2", "--db", db, *extra)
        assert r.exit_code == 2
        assert "already exists" in r.stderr and "--to" in r.stderr
    assert file_digest(db) == digest


def test_thread_at_ref_and_from_forms(cli: RunCli, db: Path) -> None:
    source_ids = ids(db, "t")
    r = cli("branch", "t@4", "--db", db, "--json")
    assert json.loads(r.stdout)["forked_from"]["index"] == 4
    r = cli("branch", "--from", f"t@{source_ids[5][:20]}", "--db", db, "--json")
    assert json.loads(r.stdout)["thread_id"] == "t-branch-5"
    r = cli("branch", "t", "--from", "-1", "--to", "head", "--db", db, "--json")
    assert json.loads(r.stdout)["status"] == "done"
    r = cli("branch", "t@4", "--from", "3", "--db", db)
    assert r.exit_code == 2


# --- edits -------------------------------------------------------------------------------------


def oracle(db: Path, tmp_path: Path, checkpoint_id: str) -> tuple[Any, Path]:
    """LangGraph's own graph on a copy of the database (the real one stays as lgtt left it)."""
    copy = tmp_path / "oracle.sqlite"
    shutil.copy(db, copy)
    return langgraph(copy), copy


def test_edit_equals_update_state(cli: RunCli, db: Path, tmp_path: Path) -> None:
    source_ids = ids(db, "t")
    before = rows(db, "t")
    g_oracle, _ = oracle(db, tmp_path, source_ids[4])
    expected = g_oracle.get_state(
        g_oracle.update_state(cfg("t", source_ids[4]), {"count": 7, "steps": ["x"]}, as_node="inc")
    )
    doc = branch(
        cli,
        db,
        "--from",
        "4",
        "--set",
        "count=7",
        "--set",
        'steps=["x"]',
        "--as-node",
        "inc",
        "--graph",
        f"{COUNTER}:graph",
    )
    assert rows(db, "t") == before
    g = langgraph(db)
    got = g.get_state(cfg("t-branch-4"))
    assert got.values == expected.values  # the reducer appended "x", as LangGraph does
    assert got.values["steps"][-1] == "x"
    assert got.next == expected.next == ("dbl",)
    assert got.metadata["source"] == "update"
    assert got.metadata["lgtt_as_node"] == "inc"
    assert got.parent_config["configurable"]["checkpoint_id"] == source_ids[4]
    assert doc["checkpoint_id"] == got.config["configurable"]["checkpoint_id"]
    assert doc["index"] == 5
    assert doc["edit"] == {
        "values": {"count": 7, "steps": ["x"]},
        "as_node": "inc",
        "checkpoint_id": doc["checkpoint_id"],
        "index": 5,
    }
    assert doc["values"] == to_jsonable(got.values)
    assert doc["status"] == "pending" and doc["next"] == ["dbl"]
    # lgtt's own timeline shows the node the update was applied as
    r = cli("timeline", "t-branch-4", "--db", db, "--json")
    assert json.loads(r.stdout)["checkpoints"][-1]["ran"] == ["inc"]


def test_edit_without_as_node_uses_langgraphs_rule(cli: RunCli, db: Path, tmp_path: Path) -> None:
    source_ids = ids(db, "t")
    g_oracle, _ = oracle(db, tmp_path, source_ids[4])
    expected = g_oracle.get_state(g_oracle.update_state(cfg("t", source_ids[4]), {"count": 3}))
    doc = branch(cli, db, "--from", "4", "--set", "count=3", "--graph", COUNTER)
    got = langgraph(db).get_state(cfg("t-branch-4"))
    assert (got.values, got.next) == (expected.values, expected.next)
    assert doc["edit"]["as_node"] == got.metadata["lgtt_as_node"]


def test_patch_file_and_set_override(cli: RunCli, db: Path, tmp_path: Path) -> None:
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"count": 100, "steps": ["patched"]}))
    doc = branch(
        cli,
        db,
        "--from",
        "2",
        "--patch",
        patch,
        "--set",
        "count=5",
        "--as-node",
        "inc",
        "--graph",
        COUNTER,
    )
    assert doc["values"]["count"] == 5
    assert doc["values"]["steps"][-1] == "patched"


def test_as_node_alone_skips_a_node(cli: RunCli, db: Path, tmp_path: Path) -> None:
    source_ids = ids(db, "t")
    g_oracle, _ = oracle(db, tmp_path, source_ids[3])
    expected = g_oracle.get_state(
        g_oracle.update_state(cfg("t", source_ids[3]), None, as_node="dbl")
    )
    doc = branch(cli, db, "--from", "3", "--as-node", "dbl", "--graph", COUNTER)
    assert doc["next"] == list(expected.next)
    assert doc["values"] == to_jsonable(expected.values)


# --- running on --------------------------------------------------------------------------------


def test_run_reaches_what_the_graph_computes(cli: RunCli, db: Path, tmp_path: Path) -> None:
    source_ids = ids(db, "t")
    g_oracle, _ = oracle(db, tmp_path, source_ids[4])
    new = g_oracle.update_state(cfg("t", source_ids[4]), {"count": 7}, as_node="inc")
    expected = g_oracle.invoke(None, new)
    doc = branch(
        cli,
        db,
        "--from",
        "4",
        "--set",
        "count=7",
        "--as-node",
        "inc",
        "--run",
        "--graph",
        COUNTER,
    )
    assert doc["ran"] is True and doc["status"] == "done"
    g = langgraph(db)
    head = g.get_state(cfg("t-branch-4"))
    assert head.values == expected
    assert doc["values"] == to_jsonable(expected)
    assert doc["checkpoint_id"] == head.config["configurable"]["checkpoint_id"]
    # LangGraph can read the whole branch: the copy, the edit, the run
    history = list(g.get_state_history(cfg("t-branch-4")))
    assert [h.config["configurable"]["checkpoint_id"] for h in history][-5:] == source_ids[4::-1]
    assert [h.metadata["source"] for h in history][:-5][-1] == "update"


def test_run_without_edit_redoes_the_rest(cli: RunCli, db: Path) -> None:
    doc = branch(cli, db, "--from", "5", "--run", "--graph", COUNTER)
    g = langgraph(db)
    assert g.get_state(cfg("t-branch-5")).values == g.get_state(cfg("t")).values
    assert doc["status"] == "done"


def test_run_that_fails_reports_failed(cli: RunCli, db: Path) -> None:
    r = cli(
        "branch",
        "t",
        "--from",
        "3",
        "--set",
        "fail=true",
        "--as-node",
        "inc",
        "--run",
        "--graph",
        COUNTER,
        "--db",
        db,
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ran"] is True
    assert doc["status"] == "failed"
    assert "dbl refuses" in str(doc["error"])
    r = cli("threads", "--db", db, "--json")
    statuses = {t["thread_id"]: t["status"] for t in json.loads(r.stdout)["threads"]}
    assert statuses == {"t": "done", "t-branch-3": "failed"}


def test_human_output(cli: RunCli, db: Path) -> None:
    r = cli(
        "branch",
        "t",
        "--from",
        "4",
        "--set",
        "count=7",
        "--as-node",
        "inc",
        "--run",
        "--graph",
        COUNTER,
        "--db",
        db,
    )
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "t@4 → t-branch-4: copied 5 checkpoints and 12 writes"
    assert lines[1] == "edited count=7 as node inc (t-branch-4@5)"
    assert lines[2] == "ran: done"
    assert "lgtt diff t t-branch-4" in r.stdout


# --- in place ----------------------------------------------------------------------------------


def test_in_place_forks_inside_the_thread_and_only_adds(cli: RunCli, db: Path) -> None:
    before = rows(db, "t")
    source_ids = ids(db, "t")
    doc = branch(
        cli,
        db,
        "--from",
        "4",
        "--set",
        "count=7",
        "--as-node",
        "inc",
        "--run",
        "--in-place",
        "--graph",
        COUNTER,
    )
    assert doc["thread_id"] == "t" and doc["in_place"] is True
    after = rows(db, "t")
    assert after[: len(before)] == before  # nothing rewritten
    g = langgraph(db)
    history = list(g.get_state_history(cfg("t")))
    update = next(h for h in history if h.metadata.get("source") == "update")
    assert update.parent_config["configurable"]["checkpoint_id"] == source_ids[4]
    assert update.metadata["lgtt_as_node"] == "inc"
    assert g.get_state(cfg("t")).values["count"] == doc["values"]["count"] == 30


def test_in_place_needs_an_edit_or_run_and_no_to(cli: RunCli, db: Path) -> None:
    digest = file_digest(db)
    r = cli("branch", "t", "--in-place", "--db", db, "--graph", COUNTER)
    assert r.exit_code == 2 and "needs an edit or --run" in r.stderr
    r = cli("branch", "t", "--in-place", "--run", "--to", "x", "--db", db, "--graph", COUNTER)
    assert r.exit_code == 2 and "--to" in r.stderr
    assert file_digest(db) == digest


# --- dry runs and refusals write nothing -------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--set", "count=7", "--as-node", "inc", "--run"],
        ["--set", "count=7", "--in-place"],
        ["--run", "--in-place"],
    ],
)
def test_dry_run_writes_nothing(cli: RunCli, db: Path, args: list[str]) -> None:
    digest = file_digest(db)
    r = cli("branch", "t", "--from", "4", "--dry-run", "--db", db, "--graph", COUNTER, *args)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("dry run: nothing written")
    assert file_digest(db) == digest
    r = cli(
        "branch", "t", "--from", "4", "--dry-run", "--json", "--db", db, "--graph", COUNTER, *args
    )
    doc = json.loads(r.stdout)
    assert doc["dry_run"] is True
    if "--run" in args:
        assert doc["would_run"] == ["dbl"]
    assert file_digest(db) == digest


def test_dry_run_says_what_the_edit_would_make(cli: RunCli, db: Path) -> None:
    r = cli(
        "branch",
        "t",
        "--from",
        "4",
        "--set",
        "count=7",
        "--as-node",
        "inc",
        "--run",
        "--dry-run",
        "--db",
        db,
        "--graph",
        COUNTER,
    )
    assert "would copy 5 checkpoints" in r.stdout
    assert "would edit count=7 as node inc" in r.stdout
    assert "would run: dbl" in r.stdout


def test_malformed_set_exits_2_with_one_line(cli: RunCli, db: Path) -> None:
    digest = file_digest(db)
    for bad in ("count={", "plan=retry", "=3", "count"):
        r = cli("branch", "t", "--set", bad, "--db", db, "--graph", COUNTER)
        assert r.exit_code == 2, bad
        assert r.stderr.startswith("error: --set") and len(r.stderr.strip().splitlines()) == 1
    assert (
        "--set plan='\"retry\"'"
        in cli("branch", "t", "--set", "plan=retry", "--db", db, "--graph", COUNTER).stderr
    )
    assert file_digest(db) == digest


def test_bad_edits_exit_2(cli: RunCli, db: Path, tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text("[1, 2]")
    cases = [
        (["--set", "nokey=1"], "the state has no key 'nokey'"),
        (["--as-node", "nope"], "no such node"),
        (["--patch", tmp_path / "list.json"], "not an object"),
        (["--patch", tmp_path / "missing.json"], "no file"),
        (["--set", "count=1"], "needs your graph"),
    ]
    for args, expected in cases:
        graph = [] if expected == "needs your graph" else ["--graph", COUNTER]
        r = cli("branch", "t", "--db", db, *graph, *args)
        assert r.exit_code == 2, args
        assert expected in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_failed_edit_rolls_the_copy_back(cli: RunCli, db: Path) -> None:
    """The copy and the edit are one transaction: a reducer that raises leaves nothing."""
    before = rows(db, "t"), write_rows(db, "t")
    r = cli(
        "branch",
        "t",
        "--from",
        "3",
        "--set",
        "steps=5",
        "--as-node",
        "inc",
        "--db",
        db,
        "--graph",
        COUNTER,
    )
    assert r.exit_code == 2
    assert "applying the edit raised TypeError" in r.stderr
    assert rows(db, "t-branch-3") == [] and write_rows(db, "t-branch-3") == []
    assert (rows(db, "t"), write_rows(db, "t")) == before


def test_read_only_database_is_refused(db: Path) -> None:
    """A read-only file refuses the write with one line; a dry run still works. Tests
    run as root, for whom file modes do not bind unless DAC override is dropped."""
    import os
    import subprocess
    import sys

    db.chmod(0o444)
    prefix = (
        ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
        if os.geteuid() == 0
        else []
    )
    root = str(Path(__file__).resolve().parent.parent)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, sys.executable, "-m", "lgtt", *args, "--db", str(db)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": root, "NO_COLOR": "1"},
        )

    try:
        before = db.read_bytes()
        r = run("branch", "t", "--from", "2")
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and "read-only" in r.stderr
        assert run("branch", "t", "--from", "2", "--dry-run").returncode == 0
        assert db.read_bytes() == before
    finally:
        db.chmod(0o644)
