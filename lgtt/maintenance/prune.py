"""``lgtt prune``: retention — keep the last N checkpoints of threads, delete whole threads.

What is deleted:

- ``--thread T`` and ``--older-than D``: every row of the thread (checkpoints of all
  namespaces, writes, PostgreSQL blobs). A thread's last update is its newest
  checkpoint's time, in any namespace.
- ``--keep N``: of each thread (or of THREAD), the N newest checkpoints of the root
  namespace are kept — by checkpoint id, i.e. creation order, forks included — and the
  older ones deleted with the writes stored against them.

  A subgraph checkpoint goes with the root checkpoint its run started from
  (``metadata.parents[""]``): deleted when that one is deleted, kept when it is kept or
  when it names no root checkpoint of the thread (lgtt never deletes what it cannot
  place). The newest checkpoint of a persistent subgraph namespace (one without a task
  id, from ``checkpointer=True``) is always kept: the subgraph's next run starts there.

Never breaks a kept checkpoint: its writes stay, and on PostgreSQL a blob is deleted
only when a deleted checkpoint referred to it and no kept checkpoint of its namespace
does. The oldest kept checkpoint keeps its ``parent_checkpoint_id`` (prune only
deletes, it never rewrites a row), which then names a deleted checkpoint. LangGraph
handles that: ``get_state_history`` lists the kept checkpoints and stops,
``get_state`` and ``invoke(None, config)`` work from any kept checkpoint; only
``get_state(parent_config)`` of the oldest one finds nothing.

``vacuum`` (after the transaction): SQLite ``VACUUM`` (and a WAL checkpoint), which
gives the space back to the file system; PostgreSQL a plain ``VACUUM (ANALYZE)`` of
LangGraph's tables, which makes the space reusable for new rows without locking them
(``VACUUM FULL`` would return it to the OS but locks the tables: the operator's call).

Dry run unless ``yes``: the plan is computed on the store's read-only snapshot and
nothing is written. With ``yes`` it is computed again inside one write transaction
(SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``REPEATABLE READ``) and carried out there, by
explicit ids, so checkpoints a running graph adds meanwhile are never deleted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lgtt.errors import RefError, UsageError
from lgtt.maintenance.db import (
    BlobKey,
    CheckpointEntry,
    CheckpointKey,
    MaintenanceDb,
    WriteGroup,
    reading,
    writing,
)
from lgtt.store.base import Store

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` → a timedelta."""
    m = _DURATION.match(text.lower())
    if not m:
        raise UsageError(
            f"cannot read duration {text!r}",
            "write a number and a unit: s, m, h, d or w (e.g. 30d)",
        )
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


@dataclass(frozen=True, slots=True)
class ThreadPrune:
    thread_id: str
    action: str  # "delete" (the whole thread) or "trim" (--keep)
    reason: str
    checkpoints_deleted: int
    checkpoints_kept: int
    writes_deleted: int
    blobs_deleted: int
    bytes_freed: int

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "action": self.action,
            "reason": self.reason,
            "checkpoints_deleted": self.checkpoints_deleted,
            "checkpoints_kept": self.checkpoints_kept,
            "writes_deleted": self.writes_deleted,
            "blobs_deleted": self.blobs_deleted,
            "bytes_freed": self.bytes_freed,
        }


@dataclass(frozen=True, slots=True)
class PrunePlan:
    threads: list[ThreadPrune]
    whole_threads: list[str]
    checkpoints: list[CheckpointKey]
    blobs: list[BlobKey]
    dry_run: bool = True
    vacuum: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.threads

    def totals(self) -> dict[str, int]:
        return {
            "threads_deleted": len(self.whole_threads),
            "threads_trimmed": sum(1 for t in self.threads if t.action == "trim"),
            "checkpoints_deleted": sum(t.checkpoints_deleted for t in self.threads),
            "writes_deleted": sum(t.writes_deleted for t in self.threads),
            "blobs_deleted": sum(t.blobs_deleted for t in self.threads),
            "bytes_freed": sum(t.bytes_freed for t in self.threads),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "threads": [t.to_json() for t in self.threads],
            "totals": self.totals(),
            "vacuum": self.vacuum,
        }


