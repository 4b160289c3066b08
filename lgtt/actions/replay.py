"""``lgtt replay``: re-execute a thread with today's graph code and compare.

1. The history root → REF is copied into a new thread (as ``branch`` does; REF's own
   writes stay behind, so everything from REF on runs again).
2. The graph runs from there: ``invoke(None)`` on the new thread continues from its
   head, REF (an input checkpoint keeps its input in the ``__start__`` channel, so
   replaying from the first checkpoint re-sends the input). Where the recording goes
   on with another input (a second chat turn) the replay sends that input; where it
   resumed an ``interrupt()``, the replay resumes with the recorded value; where a
   failed step was retried, the replay retries once. A manual state update in the
   recording is not re-applied: the comparison stops there.
3. The replay's main line is compared with the recorded one step by step from REF:
   the nodes that ran, what each node wrote, the state after the step, the nodes due
   next, and at the end the status and error. The first difference is the
   divergence; the final states are diffed in full. ``--ignore`` regexes drop paths
   that legitimately differ (timestamps, generated ids).

Nodes before REF must not run again: lgtt checks that every new checkpoint descends
from REF and that no copied checkpoint before REF gained writes, and reports any node
LangGraph did re-run.

With ``keep=False`` everything happens where nothing reaches the database: a scratch
SQLite copy (the recorded line and the replay side by side), or on PostgreSQL one
transaction that is rolled back at the end (see :mod:`lgtt.actions.history`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_core.runnables import RunnableConfig

from lgtt import channels as ch
from lgtt.actions.history import (
    CopyPlan,
    Target,
    check_thread_name,
    line_from,
    open_target,
    path_to,
    plan_copy,
    run_config,
    writable,
)
from lgtt.diff import DiffOptions, diff_values, top_key
from lgtt.errors import UsageError
from lgtt.graphs import LoadedGraph, user_code
from lgtt.jsonable import to_jsonable
from lgtt.models import Change, CheckpointSummary
from lgtt.refs import Resolved
from lgtt.store.base import NULL_TASK_ID, Store, WriteRow


def default_name(store: Store, thread: str) -> str:
    """``<thread>-replay-<n>``, n one more than any replay of the thread so far."""
    pattern = re.compile(re.escape(thread) + r"-replay-(\d+)$")
    used = [int(m.group(1)) for t in store.thread_ids() if (m := pattern.match(t))]
    return f"{thread}-replay-{max(used, default=0) + 1}"


@dataclass(frozen=True)
class ReplayPlan:
    #: the database (a SQLite path or a PostgreSQL URL)
    db: str
    ref: Resolved
    thread: str
    keep: bool
    dry_run: bool
    #: root → REF into the replay thread
    copy: CopyPlan
    #: a scratch file only: the recorded history root → end, under its own thread id
    recorded: CopyPlan | None
    #: the recorded main line from REF: REF, then what followed it
    line: tuple[str, ...]
    metadata: dict[str, Any]
    due: tuple[str, ...]
    options: DiffOptions = field(default_factory=DiffOptions)


@dataclass(frozen=True)
class ReplayDivergence:
    """The first step where the replay did something else than the recording."""

    a_index: int  # in the recorded thread
    b_index: int  # in the replay thread
    a_checkpoint_id: str | None
    b_checkpoint_id: str | None
    step: int | None
    node: str | None
    aspects: tuple[str, ...]
    reason: str
    keys: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "a_index": self.a_index,
            "b_index": self.b_index,
            "step": self.step,
            "node": self.node,
            "reason": self.reason,
            "aspects": list(self.aspects),
            "keys": list(self.keys),
            "a_checkpoint_id": self.a_checkpoint_id,
            "b_checkpoint_id": self.b_checkpoint_id,
        }


@dataclass(frozen=True)
class ReplayResult:
    plan: ReplayPlan
    divergence: ReplayDivergence | None = None
    changes: tuple[Change, ...] = ()
    status: str | None = None
    recorded_status: str | None = None
    error: Any = None
    head_index: int | None = None
    recorded_steps: int = 0
    replayed_steps: int = 0
    rerun_before_start: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def diverged(self) -> bool:
        return self.divergence is not None or bool(self.changes)

    def to_json(self) -> dict[str, Any]:
        p = self.plan
        return {
            "thread_id": p.thread,
            "from": {
                "thread_id": p.ref.thread_id,
                "checkpoint_id": p.ref.checkpoint_id,
                "index": p.ref.index,
            },
            "diverged": None if p.dry_run else self.diverged,
            "divergence": self.divergence.to_json() if self.divergence else None,
            "changes": [c.to_json() for c in self.changes],
            "status": self.status,
            "recorded_status": self.recorded_status,
            "error": to_jsonable(self.error),
            "steps": {"recorded": self.recorded_steps, "replayed": self.replayed_steps},
            "head_index": self.head_index,
            "kept": p.keep and not p.dry_run,
            "rerun_before_start": list(self.rerun_before_start),
            "notes": list(self.notes),
            "dry_run": p.dry_run,
            "would_run": list(p.due) if p.dry_run else [],
            "copied": {"checkpoints": len(p.copy.ids), "writes": p.copy.writes},
        }


def plan_replay(
    store: Store,
    ref: Resolved,
    *,
    to: str | None = None,
    keep: bool = True,
    dry_run: bool = False,
    options: DiffOptions | None = None,
) -> ReplayPlan:
    from lgtt.checkpoints import load_checkpoint

    if ref.checkpoint_ns:
        raise UsageError("replay works on the root graph's checkpoints", "drop --ns")
    check_thread_name(to, "replay")
    db = writable(store)
    thread = to or default_name(store, ref.thread_id)
    if thread in store:
        raise UsageError(
            f"thread {thread!r} already exists",
            "pass --to NEW_NAME (lgtt never writes into an existing thread)",
        )
    ids = path_to(ref.ids, ref.index)
    copy = plan_copy(store, ref.thread_id, ids, thread, with_writes=ids[:-1])
    line = tuple(line_from(ref.ids, ref.index))
    recorded = None
    if not keep and not dry_run:
        index_of = {cid: i for i, (cid, _) in enumerate(ref.ids)}
        upto = path_to(ref.ids, index_of[line[-1]])
        recorded = plan_copy(store, ref.thread_id, upto, ref.thread_id, with_writes=upto)
    row = store.get_checkpoint(ref.thread_id, "", ref.checkpoint_id, lazy=True)
    due = load_checkpoint(store, ref).summary.next
    return ReplayPlan(
        db,
        ref,
        thread,
        keep,
        dry_run,
        copy,
        recorded,
        line,
        row.metadata if row is not None else {},
        due,
        options or DiffOptions(),
    )


def execute_replay(plan: ReplayPlan, graph: LoadedGraph) -> ReplayResult:
    """Run the replay (in the database, or a scratch copy) and compare it."""
    if plan.dry_run:
        return ReplayResult(plan, recorded_steps=len(plan.line) - 1)
    with open_target(plan.db, scratch=not plan.keep) as target:
        with target.transaction():
            if plan.recorded is not None and not target.holds_source:
                target.copy(plan.recorded)
            target.copy(plan.copy)
        error, notes = _drive(plan, graph, target)
        with target.reader() as store:
            result = _compare(store, plan, error, notes)
            rerun = reruns_before_start(store, plan)
    return replace(result, rerun_before_start=rerun) if rerun else result


# --- running -----------------------------------------------------------------------------


def _invoke(graph: Any, value: Any, config: RunnableConfig) -> str | None:
    try:
        with user_code():
            graph.invoke(value, config)
    except Exception as exc:  # the graph failed: part of what is compared
        return f"{type(exc).__name__}: {exc}"
    return None


def _drive(plan: ReplayPlan, graph: LoadedGraph, target: Target) -> tuple[str | None, list[str]]:
    """Run the graph from REF, feeding it what the recording fed it along the line."""
    from langgraph.types import Command

    saver = target.saver(graph.serde)
    bound = graph.bind(saver)
    config = run_config(plan.thread, plan.metadata)
    notes: list[str] = []
    error = _invoke(bound, None, config)
    recorded = plan.ref.thread_id
    retried: set[str] = set()
    for _ in range(2 * len(plan.line)):  # each round moves on by at least one checkpoint
        ids = target.ids(plan.thread)
        start = next(i for i, (cid, _) in enumerate(ids) if cid == plan.line[0])
        replayed = line_from(ids, start)
        k = len(replayed)
        if k >= len(plan.line):
            break
        prev = saver.get_tuple(_at(recorded, plan.line[k - 1]))
        nxt = saver.get_tuple(_at(recorded, plan.line[k]))
        head = saver.get_tuple(_at(plan.thread, replayed[-1]))
        if prev is None or nxt is None or head is None:
            break
        if head.metadata.get("step") != prev.metadata.get("step"):
            break  # the replay took another path: the comparison will say where
        writes = prev.pending_writes or []
        if nxt.metadata.get("source") == "input":
            value = nxt.checkpoint["channel_values"].get(ch.START)
            error = _invoke(bound, value, config)
        elif resumes := [v for t, c, v in writes if c == ch.RESUME and t == NULL_TASK_ID]:
            error = _invoke(bound, Command(resume=resumes[-1]), config)
        elif (
            any(c == ch.ERROR for _, c, _ in writes)
            and error is not None
            and plan.line[k - 1] not in retried
        ):
            retried.add(plan.line[k - 1])  # the recording retried a failed step
            error = _invoke(bound, None, config)
        else:
            source = nxt.metadata.get("source")
            if source == "update":
                notes.append(
                    f"the recording goes on with a manual state update at "
                    f"{recorded}@{_index(plan.ref, plan.line[k])}: lgtt does not re-apply it "
                    f"(replay --from {_index(plan.ref, plan.line[k])} to start after it)"
                )
            break
        if target.ids(plan.thread)[-1][0] == replayed[-1]:
            break  # nothing new was written
    return error, notes


def _at(thread: str, checkpoint_id: str) -> Any:
    return {
        "configurable": {"thread_id": thread, "checkpoint_ns": "", "checkpoint_id": checkpoint_id}
    }


def _index(ref: Resolved, checkpoint_id: str) -> int:
    return next(i for i, (cid, _) in enumerate(ref.ids) if cid == checkpoint_id)


# --- comparing ---------------------------------------------------------------------------


def _walk(store: Store, ref: Resolved, ids: Sequence[str]) -> list[tuple[CheckpointSummary, Any]]:
    """Summary and (lazily decoded) state of each of ``ids``, in order."""
    from lgtt.checkpoints import Summarizer, group_writes

    writes = store.writes(ref.thread_id, "", values=False)
    summarizer = Summarizer(store, ref.thread_id, "", ref.ids, group_writes(writes), lazy=True)
    out = []
    for row in store.iter_checkpoints(ref.thread_id, "", ids=list(ids), lazy=True):
        values = ch.state_values(row.checkpoint) if row.checkpoint is not None else None
        out.append((summarizer.summarize(row), values))
    return out


def _resolved(store: Store, thread: str, last: str) -> Resolved:
    ids = store.checkpoint_ids(thread)
    index = next(i for i, (cid, _) in enumerate(ids) if cid == last)
    return Resolved(thread, "", last, index, tuple(ids))


def _node_writes(
    store: Store, thread: str, checkpoint_id: str | None, opts: DiffOptions
) -> dict[str, dict[str, Any]]:
    """What each task run from a checkpoint wrote: ``{node: {channel: value}}``."""
    if checkpoint_id is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    rows: Sequence[WriteRow] = store.writes(thread, "", [checkpoint_id], values=True)
    for w in rows:
        if w.task_id == NULL_TASK_ID or w.task_path.startswith(ch.UPDATE_PREFIX):
            continue
        if ch.is_internal(w.channel):
            continue
        name = (
            w.task_path[len(ch.PULL_PREFIX) :]
            if w.task_path.startswith(ch.PULL_PREFIX)
            else w.task_path
        )
        slot = out.setdefault(name, {})
        if w.channel in slot:  # one task writing a channel twice: keep both
            prev = slot[w.channel]
            slot[w.channel] = (
                [*prev, w.value] if isinstance(prev, _Many) else _Many([prev, w.value])
            )
        else:
            slot[w.channel] = w.value
    return out


class _Many(list[Any]):
    """Several writes of one task to one channel."""


def _end_state(store: Store, ref: Resolved) -> tuple[str, Any, tuple[Any, ...]]:
    from lgtt.checkpoints import load_checkpoint
    from lgtt.threads import thread_status

    detail = load_checkpoint(store, ref)
    tasks = list(detail.tasks)
    error = next((t.error for t in tasks if t.error is not None), detail.summary.error)
    return thread_status(tasks), error, detail.summary.interrupts


def _first(*names: Sequence[str]) -> str | None:
    """The first name of the first non-empty sequence."""
    return next((n[0] for n in names if n), None)


def _names(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "nothing"


def _brief(c: Change) -> str:
    import json

    def short(v: Any) -> str:
        text = json.dumps(to_jsonable(v), ensure_ascii=False, default=str)
        return text if len(text) <= 40 else text[:39] + "…"

    if c.kind == "added":
        return f"{c.path} added {short(c.new)}"
    if c.kind == "removed":
        return f"{c.path} removed {short(c.old)}"
    return f"{c.path}: {short(c.old)} → {short(c.new)}"


def _compare(store: Store, plan: ReplayPlan, error: str | None, notes: list[str]) -> ReplayResult:
    opts = plan.options
    real_index = {cid: i for i, (cid, _) in enumerate(plan.ref.ids)}
    rec = _resolved(store, plan.ref.thread_id, plan.line[-1])
    rep_ids = store.checkpoint_ids(plan.thread)
    start = next(i for i, (cid, _) in enumerate(rep_ids) if cid == plan.line[0])
    rep_line = line_from(rep_ids, start)
    rep = _resolved(store, plan.thread, rep_line[-1])
    rec_steps = _walk(store, rec, plan.line)
    rep_steps = _walk(store, rep, rep_line)

    def divergence(
        a: CheckpointSummary,
        b: CheckpointSummary,
        aspects: Sequence[str],
        reason: str,
        node: str | None,
        keys: Sequence[str] = (),
    ) -> ReplayDivergence:
        return ReplayDivergence(
            a_index=real_index.get(a.checkpoint_id, a.index),
            b_index=b.index,
            a_checkpoint_id=a.checkpoint_id,
            b_checkpoint_id=b.checkpoint_id,
            step=a.step if a.step is not None else b.step,
            node=node,
            aspects=tuple(aspects),
            reason=reason,
            keys=tuple(keys),
        )

    found: ReplayDivergence | None = None
    for i in range(1, min(len(rec_steps), len(rep_steps))):
        (sa, va), (sb, vb) = rec_steps[i], rep_steps[i]
        found = _compare_step(store, plan, sa, va, sb, vb, opts, divergence, real_index)
        if found is not None:
            break
    rec_status, rec_error, rec_interrupts = _end_state(store, rec)
    rep_status, rep_error, rep_interrupts = _end_state(store, rep)
    if found is None and len(rec_steps) != len(rep_steps):
        n = min(len(rec_steps), len(rep_steps))
        if len(rep_steps) < len(rec_steps):
            nxt, end = rec_steps[n][0], rep_steps[-1][0]
            why = f"{rep_status}: {rep_error}" if rep_error is not None else rep_status
            reason = (
                f"the replay stopped at {plan.thread}@{end.index} ({why}) where the recording "
                f"goes on to {plan.ref.thread_id}@{real_index.get(nxt.checkpoint_id)} "
                f"(ran {_names(nxt.ran)}, source {nxt.source})"
            )
            found = divergence(nxt, end, ["length"], reason, nxt.ran[0] if nxt.ran else None)
        else:
            nxt, end = rep_steps[n][0], rec_steps[-1][0]
            reason = (
                f"the replay goes on to {plan.thread}@{nxt.index} (ran {_names(nxt.ran)}) where "
                f"the recording ended at {plan.ref.thread_id}@{real_index.get(end.checkpoint_id)}"
                f" ({rec_status})"
            )
            found = divergence(end, nxt, ["length"], reason, nxt.ran[0] if nxt.ran else None)
    if found is None:
        a, b = rec_steps[-1][0], rep_steps[-1][0]
        aspects, reasons = [], []
        if rec_status != rep_status:
            aspects.append("status")
            reasons.append(f"the recording ended {rec_status}, the replay {rep_status}")
        if (rec_error is None) != (rep_error is None) or (
            rec_error is not None and str(rec_error) != str(rep_error)
        ):
            aspects.append("error")
            reasons.append(f"error: recorded {rec_error!r}, replayed {rep_error!r}")
        if diff_values(list(rec_interrupts), list(rep_interrupts), opts):
            aspects.append("interrupts")
            reasons.append("different interrupt values")
        if aspects:
            node = b.next[0] if b.next else (a.next[0] if a.next else None)
            found = divergence(a, b, aspects, "; ".join(reasons), node)
    if len(rec_steps) == 1:
        notes.append(
            f"nothing was recorded after {plan.ref.label()}: the replay can only check that "
            "the graph does the same from there (a thread run with durability='exit' keeps "
            "its final checkpoint only)"
        )
    va, vb = rec_steps[-1][1], rep_steps[-1][1]
    changes = tuple(diff_values(va, vb, opts)) if va is not None and vb is not None else ()
    return ReplayResult(
        plan=plan,
        divergence=found,
        changes=changes,
        status=rep_status,
        recorded_status=rec_status,
        error=rep_error if rep_error is not None else error,
        head_index=rep.index,
        recorded_steps=len(rec_steps) - 1,
        replayed_steps=len(rep_steps) - 1,
        notes=tuple(notes),
    )


def _compare_step(
    store: Store,
    plan: ReplayPlan,
    sa: CheckpointSummary,
    va: Any,
    sb: CheckpointSummary,
    vb: Any,
    opts: DiffOptions,
    divergence: Any,
    real_index: dict[str, int],
) -> ReplayDivergence | None:
    # A ``fork`` checkpoint (LangGraph's own time travel in the recording) is a copy of
    # the checkpoint it re-ran from: it records no node, only the same state.
    fork = "fork" in (sa.source, sb.source)
    if sa.source != sb.source and not fork:
        reason = f"the recording has a {sa.source} checkpoint here, the replay a {sb.source} one"
        if sa.source == "update":
            reason += (
                " (a manual update_state in the recording: replay does not re-apply updates;"
                f" `replay --from {real_index.get(sa.checkpoint_id, sa.index)}` starts after it)"
            )
        return divergence(sa, sb, ["source"], reason, _first(sa.ran, sb.ran))
    if sorted(sa.ran) != sorted(sb.ran) and not fork:
        odd = sorted(set(sa.ran) ^ set(sb.ran))
        return divergence(
            sa,
            sb,
            ["ran"],
            f"different nodes ran: recorded {_names(sa.ran)}, replayed {_names(sb.ran)}",
            _first(odd, sa.ran),
        )
    wa = _node_writes(store, plan.ref.thread_id, sa.parent_checkpoint_id, opts)
    wb = _node_writes(store, plan.thread, sb.parent_checkpoint_id, opts)
    for node in sorted(set(wa) | set(wb)):
        changes = diff_values(wa.get(node, {}), wb.get(node, {}), opts)
        if changes:
            keys = tuple(dict.fromkeys(k for c in changes if (k := top_key(c.path))))
            more = f" (and {len(changes) - 1} more)" if len(changes) > 1 else ""
            return divergence(
                sa,
                sb,
                ["writes"],
                f"node {node} wrote something else: {_brief(changes[0])}{more}",
                node,
                keys,
            )
    if va is not None and vb is not None:
        changes = diff_values(va, vb, opts)
        if changes:
            keys = tuple(dict.fromkeys(k for c in changes if (k := top_key(c.path))))
            writers = [n for n in sa.ran if set(wa.get(n, {})) & set(keys)]
            more = f" (and {len(changes) - 1} more)" if len(changes) > 1 else ""
            return divergence(
                sa,
                sb,
                ["state"],
                f"different state after {_names(sa.ran)}: {_brief(changes[0])}{more}",
                _first(writers, sa.ran),
                keys,
            )
    if sorted(sa.next) != sorted(sb.next):
        return divergence(
            sa,
            sb,
            ["next"],
            f"different next nodes: recorded {_names(sa.next)}, replayed {_names(sb.next)}",
            _first(sa.ran),
        )
    return None


def reruns_before_start(store: Store, plan: ReplayPlan) -> tuple[str, ...]:
    """Nodes before REF that LangGraph ran again in the replay thread (it should not).

    Two traces of a re-run: a write recorded against a copied checkpoint before REF that
    the recording does not have, and a new checkpoint that does not descend from REF.
    """
    copied = set(plan.copy.ids)
    before = list(plan.copy.ids[:-1])

    def keys(thread: str) -> set[tuple[str, str, str, int]]:
        rows = store.writes(thread, "", before, values=False) if before else []
        return {(w.checkpoint_id, w.task_id, w.task_path, w.idx) for w in rows}

    names: list[str] = []
    for _, _, task_path, _ in sorted(keys(plan.thread) - keys(plan.ref.thread_id)):
        names.append(
            task_path[len(ch.PULL_PREFIX) :]
            if task_path.startswith(ch.PULL_PREFIX)
            else task_path or "a task"
        )
    ids = store.checkpoint_ids(plan.thread)
    parent = dict(ids)
    index = {cid: i for i, (cid, _) in enumerate(ids)}
    for cid, _ in ids:
        if cid in copied:
            continue
        p = parent.get(cid)
        while p is not None and p not in copied:
            p = parent.get(p)
        if p is not None and p != plan.line[0]:
            names.append(f"a new checkpoint {plan.thread}@{index[cid]} forked from @{index[p]}")
    return tuple(dict.fromkeys(names))
