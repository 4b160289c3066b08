"""Every thread of a database with its status, from one query over metadata and writes.

A thread's status comes from its head (latest root checkpoint): ``failed`` when a task
run from it recorded an error, ``interrupted`` when a task is waiting on
``interrupt()``, ``pending`` when tasks are due but did not finish (the process died or
was stopped, or a static breakpoint), ``done`` otherwise. The tasks due at the head are
the trigger channels its parent's tasks wrote (``branch:to:N``), so most heads are
classified without decoding a checkpoint; the unusual ones (Send queues, join barriers,
interrupts) are read exactly.
"""

from __future__ import annotations

from lgtt import channels as ch
from lgtt.models import ThreadInfo
from lgtt.store.base import NULL_TASK_ID, Store, ThreadHead

STATUSES = ("done", "interrupted", "failed", "pending")


def _fast(head: ThreadHead) -> tuple[str, tuple[str, ...]] | None:
    """Status and next from the SQL row alone, or None when the head must be decoded."""
    source = head.metadata.get("source")
    channels_here = {c for _, _, c in head.head_writes}
    if ch.INTERRUPT in channels_here or any(
        p.startswith(ch.PUSH_PREFIX) for _, p, _ in head.head_writes
    ):
        return None
    if source == "input":
        if head.head_writes:
            return None
        return "pending", (ch.START,)
    if source != "loop" or head.parent_id is None:
        # update_state stores its writes only sometimes (not when it reuses a due
        # task's id): for update heads, and anything unusual, read the head exactly.
        return None
    names: set[str] = set()
    for task_path, channel in head.parent_triggers:
        if task_path.startswith(ch.UPDATE_PREFIX):
            continue  # an update_state's writes: they made the parent's other child
        if not channel.startswith("branch:to:"):
            return None  # a Send queue or a join barrier: read exactly
        names.add(channel[len("branch:to:") :])
    for task_id, task_path, _ in head.head_writes:
        if task_id != NULL_TASK_ID and task_path.startswith(ch.PULL_PREFIX):
            names.add(task_path[len(ch.PULL_PREFIX) :])
    nxt = tuple(sorted(names))
    if ch.ERROR in channels_here:
        return "failed", nxt
    return ("pending" if nxt else "done"), nxt


def thread_status(tasks: list[ch.Task]) -> str:
    if any(t.status == "failed" for t in tasks):
        return "failed"
    if any(t.status == "interrupted" for t in tasks):
        return "interrupted"
    return "pending" if tasks else "done"


def list_threads(store: Store) -> list[ThreadInfo]:
    """All threads, most recently updated first."""
    out = []
    for head in store.threads():
        step = head.metadata.get("step")
        fast = _fast(head)
        interrupts: tuple[object, ...] = ()
        error = head.error
        if fast is not None:
            status, nxt = fast
        else:
            row = store.get_checkpoint(head.thread_id, "", head.head_id, lazy=True)
            writes = store.writes(head.thread_id, "", [head.head_id], values=True)
            tasks = ch.tasks_at(row.checkpoint if row else None, writes)
            status = thread_status(tasks)
            nxt = tuple(t.name for t in tasks)
            interrupts = tuple(
                ch.interrupt_value(i)
                for t in tasks
                if t.status == "interrupted"
                for i in t.interrupts
            )
            error = next((t.error for t in tasks if t.error is not None), error)
        out.append(
            ThreadInfo(
                thread_id=head.thread_id,
                checkpoints=head.checkpoints,
                latest_checkpoint_id=head.head_id,
                updated_at=head.created_at,
                step=step if isinstance(step, int) else None,
                status=status,
                next=nxt,
                error=error,
                interrupts=interrupts,
                source=head.metadata.get("source"),
            )
        )
    out.sort(key=lambda t: (t.latest_checkpoint_id, t.thread_id), reverse=True)
    return out
