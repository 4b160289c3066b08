"""LangGraph's tables as rows, per backend: sizes, exact blobs, deletes and inserts.

The :class:`~lgtt.store.base.Store` interface reads decoded checkpoints; maintenance
needs the rows themselves (their sizes, their bytes, deleting and inserting them), so
each backend's SQL for that lives here, behind :class:`MaintenanceDb`.

- SQLite (``SqliteSaver``): ``checkpoints`` holds each checkpoint whole (channel values
  inline), ``writes`` the pending writes.
- PostgreSQL (``PostgresSaver``): ``checkpoints`` holds each checkpoint as JSONB with
  primitive values inline, ``checkpoint_blobs`` every other channel value once per
  (channel, version), ``checkpoint_writes`` the pending writes. A checkpoint refers to its
  blobs through its ``channel_versions``.

:func:`reading` works on the store's own read-only connection and snapshot;
:func:`writing` on a connection LangGraph's saver opened for writing, where
:meth:`MaintenanceDb.transaction` makes everything one transaction.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lgtt.errors import DatabaseError
from lgtt.maintenance import rawserde
from lgtt.store.base import Store, ts_from_blob_prefix, uuid6_time

# --- rows --------------------------------------------------------------------------------

CheckpointKey = tuple[str, str, str]
"""``(thread_id, checkpoint_ns, checkpoint_id)``."""

BlobKey = tuple[str, str, str, str]
"""``(thread_id, checkpoint_ns, channel, version)`` (PostgreSQL only)."""


@dataclass(frozen=True, slots=True)
class CheckpointEntry:
    """One checkpoint row, undecoded: where it sits and how big it is."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    #: the root-graph checkpoint a subgraph checkpoint's run started from
    #: (``metadata.parents[""]``); None for root checkpoints and when unknown
    root_parent: str | None
    step: int | None
    #: bytes of the row itself: checkpoint and metadata as stored
    row_bytes: int
    #: bytes of the checkpoint with all its channel values (SQLite: the blob; PostgreSQL:
    #: the JSONB plus the blobs it refers to; equal to row_bytes unless asked for)
    state_bytes: int

    @property
    def key(self) -> CheckpointKey:
        return (self.thread_id, self.checkpoint_ns, self.checkpoint_id)


@dataclass(frozen=True, slots=True)
class WriteGroup:
    """The writes stored against one checkpoint: how many and how big."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    count: int
    bytes: int

    @property
    def key(self) -> CheckpointKey:
        return (self.thread_id, self.checkpoint_ns, self.checkpoint_id)


@dataclass(frozen=True, slots=True)
class RawCheckpoint:
    """A checkpoint as LangGraph's SqliteSaver stores it: the whole checkpoint, one blob."""

    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    type: str | None
    blob: bytes | None
    metadata: dict[str, Any] | None
    #: the stored metadata bytes, only when they are not ``json.dumps(metadata)``
    metadata_raw: bytes | None = None


@dataclass(frozen=True, slots=True)
class RawWrite:
    checkpoint_ns: str
    checkpoint_id: str
    task_id: str
    task_path: str
    idx: int
    channel: str
    type: str | None
    blob: bytes | None


def metadata_bytes(metadata: dict[str, Any]) -> bytes:
    """Metadata as SqliteSaver stores it."""
    return json.dumps(metadata, ensure_ascii=False).encode("utf-8", "ignore")


