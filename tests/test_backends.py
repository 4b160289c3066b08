"""Every command on SQLite and on PostgreSQL: the same JSON, and LangGraph agrees.

The same scenario database is built by real graph runs into a SqliteSaver file and
into a PostgresSaver database, once per module and backend. Read commands run on that
database; each write test gets a fresh copy (a file copy, or ``CREATE DATABASE …
TEMPLATE``). On PostgreSQL every command also runs on a SQLite twin, and the two
``--json`` documents must be equal once checkpoint ids, task ids and timestamps are
normalised (they are generated per run). What lgtt writes is then read back with
LangGraph's own ``get_state_history`` and continued with ``invoke``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver

from lgtt.graphs import load_graph
from lgtt.jsonable import to_jsonable
from tests import scenarios
from tests.conftest import RunCli, file_digest
from tests.graphs import counter
from tests.pgserver import PgServer, create_database

HERE = Path(__file__).resolve().parent
COUNTER = f"{HERE / 'graphs' / 'counter.py'}:graph"
FLAKY = f"{HERE / 'recovery_graphs' / 'flaky.py'}:graph"
APPROVAL = f"{HERE / 'recovery_graphs' / 'approval.py'}:graph"

BACKENDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]


def cfg(thread: str, checkpoint_id: str | None = None) -> Any:
    c: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ""}
    if checkpoint_id is not None:
        c["checkpoint_id"] = checkpoint_id
    return {"configurable": c}


# --- the databases ---------------------------------------------------------------------


@dataclass
class Db:
    backend: str
    #: what ``--db`` gets: a file path or a postgresql:// URL
    url: str

    @contextlib.contextmanager
    def saver(self) -> Iterator[BaseCheckpointSaver[Any]]:
        """LangGraph's own saver on the database, as an application opens it."""
        if self.backend == "sqlite":
            conn = sqlite3.connect(self.url, check_same_thread=False)
            try:
                yield SqliteSaver(conn)
            finally:
                conn.close()
        else:
            from langgraph.checkpoint.postgres import PostgresSaver

            with PostgresSaver.from_conn_string(self.url) as saver:
                yield saver

    def graph(self, spec: str, saver: BaseCheckpointSaver[Any]) -> Any:
        return load_graph(spec).bind(saver)

    def digest(self) -> str:
        """Row counts and md5 of every table's contents (the file's bytes for SQLite)."""
        if self.backend == "sqlite":
            return file_digest(Path(self.url))
        return json.dumps(pg_tables(self.url))

    def contents(self) -> str:
        """Row counts and md5 of every table's contents (the file may change when it
        is opened for writing: SQLite's WAL file, a header counter)."""
        if self.backend == "postgres":
            return self.digest()
        with sqlite3.connect(f"file:{self.url}?mode=ro", uri=True) as conn:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            return json.dumps(
                {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}"))) for t in sorted(tables)}
            )

    def thread_rows(self, thread: str) -> dict[str, int]:
        """How many rows each table holds for ``thread``."""
        if self.backend == "sqlite":
            with sqlite3.connect(f"file:{self.url}?mode=ro", uri=True) as conn:
                return {
                    t: conn.execute(
                        f"SELECT count(*) FROM {t} WHERE thread_id = ?", (thread,)
                    ).fetchone()[0]
                    for t in ("checkpoints", "writes")
                }
        import psycopg

        with psycopg.connect(self.url) as conn:
            return {
                t: conn.execute(
                    f"SELECT count(*) FROM {t} WHERE thread_id = %s".encode(), (thread,)
                ).fetchone()[0]
                for t in ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
            }


def pg_tables(url: str) -> dict[str, list[Any]]:
    """``{table: [rows, md5 of all rows in a fixed order]}`` for LangGraph's tables."""
    import psycopg

    out = {}
    with psycopg.connect(url) as conn:
        for t in ("checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations"):
            sql = (
                "SELECT count(*), md5(coalesce(string_agg(x::text, '|'"
                f" ORDER BY x::text COLLATE \"C\"), '')) FROM {t} x"
            )
            row = conn.execute(sql.encode()).fetchone()
            out[t] = list(row or ())
    return out


