"""Copying a thread's history into another thread, where writes go, and what they made.

A copy keeps checkpoint ids (ids are unique per thread, so the copy can keep them and
``lgtt diff`` aligns the two threads trivially) and copies rows byte for byte: nothing
is decoded, so no module named in a blob is ever imported, and the copy is exactly the
history LangGraph wrote. It is one transaction of plain ``INSERT … SELECT`` statements —
never ``INSERT OR REPLACE`` or ``ON CONFLICT``: an existing row makes the copy fail and
roll back, so a copy cannot rewrite a checkpoint, and an interrupted copy leaves the
database as it was.

The edit that follows a copy (LangGraph's ``update_state``) joins the same transaction:
:meth:`Target.transaction` yields LangGraph's own saver writing inside it, so copy +
edit commit together or not at all. Running the graph afterwards (``--run``, replay)
uses LangGraph's saver as any application does: LangGraph writes each step as it
always does, and a run that dies leaves a thread LangGraph can resume.

Per backend:

- SQLite (:class:`SqliteTarget`): ``BEGIN IMMEDIATE`` … ``COMMIT`` on one connection;
  the edit goes through ``SqliteSaver`` with its per-call commit turned off. For
  ``--dry-run`` and ``replay --no-keep`` the target is a scratch SQLite file in a
  temporary directory with the real database attached read-only: the real file is never
  opened for writing.
- PostgreSQL (:class:`PostgresTarget`): one autocommit connection; the copy and the edit
  run in one ``with conn.transaction()`` block (``REPEATABLE READ``: one snapshot of the
  source), the edit through ``PostgresSaver`` on that same connection (its own
  ``transaction()``/``pipeline()`` blocks nest inside ours: savepoints and pipeline
  syncs, never a commit). The three tables are copied with ``INSERT … SELECT``: the
  checkpoints, the ``checkpoint_blobs`` rows their ``channel_versions`` name, and the
  writes. For ``--dry-run`` and ``replay --no-keep`` everything — copy, edit, the
  replay's whole run — happens inside one outer transaction opened with
  ``force_rollback=True``: other sessions never see a row of it, and it is rolled back
  when the command ends, whatever happens. (So a dry run needs a role allowed to INSERT,
  as the real run does.) Outside a dry run, the graph runs on the same autocommit
  connection, as ``PostgresSaver.from_conn_string`` opens one.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver

from lgtt.errors import DatabaseError, UsageError
from lgtt.store.base import Store

if TYPE_CHECKING:
    import psycopg
    from langgraph.checkpoint.base import BaseCheckpointSaver

_CHUNK = 400
#: metadata keys LangGraph (or lgtt) writes itself; the others came from the run's config
_OWN_METADATA = frozenset(
    {"source", "step", "parents", "writes", "run_id", "thread_id", "checkpoint_ns"}
    | {"checkpoint_id", "counters_since_delta_snapshot"}
)


# --- what to copy ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopyPlan:
    """Rows of ``source_thread`` to copy into ``target_thread`` (root namespace ids)."""

    source_thread: str
    target_thread: str
    #: root-namespace checkpoint ids to copy, oldest first
    ids: tuple[str, ...]
    #: those of ``ids`` whose writes are copied too
    with_writes: frozenset[str]
    #: subgraph namespaces copied whole (subgraph runs started from copied writes)
    namespaces: tuple[str, ...] = ()
    #: number of root-namespace write rows copied
    writes: int = 0


def path_to(ids: Sequence[tuple[str, str | None]], index: int) -> list[str]:
    """Checkpoint ids from the root to ``ids[index]``, following parents."""
    parent = dict(ids)
    out: list[str] = []
    cid: str | None = ids[index][0]
    while cid is not None and cid in parent and cid not in out:
        out.append(cid)
        cid = parent[cid]
    return out[::-1]


def line_from(ids: Sequence[tuple[str, str | None]], index: int) -> list[str]:
    """``ids[index]`` and what followed it: the path to its newest descendant."""
    children: dict[str | None, list[str]] = {}
    for cid, pid in ids:
        children.setdefault(pid, []).append(cid)
    start = ids[index][0]
    stack, descendants = [start], []
    while stack:
        cid = stack.pop()
        descendants.append(cid)
        stack.extend(children.get(cid, []))
    newest = max(descendants)
    parent = dict(ids)
    line = [newest]
    while line[-1] != start:
        line.append(parent[line[-1]] or start)
    return line[::-1]


def plan_copy(
    store: Store,
    thread: str,
    ids: Sequence[str],
    target: str,
    *,
    with_writes: Iterable[str],
) -> CopyPlan:
    """What copying ``ids`` (and the writes of ``with_writes``) of ``thread`` involves."""
    wanted = frozenset(with_writes)
    rows = store.writes(thread, "", sorted(wanted), values=False) if wanted else []
    task_ids = {w.task_id for w in rows}
    spaces = tuple(
        s
        for s in store.namespaces(thread)
        if s and s.split("|", 1)[0].rsplit(":", 1)[-1] in task_ids
    )
    return CopyPlan(thread, target, tuple(ids), wanted, spaces, len(rows))


def writable(store: Store) -> str:
    """The database a write command opens: a SQLite file's path or a PostgreSQL URL."""
    from lgtt.store.sqlite import SqliteStore

    if isinstance(store, SqliteStore):
        return str(store.path)
    if _is_postgres_store(store):
        return store.url
    raise UsageError(
        f"{store.display}: lgtt writes (branch, replay) to SQLite and PostgreSQL databases only",
        "export the thread (`lgtt export`) and import it into one of those",
    )


