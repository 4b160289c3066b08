"""One checkpoint, summarised (``timeline``) or in full (``show``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from lgtt import channels as ch
from lgtt.models import CheckpointDetail, CheckpointSummary, PendingWrite
from lgtt.refs import Resolved
from lgtt.store.base import NULL_TASK_ID, CheckpointRow, Store, WriteRow

SUMMARY_WRITE_VALUES = (ch.ERROR, ch.INTERRUPT)


class Summarizer:
    """Builds summaries in creation order, keeping only a few decoded checkpoints.

    Parents are nearly always the previous checkpoint; the rare fork parent that has
    left the small cache is read again.
    """

    def __init__(
        self,
        store: Store,
        thread_id: str,
        ns: str,
        ids: Sequence[tuple[str, str | None]],
        writes: dict[str, list[WriteRow]],
        *,
        lazy: bool = True,
        cache_size: int = 4,
    ) -> None:
        self.store = store
        self.thread_id = thread_id
        self.ns = ns
        self.index_of = {cid: i for i, (cid, _) in enumerate(ids)}
        self.writes = writes
        self.lazy = lazy
        self._cache: OrderedDict[str, CheckpointRow] = OrderedDict()
        self._cache_size = cache_size
        self._due: dict[str, tuple[str, ...]] = {}

    def remember(self, row: CheckpointRow) -> None:
        self._cache[row.checkpoint_id] = row
        self._cache.move_to_end(row.checkpoint_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def row(self, cid: str) -> CheckpointRow | None:
        if cid in self._cache:
            return self._cache[cid]
        if cid not in self.index_of:
            return None
        found = self.store.get_checkpoint(self.thread_id, self.ns, cid, lazy=self.lazy)
        if found is not None:
            self.remember(found)
        return found

    def due(self, row: CheckpointRow) -> tuple[str, ...]:
        cid = row.checkpoint_id
        if cid not in self._due:
            ws = self.writes.get(cid, [])
            if row.checkpoint is None:
                self._due[cid] = tuple(t.name for t in ch.tasks_at(None, ws))
            else:
                self._due[cid] = tuple(n for n, _ in ch.due_tasks(row.checkpoint, ws))
        return self._due[cid]

    def summarize(self, row: CheckpointRow, subgraphs: Sequence[str] = ()) -> CheckpointSummary:
        cp = row.checkpoint
        md = row.metadata
        source = md.get("source")
        step = md.get("step")
        parent = self.row(row.parent_checkpoint_id) if row.parent_checkpoint_id else None
        ws = self.writes.get(row.checkpoint_id, [])

        ran: tuple[str, ...] = ()
        if cp is not None:
            if source == "update":
                node = ch.infer_update_node(cp, md)
                ran = (node,) if node else ()
            elif source == "loop":
                if parent is not None:
                    ran = self.due(parent)
                else:  # durability="exit": only the final checkpoint was stored
                    ran = tuple(n for n in ch.nodes_by_last_run(cp) if n != ch.START)
        changed: tuple[str, ...] = ()
        if cp is not None:
            pcp = parent.checkpoint if parent is not None else None
            if parent is not None and pcp is None:
                changed = tuple(
                    k for k in sorted(cp.get("channel_values") or {}) if not ch.is_internal(k)
                )
            else:
                changed = tuple(ch.changed_keys(cp, pcp))
        error = next((w.value for w in ws if w.channel == ch.ERROR), None)
        interrupts = tuple(
            ch.interrupt_value(i)
            for w in ws
            if w.channel == ch.INTERRUPT
            for i in (w.value if isinstance(w.value, (list, tuple)) else [w.value])
        )
        self.remember(row)
        return CheckpointSummary(
            thread_id=self.thread_id,
            checkpoint_ns=self.ns,
            checkpoint_id=row.checkpoint_id,
            index=self.index_of.get(row.checkpoint_id, -1),
            parent_checkpoint_id=row.parent_checkpoint_id,
            step=step if isinstance(step, int) else None,
            source=source if isinstance(source, str) else None,
            created_at=cp.get("ts") if cp is not None else None,
            ran=ran,
            next=self.due(row),
            changed=changed,
            error=error,
            interrupts=interrupts,
            unreadable=row.unreadable,
            subgraphs=tuple(subgraphs),
            size=row.size,
        )


def group_writes(writes: Sequence[WriteRow]) -> dict[str, list[WriteRow]]:
    out: dict[str, list[WriteRow]] = {}
    for w in writes:
        out.setdefault(w.checkpoint_id, []).append(w)
    return out


def subgraph_starts(
    store: Store, thread_id: str, writes: Sequence[WriteRow]
) -> dict[str, list[str]]:
    """Checkpoint id → namespaces of the subgraph runs its tasks started."""
    spaces = [s for s in store.namespaces(thread_id) if s]
    if not spaces:
        return {}
    task_cid = {w.task_id: w.checkpoint_id for w in writes}
    out: dict[str, list[str]] = {}
    for space in spaces:
        first = space.split("|", 1)[0]
        task_id = first.rsplit(":", 1)[-1]
        cid = task_cid.get(task_id)
        if cid is not None:
            out.setdefault(cid, []).append(space)
    return out


def _task_label(w: WriteRow, names: dict[str, str]) -> str:
    if w.task_id == NULL_TASK_ID:
        return "__input__"
    if w.task_path.startswith(ch.UPDATE_PREFIX):
        return "__update__"
    return names.get(w.task_id, w.task_path.rsplit(", ", 1)[-1] or w.task_id)


def load_checkpoint(store: Store, ref: Resolved) -> CheckpointDetail:
    """Everything stored about one checkpoint: state, writes, tasks, summary."""
    row = store.get_checkpoint(ref.thread_id, ref.checkpoint_ns, ref.checkpoint_id)
    if row is None:  # deleted since the ids were read
        from lgtt.errors import RefError

        raise RefError(f"checkpoint {ref.checkpoint_id} of {ref.thread_id} no longer exists")
    wanted = [ref.checkpoint_id] + ([ref.parent_id] if ref.parent_id else [])
    writes = store.writes(ref.thread_id, ref.checkpoint_ns, wanted, values=True)
    grouped = group_writes(writes)
    summarizer = Summarizer(store, ref.thread_id, ref.checkpoint_ns, ref.ids, grouped, lazy=True)
    subs = subgraph_starts(store, ref.thread_id, writes) if not ref.checkpoint_ns else {}
    summary = summarizer.summarize(row, subs.get(ref.checkpoint_id, ()))
    own = grouped.get(ref.checkpoint_id, [])
    tasks = ch.tasks_at(row.checkpoint, own)
    names = {t.task_id: t.name for t in tasks if t.task_id}
    pending = tuple(PendingWrite(_task_label(w, names), w.task_id, w.channel, w.value) for w in own)
    values: Any = ch.state_values(row.checkpoint) if row.checkpoint is not None else None
    return CheckpointDetail(
        summary=summary,
        values=values,
        pending_writes=pending,
        tasks=tuple(tasks),
        metadata=row.metadata,
    )