def run(spec: str, saver: Any, thread: str, *inputs: Any) -> None:
    """Run a graph module's graph into the database; a failure leaves a failed thread."""
    graph = load_graph(spec).bind(saver)
    for value in inputs:
        with contextlib.suppress(Exception):
            graph.invoke(value, cfg(thread))


def build(saver: BaseCheckpointSaver[Any]) -> None:
    """The scenario threads, in one fixed order (``threads`` lists them by time)."""
    run(COUNTER, saver, "t", counter.INPUT)  # done: inc, dbl ×3 (12 checkpoints)
    scenarios.run_counter_with_fork(saver)  # "count": a loop, forked by update_state
    scenarios.run_fanout(saver)  # "fanout": parallel branches, a failing Send worker
    scenarios.run_approval(saver)  # "approval": a subgraph, then interrupt()
    scenarios.run_shop(saver)  # "shop": messages, a pydantic model, a dataclass
    run(FLAKY, saver, "t1", {"ok": False, "log": []})  # failed in `work`
    run(APPROVAL, saver, "a1", {"draft": " hello ", "answer": None, "log": []})  # interrupted


def _pg_server(request: pytest.FixtureRequest) -> PgServer:
    server: PgServer = request.getfixturevalue("pg_server")
    return server


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Db:
    path = tmp_path_factory.mktemp("backends") / "scenarios.sqlite"
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        build(SqliteSaver(conn))
    finally:
        conn.close()
    return Db("sqlite", str(path))


@pytest.fixture(scope="module")
def pg_template(request: pytest.FixtureRequest) -> Db:
    from langgraph.checkpoint.postgres import PostgresSaver

    url = create_database(_pg_server(request), "lgtt_tmpl")
    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
        build(saver)
    return Db("postgres", url)


@pytest.fixture(scope="module", params=BACKENDS)
def template(request: pytest.FixtureRequest, sqlite_template: Db) -> Db:
    """The scenario database of one backend, built once per module: read, never written."""
    if request.param == "sqlite":
        return sqlite_template
    pg: Db = request.getfixturevalue("pg_template")
    return pg


@pytest.fixture
def twin_template(template: Db, sqlite_template: Db) -> Db | None:
    """On PostgreSQL, the SQLite database whose JSON it must match (None on SQLite)."""
    return sqlite_template if template.backend == "postgres" else None


_copies = itertools.count(1)


@contextlib.contextmanager
def fresh(template: Db, tmp_path: Path, request: pytest.FixtureRequest, name: str) -> Iterator[Db]:
    """A writable copy of a template database, for one test."""
    if template.backend == "sqlite":
        path = tmp_path / f"{name}.sqlite"
        shutil.copy(template.url, path)
        yield Db("sqlite", str(path))
        return
    import psycopg

    server = _pg_server(request)
    copy = f"lgtt_{name}_{os.getpid()}_{next(_copies)}"
    source = template.url.rsplit("/", 1)[1]
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{source}"'.encode())
        try:
            yield Db("postgres", server.url(copy))
        finally:
            with contextlib.suppress(psycopg.Error):
                admin.execute(f'DROP DATABASE "{copy}" WITH (FORCE)'.encode())


@pytest.fixture
def db(template: Db, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Db]:
    """A fresh writable copy of the scenario database."""
    with fresh(template, tmp_path, request, "db") as copy:
        yield copy


@pytest.fixture
def twin(
    twin_template: Db | None, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Db | None]:
    """On PostgreSQL, a fresh writable SQLite twin; None on SQLite."""
    if twin_template is None:
        yield None
        return
    with fresh(twin_template, tmp_path, request, "twin") as copy:
        yield copy


# --- the same JSON on both backends ------------------------------------------------------

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_HASH = re.compile(r"\b[0-9a-f]{32}\b")  # an interrupt's id
_SHORT_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}\b")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?")
_AGO = re.compile(r"updated \d+s ago")


