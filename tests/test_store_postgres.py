"""PostgresStore against SqliteStore and LangGraph itself, on the same real graph runs.

Every graph below runs twice with identical inputs: into a SqliteSaver file and into a
PostgresSaver database. The two stores must then agree on everything but checkpoint
ids, task ids, timestamps and the random part of channel versions, and both must agree
with LangGraph's own ``get_state_history``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import operator
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, Durability, Interrupt, Send, interrupt
from pydantic import BaseModel

from lgtt import serde
from lgtt.channels import is_internal
from lgtt.errors import DatabaseError
from lgtt.store import open_store
from lgtt.store.base import NULL_TASK_ID, CheckpointRow, Store
from lgtt.store.postgres import _BATCH, PostgresStore, display_url
from lgtt.store.sqlite import SqliteStore
from tests.pgserver import PASSWORD_ROLE, PgServer, create_database, free_port
from tests.scenarios import Order, Price

pytestmark = pytest.mark.postgres


def cfg(thread: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread}}


# --- the graphs ------------------------------------------------------------------------


class Counter(TypedDict):
    count: int
    steps: Annotated[list[str], operator.add]


def run_counter(saver: Any, thread: str = "count") -> Any:
    """A loop of four steps, then a fork made with update_state and run on."""

    def inc(s: Counter) -> dict[str, Any]:
        return {"count": s["count"] + 1, "steps": [f"step{s['count'] + 1}"]}

    b = StateGraph(Counter)
    b.add_node("inc", inc)
    b.add_edge(START, "inc")
    b.add_conditional_edges("inc", lambda s: "inc" if s["count"] < 4 else END)
    g = b.compile(checkpointer=saver)
    g.invoke({"count": 0, "steps": []}, cfg(thread))
    fork_at = next(s for s in g.get_state_history(cfg(thread)) if s.values.get("count") == 2)
    g.invoke(None, g.update_state(fork_at.config, {"count": 1}, as_node="inc"))
    return g


def run_failing(saver: Any, thread: str = "failing") -> Any:
    class S(TypedDict):
        n: int
        ratio: float

    def boom(s: S) -> dict[str, Any]:
        raise RuntimeError("disk full at step 2")

    b = StateGraph(S)
    b.add_node("first", lambda s: {"n": s["n"] + 1, "ratio": s["ratio"] / 2})
    b.add_node("boom", boom)
    b.add_edge(START, "first")
    b.add_edge("first", "boom")
    g = b.compile(checkpointer=saver)
    with contextlib.suppress(RuntimeError):
        g.invoke({"n": 0, "ratio": 1.0}, cfg(thread))
    return g


class Approval(TypedDict):
    draft: str
    approved: bool
    notes: Annotated[list[str], operator.add]


def run_approval(saver: Any, thread: str, resume: str | None = None) -> Any:
    """interrupt() after a subgraph; optionally resumed."""
    sub = StateGraph(Approval)
    sub.add_node("polish", lambda s: {"draft": s["draft"].strip().capitalize(), "notes": ["ok"]})
    sub.add_node("sign", lambda s: {"notes": ["signed"]})
    sub.add_edge(START, "polish")
    sub.add_edge("polish", "sign")

    def ask(s: Approval) -> dict[str, Any]:
        answer = interrupt({"question": "publish?", "draft": s["draft"]})
        return {"approved": answer == "yes", "notes": [f"answer={answer}"]}

    b = StateGraph(Approval)
    b.add_node("prepare", sub.compile())
    b.add_node("ask", ask)
    b.add_edge(START, "prepare")
    b.add_edge("prepare", "ask")
    g = b.compile(checkpointer=saver)
    g.invoke({"draft": "  hello world ", "approved": False, "notes": []}, cfg(thread))
    if resume is not None:
        g.invoke(Command(resume=resume), cfg(thread))
    return g


class MapState(TypedDict):
    items: list[int]
    results: Annotated[list[int], operator.add]


def run_fanout(saver: Any, thread: str, items: list[int]) -> Any:
    """A Send per item; item 2 fails, so that run ends with one error and other writes.

    It fails late: the other workers are done by then, not cancelled (which would make
    the two runs differ).
    """

    def work(s: dict[str, Any]) -> dict[str, Any]:
        if s["item"] == 2:
            time.sleep(0.1)
            raise ValueError("cannot handle item 2")
        return {"results": [s["item"] * 10]}

    b = StateGraph(MapState)
    b.add_node("start", lambda s: {})
    b.add_node("work", work)
    b.add_edge(START, "start")
    b.add_conditional_edges(
        "start", lambda s: [Send("work", {"item": i}) for i in s["items"]], ["work"]
    )
    b.add_edge("work", END)
    g = b.compile(checkpointer=saver)
    with contextlib.suppress(ValueError):
        g.invoke({"items": items, "results": []}, cfg(thread))
    return g


class Shop(BaseModel):
    """A pydantic state: a nested model, a dataclass, and messages."""

    messages: Annotated[list[AnyMessage], add_messages] = []
    order: Order
    price: Price | None = None
    note: str = ""


def run_shop(saver: Any, thread: str, durability: Durability = "async") -> Any:
    def price(s: Shop) -> dict[str, Any]:
        return {
            "price": Price(amount=9.5 * s.order.qty),
            "messages": [AIMessage(content=f"{s.order.sku} costs {9.5 * s.order.qty}", id="ai-1")],
        }

    def confirm(s: Shop) -> dict[str, Any]:
        order = s.order.model_copy(update={"tags": [*s.order.tags, "confirmed"]})
        return {
            "order": order,
            "note": "done",
            "messages": [
                AIMessage(
                    content="",
                    id="ai-2",
                    tool_calls=[{"name": "ship", "args": {"sku": s.order.sku}, "id": "call-1"}],
                )
            ],
        }

    b = StateGraph(Shop)
    b.add_node("price", price)
    b.add_node("confirm", confirm)
    b.add_edge(START, "price")
    b.add_edge("price", "confirm")
    g = b.compile(checkpointer=saver)
    g.invoke(
        {
            "messages": [HumanMessage(content="two widgets please", id="h-1")],
            "order": Order(sku="widget", qty=2),
        },
        cfg(thread),
        durability=durability,
    )
    return g


SCENARIOS: dict[str, Callable[[Any], Any]] = {
    "count": run_counter,
    "failing": run_failing,
    "approval": lambda s: run_approval(s, "approval"),
    "approved": lambda s: run_approval(s, "approved", resume="yes"),
    "fanout": lambda s: run_fanout(s, "fanout", [1, 3, 5]),
    "fanout-fail": lambda s: run_fanout(s, "fanout-fail", [1, 2, 3]),
    "shop": lambda s: run_shop(s, "shop"),
    "shop-exit": lambda s: run_shop(s, "shop-exit", durability="exit"),
}


def run_all(saver: Any) -> dict[str, list[dict[str, Any]]]:
    """Run every scenario; LangGraph's own history (checkpoint id, values) per thread."""
    history: dict[str, list[dict[str, Any]]] = {}
    for thread, run in SCENARIOS.items():
        g = run(saver)
        history[thread] = [
            {"id": s.config["configurable"]["checkpoint_id"], "values": s.values}
            for s in g.get_state_history(cfg(thread))
        ]
    return history