def _is_postgres_store(store: Store) -> bool:
    try:
        from lgtt.store.postgres import PostgresStore
    except ImportError:  # the postgres extra is not installed: it cannot be one
        return False
    return isinstance(store, PostgresStore)


def run_config(
    thread: str, metadata: dict[str, Any], checkpoint_id: str | None = None
) -> RunnableConfig:
    """The config to continue a run with: the thread, and the configurable keys the
    recorded run used (LangGraph copies them into checkpoint metadata)."""
    extras = {
        k: v
        for k, v in metadata.items()
        if k not in _OWN_METADATA
        and not k.startswith(("lgtt_", "langgraph_", "__"))
        and isinstance(v, (str, int, float, bool))
    }
    configurable: dict[str, Any] = {**extras, "thread_id": thread, "checkpoint_ns": ""}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


# --- where writes go ---------------------------------------------------------------------


class Target(ABC):
    """A database lgtt writes to: the real one, or a scratch (``scratch=True``) whose
    writes never reach it."""

    #: the database as messages name it (no password)
    display: str
    scratch: bool
    #: the source thread's rows are there already (the database itself, or a transaction
    #: on it); False for a scratch file, where they have to be copied in to be read
    holds_source: bool

    @abstractmethod
    def transaction(self, serde: Any = None) -> AbstractContextManager[BaseCheckpointSaver[Any]]:
        """One transaction; yields LangGraph's saver writing inside it."""

    @abstractmethod
    def saver(self, serde: Any = None) -> BaseCheckpointSaver[Any]:
        """LangGraph's saver for runs: each step stored as LangGraph stores it."""

    @abstractmethod
    def thread_exists(self, thread: str) -> bool:
        """Whether any row (a checkpoint, a stray write, a blob) has this thread id."""

    @abstractmethod
    def copy(self, plan: CopyPlan) -> None:
        """Insert the planned rows under ``plan.target_thread`` (inside a transaction)."""

    @abstractmethod
    def ids(self, thread: str) -> list[tuple[str, str | None]]:
        """``(checkpoint_id, parent_id)`` of a root namespace in the target, oldest first."""

    @abstractmethod
    def reader(self) -> AbstractContextManager[Store]:
        """lgtt's own (strict) reader on the target, seeing what was written so far."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def _refuse_existing(self, plan: CopyPlan) -> None:
        if self.thread_exists(plan.target_thread):
            raise UsageError(f"thread {plan.target_thread!r} already exists", "pass --to NEW_NAME")


# -- SQLite ------------------------------------------------------------------------------


class _TxSaver(SqliteSaver):
    """LangGraph's SqliteSaver with its per-call commit turned off: every put joins the
    transaction :meth:`SqliteTarget.transaction` opened."""

    @contextmanager
    def cursor(self, transaction: bool = True) -> Iterator[sqlite3.Cursor]:
        with super().cursor(transaction=False) as cur:
            yield cur


class SqliteTarget(Target):
    """A SQLite file, or a scratch file with the real one attached read-only."""

    def __init__(self, path: Path, conn: sqlite3.Connection, src: str, scratch: bool) -> None:
        self.path = path
        self.display = str(path)
        self.conn = conn
        #: schema holding the source rows: ``main`` (same file) or ``src`` (attached)
        self.src = src
        self.scratch = scratch
        self.holds_source = not scratch
        self._others: list[sqlite3.Connection] = []
        self._src_task_path = "task_path" in {
            r[1] for r in conn.execute(f"PRAGMA {src}.table_info(writes)")
        }

    @contextmanager
    def transaction(self, serde: Any = None) -> Iterator[SqliteSaver]:
        saver = _TxSaver(self.conn, serde=serde)
        saver.setup()  # before BEGIN: its executescript would commit
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise DatabaseError(
                f"cannot write {self.path}: {exc}", "another process holds a write lock: retry"
            ) from None
        try:
            yield saver
        except BaseException:
            with suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def saver(self, serde: Any = None) -> SqliteSaver:
        """LangGraph's ordinary SqliteSaver on the target (commits each step)."""
        conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        self._others.append(conn)
        return SqliteSaver(conn, serde=serde)

    def thread_exists(self, thread: str) -> bool:
        return any(
            self.conn.execute(
                f"SELECT 1 FROM main.{table} WHERE thread_id = ? LIMIT 1", (thread,)
            ).fetchone()
            for table in ("checkpoints", "writes")
        )

    def copy(self, plan: CopyPlan) -> None:
        try:
            self._refuse_existing(plan)
            self._copy(plan)
        except sqlite3.Error as exc:
            raise DatabaseError(
                f"copying {plan.source_thread!r} into {plan.target_thread!r} failed: {exc}",
                "nothing was written",
            ) from None

    def _copy(self, plan: CopyPlan) -> None:
        src, tgt, origin = self.src, plan.target_thread, plan.source_thread
        tp = "task_path" if self._src_task_path else "''"
        cp_cols = "checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata"
        w_cols = "checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, value"
        w_sel = f"checkpoint_ns, checkpoint_id, task_id, {tp}, idx, channel, type, value"
        copied = 0
        for chunk in _chunks(plan.ids):
            marks = ",".join("?" * len(chunk))
            cur = self.conn.execute(
                f"INSERT INTO main.checkpoints (thread_id, {cp_cols}) SELECT ?, {cp_cols}"
                f" FROM {src}.checkpoints WHERE thread_id = ? AND checkpoint_ns = ''"
                f" AND checkpoint_id IN ({marks})",
                (tgt, origin, *chunk),
            )
            copied += cur.rowcount
        _check_copied(plan, copied)
        for chunk in _chunks(sorted(plan.with_writes)):
            marks = ",".join("?" * len(chunk))
            self.conn.execute(
                f"INSERT INTO main.writes (thread_id, {w_cols}) SELECT ?, {w_sel}"
                f" FROM {src}.writes WHERE thread_id = ? AND checkpoint_ns = ''"
                f" AND checkpoint_id IN ({marks})",
                (tgt, origin, *chunk),
            )
        for chunk in _chunks(list(plan.namespaces)):
            marks = ",".join("?" * len(chunk))
            self.conn.execute(
                f"INSERT INTO main.checkpoints (thread_id, {cp_cols}) SELECT ?, {cp_cols}"
                f" FROM {src}.checkpoints WHERE thread_id = ? AND checkpoint_ns IN ({marks})",
                (tgt, origin, *chunk),
            )
            self.conn.execute(
                f"INSERT INTO main.writes (thread_id, {w_cols}) SELECT ?, {w_sel}"
                f" FROM {src}.writes WHERE thread_id = ? AND checkpoint_ns IN ({marks})",
                (tgt, origin, *chunk),
            )

    def ids(self, thread: str) -> list[tuple[str, str | None]]:
        return list(
            self.conn.execute(
                "SELECT checkpoint_id, parent_checkpoint_id FROM main.checkpoints"
                " WHERE thread_id = ? AND checkpoint_ns = '' ORDER BY checkpoint_id",
                (thread,),
            )
        )

    @contextmanager
    def reader(self) -> Iterator[Store]:
        from lgtt.store.sqlite import SqliteStore

        with SqliteStore(str(self.path)) as store:
            yield store

    def close(self) -> None:
        for conn in [*self._others, self.conn]:
            with suppress(sqlite3.Error):
                conn.close()