def _parse_metadata(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if isinstance(raw, dict):
        return raw
    try:
        md = json.loads(raw)
    except (ValueError, TypeError):
        return None
    return md if isinstance(md, dict) else None


def _root_parent(md: dict[str, Any] | None, ns: str) -> str | None:
    if not ns or not md:
        return None
    parents = md.get("parents")
    root = parents.get("") if isinstance(parents, dict) else None
    return root if isinstance(root, str) else None


def _step(md: dict[str, Any] | None) -> int | None:
    step = (md or {}).get("step")
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def _chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- the interface ---------------------------------------------------------------------


class MaintenanceDb(ABC):
    """LangGraph's rows in one database, for the maintenance commands."""

    backend: str
    url: str

    # -- reading ---------------------------------------------------------------------

    @abstractmethod
    def database_size(self) -> dict[str, int]:
        """Bytes used, by part (files for SQLite, tables for PostgreSQL)."""

    @abstractmethod
    def thread_ids(self) -> list[str]:
        """Every thread with a row in any of LangGraph's tables."""

    @abstractmethod
    def checkpoint_index(
        self, thread_ids: Sequence[str] | None = None, *, state_bytes: bool = False
    ) -> list[CheckpointEntry]:
        """Every checkpoint of the threads (all when None), undecoded, ordered by
        thread, namespace and id."""

    @abstractmethod
    def write_index(self, thread_ids: Sequence[str] | None = None) -> list[WriteGroup]:
        """Count and bytes of the writes stored against each checkpoint."""

    def blob_index(self, thread_ids: Sequence[str] | None = None) -> dict[BlobKey, int]:
        """PostgreSQL's channel-value blobs and their sizes (none elsewhere)."""
        return {}

    def versions(
        self, thread_ids: Sequence[str] | None = None
    ) -> dict[CheckpointKey, set[tuple[str, str]]]:
        """The ``(channel, version)`` blobs each checkpoint refers to (PostgreSQL only)."""
        return {}

    @abstractmethod
    def last_updates(self) -> dict[str, str | None]:
        """Thread → time of its newest checkpoint (any namespace), ISO-8601."""

    @abstractmethod
    def thread_exists(self, thread_id: str) -> bool:
        """Whether any row of any table belongs to the thread."""

    @abstractmethod
    def raw_checkpoints(self, thread_id: str) -> Iterator[RawCheckpoint]:
        """The thread's checkpoints whole (SqliteSaver's form), ordered by namespace and id."""

    @abstractmethod
    def raw_writes(self, thread_id: str) -> Iterator[RawWrite]:
        """The thread's writes as stored, ordered by namespace, checkpoint, task, index."""

    # -- writing (inside :meth:`transaction`) ------------------------------------------

    @abstractmethod
    def transaction(self) -> Any:
        """A context manager: one transaction, committed on success, else rolled back."""

    @abstractmethod
    def delete_threads(self, thread_ids: Sequence[str]) -> int:
        """Delete every row of the threads; returns the checkpoints deleted."""

    @abstractmethod
    def delete_checkpoints(self, keys: Sequence[CheckpointKey]) -> int:
        """Delete these checkpoints and the writes stored against them."""

    def delete_blobs(self, keys: Sequence[BlobKey]) -> int:
        return 0

    @abstractmethod
    def insert_checkpoint(self, thread_id: str, cp: RawCheckpoint) -> None:
        """Store one checkpoint as new; never replaces an existing row."""

    @abstractmethod
    def insert_writes(self, thread_id: str, writes: Sequence[RawWrite]) -> None:
        """Store writes as new; never replaces an existing row."""

    def vacuum(self) -> None:  # noqa: B027 - optional
        """Give freed space back (outside a transaction)."""


# --- SQLite ------------------------------------------------------------------------------


class SqliteDb(MaintenanceDb):
    backend = "sqlite"

    def __init__(self, conn: Any, path: Path, url: str) -> None:
        self.conn = conn
        self.path = path
        self.url = url
        cols = {r[1] for r in conn.execute("PRAGMA table_info(writes)")}
        self._task_path = "task_path" if "task_path" in cols else "''"

    def _where_threads(self, thread_ids: Sequence[str] | None, alias: str = "") -> str:
        if thread_ids is None:
            return ""
        col = f"{alias}thread_id" if alias else "thread_id"
        return f" WHERE {col} IN ({','.join('?' * len(thread_ids))})"

    def _q(self, sql: str, params: Sequence[Any] = ()) -> Any:
        import sqlite3

        try:
            return self.conn.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"{self.path}: {exc}") from None

    def _per_threads(
        self, sql: str, thread_ids: Sequence[str] | None, suffix: str = "", alias: str = ""
    ) -> Iterator[tuple[Any, ...]]:
        if thread_ids is None:
            yield from self._q(sql + suffix)
            return
        for chunk in _chunks(list(thread_ids)):
            yield from self._q(sql + self._where_threads(chunk, alias) + suffix, chunk)

    def database_size(self) -> dict[str, int]:
        out = {}
        for suffix, name in (("", "file"), ("-wal", "wal"), ("-shm", "shm")):
            p = Path(f"{self.path}{suffix}")
            if p.exists():
                out[name] = p.stat().st_size
        return out

    def thread_ids(self) -> list[str]:
        rows = self._q(
            "SELECT thread_id FROM checkpoints UNION SELECT thread_id FROM writes ORDER BY 1"
        )
        return [str(r[0]) for r in rows]

    def checkpoint_index(
        self, thread_ids: Sequence[str] | None = None, *, state_bytes: bool = False
    ) -> list[CheckpointEntry]:
        sql = (
            "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, metadata,"
            " coalesce(length(checkpoint), 0), coalesce(length(metadata), 0) FROM checkpoints"
        )
        out = []
        for tid, ns, cid, pid, md_raw, cp_len, md_len in self._per_threads(
            sql, thread_ids, " ORDER BY thread_id, checkpoint_ns, checkpoint_id"
        ):
            md = _parse_metadata(md_raw)
            out.append(
                CheckpointEntry(
                    str(tid), ns, cid, pid, _root_parent(md, ns), _step(md), cp_len + md_len, cp_len
                )
            )
        if thread_ids is not None:
            out.sort(key=lambda e: (e.thread_id, e.checkpoint_ns, e.checkpoint_id))
        return out

    def write_index(self, thread_ids: Sequence[str] | None = None) -> list[WriteGroup]:
        sql = (
            "SELECT thread_id, checkpoint_ns, checkpoint_id, COUNT(*),"
            " coalesce(SUM(length(value)), 0) FROM writes"
        )
        return [
            WriteGroup(str(t), ns, cid, n, b)
            for t, ns, cid, n, b in self._per_threads(
                sql, thread_ids, " GROUP BY thread_id, checkpoint_ns, checkpoint_id"
            )
        ]

    def last_updates(self) -> dict[str, str | None]:
        sql = """
        SELECT c.thread_id, c.checkpoint_id, substr(c.checkpoint, 1, 96)
          FROM (SELECT thread_id, MAX(checkpoint_id) AS head FROM checkpoints
                 GROUP BY thread_id) h
          JOIN checkpoints c ON c.thread_id = h.thread_id AND c.checkpoint_id = h.head
        """
        out: dict[str, str | None] = {}
        for tid, cid, prefix in self._q(sql):
            out.setdefault(str(tid), ts_from_blob_prefix(prefix) or uuid6_time(cid))
        return out

    def thread_exists(self, thread_id: str) -> bool:
        row = self._q(
            "SELECT 1 FROM checkpoints WHERE thread_id = ?"
            " UNION ALL SELECT 1 FROM writes WHERE thread_id = ? LIMIT 1",
            (thread_id, thread_id),
        ).fetchone()
        return row is not None

    def raw_checkpoints(self, thread_id: str) -> Iterator[RawCheckpoint]:
        cur = self._q(
            "SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata"
            " FROM checkpoints WHERE thread_id = ? ORDER BY checkpoint_ns, checkpoint_id",
            (thread_id,),
        )
        for ns, cid, pid, type_, blob, md_raw in cur:
            raw = md_raw.encode() if isinstance(md_raw, str) else md_raw
            md = _parse_metadata(md_raw)
            keep_raw = raw is not None and (md is None or metadata_bytes(md) != raw)
            yield RawCheckpoint(ns, cid, pid, type_, blob, md, raw if keep_raw else None)

    def raw_writes(self, thread_id: str) -> Iterator[RawWrite]:
        cur = self._q(
            f"SELECT checkpoint_ns, checkpoint_id, task_id, {self._task_path}, idx, channel,"
            " type, value FROM writes WHERE thread_id = ?"
            " ORDER BY checkpoint_ns, checkpoint_id, task_id, idx",
            (thread_id,),
        )
        for ns, cid, task_id, task_path, idx, channel, type_, blob in cur:
            yield RawWrite(ns, cid, task_id, task_path or "", idx, channel, type_, blob)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        import sqlite3

        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise DatabaseError(
                f"cannot write to {self.path}: {exc}", "is another process writing to it?"
            ) from None
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            with suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise DatabaseError(f"cannot write to {self.path}: {exc}") from None

    def delete_threads(self, thread_ids: Sequence[str]) -> int:
        n = 0
        for chunk in _chunks(list(thread_ids)):
            where = self._where_threads(chunk)
            n += self._q(f"DELETE FROM checkpoints{where}", chunk).rowcount
            self._q(f"DELETE FROM writes{where}", chunk)
        return n

    def delete_checkpoints(self, keys: Sequence[CheckpointKey]) -> int:
        where = " WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?"
        n = 0
        for key in keys:
            n += self._q(f"DELETE FROM checkpoints{where}", key).rowcount
            self._q(f"DELETE FROM writes{where}", key)
        return n

    def insert_checkpoint(self, thread_id: str, cp: RawCheckpoint) -> None:
        md = cp.metadata_raw if cp.metadata_raw is not None else metadata_bytes(cp.metadata or {})
        self._q(
            "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id,"
            " parent_checkpoint_id, type, checkpoint, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (thread_id, cp.checkpoint_ns, cp.checkpoint_id, cp.parent_checkpoint_id, cp.type,
             cp.blob, md),
        )  # fmt: skip

    def insert_writes(self, thread_id: str, writes: Sequence[RawWrite]) -> None:
        import sqlite3

        # A file from before SqliteSaver added ``task_path`` has no such column.
        with_path = self._task_path == "task_path"
        cols = "task_id, task_path" if with_path else "task_id"
        marks = ", ".join("?" * (9 if with_path else 8))
        try:
            self.conn.executemany(
                f"INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, {cols},"
                f" idx, channel, type, value) VALUES ({marks})",
                [
                    (thread_id, w.checkpoint_ns, w.checkpoint_id, w.task_id,
                     *((w.task_path,) if with_path else ()), w.idx, w.channel, w.type, w.blob)
                    for w in writes
                ],
            )  # fmt: skip
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"{self.path}: {exc}") from None

    def vacuum(self) -> None:
        self._q("VACUUM")
        self._q("PRAGMA wal_checkpoint(TRUNCATE)")


