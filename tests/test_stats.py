"""stats: numbers equal direct SQL counts, growth shows the square law, read-only."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import ormsgpack
import pytest
from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from tests.conftest import RunCli, file_digest
from tests.scenarios import build_all, cfg, saver_for

STEPS = 30
MESSAGE = "x" * 300


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    turn: int


def chat_graph(saver: Any) -> Any:
    """One ~300-byte message appended per step: DESIGN.md's W1, small."""

    def reply(s: Chat) -> dict[str, Any]:
        n = s["turn"] + 1
        return {"messages": [AIMessage(content=MESSAGE, id=f"m-{n}")], "turn": n}

    b = StateGraph(Chat)
    b.add_node("reply", reply)
    b.add_edge(START, "reply")
    b.add_conditional_edges("reply", lambda s: "reply" if s["turn"] < STEPS else END)
    return b.compile(checkpointer=saver)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("stats") / "all.sqlite"
    _, saver = build_all(path)
    chat_graph(saver).invoke({"messages": [], "turn": 0}, {**cfg("chat"), "recursion_limit": 100})
    saver.conn.close()
    yield path


def q(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_numbers_match_sql(cli: RunCli, db: Path) -> None:
    before = file_digest(db)
    r = cli("stats", "--db", db, "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert file_digest(db) == before  # read-only
    files = {"file": db.stat().st_size}
    for suffix in ("wal", "shm"):
        p = Path(f"{db}-{suffix}")
        if p.exists():
            files[suffix] = p.stat().st_size
    assert doc["database"] == {"backend": "sqlite", "bytes": sum(files.values()), "parts": files}
    checkpoints = {
        t: (n, ns, b)
        for t, n, ns, b in q(
            db,
            "SELECT thread_id, COUNT(*), COUNT(DISTINCT checkpoint_ns),"
            " SUM(length(checkpoint) + length(metadata)) FROM checkpoints GROUP BY thread_id",
        )
    }
    writes = {
        t: (n, b)
        for t, n, b in q(
            db,
            "SELECT thread_id, COUNT(*), coalesce(SUM(length(value)), 0) FROM writes"
            " GROUP BY thread_id",
        )
    }
    got = {t["thread_id"]: t for t in doc["threads"]}
    assert set(got) == set(checkpoints)
    for tid, (n, ns, b) in checkpoints.items():
        t = got[tid]
        wn, wb = writes.get(tid, (0, 0))
        assert (t["checkpoints"], t["namespaces"], t["checkpoint_bytes"]) == (n, ns, b), tid
        assert (t["writes"], t["write_bytes"], t["blob_bytes"]) == (wn, wb, 0), tid
        assert t["bytes"] == b + wb
        sizes = q(
            db,
            "SELECT length(checkpoint) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''"
            " ORDER BY checkpoint_id",
            (tid,),
        )
        assert t["first_checkpoint_bytes"] == sizes[0][0]
        assert t["last_checkpoint_bytes"] == sizes[-1][0]
        assert t["updated_at"]
    assert doc["threads"][0]["thread_id"] == "chat"  # biggest first
    assert doc["totals"] == {
        "threads": len(checkpoints),
        "checkpoints": sum(v[0] for v in checkpoints.values()),
        "writes": sum(v[0] for v in writes.values()),
        "bytes": sum(v[2] for v in checkpoints.values()) + sum(v[1] for v in writes.values()),
    }
    largest = q(db, "SELECT MAX(length(checkpoint)) FROM checkpoints")[0][0]
    assert doc["largest_checkpoints"][0]["bytes"] == largest
    assert doc["largest_checkpoints"][0]["thread_id"] == "chat"


def test_growth_per_step_shows_the_square_law(cli: RunCli, db: Path) -> None:
    doc = json.loads(cli("stats", "chat", "--db", db, "--json").stdout)
    (t,) = doc["threads"]
    assert t["steps"] == STEPS + 1  # from the input checkpoint (step -1) to step 30
    # every step stores one more ~300-byte message in every later checkpoint
    assert 300 <= t["growth_per_step"] <= 600  # the message and its fields
    sizes = [
        r[0]
        for r in q(
            db,
            "SELECT length(checkpoint) FROM checkpoints WHERE thread_id = 'chat'"
            " ORDER BY checkpoint_id",
        )
    ]
    # total stored ≈ n·first + growth·n²/2: quadratic in the thread's length
    n = len(sizes)
    assert sum(sizes) == pytest.approx(n * sizes[0] + t["growth_per_step"] * n * n / 2, rel=0.1)
    human = cli("stats", "chat", "--db", db).stdout
    assert "per step" in human and "1,000 more steps" in human


def test_largest_keys_at_the_head(cli: RunCli, db: Path) -> None:
    doc = json.loads(cli("stats", "chat", "--db", db, "--json").stdout)
    head = q(
        db,
        "SELECT checkpoint_id, checkpoint FROM checkpoints WHERE thread_id = 'chat'"
        " AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1",
    )[0]
    assert doc["thread_id"] == "chat" and doc["head_checkpoint_id"] == head[0]
    values = ormsgpack.unpackb(head[1], ext_hook=lambda code, data: ormsgpack.Ext(code, data))[
        "channel_values"
    ]
    want = {k: len(ormsgpack.packb(v)) for k, v in values.items() if not k.startswith("branch:")}
    got = {k["key"]: k["bytes"] for k in doc["largest_keys"]}
    assert got == want
    assert doc["largest_keys"][0]["key"] == "messages"
    human = cli("stats", "chat", "--db", db).stdout
    assert "STATE KEY" in human and "messages" in human


def test_unknown_thread_and_bad_database(cli: RunCli, db: Path, tmp_path: Path) -> None:
    r = cli("stats", "nope", "--db", db)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.strip().startswith("error: no thread 'nope'")
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli("stats", "--db", tmp_path / "missing.sqlite")
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1


def test_empty_database(cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    saver = saver_for(path)
    saver.setup()
    saver.conn.close()
    doc = json.loads(cli("stats", "--db", path, "--json").stdout)
    assert doc["threads"] == [] and doc["totals"]["checkpoints"] == 0
    assert cli("stats", "--db", path).exit_code == 0


@pytest.mark.postgres
def test_postgres_numbers_match_sql(cli: RunCli, pg_db_url: str) -> None:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(pg_db_url) as saver:
        saver.setup()
        chat_graph(saver).invoke(
            {"messages": [], "turn": 0}, {**cfg("chat"), "recursion_limit": 100}
        )
    r = cli("stats", "chat", "--db", pg_db_url, "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    (t,) = doc["threads"]
    with psycopg.connect(pg_db_url) as conn:
        n, cp_bytes = conn.execute(
            "SELECT COUNT(*), SUM(pg_column_size(checkpoint) + pg_column_size(metadata))"
            " FROM checkpoints WHERE thread_id = 'chat'"
        ).fetchone()
        wn, wb = conn.execute(
            "SELECT COUNT(*), SUM(octet_length(blob)) FROM checkpoint_writes"
            " WHERE thread_id = 'chat'"
        ).fetchone()
        (bb,) = conn.execute(
            "SELECT SUM(octet_length(blob)) FROM checkpoint_blobs WHERE thread_id = 'chat'"
        ).fetchone()
        (size,) = conn.execute(
            "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c"
            " WHERE c.relname IN ('checkpoints', 'checkpoint_blobs', 'checkpoint_writes',"
            " 'checkpoint_migrations') AND c.relkind = 'r'"
        ).fetchone()
    assert doc["database"]["backend"] == "postgres" and doc["database"]["bytes"] == size
    assert (t["checkpoints"], t["checkpoint_bytes"]) == (n, cp_bytes)
    assert (t["writes"], t["write_bytes"], t["blob_bytes"]) == (wn, wb, bb)
    assert t["steps"] == STEPS + 1 and t["growth_per_step"] > 300
    assert doc["largest_keys"][0]["key"] == "messages"
