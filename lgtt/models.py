"""What lgtt shows, as frozen dataclasses. ``to_json()`` is the scripting contract.

The keys produced here are the ones DESIGN.md §4 promises: add keys, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lgtt.channels import Task
from lgtt.jsonable import to_jsonable


@dataclass(frozen=True, slots=True)
class CheckpointSummary:
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    index: int
    parent_checkpoint_id: str | None
    step: int | None
    source: str | None
    created_at: str | None
    ran: tuple[str, ...]
    next: tuple[str, ...]
    changed: tuple[str, ...]
    error: Any = None
    interrupts: tuple[Any, ...] = ()
    #: why the checkpoint could not be decoded, if it could not
    unreadable: str | None = None
    #: namespaces of subgraph runs started from this checkpoint
    subgraphs: tuple[str, ...] = ()
    size: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "checkpoint_ns": self.checkpoint_ns,
            "checkpoint_id": self.checkpoint_id,
            "index": self.index,
            "parent_checkpoint_id": self.parent_checkpoint_id,
            "step": self.step,
            "source": self.source,
            "created_at": self.created_at,
            "ran": list(self.ran),
            "next": list(self.next),
            "changed": list(self.changed),
            "error": to_jsonable(self.error),
            "interrupts": [to_jsonable(i) for i in self.interrupts],
            "unreadable": self.unreadable,
            "subgraphs": list(self.subgraphs),
        }

    def ref(self) -> dict[str, Any]:
        """The short form other documents use to point at a checkpoint."""
        return {
            "thread_id": self.thread_id,
            "checkpoint_ns": self.checkpoint_ns,
            "checkpoint_id": self.checkpoint_id,
            "index": self.index,
        }


@dataclass(frozen=True, slots=True)
class Timeline:
    thread_id: str
    checkpoint_ns: str
    checkpoints: tuple[CheckpointSummary, ...]
    total: int
    namespaces: tuple[str, ...] = ()
    #: id prefix length unique across the whole thread (for short ids)
    id_len: int = 8

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "checkpoint_ns": self.checkpoint_ns,
            "total": self.total,
            "namespaces": list(self.namespaces),
            "checkpoints": [c.to_json() for c in self.checkpoints],
        }


@dataclass(frozen=True, slots=True)
class PendingWrite:
    task: str
    task_id: str
    channel: str
    value: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "task_id": self.task_id,
            "channel": self.channel,
            "value": to_jsonable(self.value),
        }


@dataclass(frozen=True, slots=True)
class CheckpointDetail:
    summary: CheckpointSummary
    values: Any
    pending_writes: tuple[PendingWrite, ...]
    tasks: tuple[Task, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc = self.summary.to_json()
        doc["values"] = to_jsonable(self.values)
        doc["pending_writes"] = [w.to_json() for w in self.pending_writes]
        doc["tasks"] = [t.to_json() for t in self.tasks]
        doc["metadata"] = to_jsonable(self.metadata)
        return doc


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    thread_id: str
    checkpoints: int
    latest_checkpoint_id: str
    updated_at: str | None
    step: int | None
    status: str  # done | interrupted | failed | pending
    next: tuple[str, ...]
    error: Any = None
    interrupts: tuple[Any, ...] = ()
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "checkpoints": self.checkpoints,
            "latest_checkpoint_id": self.latest_checkpoint_id,
            "updated_at": self.updated_at,
            "step": self.step,
            "status": self.status,
            "next": list(self.next),
            "error": to_jsonable(self.error),
            "interrupts": [to_jsonable(i) for i in self.interrupts],
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two states, at a DeepDiff-notation path."""

    path: str
    kind: str  # added | removed | changed
    old: Any = None
    new: Any = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"path": self.path, "kind": self.kind}
        if self.kind != "added":
            doc["old"] = to_jsonable(self.old)
        if self.kind != "removed":
            doc["new"] = to_jsonable(self.new)
        return doc
