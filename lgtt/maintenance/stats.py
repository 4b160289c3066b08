"""``lgtt stats``: how big a database is, which threads make it so, and how fast they grow.

Sizes are the bytes LangGraph stored, read with SQL (no checkpoint decoded):

- a thread's ``bytes``: its checkpoint rows (checkpoint and metadata), its writes'
  values and, on PostgreSQL, its channel-value blobs;
- a checkpoint's size (``first/last_checkpoint_bytes``, ``largest_checkpoints``): the
  checkpoint with all its channel values — SQLite's blob; on PostgreSQL the JSONB plus
  the blobs its ``channel_versions`` refer to.

Every SQLite checkpoint stores every channel value in full, so a thread whose state
grows by ``g`` bytes a step stores about ``g·n²/2`` bytes after ``n`` steps: the
``growth_per_step`` of a thread (last minus first checkpoint size, over the steps
between them) is the number to watch. PostgreSQL stores a value once per version, which
for an append-only list (chat messages) grows the same way.

Read-only: nothing here writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lgtt import channels as ch
from lgtt.maintenance.db import CheckpointEntry, reading, shown_url
from lgtt.maintenance.rawserde import packed_size
from lgtt.store.base import Store

LARGEST = 10


@dataclass(frozen=True, slots=True)
class ThreadStats:
    thread_id: str
    checkpoints: int
    namespaces: int
    writes: int
    checkpoint_bytes: int
    write_bytes: int
    blob_bytes: int
    #: checkpoints of the root namespace, which the growth figures are about
    root_checkpoints: int
    first_checkpoint_bytes: int | None
    last_checkpoint_bytes: int | None
    #: steps between the first and the last root checkpoint (metadata ``step``)
    steps: int | None
    growth_per_step: float | None
    updated_at: str | None

    @property
    def bytes(self) -> int:
        return self.checkpoint_bytes + self.write_bytes + self.blob_bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "checkpoints": self.checkpoints,
            "namespaces": self.namespaces,
            "writes": self.writes,
            "bytes": self.bytes,
            "checkpoint_bytes": self.checkpoint_bytes,
            "write_bytes": self.write_bytes,
            "blob_bytes": self.blob_bytes,
            "root_checkpoints": self.root_checkpoints,
            "first_checkpoint_bytes": self.first_checkpoint_bytes,
            "last_checkpoint_bytes": self.last_checkpoint_bytes,
            "steps": self.steps,
            "growth_per_step": self.growth_per_step,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class CheckpointSize:
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    step: int | None
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "checkpoint_ns": self.checkpoint_ns,
            "checkpoint_id": self.checkpoint_id,
            "step": self.step,
            "bytes": self.bytes,
        }


@dataclass(frozen=True, slots=True)
class KeySize:
    key: str
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "bytes": self.bytes}


@dataclass(frozen=True, slots=True)
class Stats:
    backend: str
    url: str
    size: dict[str, int]
    threads: list[ThreadStats]
    largest_checkpoints: list[CheckpointSize]
    #: with one thread: its head and the sizes of the state keys there
    thread_id: str | None = None
    head_checkpoint_id: str | None = None
    largest_keys: list[KeySize] | None = None
    head_unreadable: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "database": {
                "backend": self.backend,
                "bytes": sum(self.size.values()),
                "parts": dict(self.size),
            },
            "totals": {
                "threads": len(self.threads),
                "checkpoints": sum(t.checkpoints for t in self.threads),
                "writes": sum(t.writes for t in self.threads),
                "bytes": sum(t.bytes for t in self.threads),
            },
            "threads": [t.to_json() for t in self.threads],
            "largest_checkpoints": [c.to_json() for c in self.largest_checkpoints],
        }
        if self.thread_id is not None:
            doc["thread_id"] = self.thread_id
            doc["head_checkpoint_id"] = self.head_checkpoint_id
            doc["largest_keys"] = (
                [k.to_json() for k in self.largest_keys] if self.largest_keys is not None else None
            )
        return doc


def _growth(root: Sequence[CheckpointEntry]) -> tuple[int | None, float | None]:
    if len(root) < 2:
        return None, None
    first, last = root[0], root[-1]
    delta = last.state_bytes - first.state_bytes
    steps = (
        last.step - first.step
        if first.step is not None and last.step is not None and last.step != first.step
        else None
    )
    per = steps if steps and steps > 0 else len(root) - 1
    return steps, round(delta / per, 1)


def collect_stats(store: Store, thread_id: str | None = None) -> Stats:
    """Sizes of the whole database, or of one thread with its largest state keys."""
    only = [thread_id] if thread_id is not None else None
    with reading(store) as db:
        size = db.database_size()
        entries = db.checkpoint_index(only, state_bytes=True)
        writes = db.write_index(only)
        blobs = db.blob_index(only)
        updates = db.last_updates()
        backend = db.backend
    by_thread: dict[str, list[CheckpointEntry]] = {}
    for e in entries:
        by_thread.setdefault(e.thread_id, []).append(e)
    write_count: dict[str, int] = {}
    write_bytes: dict[str, int] = {}
    for w in writes:
        write_count[w.thread_id] = write_count.get(w.thread_id, 0) + w.count
        write_bytes[w.thread_id] = write_bytes.get(w.thread_id, 0) + w.bytes
    blob_bytes: dict[str, int] = {}
    for (tid, *_), n in blobs.items():
        blob_bytes[tid] = blob_bytes.get(tid, 0) + n
    threads = []
    for tid in sorted(set(by_thread) | set(write_count) | set(blob_bytes)):
        rows = by_thread.get(tid, [])
        root = [e for e in rows if e.checkpoint_ns == ""]  # ordered by id: creation order
        steps, growth = _growth(root)
        threads.append(
            ThreadStats(
                thread_id=tid,
                checkpoints=len(rows),
                namespaces=len({e.checkpoint_ns for e in rows}),
                writes=write_count.get(tid, 0),
                checkpoint_bytes=sum(e.row_bytes for e in rows),
                write_bytes=write_bytes.get(tid, 0),
                blob_bytes=blob_bytes.get(tid, 0),
                root_checkpoints=len(root),
                first_checkpoint_bytes=root[0].state_bytes if root else None,
                last_checkpoint_bytes=root[-1].state_bytes if root else None,
                steps=steps,
                growth_per_step=growth,
                updated_at=updates.get(tid),
            )
        )
    threads.sort(key=lambda t: (-t.bytes, t.thread_id))
    largest = sorted(entries, key=lambda e: (-e.state_bytes, e.thread_id, e.checkpoint_id))
    stats = Stats(
        backend=backend,
        url=shown_url(store),
        size=size,
        threads=threads,
        largest_checkpoints=[
            CheckpointSize(e.thread_id, e.checkpoint_ns, e.checkpoint_id, e.step, e.state_bytes)
            for e in largest[:LARGEST]
        ],
    )
    if thread_id is None:
        return stats
    return _with_keys(store, stats, thread_id)


def _with_keys(store: Store, stats: Stats, thread_id: str) -> Stats:
    """The head's state keys by size: which value makes every checkpoint big."""
    ids = store.checkpoint_ids(thread_id, "")
    if not ids:
        return replace(stats, thread_id=thread_id)
    head_id = ids[-1][0]
    row = store.get_checkpoint(thread_id, "", head_id, lazy=True)
    if row is None or row.checkpoint is None:
        why = row.unreadable if row is not None else "deleted meanwhile"
        return replace(stats, thread_id=thread_id, head_checkpoint_id=head_id, head_unreadable=why)
    values = row.checkpoint.get("channel_values") or {}
    keys = [KeySize(str(k), packed_size(v)) for k, v in values.items() if not ch.is_internal(k)]
    keys.sort(key=lambda k: (-k.bytes, k.key))
    return replace(stats, thread_id=thread_id, head_checkpoint_id=head_id, largest_keys=keys)