def normalise(doc: Any) -> Any:
    """Ids (checkpoint, task, interrupt) become ``<id1>``, ``<id2>``… in order of first
    appearance, so one id is one placeholder wherever it appears; short ids become
    ``<short>``, timestamps ``<time>``. Keys are walked sorted, and pending writes (which
    lgtt orders by task id, an id generated per run) in an order of their contents."""
    names: dict[str, str] = {}

    def one_id(m: re.Match[str]) -> str:
        return names.setdefault(m.group(0), f"<id{len(names) + 1}>")

    def content(write: Any) -> str:
        rest = (
            {k: v for k, v in write.items() if k != "task_id"} if isinstance(write, dict) else write
        )
        return json.dumps(rest, sort_keys=True, default=str)

    def walk(x: Any, key: str | None = None) -> Any:
        if isinstance(x, str):
            x = _HASH.sub(one_id, _UUID.sub(one_id, x))
            x = _SHORT_ID.sub("<short>", x)
            return _AGO.sub("updated Ns ago", _TIME.sub("<time>", x))
        if isinstance(x, dict):
            return {k: walk(x[k], k) for k in sorted(x)}
        if isinstance(x, (list, tuple)):
            items = sorted(x, key=content) if key == "pending_writes" else x
            return [walk(v) for v in items]
        return x

    return walk(doc)


def cmd(cli: RunCli, db: Db, *args: Any) -> tuple[int, Any]:
    """Run ``lgtt ARGS --db DB --json``: (exit code, the JSON document)."""
    r = cli(*args, "--db", db.url, "--json")
    assert r.exit_code in (0, 1), (args, r.stderr)
    return r.exit_code, json.loads(r.stdout)


def both(db: Db, twin: Db | None, fn: Callable[[Db], Any]) -> Any:
    """``fn`` on the database under test; on PostgreSQL also on its SQLite twin, and
    what the two return must be the same once normalised."""
    got = fn(db)
    if twin is not None:
        assert normalise(got) == normalise(fn(twin))
    return got


def history(db: Db, spec: str, thread: str) -> list[Any]:
    """LangGraph's own ``get_state_history`` of a thread, newest first."""
    with db.saver() as saver:
        return list(db.graph(spec, saver).get_state_history(cfg(thread)))


def ids_of(snapshots: list[Any]) -> list[str]:
    return [s.config["configurable"]["checkpoint_id"] for s in snapshots]


# --- read commands -----------------------------------------------------------------------

READS = {
    "threads": ("threads",),
    "timeline": ("timeline", "t"),
    "timeline-fork": ("timeline", "count"),
    "timeline-send": ("timeline", "fanout"),
    "timeline-subgraph": ("timeline", "approval"),
    "show": ("show", "t@5"),
    "show-failed-send": ("show", "fanout"),
    "show-interrupt": ("show", "approval"),
    "show-models": ("show", "shop"),
    "show-key": ("show", "t@-1", "--key", "steps"),
    "diff-checkpoints": ("diff", "t@2", "t@7"),
    "diff-fork": ("diff", "count@3", "count@-1"),
    "diff-messages": ("diff", "shop@1", "shop"),
    "diff-threads": ("diff", "count", "t"),
    "blame": ("blame", "t", "count"),
    "blame-messages": ("blame", "shop", "messages[1].content"),
}


@pytest.mark.parametrize("args", list(READS.values()), ids=list(READS))
def test_read_commands_agree(
    cli: RunCli, template: Db, twin_template: Db | None, args: tuple[str, ...]
) -> None:
    before = template.digest()
    code, _ = both(template, twin_template, lambda d: cmd(cli, d, *args))
    assert code == (1 if args[0] == "diff" else 0)
    assert template.digest() == before  # read commands never write


def test_timeline_is_langgraphs_history(cli: RunCli, template: Db) -> None:
    _, doc = cmd(cli, template, "timeline", "count")
    snapshots = history(template, COUNTER, "count")
    assert [c["checkpoint_id"] for c in doc["checkpoints"]] == ids_of(snapshots)[::-1]
    _, doc = cmd(cli, template, "show", "count")
    assert doc["values"] == to_jsonable(snapshots[0].values)


# --- branch ------------------------------------------------------------------------------


def branch(cli: RunCli, db: Db, *args: str) -> dict[str, Any]:
    code, doc = cmd(cli, db, "branch", "t", *args)
    assert code == 0
    return doc