def _check_copied(plan: CopyPlan, copied: int) -> None:
    if copied != len(plan.ids):
        raise DatabaseError(
            f"{len(plan.ids) - copied} checkpoint(s) of {plan.source_thread!r} vanished"
            " while copying",
            "another process is pruning this thread: retry",
        )


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _readonly_uri(path: Path) -> str:
    """How to attach the real database without changing it (as the read-only store does)."""
    with path.open("rb") as fh:
        head = fh.read(20)
    wal = len(head) >= 20 and head[18] == 2 and head[19] == 2
    query = "mode=ro&immutable=1" if wal and not Path(f"{path}-wal").exists() else "mode=ro"
    return f"file:{urllib.parse.quote(str(path.resolve()))}?{query}"


@contextmanager
def _open_sqlite(db: Path, *, scratch: bool) -> Iterator[SqliteTarget]:
    tmpdir: str | None = None
    if scratch:
        tmpdir = tempfile.mkdtemp(prefix="lgtt-scratch-")
        path = Path(tmpdir) / "scratch.sqlite"
        conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, uri=True, timeout=30
        )
        SqliteSaver(conn).setup()
        try:
            conn.execute("ATTACH DATABASE ? AS src", (_readonly_uri(db),))
        except sqlite3.Error as exc:
            conn.close()
            shutil.rmtree(tmpdir, ignore_errors=True)
            raise DatabaseError(f"cannot read {db}: {exc}") from None
        src = "src"
    else:
        path = db
        folder = path.resolve().parent
        if not os.access(path, os.W_OK) or not os.access(folder, os.W_OK):
            raise DatabaseError(
                f"{path} is read-only",
                "this command writes: check permissions, or try --dry-run",
            )
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        SqliteSaver(conn).setup()
        src = "main"
    target = SqliteTarget(path, conn, src, scratch)
    try:
        yield target
    finally:
        target.close()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


