"""``lgtt blame``: which checkpoint and which node last changed a state path.

The thread's main line (root → head, following parent ids: abandoned forks are not
on it) is walked with lazily decoded checkpoints. A checkpoint whose top-level key kept
its channel version cannot have changed the path and is skipped without looking at the
value; elsewhere only the path's own value is materialised (``messages[3].content``
decodes one message, not the list).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lgtt import channels as ch
from lgtt.diff import main_line, ref_json
from lgtt.errors import UsageError
from lgtt.jsonable import to_jsonable
from lgtt.paths import MissingPath, Part, format_path, get_path, parse_path
from lgtt.refs import Resolved
from lgtt.serde import LazyExt, materialize
from lgtt.store.base import NULL_TASK_ID, CheckpointRow, Store, WriteRow


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()


@dataclass(frozen=True, slots=True)
class BlameEntry:
    """One change of the path: the checkpoint that holds the new value, and who wrote it."""

    index: int
    checkpoint_id: str
    step: int | None
    source: str | None
    #: the nodes that wrote the path's top-level key (else the nodes that ran)
    nodes: tuple[str, ...]
    ran: tuple[str, ...]
    kind: str  # added | removed | changed
    #: the values before and after; lists may hold lazily decoded items (see materialize)
    old: Any = None
    new: Any = None

    @property
    def node(self) -> str | None:
        return self.nodes[0] if self.nodes else None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "index": self.index,
            "checkpoint_id": self.checkpoint_id,
            "step": self.step,
            "source": self.source,
            "node": self.node,
            "nodes": list(self.nodes),
            "ran": list(self.ran),
            "kind": self.kind,
        }
        if self.kind != "added":
            doc["old"] = to_jsonable(self.old)
        if self.kind != "removed":
            doc["new"] = to_jsonable(self.new)
        return doc


@dataclass(frozen=True, slots=True)
class Blame:
    thread_id: str
    checkpoint_ns: str
    path: str
    head: Resolved
    #: the value at the head (None when absent there: see ``exists``)
    value: Any
    exists: bool
    #: every change along the main line, oldest first
    changes: tuple[BlameEntry, ...]
    #: checkpoints on the main line
    length: int

    @property
    def last(self) -> BlameEntry | None:
        return self.changes[-1] if self.changes else None

    def to_json(self, *, all_changes: bool = False) -> dict[str, Any]:
        """``changes``: every change with ``--all`` (oldest first), else only the last."""
        shown = self.changes if all_changes else self.changes[-1:]
        return {
            "thread_id": self.thread_id,
            "checkpoint_ns": self.checkpoint_ns,
            "path": self.path,
            "head": ref_json(self.head),
            "exists": self.exists,
            "value": to_jsonable(self.value) if self.exists else None,
            "last_change": self.last.to_json() if self.last else None,
            "changes": [c.to_json() for c in shown],
        }


def _value_at(values: Any, parts: tuple[Part, ...]) -> Any:
    try:
        return get_path(values, parts)
    except MissingPath:
        return ABSENT


def _differs(old: Any, new: Any) -> bool:
    if old is ABSENT or new is ABSENT:
        return old is not new
    if old is new:
        return False
    if type(old) is type(new) and old == new:
        return False
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)) and len(old) != len(new):
        return True
    a, b = materialize(old), materialize(new)
    return type(a) is not type(b) or bool(a != b)


def _writers(
    row: CheckpointRow, parent: CheckpointRow | None, writes: Sequence[WriteRow], key: str
) -> tuple[str, ...]:
    """Names of the tasks whose writes to ``key`` produced ``row`` (from the parent)."""
    source = row.metadata.get("source")
    if source == "input":
        return ("__input__",)
    if parent is None or parent.checkpoint is None or source != "loop":
        return ()
    names = {t.task_id: t.name for t in ch.tasks_at(parent.checkpoint, writes) if t.task_id}
    out: list[str] = []
    for w in writes:
        if w.channel != key:
            continue
        if w.task_id == NULL_TASK_ID:
            name = "__input__"
        else:
            name = names.get(w.task_id) or w.task_path.rsplit(", ", 1)[-1] or w.task_id
        if name not in out:
            out.append(name)
    return tuple(out)


def blame(store: Store, ref: Resolved, path: str) -> Blame:
    """Every change of ``path`` along the main line that ends at ``ref``."""
    from lgtt.checkpoints import Summarizer, group_writes

    parts = parse_path(path)
    top = parts[0]
    if not isinstance(top, str):
        raise UsageError(
            f"state path {path!r} starts with an index", "start with a state key: messages[3]"
        )
    indexes = main_line(ref.ids, ref.index)
    grouped = group_writes(store.writes(ref.thread_id, ref.checkpoint_ns, values=False))
    summarizer = Summarizer(store, ref.thread_id, ref.checkpoint_ns, ref.ids, grouped, lazy=True)
    changes: list[BlameEntry] = []
    keys_seen: set[str] = set()
    prev_row: CheckpointRow | None = None
    prev_value: Any = ABSENT
    prev_version: Any = None
    prev_present = False
    found = False
    batch = 32
    for i in range(0, len(indexes), batch):
        wanted = [ref.ids[j][0] for j in indexes[i : i + batch]]
        for row in store.iter_checkpoints(ref.thread_id, ref.checkpoint_ns, ids=wanted, lazy=True):
            cp = row.checkpoint
            if cp is None:  # unreadable: what it held is unknown; compare across it
                continue
            cv = cp.get("channel_values") or {}
            present = top in cv
            version = (cp.get("channel_versions") or {}).get(top)
            if (
                prev_row is not None
                and present == prev_present
                and version is not None
                and version == prev_version
            ):
                prev_row = row  # the channel did not move: neither did the path
                continue
            values = ch.state_values(cp)
            if isinstance(values, dict):
                keys_seen.update(values)
            value = _value_at(values, parts) if present or not isinstance(values, dict) else ABSENT
            if value is not ABSENT:
                found = True
            if _differs(prev_value, value):
                if prev_row is not None:
                    summarizer.remember(prev_row)
                summary = summarizer.summarize(row)
                parent_writes = grouped.get(prev_row.checkpoint_id, []) if prev_row else []
                writers = _writers(row, prev_row, parent_writes, top)
                kind = (
                    "added" if prev_value is ABSENT else "removed" if value is ABSENT else "changed"
                )
                changes.append(
                    BlameEntry(
                        index=summary.index,
                        checkpoint_id=row.checkpoint_id,
                        step=summary.step,
                        source=summary.source,
                        nodes=writers or summary.ran,
                        ran=summary.ran,
                        kind=kind,
                        old=None if prev_value is ABSENT else prev_value,
                        new=None if value is ABSENT else value,
                    )
                )
            prev_row, prev_value, prev_version, prev_present = row, value, version, present
    if not found:
        known = ", ".join(sorted(keys_seen)) or "none"
        raise UsageError(
            f"{format_path(parts)} does not exist in any checkpoint of thread {ref.thread_id}"
            f" from its root to {ref.label()}",
            f"state keys: {known}",
        )
    return Blame(
        thread_id=ref.thread_id,
        checkpoint_ns=ref.checkpoint_ns,
        path=format_path(parts),
        head=ref,
        value=_materialized(prev_value),
        exists=prev_value is not ABSENT,
        changes=tuple(changes),
        length=len(indexes),
    )


def _materialized(value: Any) -> Any:
    if value is ABSENT:
        return None
    return materialize(value) if isinstance(value, (LazyExt, list, tuple, dict)) else value
