"""prune: dry run by default, keeps exactly what it says, kept checkpoints load and resume."""

from __future__ import annotations

import json
import operator
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from lgtt.maintenance.prune import PruneRequest, parse_duration, prune
from lgtt.store import open_store
from tests.conftest import RunCli, file_digest
from tests.scenarios import approval_graph, build_all, cfg, counter_graph, saver_for


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("prune") / "all.sqlite"
    _, saver = build_all(path)
    saver.conn.close()
    yield path


@pytest.fixture
def db(built: Path, tmp_path: Path) -> Path:
    """A fresh copy of the scenario database for each test."""
    copy = tmp_path / "db.sqlite"
    shutil.copy(built, copy)
    return copy


def q(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def root_ids(path: Path, thread: str) -> list[str]:
    return [
        r[0]
        for r in q(
            path,
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''"
            " ORDER BY checkpoint_id",
            (thread,),
        )
    ]


def writes_of(path: Path, thread: str) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for row in q(
        path,
        "SELECT checkpoint_ns, checkpoint_id, task_id, idx, channel, type, value FROM writes"
        " WHERE thread_id = ? ORDER BY 1, 2, 3, 4",
        (thread,),
    ):
        out.setdefault(row[1], []).append(row)
    return out


def one_error_line(r: Any) -> str:
    assert r.exit_code == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


# --- dry run ------------------------------------------------------------------------------


def test_dry_run_is_the_default_and_changes_nothing(cli: RunCli, db: Path) -> None:
    before = file_digest(db)
    r = cli("prune", "--keep", "2", "--db", db, "--json")
    assert r.exit_code == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["dry_run"] is True
    assert file_digest(db) == before
    by_thread = {t["thread_id"]: t for t in plan["threads"]}
    count = by_thread["count"]
    n = len(root_ids(db, "count"))
    assert count["checkpoints_deleted"] == n - 2 and count["checkpoints_kept"] == 2
    gone = root_ids(db, "count")[:-2]
    assert count["writes_deleted"] == sum(len(writes_of(db, "count").get(c, [])) for c in gone)
    # explicit --dry-run, human output, and the note on stderr
    r = cli("prune", "--keep", "2", "--dry-run", "--db", db)
    assert r.exit_code == 0 and "would delete" in r.stdout and "--yes" in r.stderr
    assert file_digest(db) == before


def test_bytes_freed_match_sql(cli: RunCli, db: Path) -> None:
    plan = json.loads(cli("prune", "--thread", "count", "--db", db, "--json").stdout)
    (t,) = plan["threads"]
    ((cp_bytes,),) = q(
        db,
        "SELECT SUM(length(checkpoint) + length(metadata)) FROM checkpoints WHERE thread_id = ?",
        ("count",),
    )
    ((w_bytes, w_count),) = q(
        db, "SELECT SUM(length(value)), COUNT(*) FROM writes WHERE thread_id = ?", ("count",)
    )
    assert t["action"] == "delete" and t["bytes_freed"] == cp_bytes + w_bytes
    assert t["writes_deleted"] == w_count
    assert plan["totals"]["threads_deleted"] == 1


# --- keeping the last N --------------------------------------------------------------------


def test_keep_keeps_exactly_the_newest_and_their_writes(cli: RunCli, db: Path) -> None:
    threads = [r[0] for r in q(db, "SELECT DISTINCT thread_id FROM checkpoints")]
    before_ids = {t: root_ids(db, t) for t in threads}
    before_writes = {t: writes_of(db, t) for t in threads}
    r = cli("prune", "--keep", "2", "--yes", "--db", db, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["dry_run"] is False
    for t in threads:
        kept = root_ids(db, t)
        assert kept == before_ids[t][-2:], t
        after = writes_of(db, t)
        for cid in kept:  # a kept checkpoint's writes all stay
            assert after.get(cid, []) == before_writes[t].get(cid, []), (t, cid)
        assert not set(after) & set(before_ids[t][:-2])  # a deleted one's writes went
    # LangGraph: history lists the kept checkpoints, each loads
    saver = saver_for(db)
    try:
        g = counter_graph(saver)
        history = list(g.get_state_history(cfg("count")))
        assert [s.config["configurable"]["checkpoint_id"] for s in history] == list(
            reversed(before_ids["count"][-2:])
        )
        for s in history:
            assert g.get_state(s.config).values == s.values
        # the oldest kept one names a deleted parent: LangGraph finds nothing there
        assert history[-1].parent_config is not None
        assert g.get_state(history[-1].parent_config).values == {}
        # and re-running from the oldest kept checkpoint gives the head again
        assert g.invoke(None, history[-1].config) == history[0].values
    finally:
        saver.conn.close()


def test_interrupted_thread_resumes_after_keep_1(cli: RunCli, db: Path) -> None:
    r = cli("prune", "approval", "--keep", "1", "--yes", "--db", db, "--json")
    assert r.exit_code == 0, r.stderr
    (t,) = json.loads(r.stdout)["threads"]
    assert t["checkpoints_kept"] == 1 and t["checkpoints_deleted"] == 5  # 2 root + 3 subgraph
    # the subgraph ran from a deleted root checkpoint: its namespace went with it
    assert q(db, "SELECT COUNT(*) FROM checkpoints WHERE thread_id = 'approval'") == [(1,)]
    assert len(root_ids(db, "count")) == 10  # THREAD limits --keep to that thread
    saver = saver_for(db)
    try:
        g = approval_graph(saver)
        state = g.get_state(cfg("approval"))
        assert state.next == ("ask",) and state.tasks[0].interrupts
        result = g.invoke(Command(resume="yes"), cfg("approval"))
        assert result == {"draft": "Hello world", "approved": True,
                          "notes": ["polished", "answer=yes"]}  # fmt: skip
    finally:
        saver.conn.close()


def test_subgraph_checkpoints_stay_with_their_kept_root(cli: RunCli, db: Path) -> None:
    r = cli("prune", "approval", "--keep", "2", "--yes", "--db", db)
    assert r.exit_code == 0, r.stderr
    # the subgraph started from the first loop checkpoint, which is kept
    assert q(
        db, "SELECT COUNT(*) FROM checkpoints WHERE thread_id = 'approval' AND checkpoint_ns != ''"
    ) == [(3,)]


class Steps(TypedDict):
    log: list[str]


def pipeline(saver: Any) -> Any:
    b = StateGraph(Steps)
    for name in ("a", "b", "c"):
        b.add_node(name, lambda s, n=name: {"log": [*s["log"], n]})
    b.add_edge(START, "a")
    b.add_edge("a", "b")
    b.add_edge("b", "c")
    b.add_edge("c", END)
    return b.compile(checkpointer=saver, interrupt_before=["c"])


def test_pending_thread_resumes_after_keep_1(cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "pending.sqlite"
    saver = saver_for(path)
    pipeline(saver).invoke({"log": []}, cfg("p"))
    saver.conn.close()
    r = cli("prune", "--keep", "1", "--yes", "--db", path)
    assert r.exit_code == 0, r.stderr
    assert len(root_ids(path, "p")) == 1
    saver = saver_for(path)
    try:
        g = pipeline(saver)
        assert g.get_state(cfg("p")).next == ("c",)
        assert g.invoke(None, cfg("p")) == {"log": ["a", "b", "c"]}
    finally:
        saver.conn.close()


# --- whole threads --------------------------------------------------------------------------


def test_thread_and_older_than(cli: RunCli, db: Path) -> None:
    r = cli("prune", "--older-than", "1d", "--db", db, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["threads"] == []
    assert "nothing to prune" in cli("prune", "--older-than", "1d", "--db", db).stdout
    r = cli("prune", "--thread", "count", "--thread", "failing", "--yes", "--db", db)
    assert r.exit_code == 0, r.stderr
    left = {
        r[0] for r in q(db, "SELECT thread_id FROM checkpoints UNION SELECT thread_id FROM writes")
    }
    assert "count" not in left and "failing" not in left and "shop" in left
    store = open_store(str(db))
    try:
        plan = prune(
            store,
            PruneRequest(older_than=timedelta(days=30)),
            now=datetime.now(UTC) + timedelta(days=31),
        )
    finally:
        store.close()
    assert sorted(t.thread_id for t in plan.threads) == sorted(left)
    assert plan.dry_run and all(t.action == "delete" for t in plan.threads)


def test_vacuum_shrinks_the_file(cli: RunCli, db: Path) -> None:
    size = sum(p.stat().st_size for p in db.parent.glob("db.sqlite*"))
    r = cli("prune", "--keep", "1", "--yes", "--vacuum", "--db", db, "--json")
    assert r.exit_code == 0, r.stderr
    vac = json.loads(r.stdout)["vacuum"]
    assert vac["bytes_after"] < vac["bytes_before"]
    assert sum(p.stat().st_size for p in db.parent.glob("db.sqlite*")) <= size


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--thread", "nope"], "no thread 'nope'"),
        (["nope", "--keep", "1"], "no thread 'nope'"),
        (["count"], "only limits --keep"),
        ([], "nothing to prune"),
        (["--older-than", "3 fortnights"], "cannot read duration"),
        (["--keep", "0"], "--keep"),
        (["--keep", "1", "--yes", "--dry-run"], "contradict"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(
    cli: RunCli, db: Path, args: list[str], message: str
) -> None:
    before = file_digest(db)
    assert message in one_error_line(cli("prune", *args, "--db", db))
    assert file_digest(db) == before


def test_parse_duration() -> None:
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("2w") == timedelta(weeks=2)
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("1.5h") == timedelta(minutes=90)


# --- PostgreSQL ----------------------------------------------------------------------------


MISSING_BLOBS = """
SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, v.key FROM checkpoints c
 CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') v
 WHERE NOT EXISTS (SELECT 1 FROM checkpoint_blobs b
        WHERE b.thread_id = c.thread_id AND b.checkpoint_ns = c.checkpoint_ns
          AND b.channel = v.key AND b.version = v.value)
   AND NOT (c.checkpoint -> 'channel_values') ? v.key
"""


@pytest.mark.postgres
def test_postgres_keep_leaves_referenced_blobs(
    cli: RunCli, db: Path, tmp_path: Path, pg_db_url: str
) -> None:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(pg_db_url) as saver:
        saver.setup()
        counter_graph(saver).invoke({"count": 0, "steps": []}, cfg("count"))
        approval_graph(saver).invoke(
            {"draft": "  hello world ", "approved": False, "notes": []}, cfg("approval")
        )
        before = {t: approval_graph(saver).get_state(cfg(t)).values for t in ("count", "approval")}
    with psycopg.connect(pg_db_url) as conn:
        blobs_before = conn.execute("SELECT COUNT(*) FROM checkpoint_blobs").fetchone()
        missing_before = set(conn.execute(MISSING_BLOBS).fetchall())
    r = cli("prune", "--keep", "1", "--db", pg_db_url, "--json")
    assert r.exit_code == 0, r.stderr
    plan = json.loads(r.stdout)
    with psycopg.connect(pg_db_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM checkpoint_blobs").fetchone() == blobs_before
    r = cli("prune", "--keep", "1", "--yes", "--vacuum", "--db", pg_db_url, "--json")
    assert r.exit_code == 0, r.stderr
    done = json.loads(r.stdout)
    assert done["totals"] == plan["totals"] and done["vacuum"]["backend"] == "postgres"
    assert plan["totals"]["blobs_deleted"] > 0
    with psycopg.connect(pg_db_url) as conn:
        # every blob a kept checkpoint refers to is still there (channels PostgresSaver
        # never stored a value for are missing before as after)
        assert set(conn.execute(MISSING_BLOBS).fetchall()) <= missing_before
        roots = conn.execute(
            "SELECT thread_id, COUNT(*) FROM checkpoints WHERE checkpoint_ns = ''"
            " GROUP BY thread_id"
        ).fetchall()
        assert sorted(roots) == [("approval", 1), ("count", 1)]
        # and no blob is left that no checkpoint refers to, of those prune freed
        (unreferenced,) = conn.execute(
            """SELECT COUNT(*) FROM checkpoint_blobs b WHERE NOT EXISTS (
                 SELECT 1 FROM checkpoints c
                  CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') v
                  WHERE c.thread_id = b.thread_id AND c.checkpoint_ns = b.checkpoint_ns
                    AND v.key = b.channel AND v.value = b.version)"""
        ).fetchone()
        assert unreferenced == 0
    with PostgresSaver.from_conn_string(pg_db_url) as saver:
        for t in ("count", "approval"):
            assert approval_graph(saver).get_state(cfg(t)).values == before[t]
        result = approval_graph(saver).invoke(Command(resume="yes"), cfg("approval"))
        assert result["approved"] is True


class Logged(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


def persistent_subgraph_graph(saver: Any) -> Any:
    """A ``checkpointer=True`` subgraph: its state carries over from run to run."""
    sub = StateGraph(Logged)
    sub.add_node("inner", lambda s: {"log": [f"inner{s['n']}"]})
    sub.add_edge(START, "inner")
    b = StateGraph(Logged)
    b.add_node("child", sub.compile(checkpointer=True))
    b.add_edge(START, "child")
    return b.compile(checkpointer=saver)


def test_persistent_subgraph_keeps_its_newest_checkpoint(cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "persist.sqlite"
    saver = saver_for(path)
    g = persistent_subgraph_graph(saver)
    for i in range(3):
        g.invoke({"n": i, "log": []}, cfg("t"))
    saver.conn.close()
    twin = tmp_path / "twin.sqlite"
    shutil.copy(path, twin)
    r = cli("prune", "--keep", "1", "--yes", "--db", path)
    assert r.exit_code == 0, r.stderr
    child = q(path, "SELECT checkpoint_id FROM checkpoints WHERE checkpoint_ns = 'child'")
    newest = q(twin, "SELECT MAX(checkpoint_id) FROM checkpoints WHERE checkpoint_ns = 'child'")
    assert child == newest  # its root checkpoint is gone, but the next run starts there
    results = []
    for p in (path, twin):
        s = saver_for(p)
        try:
            results.append(persistent_subgraph_graph(s).invoke({"n": 9, "log": []}, cfg("t")))
        finally:
            s.conn.close()
    assert results[0] == results[1]