def test_branch_copy_is_the_history_langgraph_continues(
    cli: RunCli, db: Db, twin: Db | None
) -> None:
    source = history(db, COUNTER, "t")[::-1]  # oldest first
    doc = both(db, twin, lambda d: branch(cli, d, "--from", "3"))
    assert doc["thread_id"] == "t-branch-3" and doc["status"] == "pending"
    assert doc["copied"]["checkpoints"] == 4
    assert raw_rows(db, "t-branch-3") == copied_rows(db, "t", ids_of(source[:4]))
    copy = history(db, COUNTER, "t-branch-3")
    assert ids_of(copy) == ids_of(source[:4])[::-1]
    for snap, original in zip(copy[::-1], source, strict=False):
        assert (snap.values, snap.next, snap.metadata) == (
            original.values,
            original.next,
            original.metadata,
        )
    with db.saver() as saver:  # LangGraph continues the copy to where the source went
        assert db.graph(COUNTER, saver).invoke(None, cfg("t-branch-3")) == source[-1].values


def test_branch_copies_subgraph_runs(cli: RunCli, db: Db, twin: Db | None) -> None:
    """A subgraph run started from a copied checkpoint comes along: its namespace's
    checkpoints, writes and (PostgreSQL) blobs, so LangGraph resumes the branch."""
    from langgraph.types import Command

    def go(d: Db) -> Any:
        doc = cmd(cli, d, "branch", "approval")[1]
        (ns,) = cmd(cli, d, "timeline", "approval")[1]["namespaces"]
        copy = cmd(cli, d, "timeline", doc["thread_id"], "--ns", ns)[1]
        source = cmd(cli, d, "timeline", "approval", "--ns", ns)[1]
        return ns, doc, copy, source

    ns, doc, copy, source = both(db, twin, go)
    assert doc["thread_id"] == "approval-branch-2" and doc["next"] == ["ask"]
    unthreaded = [{k: v for k, v in c.items() if k != "thread_id"} for c in copy["checkpoints"]]
    assert unthreaded == [
        {k: v for k, v in c.items() if k != "thread_id"} for c in source["checkpoints"]
    ]
    copied, original = raw_rows(db, "approval-branch-2"), raw_rows(db, "approval")
    for table, rows in original.items():
        in_ns = [r for r in rows if r[0] == ns]
        assert in_ns and [r for r in copied[table] if r[0] == ns] == in_ns, table
    with db.saver() as saver:
        graph = scenarios.approval_graph(saver)
        done = graph.invoke(Command(resume="yes"), cfg("approval-branch-2"))
    assert done["approved"] is True and done["notes"][-1] == "answer=yes"


def test_branch_edit_and_run(cli: RunCli, db: Db, twin: Db | None) -> None:
    source = ids_of(history(db, COUNTER, "t"))[::-1]
    args = ("--from", "4", "--set", "count=7", "--set", 'steps=["x"]', "--as-node", "inc")
    doc = both(db, twin, lambda d: branch(cli, d, *args, "--graph", COUNTER))
    assert doc["status"] == "pending" and doc["next"] == ["dbl"]
    snaps = history(db, COUNTER, "t-branch-4")
    head = snaps[0]
    assert head.metadata["source"] == "update" and head.metadata["lgtt_as_node"] == "inc"
    assert head.parent_config["configurable"]["checkpoint_id"] == source[4]
    assert doc["checkpoint_id"] == head.config["configurable"]["checkpoint_id"]
    assert doc["values"] == to_jsonable(head.values)
    assert head.values["count"] == 7 and head.values["steps"][-1] == "x"  # the reducer ran
    with db.saver() as saver:  # LangGraph resumes the edited branch
        assert db.graph(COUNTER, saver).invoke(None, cfg("t-branch-4"))["count"] == 30

    doc = both(
        db, twin, lambda d: branch(cli, d, *args, "--to", "run", "--run", "--graph", COUNTER)
    )
    assert doc["ran"] is True and doc["status"] == "done" and doc["values"]["count"] == 30
    snaps = history(db, COUNTER, "run")
    assert ids_of(snaps)[-5:] == source[4::-1]  # the copy, then the edit, then the run
    assert doc["checkpoint_id"] == ids_of(snaps)[0]
    assert doc["values"] == to_jsonable(snaps[0].values)