@dataclass(frozen=True, slots=True)
class PruneRequest:
    keep: int | None = None
    #: THREAD: limits ``keep`` to this thread
    keep_thread: str | None = None
    threads: tuple[str, ...] = ()
    older_than: timedelta | None = None
    older_than_text: str | None = None

    def check(self) -> None:
        if self.keep_thread is not None and self.keep is None:
            raise UsageError(
                f"THREAD ({self.keep_thread}) only limits --keep",
                f"to delete the whole thread use --thread {self.keep_thread}",
            )
        if self.keep is None and not self.threads and self.older_than is None:
            raise UsageError(
                "nothing to prune: say what to delete",
                "use --keep N, --thread T or --older-than 30d",
            )
        if self.keep is not None and self.keep < 1:
            raise UsageError("--keep must be at least 1", "to delete whole threads use --thread")


def _is_persistent(ns: str) -> bool:
    """A ``checkpointer=True`` subgraph's namespace has no task id in it."""
    return any(":" not in part for part in ns.split("|"))


def plan_prune(db: MaintenanceDb, req: PruneRequest, now: datetime | None = None) -> PrunePlan:
    """What ``req`` deletes in this database, computed from rows (nothing decoded)."""
    req.check()
    known = set(db.thread_ids())
    for t in (*req.threads, *([req.keep_thread] if req.keep_thread else [])):
        if t not in known:
            raise RefError(f"no thread {t!r} in {db.url}", "run `lgtt threads` to list them")
    whole: dict[str, str] = {t: "--thread" for t in req.threads}
    notes: list[str] = []
    if req.older_than is not None:
        now = now or datetime.now(UTC)
        cutoff = now - req.older_than
        for tid, ts in sorted(db.last_updates().items()):
            when = _parse_time(ts)
            if when is None:
                notes.append(f"{tid}: last update unknown, not deleted")
            elif when < cutoff and tid not in whole:
                whole[tid] = f"last update {when.isoformat(timespec='seconds')}"
    trim: list[str] = []
    if req.keep is not None:
        candidates = [req.keep_thread] if req.keep_thread else sorted(known)
        trim = [t for t in candidates if t not in whole]
    involved = sorted(set(whole) | set(trim))
    if not involved:
        return PrunePlan([], [], [], [], notes=notes)
    only: Sequence[str] | None = None if len(involved) == len(known) else involved
    entries = db.checkpoint_index(only)
    writes = db.write_index(only)
    blob_sizes = db.blob_index(only)
    versions = db.versions(trim if len(trim) != len(known) else None) if trim and blob_sizes else {}
    by_thread: dict[str, list[CheckpointEntry]] = {}
    for e in entries:
        by_thread.setdefault(e.thread_id, []).append(e)
    writes_of: dict[CheckpointKey, WriteGroup] = {w.key: w for w in writes}
    writes_by_thread: dict[str, list[WriteGroup]] = {}
    for w in writes:
        writes_by_thread.setdefault(w.thread_id, []).append(w)
    blobs_by_thread: dict[str, list[BlobKey]] = {}
    for key in blob_sizes:
        blobs_by_thread.setdefault(key[0], []).append(key)

    threads: list[ThreadPrune] = []
    delete_keys: list[CheckpointKey] = []
    delete_blobs: list[BlobKey] = []
    for tid in sorted(whole):
        rows = by_thread.get(tid, [])
        ws = writes_by_thread.get(tid, [])
        bs = blobs_by_thread.get(tid, [])
        threads.append(
            ThreadPrune(
                tid,
                "delete",
                whole[tid],
                checkpoints_deleted=len(rows),
                checkpoints_kept=0,
                writes_deleted=sum(w.count for w in ws),
                blobs_deleted=len(bs),
                bytes_freed=sum(e.row_bytes for e in rows)
                + sum(w.bytes for w in ws)
                + sum(blob_sizes[b] for b in bs),
            )
        )
    for tid in trim:
        rows = by_thread.get(tid, [])
        gone = _trim(rows, req.keep or 0)
        if not gone:
            continue
        gone_set = set(gone)
        kept = [e for e in rows if e.key not in gone_set]
        ws = [writes_of[k] for k in gone if k in writes_of]
        garbage = _garbage_blobs(gone, [e.key for e in kept], versions, blob_sizes)
        delete_keys.extend(gone)
        delete_blobs.extend(garbage)
        row_bytes = {e.key: e.row_bytes for e in rows}
        threads.append(
            ThreadPrune(
                tid,
                "trim",
                f"keep the last {req.keep}",
                checkpoints_deleted=len(gone),
                checkpoints_kept=len(kept),
                writes_deleted=sum(w.count for w in ws),
                blobs_deleted=len(garbage),
                bytes_freed=sum(row_bytes[k] for k in gone)
                + sum(w.bytes for w in ws)
                + sum(blob_sizes[b] for b in garbage),
            )
        )
    return PrunePlan(threads, sorted(whole), delete_keys, delete_blobs, notes=notes)


