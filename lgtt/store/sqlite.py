"""SQLite checkpoint databases (LangGraph's ``SqliteSaver``), opened read-only.

Reading never changes the file: a database in WAL mode with no ``-wal`` file beside it
(nobody has it open) is opened ``immutable`` so SQLite creates no ``-wal``/``-shm``
files; otherwise it is opened ``mode=ro`` with a busy timeout, and every query of one
command runs in one read transaction, so a process writing at the same time is seen as
a consistent snapshot.
"""

from __future__ import annotations

import json
import os
import sqlite3
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from lgtt.errors import DatabaseError
from lgtt.store.base import (
    TRIGGER_CHANNEL_SQL,
    CheckpointRow,
    Store,
    ThreadHead,
    WriteRow,
    checkpoint_shape_error,
    decode_error_value,
    decode_writes,
    order_namespaces,
    ts_from_blob_prefix,
    uuid6_time,
)

_SQLITE_MAGIC = b"SQLite format 3\x00"
_NEEDED = {
    "checkpoints": {
        "thread_id",
        "checkpoint_ns",
        "checkpoint_id",
        "parent_checkpoint_id",
        "type",
        "checkpoint",
        "metadata",
    },
    "writes": {"thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx", "channel", "type"},
}
_SEP_FIELD = "\x1f"
_SEP_ROW = "\x1e"
_CHUNK = 500


def sqlite_path(url: str) -> Path:
    """``sqlite:///rel/path``, ``sqlite:////abs/path`` or a plain path → a Path."""
    if url.startswith("sqlite:"):
        rest = url[len("sqlite:") :]
        if rest.startswith("///"):
            rest = rest[3:]
        elif rest.startswith("//"):
            rest = rest[2:]
        return Path(urllib.parse.unquote(rest))
    return Path(url)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DatabaseError(
            f"no database at {path}",
            "check --db / LGTT_DB, or run `lgtt demo` to create one",
        )
    if path.is_dir():
        raise DatabaseError(f"{path} is a directory, not a database file", "pass the file's path")
    try:
        with path.open("rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        raise DatabaseError(
            f"cannot read {path}: {exc.strerror}", "check its permissions"
        ) from None
    if not head:
        raise DatabaseError(f"{path} is empty, not a LangGraph checkpoint database")
    if not head.startswith(_SQLITE_MAGIC):
        raise DatabaseError(
            f"{path} is not a SQLite database",
            "pass a LangGraph SqliteSaver file, or a postgresql:// URL",
        )