def test_branch_run_that_fails(cli: RunCli, db: Db, twin: Db | None) -> None:
    args = ("--from", "3", "--set", "fail=true", "--as-node", "inc", "--run", "--graph", COUNTER)
    doc = both(db, twin, lambda d: branch(cli, d, *args))
    assert doc["status"] == "failed" and "dbl refuses" in str(doc["error"])
    _, threads = both(db, twin, lambda d: cmd(cli, d, "threads"))
    assert {t["thread_id"]: t["status"] for t in threads["threads"]}["t-branch-3"] == "failed"


def test_branch_in_place_only_adds(cli: RunCli, db: Db, twin: Db | None) -> None:
    before = raw_rows(db, "t")
    source = ids_of(history(db, COUNTER, "t"))[::-1]
    args = ("--from", "4", "--set", "count=7", "--as-node", "inc", "--run", "--in-place")
    doc = both(db, twin, lambda d: branch(cli, d, *args, "--graph", COUNTER))
    assert doc["thread_id"] == "t" and doc["in_place"] is True and doc["values"]["count"] == 30
    after = raw_rows(db, "t")
    for table, rows in before.items():
        assert set(rows) <= set(after[table])  # nothing rewritten or removed
    snaps = history(db, COUNTER, "t")
    update = next(s for s in snaps if s.metadata.get("source") == "update")
    assert update.parent_config["configurable"]["checkpoint_id"] == source[4]
    assert snaps[0].values["count"] == 30


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--set", "count=7", "--as-node", "inc", "--run"),
        ("--set", "count=7", "--in-place"),
        ("--run", "--in-place"),
    ],
    ids=["copy", "edit-run", "edit-in-place", "run-in-place"],
)
def test_branch_dry_run_leaves_the_database_as_it_was(
    cli: RunCli, db: Db, twin: Db | None, args: tuple[str, ...]
) -> None:
    before = db.digest()
    doc = both(
        db, twin, lambda d: branch(cli, d, "--from", "4", "--dry-run", "--graph", COUNTER, *args)
    )
    assert doc["dry_run"] is True
    if "--run" in args:
        assert doc["would_run"] == ["dbl"]
    if "--set" in args:
        assert doc["values"]["count"] == 7 and doc["checkpoint_id"] is None
    assert db.digest() == before


def test_failed_edit_leaves_nothing(cli: RunCli, db: Db, twin: Db | None) -> None:
    """Copy and edit are one transaction: a reducer that raises rolls the copy back."""

    def attempt(d: Db) -> str:
        r = cli(
            "branch", "t", "--from", "3", "--set", "steps=5", "--as-node", "inc",
            "--db", d.url, "--graph", COUNTER,
        )  # fmt: skip
        assert r.exit_code == 2 and r.stdout == ""
        return str(r.stderr)

    before = db.contents()
    stderr = both(db, twin, attempt)
    assert "applying the edit raised TypeError" in stderr
    assert set(db.thread_rows("t-branch-3").values()) == {0}
    assert db.contents() == before