# --- PostgreSQL --------------------------------------------------------------------------

PG_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations")
_PAGE = 100


class PostgresDb(MaintenanceDb):
    backend = "postgres"

    def __init__(self, conn: Any, url: str) -> None:
        self.conn = conn
        self.url = url

    def _cur(self) -> Any:
        from psycopg.rows import tuple_row

        return self.conn.cursor(row_factory=tuple_row)

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        try:
            with self._cur() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DatabaseError(f"PostgreSQL: {first}") from None

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        import psycopg

        try:
            with self._cur() as cur:
                cur.execute(sql, params)
                return int(cur.rowcount or 0)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DatabaseError(f"PostgreSQL: {first}") from None

    @staticmethod
    def _filter(thread_ids: Sequence[str] | None, col: str = "thread_id") -> tuple[str, list[Any]]:
        if thread_ids is None:
            return "", []
        return f" WHERE {col} = ANY(%s)", [list(thread_ids)]

    def database_size(self) -> dict[str, int]:
        out = {}
        for table in PG_TABLES:
            rows = self._q(
                "SELECT CASE WHEN to_regclass(%s) IS NULL THEN NULL"
                " ELSE pg_total_relation_size(to_regclass(%s)) END",
                (table, table),
            )
            if rows and rows[0][0] is not None:
                out[table] = int(rows[0][0])
        return out

    def thread_ids(self) -> list[str]:
        rows = self._q(
            "SELECT thread_id FROM checkpoints UNION SELECT thread_id FROM checkpoint_writes"
            " UNION SELECT thread_id FROM checkpoint_blobs ORDER BY 1"
        )
        return [str(r[0]) for r in rows]

    def checkpoint_index(
        self, thread_ids: Sequence[str] | None = None, *, state_bytes: bool = False
    ) -> list[CheckpointEntry]:
        where, params = self._filter(thread_ids, "c.thread_id")
        blobs = (
            """(SELECT coalesce(SUM(octet_length(b.blob)), 0)
                  FROM jsonb_each_text(c.checkpoint -> 'channel_versions') v
                  JOIN checkpoint_blobs b ON b.thread_id = c.thread_id
                   AND b.checkpoint_ns = c.checkpoint_ns AND b.channel = v.key
                   AND b.version = v.value)"""
            if state_bytes
            else "0"
        )
        rows = self._q(
            f"""SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id,
                       c.metadata -> 'parents' ->> '', c.metadata -> 'step',
                       pg_column_size(c.checkpoint), pg_column_size(c.metadata), {blobs}
                  FROM checkpoints c{where}
                 ORDER BY c.thread_id, c.checkpoint_ns, c.checkpoint_id""",
            params,
        )
        out = []
        for tid, ns, cid, pid, root, step, cp_len, md_len, blob_len in rows:
            out.append(
                CheckpointEntry(
                    str(tid),
                    ns,
                    cid,
                    pid,
                    root if ns else None,
                    step if isinstance(step, int) and not isinstance(step, bool) else None,
                    int(cp_len) + int(md_len),
                    int(cp_len) + int(blob_len),
                )
            )
        return out

    def write_index(self, thread_ids: Sequence[str] | None = None) -> list[WriteGroup]:
        where, params = self._filter(thread_ids)
        rows = self._q(
            "SELECT thread_id, checkpoint_ns, checkpoint_id, COUNT(*),"
            f" coalesce(SUM(octet_length(blob)), 0) FROM checkpoint_writes{where}"
            " GROUP BY thread_id, checkpoint_ns, checkpoint_id",
            params,
        )
        return [WriteGroup(str(t), ns, cid, int(n), int(b)) for t, ns, cid, n, b in rows]

    def blob_index(self, thread_ids: Sequence[str] | None = None) -> dict[BlobKey, int]:
        where, params = self._filter(thread_ids)
        rows = self._q(
            "SELECT thread_id, checkpoint_ns, channel, version,"
            f" coalesce(octet_length(blob), 0) FROM checkpoint_blobs{where}",
            params,
        )
        return {(str(t), ns, ch, v): int(n) for t, ns, ch, v, n in rows}

    def versions(
        self, thread_ids: Sequence[str] | None = None
    ) -> dict[CheckpointKey, set[tuple[str, str]]]:
        where, params = self._filter(thread_ids, "c.thread_id")
        rows = self._q(
            "SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, v.key, v.value"
            " FROM checkpoints c"
            f" CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') v{where}",
            params,
        )
        out: dict[CheckpointKey, set[tuple[str, str]]] = {}
        for t, ns, cid, ch, ver in rows:
            out.setdefault((str(t), ns, cid), set()).add((ch, ver))
        return out

    def last_updates(self) -> dict[str, str | None]:
        rows = self._q(
            """SELECT DISTINCT ON (thread_id) thread_id, checkpoint_id, checkpoint ->> 'ts'
                 FROM checkpoints ORDER BY thread_id, checkpoint_id DESC"""
        )
        return {str(t): ts or uuid6_time(cid) for t, cid, ts in rows}

    def thread_exists(self, thread_id: str) -> bool:
        rows = self._q(
            "SELECT EXISTS (SELECT 1 FROM checkpoints WHERE thread_id = %s)"
            " OR EXISTS (SELECT 1 FROM checkpoint_writes WHERE thread_id = %s)"
            " OR EXISTS (SELECT 1 FROM checkpoint_blobs WHERE thread_id = %s)",
            (thread_id,) * 3,
        )
        return bool(rows[0][0])

    def raw_checkpoints(self, thread_id: str) -> Iterator[RawCheckpoint]:
        """Each checkpoint joined back with its blobs into SqliteSaver's whole form.

        Read a page at a time (memory stays bounded by a page of checkpoints); blobs
        are unpacked lazily and packed back, so their bytes are kept exactly.
        """
        after = ("", "")
        first = True
        while True:
            rows = self._q(
                f"""SELECT c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id, c.type,
                           c.checkpoint, c.metadata,
                           (SELECT array_agg(array[b.channel::bytea, b.type::bytea, b.blob])
                              FROM jsonb_each_text(c.checkpoint -> 'channel_versions') v
                              JOIN checkpoint_blobs b ON b.thread_id = c.thread_id
                               AND b.checkpoint_ns = c.checkpoint_ns AND b.channel = v.key
                               AND b.version = v.value)
                      FROM checkpoints c
                     WHERE c.thread_id = %s
                       AND ({"TRUE" if first else "(c.checkpoint_ns, c.checkpoint_id) > (%s, %s)"})
                     ORDER BY c.checkpoint_ns, c.checkpoint_id LIMIT {_PAGE}""",
                (thread_id,) if first else (thread_id, *after),
            )
            for ns, cid, pid, _type, cp, md, blobs in rows:
                yield RawCheckpoint(ns, cid, pid, *_join_blobs(cid, cp, blobs), _parse_metadata(md))
            if len(rows) < _PAGE:
                return
            after, first = (rows[-1][0], rows[-1][1]), False

    def raw_writes(self, thread_id: str) -> Iterator[RawWrite]:
        rows = self._q(
            "SELECT checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob"
            " FROM checkpoint_writes WHERE thread_id = %s"
            " ORDER BY checkpoint_ns, checkpoint_id, task_id, idx",
            (thread_id,),
        )
        for ns, cid, task_id, task_path, idx, channel, type_, blob in rows:
            yield RawWrite(ns, cid, task_id, task_path or "", idx, channel, type_, _bytes(blob))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        import psycopg

        try:
            with self.conn.transaction():
                self._exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                yield
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DatabaseError(f"PostgreSQL: {first}", "nothing was changed; try again") from None

    def delete_threads(self, thread_ids: Sequence[str]) -> int:
        ids = list(thread_ids)
        n = self._exec("DELETE FROM checkpoints WHERE thread_id = ANY(%s)", (ids,))
        self._exec("DELETE FROM checkpoint_writes WHERE thread_id = ANY(%s)", (ids,))
        self._exec("DELETE FROM checkpoint_blobs WHERE thread_id = ANY(%s)", (ids,))
        return n

    def delete_checkpoints(self, keys: Sequence[CheckpointKey]) -> int:
        by_ns: dict[tuple[str, str], list[str]] = {}
        for t, ns, cid in keys:
            by_ns.setdefault((t, ns), []).append(cid)
        n = 0
        for (t, ns), ids in by_ns.items():
            params = (t, ns, ids)
            where = " WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = ANY(%s)"
            n += self._exec(f"DELETE FROM checkpoints{where}", params)
            self._exec(f"DELETE FROM checkpoint_writes{where}", params)
        return n

    def delete_blobs(self, keys: Sequence[BlobKey]) -> int:
        by_channel: dict[tuple[str, str, str], list[str]] = {}
        for t, ns, ch, ver in keys:
            by_channel.setdefault((t, ns, ch), []).append(ver)
        n = 0
        for (t, ns, ch), vers in by_channel.items():
            n += self._exec(
                "DELETE FROM checkpoint_blobs WHERE thread_id = %s AND checkpoint_ns = %s"
                " AND channel = %s AND version = ANY(%s)",
                (t, ns, ch, vers),
            )
        return n

    def _saver(self) -> Any:
        from langgraph.checkpoint.postgres import PostgresSaver

        return PostgresSaver(self.conn, serde=rawserde.RawSerializer())

    def insert_checkpoint(self, thread_id: str, cp: RawCheckpoint) -> None:
        """Through ``PostgresSaver.put``: it splits the checkpoint into JSONB and blobs as
        it does for a run. Its serializer here packs the lazily unpacked values back to
        their original bytes, so no stored object is ever loaded."""
        if cp.blob is None or cp.type is None:
            raise DatabaseError(f"checkpoint {cp.checkpoint_id} has no stored data to import")
        try:
            checkpoint = rawserde.unpack(cp.type, cp.blob)
        except Exception as exc:
            raise DatabaseError(
                f"checkpoint {cp.checkpoint_id} cannot be decoded ({exc})",
                "PostgreSQL stores a checkpoint by channel: a damaged one cannot be split",
            ) from None
        if not isinstance(checkpoint, dict) or not isinstance(
            checkpoint.get("channel_values"), dict
        ):
            raise DatabaseError(f"checkpoint {cp.checkpoint_id} is not a LangGraph checkpoint")
        config = {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": cp.checkpoint_ns,
                "checkpoint_id": cp.parent_checkpoint_id,
            }
        }
        self._saver().put(
            config,
            checkpoint,
            cp.metadata or {},
            dict(checkpoint.get("channel_versions") or {}),
        )

    def insert_writes(self, thread_id: str, writes: Sequence[RawWrite]) -> None:
        import psycopg

        try:
            with self._cur() as cur:
                cur.executemany(
                    "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id,"
                    " task_id, task_path, idx, channel, type, blob)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [
                        (thread_id, w.checkpoint_ns, w.checkpoint_id, w.task_id, w.task_path,
                         w.idx, w.channel, w.type, w.blob or b"")
                        for w in writes
                    ],
                )  # fmt: skip
        except psycopg.Error as exc:
            raise DatabaseError(f"PostgreSQL: {exc}") from None

    def vacuum(self) -> None:
        import psycopg

        old = self.conn.autocommit
        try:
            self.conn.autocommit = True
            with self._cur() as cur:
                cur.execute("VACUUM (ANALYZE) checkpoints, checkpoint_blobs, checkpoint_writes")
        except psycopg.Error as exc:
            raise DatabaseError(f"PostgreSQL: VACUUM failed: {exc}") from None
        finally:
            with suppress(Exception):
                self.conn.autocommit = old