def _trim(rows: Sequence[CheckpointEntry], keep: int) -> list[CheckpointKey]:
    """The checkpoints ``--keep`` deletes from one thread's rows."""
    root = sorted((e for e in rows if e.checkpoint_ns == ""), key=lambda e: e.checkpoint_id)
    deleted_root = {e.checkpoint_id for e in root[: max(len(root) - keep, 0)]}
    if not deleted_root:
        return []
    gone = [e.key for e in root if e.checkpoint_id in deleted_root]
    newest: dict[str, str] = {}
    for e in rows:
        if e.checkpoint_ns and e.checkpoint_id > newest.get(e.checkpoint_ns, ""):
            newest[e.checkpoint_ns] = e.checkpoint_id
    for e in rows:
        if not e.checkpoint_ns or e.root_parent not in deleted_root:
            continue
        if _is_persistent(e.checkpoint_ns) and newest[e.checkpoint_ns] == e.checkpoint_id:
            continue
        gone.append(e.key)
    return gone


def _garbage_blobs(
    gone: Sequence[CheckpointKey],
    kept: Sequence[CheckpointKey],
    versions: dict[CheckpointKey, set[tuple[str, str]]],
    blob_sizes: dict[BlobKey, int],
) -> list[BlobKey]:
    """Blobs a deleted checkpoint referred to and no kept one of its namespace does."""
    if not versions:
        return []
    referenced: set[BlobKey] = set()
    for k in kept:
        referenced.update((k[0], k[1], c, v) for c, v in versions.get(k, ()))
    freed: set[BlobKey] = set()
    for k in gone:
        freed.update((k[0], k[1], c, v) for c, v in versions.get(k, ()))
    return sorted(b for b in freed - referenced if b in blob_sizes)


def _parse_time(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        when = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def execute_plan(db: MaintenanceDb, plan: PrunePlan) -> None:
    """Carry out a plan computed in the same transaction."""
    if plan.whole_threads:
        db.delete_threads(plan.whole_threads)
    if plan.checkpoints:
        db.delete_checkpoints(plan.checkpoints)
    if plan.blobs:
        db.delete_blobs(plan.blobs)


def prune(
    store: Store,
    req: PruneRequest,
    *,
    yes: bool = False,
    vacuum: bool = False,
    now: datetime | None = None,
) -> PrunePlan:
    """Plan (and with ``yes`` carry out, in one transaction) a prune."""
    req.check()
    if not yes:
        with reading(store) as db:
            return plan_prune(db, req, now)
    with writing(store) as db:
        with db.transaction():
            plan = plan_prune(db, req, now)
            execute_plan(db, plan)
        sizes = None
        if vacuum:
            before = sum(db.database_size().values())
            db.vacuum()
            after = sum(db.database_size().values())
            sizes = {"backend": db.backend, "bytes_before": before, "bytes_after": after}
    return PrunePlan(
        plan.threads,
        plan.whole_threads,
        plan.checkpoints,
        plan.blobs,
        dry_run=False,
        vacuum=sizes,
        notes=plan.notes,
    )