def test_copy_conflict_rolls_back(cli: RunCli, db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row already under the new thread id makes the INSERT fail: nothing is copied,
    nothing is overwritten (the check that usually catches it first is switched off)."""
    from lgtt.actions.history import Target

    monkeypatch.setattr(Target, "_refuse_existing", lambda self, plan: None)
    stray_write(db, "t", "t-branch-3")
    before = db.contents()
    r = cli("branch", "t", "--from", "3", "--db", db.url)
    assert r.exit_code == 2 and "nothing was written" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert db.contents() == before
    assert db.thread_rows("t-branch-3")["checkpoints"] == 0


# --- replay --------------------------------------------------------------------------------


def changed_counter(tmp_path: Path) -> str:
    """The counter graph with ``dbl`` tripling instead."""
    text = (HERE / "graphs" / "counter.py").read_text()
    path = tmp_path / "counter_v2.py"
    path.write_text(text.replace('state["count"] * 2', 'state["count"] * 3'))
    return f"{path}:graph"


def test_replay_check(cli: RunCli, db: Db, twin: Db | None, tmp_path: Path) -> None:
    before = db.digest()
    code, doc = both(db, twin, lambda d: cmd(cli, d, "replay", "t", "--check", "--graph", COUNTER))
    assert code == 0 and doc["diverged"] is False and doc["kept"] is False
    v2 = changed_counter(tmp_path)
    code, doc = both(db, twin, lambda d: cmd(cli, d, "replay", "t", "--check", "--graph", v2))
    assert code == 1 and doc["diverged"] is True
    assert doc["divergence"]["node"] == "dbl" and doc["divergence"]["aspects"] == ["writes"]
    code, doc = both(db, twin, lambda d: cmd(cli, d, "replay", "t", "--dry-run", "--graph", v2))
    assert code == 0 and doc["dry_run"] is True
    assert db.digest() == before  # a checked replay runs where nothing is kept


def test_replay_kept_is_a_thread_langgraph_reads(cli: RunCli, db: Db, twin: Db | None) -> None:
    code, doc = both(
        db, twin, lambda d: cmd(cli, d, "replay", "t", "--from", "3", "--graph", COUNTER)
    )
    assert code == 0 and doc["diverged"] is False and doc["thread_id"] == "t-replay-1"
    source = history(db, COUNTER, "t")
    replayed = history(db, COUNTER, "t-replay-1")
    assert len(replayed) == len(source)
    assert ids_of(replayed)[-4:] == ids_of(source)[-4:]  # the copied path, same ids
    assert [s.values for s in replayed] == [s.values for s in source]
    _, timeline = cmd(cli, db, "timeline", "t-replay-1")
    assert [c["checkpoint_id"] for c in timeline["checkpoints"]] == ids_of(replayed)[::-1]


# --- recover and check ---------------------------------------------------------------------


def test_recover_failed_thread_with_an_edit(cli: RunCli, db: Db, twin: Db | None) -> None:
    code, doc = both(db, twin, lambda d: cmd(cli, d, "recover", "t1", "--graph", FLAKY))
    assert code == 1 and doc["status"] == "failed" and "work needs ok=true" in doc["error"]
    code, doc = both(
        db, twin, lambda d: cmd(cli, d, "recover", "t1", "--set", "ok=true", "--graph", FLAKY)
    )
    assert code == 0 and doc["status"] == "done" and doc["action"] == "resumed"
    assert doc["values"]["log"] == ["prepare", "work", "finish"]
    with db.saver() as saver:  # LangGraph's own view of the thread agrees
        state = db.graph(FLAKY, saver).get_state(cfg("t1"))
    assert (to_jsonable(state.values), state.next) == (doc["values"], ())


def test_recover_interrupted_thread(cli: RunCli, db: Db, twin: Db | None) -> None:
    args = ("recover", "a1", "--resume", '"yes"', "--graph", APPROVAL)
    code, doc = both(db, twin, lambda d: cmd(cli, d, *args))
    assert code == 0 and doc["status"] == "done"
    assert doc["values"]["log"] == ["draft", "ask=yes", "published"]
    assert history(db, APPROVAL, "a1")[0].values == doc["values"]


def test_recover_list_and_dry_runs(cli: RunCli, db: Db, twin: Db | None) -> None:
    before = db.digest()
    code, doc = both(db, twin, lambda d: cmd(cli, d, "recover", "--list", "--graph", FLAKY))
    assert code == 0
    statuses = {t["thread_id"]: t["status"] for t in doc["threads"]}
    assert statuses == {
        "t1": "failed",
        "a1": "interrupted",
        "fanout": "failed",
        "approval": "interrupted",
    }
    args = ("recover", "t1", "--dry-run", "--set", "ok=true", "--graph", FLAKY)
    code, doc = both(db, twin, lambda d: cmd(cli, d, *args))
    assert code == 0 and doc["action"] == "dry-run"
    args = ("recover", "--all", "--status", "failed", "--dry-run", "--graph", FLAKY)
    code, doc = both(db, twin, lambda d: cmd(cli, d, *args))
    assert {r["thread_id"]: r["action"] for r in doc["results"]} == {
        "t1": "dry-run",
        "fanout": "refused",  # FLAKY has no `work` node for its Send tasks
    }
    assert db.digest() == before


def test_recover_all(cli: RunCli, db: Db, twin: Db | None) -> None:
    args = ("recover", "--all", "--status", "failed", "--graph", FLAKY)
    code, doc = both(db, twin, lambda d: cmd(cli, d, *args))
    assert code == 1  # t1 fails again (no edit), fanout is refused
    assert {r["thread_id"]: (r["action"], r["status"]) for r in doc["results"]} == {
        "t1": ("resumed", "failed"),
        "fanout": ("refused", "failed"),
    }
    t1 = next(r for r in doc["results"] if r["thread_id"] == "t1")
    assert t1["attempts"] == 1 and "work needs ok=true" in t1["error"]
    assert history(db, FLAKY, "t1")[0].tasks[0].error is not None  # LangGraph stored it


def test_one_recovery_per_thread_at_a_time(cli: RunCli, db: Db) -> None:
    """SQLite: a lock file on this machine; PostgreSQL: the server's advisory lock, so a
    recover on another machine is kept out too."""
    from lgtt.actions.recover import thread_lock

    args = ("recover", "t1", "--set", "ok=true", "--db", db.url, "--graph", FLAKY)
    with thread_lock(db.url, "t1"):
        r = cli(*args)
        assert r.exit_code == 2 and r.stdout == ""
        assert r.stderr.startswith("error: another lgtt recover (") and "'t1'" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert (
            cli("recover", "a1", "--resume", '"no"', "--db", db.url, "--graph", APPROVAL).exit_code
            == 0
        )
    assert cli(*args).exit_code == 0


def test_check(cli: RunCli, template: Db, twin_template: Db | None) -> None:
    cases = [
        (("t1",), FLAKY, 0, set()),
        (("t",), FLAKY, 1, {"unknown_channel", "unknown_seen_node"}),
        (("--all-checkpoints",), COUNTER, 1, {"missing_node", "unknown_channel"}),
    ]
    for args, spec, expected, kinds in cases:
        code, doc = both(
            template,
            twin_template,
            lambda d, a=args, g=spec: cmd(cli, d, "check", *a, "--graph", g),
        )
        assert code == expected, args
        assert kinds <= {p["kind"] for p in doc["problems"]}, doc


# --- PostgreSQL: the transaction the writes share ----------------------------------------


@pytest.mark.postgres
def test_postgres_saver_commits_nothing_inside_an_outer_transaction(pg_db_url: str) -> None:
    """What branch and the dry runs rely on: PostgresSaver's own transaction() and
    pipeline() blocks nest inside ours (savepoints, syncs) and never commit."""
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(pg_db_url) as setup:
        setup.setup()
    conn = psycopg.connect(pg_db_url, autocommit=True, prepare_threshold=0)
    other = psycopg.connect(pg_db_url, autocommit=True)
    try:
        with conn.transaction(force_rollback=True):
            graph = load_graph(COUNTER).bind(PostgresSaver(conn))
            graph.invoke(counter.INPUT, cfg("x"))
            graph.update_state(cfg("x"), {"count": 1}, as_node="inc")
            mine = conn.execute("SELECT count(*) FROM checkpoints").fetchone()
            seen = other.execute("SELECT count(*) FROM checkpoints").fetchone()
            assert mine == (9,)  # the run (8 checkpoints) and the update
            assert seen == (0,)  # nothing committed while the run went on
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            assert other.execute(f"SELECT count(*) FROM {table}".encode()).fetchone() == (0,)
    finally:
        conn.close()
        other.close()


@pytest.mark.postgres
def test_postgres_read_only_role(
    cli: RunCli, pg_template: Db, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A role that may only SELECT reads everything; a branch — a dry run too, which
    writes in a transaction it rolls back — is one line saying so."""
    import psycopg

    server = _pg_server(request)
    with fresh(pg_template, tmp_path, request, "ro") as db, psycopg.connect(db.url) as conn:
        conn.execute("DROP ROLE IF EXISTS lgtt_reader")
        conn.execute("CREATE ROLE lgtt_reader LOGIN")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO lgtt_reader")
        conn.commit()
        reader = Db("postgres", server.url(db.url.rsplit("/", 1)[1], user="lgtt_reader"))
        before = db.digest()
        assert cmd(cli, reader, "timeline", "t")[0] == 0
        for extra in ((), ("--dry-run",)):
            r = cli("branch", "t", "--from", "3", *extra, "--db", reader.url)
            assert r.exit_code == 2 and r.stdout == "", r.stderr
            assert "permission denied" in r.stderr and "INSERT" in r.stderr
            assert len(r.stderr.strip().splitlines()) == 1
        assert db.digest() == before


# --- raw rows ------------------------------------------------------------------------------


def raw_rows(db: Db, thread: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row of a thread but its thread id, per table, in a fixed order."""
    if db.backend == "sqlite":
        with sqlite3.connect(f"file:{db.url}?mode=ro", uri=True) as conn:
            return {
                "checkpoints": conn.execute(
                    "SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint,"
                    " metadata FROM checkpoints WHERE thread_id = ? ORDER BY 1, 2",
                    (thread,),
                ).fetchall(),
                "writes": conn.execute(
                    "SELECT checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type,"
                    " value FROM writes WHERE thread_id = ? ORDER BY 1, 2, 3, 5",
                    (thread,),
                ).fetchall(),
            }
    import psycopg

    queries = {
        "checkpoints": "SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, type,"
        " checkpoint::text, metadata::text FROM checkpoints WHERE thread_id = %s",
        "checkpoint_blobs": "SELECT checkpoint_ns, channel, version, type, blob"
        " FROM checkpoint_blobs WHERE thread_id = %s",
        "checkpoint_writes": "SELECT checkpoint_ns, checkpoint_id, task_id, task_path, idx,"
        " channel, type, blob FROM checkpoint_writes WHERE thread_id = %s",
    }
    with psycopg.connect(db.url) as conn:
        return {
            table: sorted(tuple(r) for r in conn.execute(sql.encode(), (thread,)).fetchall())
            for table, sql in queries.items()
        }


def copied_rows(db: Db, thread: str, ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """What a copy of checkpoints ``ids`` of ``thread`` (with the writes of all but the
    last, and on PostgreSQL the blobs they name) must hold, from the source's rows."""
    rows = raw_rows(db, thread)
    out = {
        "checkpoints": [r for r in rows["checkpoints"] if r[0] == "" and r[1] in ids],
    }
    writes = "writes" if db.backend == "sqlite" else "checkpoint_writes"
    out[writes] = [r for r in rows[writes] if r[0] == "" and r[1] in ids[:-1]]
    if db.backend == "postgres":
        named = {
            ("", channel, version)
            for r in out["checkpoints"]
            for channel, version in json.loads(r[4])["channel_versions"].items()
        }
        out["checkpoint_blobs"] = [r for r in rows["checkpoint_blobs"] if r[:3] in named]
    return out


def stray_write(db: Db, source: str, thread: str) -> None:
    """One write row of ``source``'s first checkpoint, under ``thread`` (a leftover)."""
    if db.backend == "sqlite":
        with contextlib.closing(sqlite3.connect(db.url)) as conn, conn:
            conn.execute(
                "INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path,"
                " idx, channel, type, value) SELECT ?, checkpoint_ns, checkpoint_id, task_id,"
                " task_path, idx, channel, type, value FROM writes WHERE thread_id = ?"
                " ORDER BY checkpoint_id LIMIT 1",
                (thread, source),
            )
        return
    import psycopg

    with psycopg.connect(db.url) as conn:
        conn.execute(
            "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id,"
            " task_path, idx, channel, type, blob) SELECT %s, checkpoint_ns, checkpoint_id,"
            " task_id, task_path, idx, channel, type, blob FROM checkpoint_writes"
            " WHERE thread_id = %s ORDER BY checkpoint_id LIMIT 1",
            (thread, source),
        )