def _bytes(value: Any) -> bytes | None:
    return bytes(value) if value is not None else None


def _join_blobs(cid: str, skeleton: Any, blobs: Any) -> tuple[str, bytes]:
    """A PostgreSQL checkpoint (JSONB, inline primitives) plus its blobs → one blob."""
    if not isinstance(skeleton, dict):
        raise DatabaseError(f"checkpoint {cid} is not a LangGraph checkpoint")
    cp = dict(skeleton)
    values = dict(cp.get("channel_values") or {})
    for channel, type_, blob in blobs or []:
        t = bytes(type_).decode()
        if t == "empty":
            continue
        try:
            values[bytes(channel).decode()] = rawserde.unpack(t, _bytes(blob))
        except Exception as exc:
            raise DatabaseError(
                f"checkpoint {cid}: a channel value cannot be read ({exc})"
            ) from None
    cp["channel_values"] = values
    return rawserde.pack(cp)


# --- opening -----------------------------------------------------------------------------


def _is_sqlite(store: Store) -> bool:
    from lgtt.store.sqlite import SqliteStore

    return isinstance(store, SqliteStore)


def shown_url(store: Store) -> str:
    """The database as messages name it (a PostgreSQL password hidden)."""
    return store.display


def _pg_read_conn(store: Store) -> Any:
    conn = getattr(store, "conn", None)
    if conn is None:
        raise DatabaseError(f"cannot read {shown_url(store)} for maintenance")
    return conn


