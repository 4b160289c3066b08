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
from lgtt.refs import short_len
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
    return Timeline(
        thread_id,
        ns,
        tuple(summaries),
        total=len(ids),
        namespaces=spaces,
        id_len=short_len([cid for cid, _ in ids]),
    )


def graph_lanes(checkpoints: Sequence[CheckpointSummary]) -> list[str]:
    """A ``git log --graph``-like prefix per checkpoint, drawing forks as lanes.

    A checkpoint's first child continues its lane; each later child (a fork) gets a
    lane opened at the parent's row (``●─╮``) and drawn down (``│``) to the child.
    """
    listed = {c.checkpoint_id for c in checkpoints}
    children: dict[str, list[str]] = {}
    for c in checkpoints:
        if c.parent_checkpoint_id in listed:
            children.setdefault(c.parent_checkpoint_id, []).append(c.checkpoint_id)
    reserved: dict[str, int] = {}  # child id → the lane waiting for it
    in_use: set[int] = set()
    rows: list[tuple[int, list[int], set[int]]] = []
    for c in checkpoints:
        lane = reserved.pop(c.checkpoint_id) if c.checkpoint_id in reserved else _free_lane(in_use)
        in_use.add(lane)
        opened: list[int] = []
        kids = children.get(c.checkpoint_id, [])
        if kids:
            reserved[kids[0]] = lane
            for kid in kids[1:]:
                new = _free_lane(in_use)
                in_use.add(new)
                reserved[kid] = new
                opened.append(new)
        rows.append((lane, opened, set(in_use)))
        if not kids:
            in_use.discard(lane)
    width = max((max(u) + 1 for _, _, u in rows if u), default=1)
    out = []
    for lane, opened, used in rows:
        far = max([lane, *opened])
        cells = []
        for k in range(width):
            if k == lane:
                glyph = "●"
            elif k in opened:
                glyph = "╮" if k == far else "┬"
            elif lane < k < far:
                glyph = "┼" if k in used else "─"
            else:
                glyph = "│" if k in used else " "
            cells.append(glyph + ("─" if lane <= k < far else " "))
        out.append("".join(cells).rstrip())
    return out


def _free_lane(in_use: set[int]) -> int:
    lane = 0
    while lane in in_use:
        lane += 1
    return lane
