"""``lgtt branch``: fork a thread at a checkpoint, optionally edit, optionally run on.

A branch is a new thread holding the source's history up to REF (a byte-identical copy
of the checkpoints root → REF with the writes that produced them; REF's own writes —
what the source went on to do — are left behind, so the branch continues from REF with
today's code). The edit goes through LangGraph's ``update_state`` in the same
transaction as the copy; ``--run`` then continues with ``invoke(None, …)``.

``--in-place`` forks inside the source thread the way LangGraph does natively: the edit
is an ``update_state`` on REF (a new child of REF), and a run from REF without an edit is
``invoke(None, config_at_REF)`` (LangGraph writes a ``fork`` checkpoint first). Either
way the source only gains checkpoints.

``--dry-run`` does all of it but the run where nothing reaches the database (a scratch
SQLite copy; on PostgreSQL a transaction rolled back at the end, see
:mod:`lgtt.actions.history`) and reports what would be written and which nodes would
run next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig

from lgtt.actions.edits import Edit, apply_edit, check_edit
from lgtt.actions.history import (
    CopyPlan,
    check_thread_name,
    open_target,
    path_to,
    plan_copy,
    read_outcome,
    run_config,
    writable,
)
from lgtt.errors import UsageError
from lgtt.graphs import LoadedGraph, user_code
from lgtt.jsonable import to_jsonable
from lgtt.refs import Resolved
from lgtt.store.base import Store


def default_name(thread: str, index: int) -> str:
    return f"{thread}-branch-{index}"


@dataclass(frozen=True)
class BranchPlan:
    """Everything ``branch`` will do, decided before the database is opened for writing."""

    #: the database written (a SQLite path or a PostgreSQL URL)
    db: str
    ref: Resolved
    #: the thread written: the new one, or the source for --in-place
    thread: str
    #: rows to copy (None: --in-place writes into the source itself)
    copy: CopyPlan | None
    edit: Edit
    run: bool
    in_place: bool
    dry_run: bool
    #: REF's metadata (the recorded run's configurable keys are in it)
    metadata: dict[str, Any]
    #: nodes due at REF
    due: tuple[str, ...]


@dataclass(frozen=True)
class BranchResult:
    plan: BranchPlan
    checkpoint_id: str | None
    index: int | None
    ran: bool
    status: str
    next: tuple[str, ...]
    values: Any
    error: Any = None
    interrupts: tuple[Any, ...] = ()
    as_node: str | None = None
    #: the checkpoint the edit wrote (None without an edit, or in a dry run)
    edit_checkpoint_id: str | None = None
    edit_index: int | None = None

    @property
    def thread_id(self) -> str:
        return self.plan.thread

    def to_json(self) -> dict[str, Any]:
        p = self.plan
        return {
            "thread_id": p.thread,
            "checkpoint_id": self.checkpoint_id,
            "index": self.index,
            "forked_from": {
                "thread_id": p.ref.thread_id,
                "checkpoint_id": p.ref.checkpoint_id,
                "index": p.ref.index,
            },
            "ran": self.ran,
            "status": self.status,
            "values": to_jsonable(self.values),
            "next": list(self.next),
            "error": to_jsonable(self.error),
            "interrupts": [to_jsonable(i) for i in self.interrupts],
            "edit": {
                "values": to_jsonable(p.edit.values),
                "as_node": self.as_node,
                "checkpoint_id": self.edit_checkpoint_id,
                "index": self.edit_index,
            }
            if p.edit
            else None,
            "copied": {
                "checkpoints": len(p.copy.ids) if p.copy and not p.in_place else 0,
                "writes": p.copy.writes if p.copy and not p.in_place else 0,
            },
            "in_place": p.in_place,
            "dry_run": p.dry_run,
            "would_run": list(self.next) if p.dry_run and p.run else [],
        }


def plan_branch(
    store: Store,
    ref: Resolved,
    *,
    to: str | None = None,
    edit: Edit | None = None,
    run: bool = False,
    in_place: bool = False,
    dry_run: bool = False,
    graph: LoadedGraph | None = None,
) -> BranchPlan:
    """Check the request against the database and the graph; nothing is written."""
    from lgtt.checkpoints import load_checkpoint

    edit = edit or Edit()
    if ref.checkpoint_ns:
        raise UsageError("branch works on the root graph's checkpoints", "drop --ns")
    if in_place:
        if to is not None:
            raise UsageError("--in-place writes into the source thread: drop --to")
        if not edit and not run:
            raise UsageError(
                "--in-place needs an edit or --run",
                "add --set KEY=JSON, --patch FILE, --as-node NODE or --run",
            )
    if (edit or run) and graph is None:
        raise UsageError(
            "editing or running a branch needs your graph",
            "pass --graph path/to/file.py:attr (a plain copy needs none)",
        )
    if graph is not None and edit:
        check_edit(edit, graph)
    check_thread_name(to, "new")
    db = writable(store)
    thread = ref.thread_id if in_place else (to or default_name(ref.thread_id, ref.index))
    if not in_place and thread in store:
        raise UsageError(
            f"thread {thread!r} already exists",
            "pass --to NEW_NAME (lgtt never writes into an existing thread)",
        )
    ids = path_to(ref.ids, ref.index)
    copy = None
    if not in_place or dry_run:  # a dry run in place works on a scratch copy of the path
        copy = plan_copy(store, ref.thread_id, ids, thread, with_writes=ids[:-1])
    row = store.get_checkpoint(ref.thread_id, "", ref.checkpoint_id, lazy=True)
    metadata = row.metadata if row is not None else {}
    due = load_checkpoint(store, ref).summary.next
    return BranchPlan(db, ref, thread, copy, edit, run, in_place, dry_run, metadata, due)


def execute_branch(plan: BranchPlan, graph: LoadedGraph | None = None) -> BranchResult:
    """Write the branch (or, for a dry run, a scratch copy of it) and report its head."""
    serde = graph.serde if graph is not None else None
    at_ref = run_config(plan.thread, plan.metadata, plan.ref.checkpoint_id)
    as_node: str | None = None
    ran, error = False, None
    with open_target(plan.db, scratch=plan.dry_run) as target:
        edited: RunnableConfig | None = None
        # In place, the source's rows are the ones to fork; a scratch file has them
        # copied in first (a dry run on PostgreSQL works on the database itself).
        copy = plan.copy if not (plan.in_place and target.holds_source) else None
        with target.transaction(serde) as saver:
            if copy is not None:
                target.copy(copy)
            if plan.edit:
                assert graph is not None
                with user_code():
                    edited, as_node = apply_edit(graph.bind(saver), at_ref, plan.edit)
        if plan.run and not plan.dry_run:
            assert graph is not None
            bound = graph.bind(target.saver(serde))
            # in place: LangGraph's own time travel, invoke at the checkpoint to go on from;
            # a new thread: go on from its head
            config = (edited or at_ref) if plan.in_place else run_config(plan.thread, plan.metadata)
            ran = True
            try:
                with user_code():
                    bound.invoke(None, config)
            except Exception as exc:  # the graph failed: that is the outcome
                error = f"{type(exc).__name__}: {exc}"
        at = None  # the thread's head
        if plan.dry_run and plan.in_place and target.holds_source:
            # the source's head is not what the fork made: what it made is the edit (or REF)
            at = edited["configurable"]["checkpoint_id"] if edited else plan.ref.checkpoint_id
        out = read_outcome(target, plan.thread, at)
        edit_id = edit_index = None
        if edited is not None and not plan.dry_run:
            edit_id = edited["configurable"]["checkpoint_id"]
            edit_index = [c for c, _ in target.ids(plan.thread)].index(edit_id)
    unknown = plan.dry_run and bool(plan.edit)  # the edit's checkpoint is not written
    index = out.index
    if plan.dry_run and plan.in_place and not plan.edit:
        index = plan.ref.index  # REF, numbered in the source (not in a scratch copy of it)
    return BranchResult(
        plan=plan,
        checkpoint_id=None if unknown else out.checkpoint_id,
        index=None if unknown else index,
        ran=ran,
        status=out.status,
        next=out.next,
        values=out.values,
        error=out.error if out.error is not None else error,
        interrupts=out.interrupts,
        as_node=as_node,
        edit_checkpoint_id=edit_id,
        edit_index=edit_index,
    )
