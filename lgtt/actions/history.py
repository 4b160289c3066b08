"""Copying a thread's history into another thread, where writes go, and what they made.

A copy keeps checkpoint ids (ids are unique per thread, so the copy can keep them and
``lgtt diff`` aligns the two threads trivially) and copies rows byte for byte: nothing
is decoded, so no module named in a blob is ever imported, and the copy is exactly the
history LangGraph wrote. It is one SQLite transaction (``BEGIN IMMEDIATE`` … ``COMMIT``)
of plain ``INSERT`` statements — never ``INSERT OR REPLACE``: an existing row makes the
copy fail and roll back, so a copy cannot rewrite a checkpoint, and an interrupted copy
leaves the database as it was.

The edit that follows a copy (LangGraph's ``update_state``) joins the same transaction:
:meth:`Target.transaction` yields LangGraph's own ``SqliteSaver`` whose per-call commit
is turned off, so copy + edit commit together or not at all. Running the graph
afterwards (``--run``, replay) uses an ordinary ``SqliteSaver``: LangGraph writes each
step as it always does, and a run that dies leaves a thread LangGraph can resume.

A :class:`Target` is the database itself, or — for ``--dry-run`` and
``replay --no-keep`` — a scratch SQLite file in a temporary directory with the real
database attached read-only: the real file is never opened for writing.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver

from lgtt.errors import DatabaseError, UsageError
from lgtt.store.base import Store

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


def sqlite_file(store: Store) -> Path:
    """The file of a SQLite store; other backends cannot be written by lgtt yet."""
    from lgtt.store.sqlite import SqliteStore

    if not isinstance(store, SqliteStore):
        raise UsageError(
            f"{store.display}: lgtt writes (branch, replay) to SQLite databases only, for now",
            "export the thread to SQLite, or use LangGraph's update_state directly",
        )
    return store.path


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


class _TxSaver(SqliteSaver):
    """LangGraph's SqliteSaver with its per-call commit turned off: every put joins the
    transaction :meth:`Target.transaction` opened."""

    @contextmanager
    def cursor(self, transaction: bool = True) -> Iterator[sqlite3.Cursor]:
        with super().cursor(transaction=False) as cur:
            yield cur


class Target:
    """A database lgtt writes to: the real file, or a scratch copy (``scratch=True``)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, src: str, scratch: bool) -> None:
        self.path = path
        self.conn = conn
        #: schema holding the source rows: ``main`` (same file) or ``src`` (attached)
        self.src = src
        self.scratch = scratch
        self._others: list[sqlite3.Connection] = []
        self._src_task_path = "task_path" in {
            r[1] for r in conn.execute(f"PRAGMA {src}.table_info(writes)")
        }

    @contextmanager
    def transaction(self, serde: Any = None) -> Iterator[SqliteSaver]:
        """One transaction; yields LangGraph's saver writing inside it."""
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
        """LangGraph's ordinary SqliteSaver on the target (commits each step), for runs."""
        conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        self._others.append(conn)
        return SqliteSaver(conn, serde=serde)

    def thread_exists(self, thread: str) -> bool:
        """Whether any row (a checkpoint, or a stray write) already has this thread id."""
        return any(
            self.conn.execute(
                f"SELECT 1 FROM main.{table} WHERE thread_id = ? LIMIT 1", (thread,)
            ).fetchone()
            for table in ("checkpoints", "writes")
        )

    def copy(self, plan: CopyPlan) -> None:
        """Insert the planned rows under ``plan.target_thread`` (inside a transaction)."""
        try:
            self._copy(plan)
        except sqlite3.Error as exc:
            raise DatabaseError(
                f"copying {plan.source_thread!r} into {plan.target_thread!r} failed: {exc}",
                "nothing was written",
            ) from None

    def _copy(self, plan: CopyPlan) -> None:
        if self.thread_exists(plan.target_thread):
            raise UsageError(f"thread {plan.target_thread!r} already exists", "pass --to NEW_NAME")
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
        if copied != len(plan.ids):
            raise DatabaseError(
                f"{len(plan.ids) - copied} checkpoint(s) of {origin!r} vanished while copying",
                "another process is pruning this thread: retry",
            )
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
        """``(checkpoint_id, parent_id)`` of a root namespace in the target, oldest first."""
        return list(
            self.conn.execute(
                "SELECT checkpoint_id, parent_checkpoint_id FROM main.checkpoints"
                " WHERE thread_id = ? AND checkpoint_ns = '' ORDER BY checkpoint_id",
                (thread,),
            )
        )

    def close(self) -> None:
        for conn in [*self._others, self.conn]:
            with suppress(sqlite3.Error):
                conn.close()


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
def open_target(db: Path, *, scratch: bool) -> Iterator[Target]:
    """The database to write: ``db`` itself, or a scratch file with ``db`` attached
    read-only (``db`` is then never opened for writing)."""
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
    target = Target(path, conn, src, scratch)
    try:
        yield target
    finally:
        target.close()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


# --- what a write produced ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """A thread's head after a write: where it stands and its state."""

    thread_id: str
    checkpoint_id: str
    index: int
    status: str  # done | interrupted | failed | pending
    next: tuple[str, ...]
    values: Any
    error: Any = None
    interrupts: tuple[Any, ...] = ()


def read_outcome(path: Path, thread: str) -> Outcome:
    """Read a thread's head back with lgtt's own (strict, read-only) reader."""
    from lgtt.checkpoints import load_checkpoint
    from lgtt.refs import resolve_in
    from lgtt.store.sqlite import SqliteStore
    from lgtt.threads import thread_status

    with SqliteStore(str(path)) as store:
        ref = resolve_in(store, thread, None)
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