def _is_wal(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(20)
    return len(head) >= 20 and head[18] == 2 and head[19] == 2


class SqliteStore(Store):
    def __init__(self, url: str) -> None:
        self.url = url
        self.path = sqlite_path(url)
        _check_file(self.path)
        self.conn = self._connect()
        self._has_task_path = True
        self._check_schema()

    # -- opening ------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        abspath = urllib.parse.quote(str(self.path.resolve()))
        wal_file = Path(f"{self.path}-wal")
        immutable = _is_wal(self.path) and not wal_file.exists()
        query = "mode=ro&immutable=1" if immutable else "mode=ro"
        try:
            conn = sqlite3.connect(
                f"file:{abspath}?{query}", uri=True, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA query_only = 1")
            conn.execute("BEGIN")  # one snapshot for the whole command
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"cannot open {self.path} as SQLite: {exc}", "is it a complete database file?"
            ) from None
        return conn

    def _check_schema(self) -> None:
        try:
            tables = {
                r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"cannot read {self.path}: {exc}") from None
        if "checkpoints" not in tables:
            raise DatabaseError(
                f"{self.path} has no LangGraph checkpoint tables",
                "pass the file your SqliteSaver writes to",
            )
        for table, needed in _NEEDED.items():
            if table not in tables:
                raise DatabaseError(f"{self.path} has a `checkpoints` table but no `{table}` table")
            cols = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
            missing = needed - cols
            if missing:
                raise DatabaseError(
                    f"{self.path}: table `{table}` lacks columns {', '.join(sorted(missing))}"
                    " (a LangGraph saver version lgtt does not know)",
                    "open it with langgraph-checkpoint-sqlite 2.x/3.x tables",
                )
            if table == "writes":
                self._has_task_path = "task_path" in cols

    def close(self) -> None:
        with suppress(sqlite3.Error):
            self.conn.close()

    def _q(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"cannot read {self.path}: {exc}") from None

    # -- reading ------------------------------------------------------------------

    def threads(self) -> list[ThreadHead]:
        sql = f"""
        SELECT h.thread_id, h.n, c.checkpoint_id, c.parent_checkpoint_id, c.metadata,
               substr(c.checkpoint, 1, 96),
               (SELECT group_concat(w.task_id || char(31) || {self._tp("w")} || char(31)
                                    || w.channel, char(30))
                  FROM writes w WHERE w.thread_id = c.thread_id AND w.checkpoint_ns = ''
                   AND w.checkpoint_id = c.checkpoint_id),
               (SELECT w.type FROM writes w WHERE w.thread_id = c.thread_id
                   AND w.checkpoint_ns = '' AND w.checkpoint_id = c.checkpoint_id
                   AND w.channel = '__error__' ORDER BY w.task_id, w.idx LIMIT 1),
               (SELECT w.value FROM writes w WHERE w.thread_id = c.thread_id
                   AND w.checkpoint_ns = '' AND w.checkpoint_id = c.checkpoint_id
                   AND w.channel = '__error__' ORDER BY w.task_id, w.idx LIMIT 1),
               (SELECT group_concat({self._tp("w")} || char(31) || w.channel, char(30))
                  FROM writes w WHERE w.thread_id = c.thread_id AND w.checkpoint_ns = ''
                   AND w.checkpoint_id = c.parent_checkpoint_id AND {TRIGGER_CHANNEL_SQL})
          FROM (SELECT thread_id, MAX(checkpoint_id) AS head, COUNT(*) AS n
                  FROM checkpoints WHERE checkpoint_ns = '' GROUP BY thread_id) h
          JOIN checkpoints c ON c.thread_id = h.thread_id AND c.checkpoint_ns = ''
                            AND c.checkpoint_id = h.head
        """
        out = []
        for tid, n, cid, pid, md, prefix, hw, et, ev, pt in self._q(sql):
            error = decode_error_value(et, ev)
            out.append(
                ThreadHead(
                    thread_id=str(tid),
                    checkpoints=n,
                    head_id=cid,
                    parent_id=pid,
                    metadata=_metadata(md),
                    created_at=ts_from_blob_prefix(prefix) or uuid6_time(cid),
                    head_writes=[(a, b, c) for a, b, c in (r.split(_SEP_FIELD) for r in _rows(hw))],
                    error=error,
                    parent_triggers=[(a, b) for a, b in (r.split(_SEP_FIELD) for r in _rows(pt))],
                )
            )
        return out

    def _tp(self, alias: str) -> str:
        return f"{alias}.task_path" if self._has_task_path else "''"

    def thread_ids(self) -> list[str]:
        return [str(r[0]) for r in self._q("SELECT DISTINCT thread_id FROM checkpoints")]

    def has_thread(self, thread_id: str) -> bool:
        row = self._q(
            "SELECT 1 FROM checkpoints WHERE thread_id = ? LIMIT 1", (thread_id,)
        ).fetchone()
        return row is not None

    def checkpoint_ids(self, thread_id: str, ns: str = "") -> list[tuple[str, str | None]]:
        return list(
            self._q(
                "SELECT checkpoint_id, parent_checkpoint_id FROM checkpoints"
                " WHERE thread_id = ? AND checkpoint_ns = ? ORDER BY checkpoint_id",
                (thread_id, ns),
            )
        )

    def iter_checkpoints(
        self,
        thread_id: str,
        ns: str = "",
        *,
        ids: Sequence[str] | None = None,
        lazy: bool = False,
    ) -> Iterator[CheckpointRow]:
        base = (
            "SELECT checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata"
            " FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ?"
        )
        if ids is None:
            cur = self._q(base + " ORDER BY checkpoint_id", (thread_id, ns))
            for row in cur:
                yield self._row(thread_id, ns, row, lazy)
            return
        wanted = sorted(set(ids))
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            cur = self._q(
                f"{base} AND checkpoint_id IN ({marks}) ORDER BY checkpoint_id",
                (thread_id, ns, *chunk),
            )
            for row in cur:
                yield self._row(thread_id, ns, row, lazy)

    def get_checkpoint(
        self, thread_id: str, ns: str, checkpoint_id: str, *, lazy: bool = False
    ) -> CheckpointRow | None:
        row = self._q(
            "SELECT checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata"
            " FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
            (thread_id, ns, checkpoint_id),
        ).fetchone()
        return self._row(thread_id, ns, row, lazy) if row else None

    @staticmethod
    def _row(thread_id: str, ns: str, row: tuple[Any, ...], lazy: bool) -> CheckpointRow:
        from lgtt import serde

        cid, pid, type_, blob, md = row
        checkpoint: dict[str, Any] | None = None
        unreadable = None
        try:
            decoded = serde.loads(type_, blob, lazy=lazy)
            problem = checkpoint_shape_error(decoded)
            if problem:
                raise serde.DecodeError(problem)
            checkpoint = decoded
        except serde.DecodeError as exc:
            unreadable = str(exc)
        return CheckpointRow(
            thread_id=thread_id,
            checkpoint_ns=ns,
            checkpoint_id=cid,
            parent_checkpoint_id=pid,
            metadata=_metadata(md),
            checkpoint=checkpoint,
            unreadable=unreadable,
            size=len(blob) if blob else 0,
        )

    def writes(
        self,
        thread_id: str,
        ns: str = "",
        checkpoint_ids: Sequence[str] | None = None,
        *,
        values: bool | Sequence[str] = True,
    ) -> list[WriteRow]:
        if values is True:
            value_sql, vparams = "type, value", list[str]()
        elif values is False or not values:
            value_sql, vparams = "NULL, NULL", list[str]()
        else:
            chans = list(values)
            marks = ",".join("?" * len(chans))
            value_sql = (
                f"CASE WHEN channel IN ({marks}) THEN type END,"
                f" CASE WHEN channel IN ({marks}) THEN value END"
            )
            vparams = chans + chans
        base = (
            f"SELECT checkpoint_id, task_id, {self._tp('writes')}, idx, channel, {value_sql}"
            " FROM writes WHERE thread_id = ? AND checkpoint_ns = ?"
        )
        order = " ORDER BY checkpoint_id, task_id, idx"
        rows: list[tuple[Any, ...]] = []
        if checkpoint_ids is None:
            rows = list(self._q(base + order, (*vparams, thread_id, ns)))
        else:
            wanted = sorted(set(checkpoint_ids))
            for i in range(0, len(wanted), _CHUNK):
                chunk = wanted[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows.extend(
                    self._q(
                        f"{base} AND checkpoint_id IN ({marks}){order}",
                        (*vparams, thread_id, ns, *chunk),
                    )
                )
        return decode_writes(rows)

    def namespaces(self, thread_id: str) -> list[str]:
        found = [
            r[0]
            for r in self._q(
                "SELECT DISTINCT checkpoint_ns FROM checkpoints WHERE thread_id = ?", (thread_id,)
            )
        ]
        return order_namespaces(found)

    # -- writing through LangGraph ------------------------------------------------

    @contextmanager
    def saver(self) -> Iterator[Any]:
        """LangGraph's SqliteSaver on this file, for commands that write."""
        from langgraph.checkpoint.sqlite import SqliteSaver

        if not os.access(self.path, os.W_OK):
            raise DatabaseError(
                f"{self.path} is read-only", "this command writes: check permissions"
            )
        conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        try:
            yield SqliteSaver(conn)
        finally:
            conn.close()


def _rows(joined: str | None) -> list[str]:
    return joined.split(_SEP_ROW) if joined else []


def _metadata(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        md = json.loads(raw)
    except (ValueError, TypeError):
        return {"$unreadable": True}
    return md if isinstance(md, dict) else {}