@dataclasses.dataclass
class Both:
    sqlite_path: Path
    pg_url: str
    history: dict[str, dict[str, list[dict[str, Any]]]]  # backend → thread → snapshots


@pytest.fixture(scope="module")
def both(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Both:
    path = tmp_path_factory.mktemp("both") / "lg.sqlite"
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        sqlite_history = run_all(SqliteSaver(conn))
    finally:
        conn.close()
    url = create_database(pg_server, "lgtt_both")
    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
        pg_history = run_all(saver)
    return Both(path, url, {"sqlite": sqlite_history, "postgres": pg_history})


@pytest.fixture
def stores(both: Both) -> Iterator[tuple[SqliteStore, PostgresStore]]:
    lite, pg = SqliteStore(str(both.sqlite_path)), PostgresStore(both.pg_url)
    yield lite, pg
    lite.close()
    pg.close()


# --- normalising what legitimately differs between two runs -----------------------------

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_VERSION = re.compile(r"^(\d{32})\.[0-9.e-]+$")


def norm(x: Any) -> Any:
    """Ids to ``<id>``, models/records/dataclasses to their fields, versions to counters."""
    if isinstance(x, str):
        if m := _VERSION.match(x):
            return int(m.group(1))
        return _UUID.sub("<id>", x)
    if isinstance(x, serde.LazyExt):
        return norm(x.materialize())
    if isinstance(x, BaseMessage):
        return {"$message": norm(x.model_dump())}
    if isinstance(x, BaseModel):
        return norm(x.model_dump())
    if isinstance(x, Interrupt):  # its id hashes the task's checkpoint: differs per run
        return {"$interrupt": norm(x.value)}
    if isinstance(x, Send):
        return {"$send": x.node, "arg": norm(x.arg)}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return norm({f.name: getattr(x, f.name) for f in dataclasses.fields(x)})
    if isinstance(x, dict):  # includes serde.Record: a model or dataclass's fields
        return {norm(k): norm(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [norm(v) for v in x]
    return x


def _sorted(items: Any) -> list[Any]:
    return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=repr))


def thread_shape(store: Store, thread: str, ns: str = "", *, lazy: bool = False) -> list[Any]:
    """Everything a store says about one namespace of a thread, ids replaced by indexes."""
    ids = store.checkpoint_ids(thread, ns)
    index = {cid: i for i, (cid, _) in enumerate(ids)}
    rows = list(store.iter_checkpoints(thread, ns, lazy=lazy))
    assert [r.checkpoint_id for r in rows] == [cid for cid, _ in ids]
    writes = store.writes(thread, ns)
    out = []
    for i, row in enumerate(rows):
        assert row.unreadable is None and row.checkpoint is not None
        cp = dict(row.checkpoint)
        assert set(cp) >= {"v", "id", "ts", "channel_values", "channel_versions", "versions_seen"}
        assert cp.pop("id") == row.checkpoint_id
        assert isinstance(cp.pop("ts"), str)
        cp["updated_channels"] = sorted(cp.get("updated_channels") or [])
        out.append(
            {
                "index": i,
                "parent": index.get(row.parent_checkpoint_id) if row.parent_checkpoint_id else None,
                "metadata": norm(row.metadata),
                "checkpoint": norm(cp),
                "writes": _sorted(
                    norm([w.task_id == NULL_TASK_ID, w.task_path, w.idx, w.channel, w.value])
                    for w in writes
                    if w.checkpoint_id == row.checkpoint_id
                ),
            }
        )
    assert {w.checkpoint_id for w in writes} <= set(index)
    return out


def heads(store: Store) -> dict[str, Any]:
    return {
        h.thread_id: {
            "checkpoints": h.checkpoints,
            "metadata": norm(h.metadata),
            "has_parent": h.parent_id is not None,
            "error": norm(h.error),
            "head_writes": _sorted(norm([t == NULL_TASK_ID, p, c]) for t, p, c in h.head_writes),
            "parent_triggers": _sorted(norm(list(t)) for t in h.parent_triggers),
        }
        for h in store.threads()
    }


# --- the two backends agree -------------------------------------------------------------


def test_threads_agree(stores: tuple[SqliteStore, PostgresStore]) -> None:
    lite, pg = stores
    assert sorted(pg.thread_ids()) == sorted(lite.thread_ids()) == sorted(SCENARIOS)
    pg_heads, lite_heads = heads(pg), heads(lite)
    assert pg_heads == lite_heads
    assert pg_heads["failing"]["error"] == "RuntimeError('disk full at step 2')"
    assert pg_heads["fanout-fail"]["error"] == "ValueError('cannot handle item 2')"
    assert pg_heads["shop-exit"]["checkpoints"] == 1
    for h in pg.threads():  # created_at is the head checkpoint's own ts
        row = pg.get_checkpoint(h.thread_id, "", h.head_id)
        assert row is not None and row.checkpoint is not None
        assert h.created_at == row.checkpoint["ts"]
        assert h.head_id == pg.checkpoint_ids(h.thread_id)[-1][0]


@pytest.mark.parametrize("thread", sorted(SCENARIOS))
def test_checkpoints_and_writes_agree(
    stores: tuple[SqliteStore, PostgresStore], thread: str
) -> None:
    lite, pg = stores
    assert norm(pg.namespaces(thread)) == norm(lite.namespaces(thread))
    for pg_ns, lite_ns in zip(pg.namespaces(thread), lite.namespaces(thread), strict=True):
        assert thread_shape(pg, thread, pg_ns) == thread_shape(lite, thread, lite_ns)
        assert thread_shape(pg, thread, pg_ns, lazy=True) == thread_shape(pg, thread, pg_ns)


def test_subgraph_namespace_is_read(stores: tuple[SqliteStore, PostgresStore]) -> None:
    _, pg = stores
    namespaces = pg.namespaces("approved")
    assert namespaces[0] == "" and len(namespaces) == 2
    assert namespaces[1].startswith("prepare:")
    sub = thread_shape(pg, "approved", namespaces[1])
    assert sub[-1]["checkpoint"]["channel_values"]["notes"] == ["ok", "signed"]
    assert sub[-1]["checkpoint"]["channel_values"]["draft"] == "Hello world"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_values_match_langgraph(both: Both, backend: str) -> None:
    store: Store = (
        PostgresStore(both.pg_url) if backend == "postgres" else SqliteStore(str(both.sqlite_path))
    )
    with store:
        for thread, snapshots in both.history[backend].items():
            rows = {r.checkpoint_id: r for r in store.iter_checkpoints(thread)}
            assert set(rows) == {s["id"] for s in snapshots}
            for snap in snapshots:
                cp = rows[snap["id"]].checkpoint
                assert cp is not None
                cv = {k: v for k, v in cp["channel_values"].items() if not is_internal(k)}
                for key, value in snap["values"].items():
                    if key in cv:
                        assert norm(cv[key]) == norm(value), (thread, key)
                    else:  # a reducer channel never written shows as its empty value
                        assert not value, (thread, key, value)
                assert set(cv) <= set(snap["values"])


def test_restricted_reads(stores: tuple[SqliteStore, PostgresStore]) -> None:
    _, pg = stores
    ids = [cid for cid, _ in pg.checkpoint_ids("count")]
    assert len(ids) > 6
    some = [ids[5], ids[1], ids[3], ids[1]]
    got = [r.checkpoint_id for r in pg.iter_checkpoints("count", ids=some)]
    assert got == [ids[1], ids[3], ids[5]]
    assert list(pg.iter_checkpoints("count", ids=[])) == []
    assert pg.get_checkpoint("count", "", "no-such-id") is None
    assert pg.get_checkpoint("nobody", "", ids[0]) is None
    one = pg.get_checkpoint("count", "", ids[3])
    assert one == next(iter(pg.iter_checkpoints("count", ids=[ids[3]])))

    all_writes = pg.writes("count")
    some_writes = pg.writes("count", "", [ids[1], ids[3]])
    assert some_writes == [w for w in all_writes if w.checkpoint_id in (ids[1], ids[3])]
    assert all(w.value is None for w in pg.writes("count", values=False))
    only_steps = pg.writes("count", values=["steps"])
    assert [w.channel for w in only_steps] == [w.channel for w in all_writes]
    for w, full in zip(only_steps, all_writes, strict=True):
        assert w.value == (full.value if w.channel == "steps" else None)
    order = [(w.checkpoint_id, w.task_id, w.idx) for w in all_writes]
    assert order == sorted(order)


def test_many_checkpoints_stream_in_batches(pg_db_url: str) -> None:
    """More checkpoints than one batch; blobs of unchanged channels are shared rows."""
    with PostgresSaver.from_conn_string(pg_db_url) as saver:
        saver.setup()

        class S(TypedDict):
            count: int
            log: Annotated[list[str], operator.add]
            fixed: list[int]

        b = StateGraph(S)
        b.add_node("inc", lambda s: {"count": s["count"] + 1, "log": [str(s["count"])]})
        b.add_edge(START, "inc")
        b.add_conditional_edges("inc", lambda s: "inc" if s["count"] < 60 else END)
        g = b.compile(checkpointer=saver)
        g.invoke(
            {"count": 0, "log": [], "fixed": [1, 2, 3]}, {**cfg("long"), "recursion_limit": 200}
        )
        history = {
            s.config["configurable"]["checkpoint_id"]: s.values
            for s in g.get_state_history(cfg("long"))
        }
    with PostgresStore(pg_db_url) as store, psycopg.connect(pg_db_url) as conn:
        rows = list(store.iter_checkpoints("long"))
        assert len(rows) == len(history) > _BATCH
        for row in rows:
            assert row.checkpoint is not None
            values = row.checkpoint["channel_values"]
            assert values.get("log", []) == history[row.checkpoint_id]["log"]
            assert values.get("fixed") == history[row.checkpoint_id].get("fixed")
        (fixed_blobs,) = conn.execute(
            "SELECT count(*) FROM checkpoint_blobs WHERE thread_id = 'long' AND channel = 'fixed'"
        ).fetchone() or (None,)
        assert fixed_blobs == 1  # written once, named by every later checkpoint


# --- bad input --------------------------------------------------------------------------


def _one_line(exc: DatabaseError) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_refused_connection() -> None:
    url = f"postgresql://someone:s3cret-pw@127.0.0.1:{free_port()}/lgtt"
    with pytest.raises(DatabaseError) as info:
        PostgresStore(url)
    text = _one_line(info.value)
    assert "refused" in text.lower() and "s3cret-pw" not in text
    assert "postgresql://someone:***@127.0.0.1" in text
    with pytest.raises(DatabaseError):
        open_store(url.replace("postgresql://", "postgres://"))


def test_bad_host_and_bad_password(pg_server: PgServer) -> None:
    with pytest.raises(DatabaseError) as info:
        PostgresStore("postgresql://u:pw-xyz@no-such-host.invalid:5432/db")
    assert "no-such-host.invalid" in _one_line(info.value)
    assert "pw-xyz" not in str(info.value)

    bad = pg_server.url("lgtt_test", user=f"{PASSWORD_ROLE}:wrong-password")
    with pytest.raises(DatabaseError) as info:
        PostgresStore(bad)
    text = _one_line(info.value)
    assert "password authentication failed" in text and "wrong-password" not in text
    assert "password" in (info.value.hint or "")

    with pytest.raises(DatabaseError) as info:
        PostgresStore("postgresql://u:pw-abc@[::1/db")
    assert "pw-abc" not in _one_line(info.value)
    assert "postgresql://USER:PASSWORD@HOST" in (info.value.hint or "")

    with pytest.raises(DatabaseError) as info:
        PostgresStore(pg_server.url("no_such_db"))
    assert 'database "no_such_db" does not exist' in _one_line(info.value)


def test_empty_database_has_no_tables(pg_db_url: str) -> None:
    with pytest.raises(DatabaseError) as info:
        PostgresStore(pg_db_url)
    assert "no LangGraph checkpoint tables" in _one_line(info.value)
    with psycopg.connect(pg_db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE checkpoints (thread_id text)")
    with pytest.raises(DatabaseError) as info:
        PostgresStore(pg_db_url)
    assert "checkpoint_blobs, checkpoint_writes" in _one_line(info.value)


def test_display_url_hides_passwords() -> None:
    assert display_url("postgresql://u:p%40ss@h:5/d") == "postgresql://u:***@h:5/d"
    assert display_url("postgresql://h/d?password=x&sslmode=require") == (
        "postgresql://h/d?password=***&sslmode=require"
    )
    assert display_url("postgresql://u@h/d") == "postgresql://u@h/d"


def test_corrupt_blob_marks_only_its_checkpoints(pg_db_url: str) -> None:
    with PostgresSaver.from_conn_string(pg_db_url) as saver:
        saver.setup()
        run_counter(saver)
        run_failing(saver)
    with psycopg.connect(pg_db_url, autocommit=True) as conn:
        version = conn.execute(
            "SELECT version FROM checkpoint_blobs WHERE thread_id = 'count' AND channel = 'steps'"
            " ORDER BY version LIMIT 1 OFFSET 2"
        ).fetchone()
        assert version is not None
        conn.execute(
            "UPDATE checkpoint_blobs SET blob = %s WHERE thread_id = 'count'"
            " AND channel = 'steps' AND version = %s",
            (b"\xc1\xc1garbage", version[0]),
        )
        conn.execute(
            "UPDATE checkpoint_writes SET blob = %s WHERE thread_id = 'failing'"
            " AND channel = '__error__'",
            (b"\xc1",),
        )
    with PostgresStore(pg_db_url) as store:
        rows = list(store.iter_checkpoints("count"))
        bad = [r for r in rows if r.unreadable]
        assert bad and len(bad) < len(rows)
        for r in rows:
            uses_it = r.checkpoint_id in {b.checkpoint_id for b in bad}
            assert (r.checkpoint is None) == uses_it
        assert all("steps" in (r.unreadable or "") for r in bad)
        assert store.get_checkpoint("count", "", bad[0].checkpoint_id) == bad[0]
        heads = {h.thread_id: h for h in store.threads()}
        assert str(heads["failing"].error).startswith("<unreadable error value")
        (err,) = [w for w in store.writes("failing") if w.channel == "__error__"]
        assert err.unreadable and err.value is None


# --- read-only, one snapshot, and writing through LangGraph ------------------------------


def _table_digest(url: str) -> dict[str, Any]:
    """Row count and an md5 of every row of each LangGraph table."""
    out = {}
    with psycopg.connect(url) as conn:
        for t in ("checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations"):
            out[t] = conn.execute(
                f"SELECT count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM {t} x"
            ).fetchone()
    return out


def test_reads_leave_the_database_unchanged(both: Both) -> None:
    before = _table_digest(both.pg_url)
    store = PostgresStore(both.pg_url)
    try:
        store.threads()
        for thread in store.thread_ids():
            for ns in store.namespaces(thread):
                list(store.iter_checkpoints(thread, ns))
                store.writes(thread, ns)
        conn = store.conn
        assert conn.execute("SHOW transaction_read_only").fetchone() == ("on",)
        assert conn.execute("SHOW transaction_isolation").fetchone() == ("repeatable read",)
        # No transaction id was ever assigned: nothing was written.
        assert conn.execute("SELECT txid_current_if_assigned()").fetchone() == (None,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO checkpoint_migrations (v) VALUES (9999)")
    finally:
        store.close()
    assert _table_digest(both.pg_url) == before
    assert before["checkpoints"][0] > 0


def test_one_snapshot_for_the_store_life(pg_db_url: str) -> None:
    with PostgresSaver.from_conn_string(pg_db_url) as saver:
        saver.setup()
        run_failing(saver, "first")
        with PostgresStore(pg_db_url) as store:
            assert store.thread_ids() == ["first"]
            run_failing(saver, "second")  # committed meanwhile by another connection
            assert store.thread_ids() == ["first"]
            assert [h.thread_id for h in store.threads()] == ["first"]
        with PostgresStore(pg_db_url) as store:
            assert sorted(store.thread_ids()) == ["first", "second"]


def test_saver_writes_through_langgraph(pg_db_url: str) -> None:
    with PostgresSaver.from_conn_string(pg_db_url) as saver:
        saver.setup()
        run_failing(saver, "first")
    store = PostgresStore(pg_db_url)
    with store.saver() as saver:
        assert isinstance(saver, PostgresSaver)
        run_counter(saver, "written")
    with PostgresStore(pg_db_url) as fresh:
        assert "written" in fresh.thread_ids()
    store.close()
    # setup=True creates LangGraph's tables only when they are missing
    with psycopg.connect(pg_db_url, autocommit=True) as conn:
        for t in ("checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations"):
            conn.execute(f"DROP TABLE {t}")
    with store.saver(setup=True) as saver:
        run_failing(saver, "again")
    with PostgresStore(pg_db_url) as fresh:
        assert fresh.thread_ids() == ["again"]


def test_rows_are_checkpoint_rows(stores: tuple[SqliteStore, PostgresStore]) -> None:
    _, pg = stores
    for row in pg.iter_checkpoints("shop"):
        assert isinstance(row, CheckpointRow) and row.size > 0
        assert row.checkpoint is not None
        values = list(row.checkpoint["channel_values"])
        assert values == sorted(values)  # the graph's order is not stored: by name


# --- the CLI on a PostgreSQL URL ----------------------------------------------------------


_BY_TASK_ID = ("pending_writes", "tasks")  # listed in task id order: differs per run


def _strip_ids(doc: Any) -> Any:
    """JSON output without ids and timestamps (they differ between the two runs)."""
    if isinstance(doc, dict):
        return {
            k: _sorted(_strip_ids(v)) if k in _BY_TASK_ID else _strip_ids(v)
            for k, v in doc.items()
            if k not in ("checkpoint_id", "latest_checkpoint_id", "parent_checkpoint_id")
            and k not in ("created_at", "updated_at", "size", "bytes")
        }
    if isinstance(doc, list):
        return [_strip_ids(v) for v in doc]
    if isinstance(doc, str) and re.fullmatch(r"[0-9a-f]{32}", doc):
        return "<interrupt id>"
    return norm(doc)


def test_cli_reads_postgres_like_sqlite(both: Both, cli: Any) -> None:
    def run(*args: str) -> Any:
        out = {}
        for name, db in (("sqlite", str(both.sqlite_path)), ("postgres", both.pg_url)):
            result = cli("--json", "--db", db, *args)
            assert result.exit_code == 0, (name, result.stderr)
            out[name] = _strip_ids(json.loads(result.stdout))
        return out

    threads = run("threads")
    by_id = {
        name: sorted(doc["threads"], key=lambda t: t["thread_id"]) for name, doc in threads.items()
    }
    assert by_id["postgres"] == by_id["sqlite"]
    statuses = {t["thread_id"]: t["status"] for t in by_id["postgres"]}
    assert statuses["failing"] == "failed" and statuses["approval"] == "interrupted"
    assert statuses["count"] == "done"
    for thread in ("count", "approval", "fanout-fail", "shop"):
        timeline = run("timeline", thread)
        assert timeline["postgres"] == timeline["sqlite"], thread
        shown = run("show", thread)
        assert shown["postgres"] == shown["sqlite"], thread


def test_cli_refused_url_is_one_line(cli: Any) -> None:
    url = f"postgresql://me:hunter2@127.0.0.1:{free_port()}/db"
    result = cli("threads", "--db", url)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "hunter2" not in result.stderr and "refused" in result.stderr.lower()
