"""One checkpoint, summarised (``timeline``) or in full (``show``)."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from lgtt import channels as ch
from lgtt.models import CheckpointDetail, CheckpointSummary, PendingWrite
from lgtt.refs import Resolved
from lgtt.store.base import NULL_TASK_ID, CheckpointRow, Store, WriteRow
from lgtt.values import LazyExt, materialize

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
        #: checkpoint id → (state keys stored, those whose stored value is empty)
        self.keys: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        #: state keys known to have a reducer → the empty value LangGraph starts them at
        self.reducers: dict[str, Any] = {}
        self._not_reducer: set[str] = set()
        self._empty_of: dict[str, Any] = {}
        self._pending_reducers = set()

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
        if cp is not None:
            self._note_keys(row.checkpoint_id, cp)
            if source == "loop" and parent is not None and parent.checkpoint is not None:
                self._find_reducers(parent, cp)
        self._concurrent_writers(ws)
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

    # -- reducer channels ---------------------------------------------------------
    #
    # LangGraph shows a key whose channel has a reducer (``Annotated[list, operator.add]``,
    # ``add_messages``) at its empty value — ``[]``, ``0``, ``{}`` — even where nothing
    # was stored for it (the input checkpoint, before the first write). The graph's
    # schema is not stored, so lgtt finds reducers from what is: two tasks writing the
    # key in one step (a plain channel would have refused), or a new value that differs
    # from the one value written.

    def _note_keys(self, cid: str, cp: dict[str, Any]) -> None:
        cv = cp.get("channel_values") or {}
        present = frozenset(k for k in cv if not ch.is_internal(k))
        empty = frozenset(k for k in present if _is_empty(cv[k]))
        self.keys[cid] = (present, empty)
        for k in present:
            if k not in self._empty_of:
                self._empty_of[k] = _empty_like(cv[k])
        for key in [k for k in self._pending_reducers if k in self._empty_of]:
            self._pending_reducers.discard(key)
            self._reducer(key, None)

    _pending_reducers: set[str]

    def _concurrent_writers(self, ws: Sequence[WriteRow]) -> None:
        """Two tasks writing one key in one step: only a reducer channel accepts that."""
        writers: dict[str, set[str]] = {}
        for w in ws:
            if (
                w.task_id != NULL_TASK_ID
                and not w.task_path.startswith(ch.UPDATE_PREFIX)
                and not ch.is_internal(w.channel)
                and w.channel not in self.reducers
            ):
                writers.setdefault(w.channel, set()).add(w.task_id)
        for key, tasks in writers.items():
            if len(tasks) > 1:
                if key in self._empty_of:
                    self._reducer(key, None)
                else:
                    self._pending_reducers.add(key)

    def _find_reducers(self, parent: CheckpointRow, cp: dict[str, Any]) -> None:
        cv = cp.get("channel_values") or {}
        pcp = parent.checkpoint or {}
        pver = pcp.get("channel_versions") or {}
        cver = cp.get("channel_versions") or {}
        pcv = pcp.get("channel_values") or {}
        todo = [
            k
            for k in cv
            if k not in self.reducers
            and k not in self._not_reducer
            and not ch.is_internal(k)
            and k in pcv
            and cver.get(k) != pver.get(k)
        ]
        if not todo:
            return
        by_key: dict[str, list[WriteRow]] = {}
        for w in self.writes.get(parent.checkpoint_id, []):
            if (
                w.channel in todo
                and w.task_id != NULL_TASK_ID
                and not w.task_path.startswith(ch.UPDATE_PREFIX)
            ):
                by_key.setdefault(w.channel, []).append(w)
        for key, ws in by_key.items():
            if len(ws) > 1:
                self._reducer(key, cv[key])
                continue
            new = cv[key]
            (w,) = ws
            written = self.store.writes(
                self.thread_id, self.ns, [parent.checkpoint_id], values=[key]
            )
            value = next(
                (x.value for x in written if x.task_id == w.task_id and x.channel == key), None
            )
            if _differs(new, value):
                self._reducer(key, new)

    def _reducer(self, key: str, sample: Any) -> None:
        empty = self._empty_of.get(key, _NO_DEFAULT) if sample is None else _empty_like(sample)
        if empty is not _NO_DEFAULT:
            self.reducers[key] = empty
        else:
            self._not_reducer.add(key)

    def finish(self, summaries: list[CheckpointSummary]) -> list[CheckpointSummary]:
        """Correct ``changed`` where a reducer key was unstored (LangGraph shows it empty)."""
        if not self.reducers:
            return summaries
        out = []
        for c in summaries:
            if c.checkpoint_id not in self.keys:
                out.append(c)
                continue
            present, empty = self.keys[c.checkpoint_id]
            pk = self.keys.get(c.parent_checkpoint_id or "")
            changed = set(c.changed)
            for key in self.reducers:
                now_empty = key not in present or key in empty
                if c.parent_checkpoint_id is None:
                    changed.add(key)
                    continue
                if pk is None:
                    continue
                p_present, p_empty = pk
                before_empty = key not in p_present or key in p_empty
                if key in present and key in p_present:
                    continue  # both stored: already compared
                if now_empty and before_empty:
                    changed.discard(key)
                else:
                    changed.add(key)
            out.append(dataclasses.replace(c, changed=tuple(sorted(changed))))
        return out

    def values_with_defaults(self, cid: str, values: Any) -> Any:
        if not isinstance(values, dict) or not self.reducers:
            return values
        missing = {k: v for k, v in self.reducers.items() if k not in values}
        return {**values, **missing} if missing else values


_NO_DEFAULT = object()


def _empty_like(sample: Any) -> Any:
    if isinstance(sample, LazyExt):
        return _NO_DEFAULT
    for t in (bool, list, dict, str, int, float, tuple, set, frozenset):
        if type(sample) is t:
            return t()
    if isinstance(sample, list):  # a list of lazily decoded messages is still a list
        return []
    return _NO_DEFAULT


def _is_empty(value: Any) -> bool:
    return isinstance(value, (list, dict, str, tuple, set, frozenset)) and len(value) == 0


def _differs(stored: Any, written: Any) -> bool:
    if isinstance(stored, (list, tuple)) and isinstance(written, (list, tuple)):
        if len(stored) != len(written):
            return True
    elif isinstance(stored, (list, tuple)) != isinstance(written, (list, tuple)):
        return True
    return bool(materialize(stored) != written)


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


def scan_thread(
    store: Store, thread_id: str, ns: str, ids: Sequence[tuple[str, str | None]]
) -> Summarizer:
    """Summarise a whole thread (lazily) to learn what only the whole thread tells."""
    writes = store.writes(thread_id, ns, values=SUMMARY_WRITE_VALUES)
    summarizer = Summarizer(store, thread_id, ns, ids, group_writes(writes), lazy=True)
    for row in store.iter_checkpoints(thread_id, ns, lazy=True):
        summarizer.summarize(row)
    return summarizer


def _state_keys(row: CheckpointRow | None) -> set[str]:
    if row is None or row.checkpoint is None:
        return set()
    return {k for k in row.checkpoint.get("channel_values") or {} if not ch.is_internal(k)}


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
    values: Any = (
        ch.state_values(row.checkpoint, grouped.get(ref.checkpoint_id, []))
        if row.checkpoint is not None
        else None
    )
    if row.checkpoint is not None:
        # Keys the head has but this checkpoint (or its parent) lacks may be reducer
        # channels LangGraph shows at their empty value: learn them from the thread.
        head_id = ref.ids[-1][0]
        head = (
            row
            if head_id == row.checkpoint_id
            else store.get_checkpoint(ref.thread_id, ref.checkpoint_ns, head_id, lazy=True)
        )
        parent = summarizer.row(ref.parent_id) if ref.parent_id else None
        head_keys = _state_keys(head)
        lacking = not head_keys <= _state_keys(row) or (
            parent is not None and not head_keys <= _state_keys(parent)
        )
        if lacking or parent is None:
            scan = scan_thread(store, ref.thread_id, ref.checkpoint_ns, ref.ids)
            summary = scan.finish([summary])[0]
            values = scan.values_with_defaults(ref.checkpoint_id, values)
    own = grouped.get(ref.checkpoint_id, [])
    tasks = ch.tasks_at(row.checkpoint, own)
    names = {t.task_id: t.name for t in tasks if t.task_id}
    pending = tuple(PendingWrite(_task_label(w, names), w.task_id, w.channel, w.value) for w in own)
    return CheckpointDetail(
        summary=summary,
        values=values,
        pending_writes=pending,
        tasks=tuple(tasks),
        metadata=row.metadata,
    )
