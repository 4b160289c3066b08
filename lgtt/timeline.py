"""A thread's checkpoints in creation order, and their fork tree."""

from __future__ import annotations

from collections.abc import Sequence

from lgtt.checkpoints import (
    SUMMARY_WRITE_VALUES,
    Summarizer,
    group_writes,
    subgraph_starts,
)
from lgtt.errors import RefError
from lgtt.models import CheckpointSummary, Timeline
from lgtt.store.base import Store


def load_timeline(
    store: Store, thread_id: str, ns: str = "", *, limit: int | None = None
) -> Timeline:
    """Summaries of a thread's checkpoints, oldest first (``limit``: only the newest N).

    Each checkpoint is decoded once, lazily (extension objects stay bytes), and only
    channels whose version moved are compared with the parent.
    """
    ids = store.checkpoint_ids(thread_id, ns)
    if not ids:
        raise RefError(f"thread {thread_id!r} has no checkpoints in namespace {ns!r}")
    window = ids[-limit:] if limit else ids
    if limit:
        wanted = {cid for cid, _ in window} | {pid for _, pid in window if pid}
        writes = store.writes(thread_id, ns, sorted(wanted), values=SUMMARY_WRITE_VALUES)
    else:
        writes = store.writes(thread_id, ns, values=SUMMARY_WRITE_VALUES)
    grouped = group_writes(writes)
    subs = subgraph_starts(store, thread_id, writes) if not ns else {}
    summarizer = Summarizer(store, thread_id, ns, ids, grouped, lazy=True, cache_size=2)
    rows = store.iter_checkpoints(
        thread_id, ns, ids=[cid for cid, _ in window] if limit else None, lazy=True
    )
    summaries = summarizer.finish(
        [summarizer.summarize(r, subs.get(r.checkpoint_id, ())) for r in rows]
    )
    spaces = tuple(s for s in store.namespaces(thread_id) if s) if not ns else ()
    return Timeline(thread_id, ns, tuple(summaries), total=len(ids), namespaces=spaces)


def graph_lanes(checkpoints: Sequence[CheckpointSummary]) -> list[str]:
    """A ``git log --graph``-like prefix per checkpoint, drawing forks as lanes.

    A checkpoint continues its parent's lane when it is the parent's first child;
    a later child (a fork) opens a new lane, joined to the parent's lane by ``├─``.
    A lane stays open while a checkpoint on it still has children to come.
    """
    listed = {c.checkpoint_id for c in checkpoints}
    children: dict[str, int] = {}
    for c in checkpoints:
        if c.parent_checkpoint_id in listed:
            children[c.parent_checkpoint_id] = children.get(c.parent_checkpoint_id, 0) + 1
    lane_of: dict[str, int] = {}
    tip: dict[int, str] = {}
    pending: list[int] = []  # per lane: children still to come from checkpoints on it
    rows: list[tuple[int, int | None, list[bool]]] = []
    for c in checkpoints:
        p = c.parent_checkpoint_id if c.parent_checkpoint_id in listed else None
        fork_from: int | None = None
        if p is not None and tip.get(lane_of[p]) == p:
            lane = lane_of[p]
        else:
            if p is not None:
                fork_from = lane_of[p]
            lane = next((i for i, n in enumerate(pending) if n == 0), len(pending))
            if lane == len(pending):
                pending.append(0)
        active_before = [n > 0 for n in pending]
        if p is not None:
            pending[lane_of[p]] -= 1
        lane_of[c.checkpoint_id] = lane
        tip[lane] = c.checkpoint_id
        pending[lane] += children.get(c.checkpoint_id, 0)
        rows.append((lane, fork_from, active_before))
    width = len(pending)
    out = []
    for lane, fork_from, active in rows:
        cells = []
        lo, hi = (
            (min(lane, fork_from), max(lane, fork_from)) if fork_from is not None else (lane, lane)
        )
        for k in range(width):
            is_active = k < len(active) and active[k]
            if k == lane:
                glyph = "●"
            elif k == fork_from:
                glyph = "├" if is_active else "╰"
            elif lo < k < hi:
                glyph = "┼" if is_active else "─"
            else:
                glyph = "│" if is_active else " "
            join = "─" if lo <= k < hi else " "
            cells.append(glyph + join)
        out.append("".join(cells).rstrip())
    return out