# -- PostgreSQL ---------------------------------------------------------------------------

#: LangGraph's PostgresSaver tables a copy writes to
_PG_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")


class PostgresTarget(Target):
    """A PostgreSQL database on one autocommit connection; ``scratch``: everything runs
    inside an outer transaction :func:`open_target` rolls back."""

    holds_source = True

    def __init__(self, url: str, conn: psycopg.Connection[Any], scratch: bool) -> None:
        from lgtt.store.postgres import display_url

        self.url = url
        self.display = display_url(url)
        self.conn = conn
        self.scratch = scratch
        self._columns = {t: self._table_columns(t) for t in _PG_TABLES}

    def _table_columns(self, table: str) -> list[str]:
        """Every column but ``thread_id``: a copy takes each one as stored (LangGraph may
        add columns; a copy that named them would silently drop the new ones)."""
        rows = self._q(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass(%s)"
            " AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (table,),
        )
        if not rows:
            raise DatabaseError(f"{self.display} has no `{table}` table")
        return [name for (name,) in rows if name != "thread_id"]

    def _q(self, query: Any, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        from psycopg.rows import tuple_row

        with self.conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(query, params or None)
            return cur.fetchall() if cur.description else []

    def _exec(self, query: Any, params: dict[str, Any]) -> int:
        with self.conn.cursor() as cur:
            cur.execute(query, params)
            return cur.rowcount

    @contextmanager
    def transaction(self, serde: Any = None) -> Iterator[BaseCheckpointSaver[Any]]:
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver

        try:
            with self.conn.transaction():  # a savepoint inside a dry run's outer one
                yield PostgresSaver(self.conn, serde=serde)
        except psycopg.Error as exc:
            raise self._error("writing", exc) from None

    def saver(self, serde: Any = None) -> BaseCheckpointSaver[Any]:
        """``PostgresSaver`` on the target's connection: autocommit (each step stored as
        LangGraph stores it), or, in a dry run, inside the transaction rolled back."""
        from langgraph.checkpoint.postgres import PostgresSaver

        return PostgresSaver(self.conn, serde=serde)

    def _error(self, doing: str, exc: BaseException) -> DatabaseError:
        import psycopg

        from lgtt.store.postgres import _first_line

        reason = _first_line(exc, self.url)
        if isinstance(exc, psycopg.errors.SerializationFailure):
            return DatabaseError(
                f"{doing} {self.display} failed: {reason}",
                "another process wrote the same rows meanwhile; nothing was written: retry",
            )
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            hint = "connect as a role that may INSERT into LangGraph's tables"
            if self.scratch:
                hint += " (a dry run writes in a transaction it rolls back)"
            return DatabaseError(f"{doing} {self.display} failed: {reason}", hint)
        return DatabaseError(f"{doing} {self.display} failed: {reason}", "nothing was written")

    def thread_exists(self, thread: str) -> bool:
        return any(
            self._q(f"SELECT 1 FROM {table} WHERE thread_id = %s LIMIT 1", (thread,))
            for table in _PG_TABLES
        )

    def copy(self, plan: CopyPlan) -> None:
        import psycopg

        try:
            self._refuse_existing(plan)
            self._copy(plan)
        except psycopg.Error as exc:
            raise self._error(
                f"copying {plan.source_thread!r} into {plan.target_thread!r} in", exc
            ) from None

    def _copy(self, plan: CopyPlan) -> None:
        from psycopg import sql

        def cols(table: str, prefix: str = "") -> sql.Composable:
            return sql.SQL(", ").join(
                sql.SQL(prefix) + sql.Identifier(c) for c in self._columns[table]
            )

        p = {
            "tgt": plan.target_thread,
            "src": plan.source_thread,
            "ids": list(plan.ids),
            "with_writes": sorted(plan.with_writes),
            "spaces": list(plan.namespaces),
        }
        copy_checkpoints = sql.SQL(
            "INSERT INTO checkpoints (thread_id, {c}) SELECT %(tgt)s, {c} FROM checkpoints"
            " WHERE thread_id = %(src)s AND checkpoint_ns = '' AND checkpoint_id = ANY(%(ids)s)"
        ).format(c=cols("checkpoints"))
        _check_copied(plan, self._exec(copy_checkpoints, p))
        copy_writes = sql.SQL(
            "INSERT INTO checkpoint_writes (thread_id, {c}) SELECT %(tgt)s, {c}"
            " FROM checkpoint_writes WHERE thread_id = %(src)s AND checkpoint_ns = ''"
            " AND checkpoint_id = ANY(%(with_writes)s)"
        ).format(c=cols("checkpoint_writes"))
        self._exec(copy_writes, p)
        if plan.namespaces:  # subgraph runs started from copied writes: whole namespaces
            for table in ("checkpoints", "checkpoint_writes"):
                self._exec(
                    sql.SQL(
                        "INSERT INTO {t} (thread_id, {c}) SELECT %(tgt)s, {c} FROM {t}"
                        " WHERE thread_id = %(src)s AND checkpoint_ns = ANY(%(spaces)s)"
                    ).format(t=sql.Identifier(table), c=cols(table)),
                    p,
                )
        # The channel values: the blob rows the copied checkpoints name by (namespace,
        # channel, version), each once however many checkpoints share it. A version
        # with an inline (primitive) value has no blob row and needs none.
        copy_blobs = sql.SQL(
            "INSERT INTO checkpoint_blobs (thread_id, {c}) SELECT %(tgt)s, {bc}"
            " FROM (SELECT DISTINCT c.checkpoint_ns, v.key, v.value FROM checkpoints c"
            "       CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') v"
            "       WHERE c.thread_id = %(tgt)s) AS r"
            " JOIN checkpoint_blobs b ON b.thread_id = %(src)s"
            "  AND b.checkpoint_ns = r.checkpoint_ns AND b.channel = r.key AND b.version = r.value"
        ).format(c=cols("checkpoint_blobs"), bc=cols("checkpoint_blobs", "b."))
        self._exec(copy_blobs, p)

    def ids(self, thread: str) -> list[tuple[str, str | None]]:
        return [
            (cid, pid)
            for cid, pid in self._q(
                "SELECT checkpoint_id, parent_checkpoint_id FROM checkpoints"
                " WHERE thread_id = %s AND checkpoint_ns = ''"
                ' ORDER BY checkpoint_id COLLATE "C"',
                (thread,),
            )
        ]

    @contextmanager
    def reader(self) -> Iterator[Store]:
        yield _connection_store(self.url, self.conn)


def _connection_store(url: str, conn: psycopg.Connection[Any]) -> Store:
    """lgtt's PostgreSQL reader on a connection of ours: it sees the rows this
    connection wrote, committed or not (a dry run's are never committed)."""
    from lgtt.store.postgres import PostgresStore, display_url

    class OnConnection(PostgresStore):
        """The store's reads, through ``conn`` instead of a read-only snapshot of its own."""

        def __init__(self) -> None:
            self.url = url
            self._display = display_url(url)
            self.conn = conn
            self._has_task_path = True
            self._check_schema()

        def close(self) -> None:
            """The connection is the target's: it closes it."""

    return OnConnection()


@contextmanager
def _open_postgres(url: str, *, scratch: bool) -> Iterator[PostgresTarget]:
    import psycopg

    from lgtt.store.postgres import connect

    # What PostgresSaver.from_conn_string opens (rows as tuples: PostgresSaver asks for
    # dict rows per cursor); ours so connection errors read as lgtt's.
    conn = connect(url, autocommit=True, prepare_threshold=0)
    # Our transactions (the copy + edit, a dry run's outer one) read one snapshot, as
    # SQLite's BEGIN IMMEDIATE does: every INSERT … SELECT sees the same source rows.
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        if scratch:
            try:
                with conn.transaction(force_rollback=True):
                    yield PostgresTarget(url, conn, scratch=True)
            except psycopg.Error as exc:  # one the steps inside did not make one line
                from lgtt.store.postgres import _first_line, display_url

                raise DatabaseError(
                    f"PostgreSQL {display_url(url)}: {_first_line(exc, url)}",
                    "nothing was written (a dry run is rolled back)",
                ) from None
        else:
            yield PostgresTarget(url, conn, scratch=False)
    finally:
        with suppress(psycopg.Error):
            conn.close()


@contextmanager
def open_target(db: str, *, scratch: bool) -> Iterator[Target]:
    """The database to write (``db`` as :func:`writable` gave it), or a scratch whose
    writes never reach it: a scratch SQLite file with ``db`` attached read-only, or on
    PostgreSQL a transaction that is rolled back at the end."""
    from lgtt.store import is_postgres_url

    if is_postgres_url(db):
        with _open_postgres(db, scratch=scratch) as pg:
            yield pg
    else:
        with _open_sqlite(Path(db), scratch=scratch) as lite:
            yield lite


# --- what a write produced ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """A thread's head after a write (or the checkpoint asked for): where it stands and
    its state."""

    thread_id: str
    checkpoint_id: str
    index: int
    status: str  # done | interrupted | failed | pending
    next: tuple[str, ...]
    values: Any
    error: Any = None
    interrupts: tuple[Any, ...] = ()


def read_outcome(target: Target, thread: str, at: str | None = None) -> Outcome:
    """Read a thread's head (or checkpoint ``at``) back with lgtt's own strict reader."""
    from lgtt.checkpoints import load_checkpoint
    from lgtt.refs import resolve_in
    from lgtt.threads import thread_status

    with target.reader() as store:
        ref = resolve_in(store, thread, at)
        detail = load_checkpoint(store, ref)
    tasks = list(detail.tasks)
    error = next((t.error for t in tasks if t.error is not None), detail.summary.error)
    return Outcome(
        thread_id=thread,
        checkpoint_id=ref.checkpoint_id,
        index=ref.index,
        status=thread_status(tasks),
        next=detail.summary.next,
        values=detail.values,
        error=error,
        interrupts=detail.summary.interrupts,
    )


def check_thread_name(name: str | None, what: str) -> None:
    """A ``--to`` name must be non-empty text that can be stored (valid Unicode)."""
    if name is None:
        return
    if not name.strip():
        raise UsageError("--to is empty", f"give the {what} thread a name")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"--to {name.encode('utf-8', 'backslashreplace').decode()} is not valid Unicode text",
            f"give the {what} thread a name in UTF-8",
        ) from None