@contextmanager
def reading(store: Store) -> Iterator[MaintenanceDb]:
    """The store's own read-only connection (and snapshot), as rows."""
    if _is_sqlite(store):
        yield SqliteDb(store.conn, store.path, shown_url(store))  # type: ignore[attr-defined]
    else:
        yield PostgresDb(_pg_read_conn(store), shown_url(store))


@contextmanager
def writing(store: Store) -> Iterator[MaintenanceDb]:
    """A connection opened for writing by LangGraph's own saver on the same database.

    The store's read connection is closed first: on SQLite a reader holding a snapshot
    would keep a writer from committing.
    """
    store.close()
    with store.saver() as saver_:
        saver: Any = saver_
        conn = saver.conn
        if _is_sqlite(store):
            conn.isolation_level = None  # transactions are ours: BEGIN … COMMIT
            yield SqliteDb(conn, store.path, shown_url(store))  # type: ignore[attr-defined]
        else:
            from psycopg import Connection

            if not isinstance(conn, Connection):
                raise DatabaseError(
                    "lgtt needs one PostgreSQL connection to write in one transaction"
                )
            yield PostgresDb(conn, shown_url(store))


def postgres_without_tables(url: str) -> bool:
    """A reachable PostgreSQL database without LangGraph's tables (import creates them).

    Anything else (refused connection, bad URL) is False: opening the store reports it.
    """
    try:
        from lgtt.store.postgres import connect

        with connect(url) as conn:
            row = conn.execute("SELECT to_regclass('checkpoints') IS NULL").fetchone()
            return bool(row and row[0])
    except Exception:
        return False


def create_postgres_tables(url: str) -> None:
    """LangGraph's tables, by ``PostgresSaver.setup()`` (its migrations)."""
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row

    from lgtt.store.postgres import connect

    try:
        with connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row) as conn:
            PostgresSaver(conn).setup()
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseError(f"PostgreSQL: cannot create LangGraph's tables: {first}") from None


def new_sqlite_file(path: Path) -> None:
    """Create an empty LangGraph SQLite database (tables by SqliteSaver.setup)."""
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    if path.parent and not path.parent.exists():
        raise DatabaseError(f"cannot create {path}: no directory {path.parent}")
    try:
        conn = sqlite3.connect(str(path))
        try:
            SqliteSaver(conn).setup()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        with suppress(OSError):
            os.remove(path)
        raise DatabaseError(f"cannot create {path}: {exc}") from None


def entries_by_thread(entries: Iterable[CheckpointEntry]) -> dict[str, list[CheckpointEntry]]:
    out: dict[str, list[CheckpointEntry]] = {}
    for e in entries:
        out.setdefault(e.thread_id, []).append(e)
    return out
