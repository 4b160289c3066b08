"""Resuming threads that did not finish: failed, interrupted, or stopped half-way.

Recovery goes through LangGraph's own API only: ``update_state`` for an edit, then
``invoke(None, config)`` — or ``invoke(Command(resume=value), config)`` to answer an
interrupt — with the user's graph bound to LangGraph's own checkpointer on the database.
No checkpoint is ever rewritten: LangGraph appends new checkpoints, and writes a task's
error against the checkpoint it ran from, as it does in any run.

- From the thread's head (the default), LangGraph keeps the writes of the tasks that
  finished there and re-runs only the failed or unfinished ones.
- From an earlier checkpoint (``--from REF``), LangGraph forks inside the thread: a
  ``fork`` checkpoint is written after REF and every task due at REF runs again.

Safe to repeat: a thread whose head is done has nothing to recover, whatever the
options (``--from`` and ``--set`` included), so running the same recover twice does
nothing the second time. A thread is recovered by one lgtt process at a time (an
advisory lock per database and thread: a lock file on this machine for SQLite, a
PostgreSQL advisory lock — any machine — for PostgreSQL), and recover refuses to run
when the thread's head moved between reading it and resuming it (another process is
writing the thread). Recovery runs with ``durability="sync"``: each step is stored
before the next starts, so a recovery that is itself killed can be recovered again.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lgtt import channels as ch
from lgtt.actions.check import GraphShape, Problem, check_checkpoint
from lgtt.errors import GraphError, LgttError, UsageError
from lgtt.jsonable import to_jsonable
from lgtt.models import ThreadInfo
from lgtt.render import one_line
from lgtt.store.base import Store

if TYPE_CHECKING:
    from lgtt.actions.edits import Edit
    from lgtt.graphs import LoadedGraph
    from lgtt.refs import Resolved

UNFINISHED = ("failed", "interrupted", "pending")
#: metadata key LangGraph copies into every checkpoint a recovery writes
RECOVERED_FROM_KEY = "lgtt_recovered_from"
#: a pending thread updated more recently than this may still be running
RECENT_SECONDS = 60.0


class RecoveryRefused(GraphError):
    """Resuming this thread cannot work with today's graph (``lgtt check`` says why)."""


# --- recover --list -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecoveryPoint:
    """An unfinished thread and the checkpoint recovery would resume from (its head)."""

    thread: ThreadInfo
    index: int

    def resume_from(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread.thread_id,
            "checkpoint_id": self.thread.latest_checkpoint_id,
            "index": self.index,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.thread.to_json(), "resume_from": self.resume_from()}


def parse_statuses(values: Sequence[str] | None) -> tuple[str, ...]:
    """``--status failed --status pending`` or ``--status failed,pending``; default all
    unfinished statuses."""
    if not values:
        return UNFINISHED
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name == "done":
                raise UsageError(
                    "--status done: a done thread has nothing to recover",
                    f"use {', '.join(UNFINISHED)}",
                )
            if name not in UNFINISHED:
                raise UsageError(f"unknown status {part!r}", f"use {', '.join(UNFINISHED)}")
            if name not in out:
                out.append(name)
    if not out:
        raise UsageError("--status is empty", f"use {', '.join(UNFINISHED)}")
    return tuple(out)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.I)
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """``--since``: a duration back from now (``90s``, ``15m``, ``2h``, ``1d12h``, ``1w``)
    or an ISO-8601 date or time (naive times are UTC)."""
    raw = text.strip()
    compact = raw.replace(" ", "")
    if compact and _DURATION.sub("", compact) == "" and _DURATION.search(compact):
        seconds = sum(float(n) * _UNIT_SECONDS[u.lower()] for n, u in _DURATION.findall(compact))
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--since {text!r} is neither a duration nor an ISO date",
            "write --since 2h, --since 30m, --since 1d or --since 2026-11-24T07:00",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _updated(info: ThreadInfo) -> datetime | None:
    if not info.updated_at:
        return None
    try:
        when = datetime.fromisoformat(info.updated_at)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def list_unfinished(
    store: Store, statuses: Sequence[str] = UNFINISHED, since: datetime | None = None
) -> list[RecoveryPoint]:
    """Every thread that did not finish, most recently updated first (``lgtt threads``'
    classification: failed, interrupted, pending), with the checkpoint to resume from."""
    from lgtt.threads import list_threads

    out = []
    for info in list_threads(store):
        if info.status not in statuses:
            continue
        if since is not None:
            updated = _updated(info)
            if updated is None or updated < since:
                continue
        out.append(RecoveryPoint(info, info.checkpoints - 1))
    return out


# --- planning one recovery --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resume:
    """The value to answer an ``interrupt()`` with (``None`` is a value too)."""

    value: Any


@dataclass(frozen=True)
class Plan:
    """What recovering a thread would do, read from the database before anything runs."""

    thread_id: str
    point: Resolved
    head_id: str
    head_index: int
    #: status of the thread (its head) before recovery
    before: str
    #: status at the resume point
    point_status: str
    tasks: tuple[ch.Task, ...]
    values: Any
    metadata: dict[str, Any]
    updated_at: str | None = None
    edit: Edit | None = None
    as_node: str | None = None
    resume: Resume | None = None
    problems: tuple[Problem, ...] = ()
    #: why there is nothing to do (the thread is done), else None
    nothing: str | None = None

    @property
    def at_head(self) -> bool:
        return self.point.checkpoint_id == self.head_id

    @property
    def would_run(self) -> tuple[str, ...]:
        """Tasks that run when resuming without an edit (a fork re-runs them all)."""
        if not self.at_head:
            return tuple(t.name for t in self.tasks)
        return tuple(t.name for t in self.tasks if t.status != "done")

    @property
    def kept(self) -> tuple[str, ...]:
        """Tasks that finished at the head: LangGraph keeps their writes."""
        return tuple(t.name for t in self.tasks if t.status == "done") if self.at_head else ()

    @property
    def error(self) -> Any:
        return next((t.error for t in self.tasks if t.error is not None), None)

    @property
    def interrupts(self) -> tuple[Any, ...]:
        return tuple(
            ch.interrupt_value(i)
            for t in self.tasks
            if t.status == "interrupted"
            for i in t.interrupts
        )

    @property
    def blocking(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.blocking)

    def resumed_from(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "checkpoint_id": self.point.checkpoint_id,
            "index": self.point.index,
        }

    def refuse_unless(self, force: bool) -> None:
        """Raise :class:`RecoveryRefused` when the graph cannot resume this point."""
        if force or not self.blocking:
            return
        first = self.blocking[0]
        more = f" (and {len(self.blocking) - 1} more)" if len(self.blocking) > 1 else ""
        raise RecoveryRefused(
            f"cannot resume {first.line()}{more}",
            f"see `lgtt check {self.thread_id}`; fix the graph, or pass --force to try anyway",
        )


def plan_recovery(
    store: Store,
    loaded: LoadedGraph,
    thread: str,
    *,
    from_ref: str | None = None,
    edit: Edit | None = None,
    resume: Resume | None = None,
    shape: GraphShape | None = None,
) -> Plan:
    """Read where ``thread`` stands and what resuming it would run; raise on bad requests."""
    from lgtt.actions.edits import check_edit, infer_as_node
    from lgtt.checkpoints import load_checkpoint
    from lgtt.refs import resolve_from, resolve_in, resolve_thread
    from lgtt.threads import thread_status

    resolve_thread(store, thread)  # an unknown thread: "no thread …, did you mean …"
    head = resolve_in(store, thread, None)
    point = resolve_from(store, thread, from_ref) if from_ref is not None else head
    if point.thread_id != thread:
        raise UsageError(
            f"--from {from_ref} is in thread {point.thread_id!r}, not {thread!r}",
            "recover resumes a thread from one of its own checkpoints; "
            "to continue another thread's history use `lgtt branch`",
        )
    head_detail = load_checkpoint(store, head)
    before = thread_status(list(head_detail.tasks))
    detail = (
        head_detail if point.checkpoint_id == head.checkpoint_id else load_checkpoint(store, point)
    )
    tasks = tuple(detail.tasks)
    common: dict[str, Any] = {
        "thread_id": thread,
        "point": point,
        "head_id": head.checkpoint_id,
        "head_index": head.index,
        "before": before,
        "point_status": thread_status(list(tasks)),
        "tasks": tasks,
        "values": detail.values,
        "metadata": dict(detail.metadata),
        "updated_at": head_detail.summary.created_at,
        "edit": edit if edit else None,
        "resume": resume,
    }
    if before == "done":
        return Plan(**common, nothing="thread is done")
    row = store.get_checkpoint(thread, "", point.checkpoint_id, lazy=True)
    writes = store.writes(thread, "", [point.checkpoint_id], values=False)
    shape = shape or GraphShape.of(loaded)
    problems: tuple[Problem, ...] = ()
    if row is not None:
        problems = tuple(check_checkpoint(shape, row, point.index, writes))
    as_node = None
    if edit:
        check_edit(edit, loaded)
        as_node = edit.as_node
        if as_node is None and row is not None and row.checkpoint is not None:
            as_node = infer_as_node(loaded.graph, row.checkpoint)
    plan = Plan(**common, problems=problems, as_node=as_node)
    label = point.label()
    if resume is not None and plan.point_status != "interrupted":
        raise UsageError(
            f"--resume: {label} is not waiting on an interrupt (it is {plan.point_status})",
            "--resume answers interrupt(); leave it out to resume a failed or pending thread",
        )
    if plan.point_status == "interrupted" and resume is None and not edit:
        shown = f" ({one_line(plan.interrupts[0])})" if plan.interrupts else ""
        raise UsageError(
            f"{label} is waiting on interrupt(){shown}: resuming it without an answer "
            "would only ask again",
            "answer with --resume JSON, e.g. --resume '\"yes\"'",
        )
    if not plan.tasks and not edit:
        raise UsageError(
            f"nothing would run from {label}: no task is due there",
            "pick a checkpoint with next nodes (`lgtt timeline`), or leave out --from",
        )
    return plan


# --- the outcome ------------------------------------------------------------------------


@dataclass(frozen=True)
class Recovery:
    """What recovering one thread did (or, for a dry run, would do)."""

    thread_id: str
    #: resumed (ran), none (nothing to recover), dry-run, refused (not attempted)
    action: str
    before: str
    status: str
    resumed_from: dict[str, Any] | None = None
    error: Any = None
    values: Any = None
    checkpoint_id: str | None = None
    index: int | None = None
    next: tuple[str, ...] = ()
    interrupts: tuple[Any, ...] = ()
    attempts: int = 0
    would_run: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    edit: dict[str, Any] | None = None
    resume: Resume | None = None
    problems: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def recovered(self) -> bool:
        return self.status == "done"

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "resumed_from": self.resumed_from,
            "status": self.status,
            "error": to_jsonable(self.error),
            "values": to_jsonable(self.values),
            "action": self.action,
            "before": self.before,
            "checkpoint_id": self.checkpoint_id,
            "index": self.index,
            "next": list(self.next),
            "interrupts": [to_jsonable(i) for i in self.interrupts],
            "attempts": self.attempts,
            "would_run": list(self.would_run),
            "kept": list(self.kept),
            "edit": to_jsonable(self.edit),
            "resume": None if self.resume is None else {"value": to_jsonable(self.resume.value)},
            "problems": [p.to_json() for p in self.problems],
            "warnings": list(self.warnings),
        }


def nothing_to_do(plan: Plan) -> Recovery:
    return Recovery(
        thread_id=plan.thread_id,
        action="none",
        before=plan.before,
        status=plan.before,
        values=plan.values,
        checkpoint_id=plan.head_id,
        index=plan.head_index,
    )


def dry_run(plan: Plan) -> Recovery:
    """What :func:`recover` would do, from the plan alone: nothing is opened for writing."""
    edit = None
    if plan.edit:
        edit = {"values": plan.edit.values, "as_node": plan.as_node}
    return Recovery(
        thread_id=plan.thread_id,
        action="dry-run",
        before=plan.before,
        status=plan.before,
        resumed_from=plan.resumed_from(),
        error=plan.error,
        values=plan.values,
        checkpoint_id=plan.head_id,
        index=plan.head_index,
        next=tuple(t.name for t in plan.tasks),
        interrupts=plan.interrupts,
        would_run=() if plan.edit else plan.would_run,
        kept=() if plan.edit else plan.kept,
        edit=edit,
        resume=plan.resume,
        problems=plan.problems,
        warnings=tuple(_warnings(plan)),
    )


def refused(thread: str, before: str, exc: LgttError, plan: Plan | None = None) -> Recovery:
    """A thread a batch could not even try (its plan raised, or it was refused)."""
    return Recovery(
        thread_id=thread,
        action="refused",
        before=before,
        status=before,
        resumed_from=plan.resumed_from() if plan is not None else None,
        error=str(exc),
        problems=plan.problems if plan is not None else (),
    )


def _warnings(plan: Plan) -> list[str]:
    out = []
    if plan.before == "pending" and plan.updated_at:
        try:
            updated = datetime.fromisoformat(plan.updated_at)
            age = (datetime.now(UTC) - updated).total_seconds()
        except (ValueError, TypeError):
            age = None
        if age is not None and age < RECENT_SECONDS:
            out.append(
                f"{plan.thread_id} was updated {max(age, 0):.0f}s ago: if the process that "
                "ran it is still running, recovering now runs its tasks twice"
            )
    out.extend(f"{p.line()} (not blocking)" for p in plan.problems if not p.blocking)
    out.extend(f"{p.line()} (--force)" for p in plan.blocking)
    return out


# --- running -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Head:
    checkpoint_id: str
    index: int
    status: str
    next: tuple[str, ...]
    failed: tuple[str, ...]
    error: Any
    interrupts: tuple[Any, ...]
    values: Any


def _read_head(db: str, thread: str) -> _Head:
    """The thread's head after a run, read back with lgtt's own strict reader."""
    from lgtt.checkpoints import load_checkpoint
    from lgtt.refs import resolve_in
    from lgtt.store import open_store
    from lgtt.threads import thread_status

    with open_store(db) as store:
        ref = resolve_in(store, thread, None)
        detail = load_checkpoint(store, ref)
    tasks = list(detail.tasks)
    return _Head(
        checkpoint_id=ref.checkpoint_id,
        index=ref.index,
        status=thread_status(tasks),
        next=tuple(t.name for t in tasks if t.status != "done"),
        failed=tuple(t.name for t in tasks if t.status == "failed"),
        error=next((t.error for t in tasks if t.error is not None), None),
        interrupts=tuple(
            ch.interrupt_value(i) for t in tasks if t.status == "interrupted" for i in t.interrupts
        ),
        values=detail.values,
    )


def recover(
    plan: Plan,
    loaded: LoadedGraph,
    db: str,
    *,
    retries: int = 0,
    backoff: float = 0.5,
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    note: Callable[[str], None] | None = None,
    started: Callable[[str], None] | None = None,
) -> Recovery:
    """Resume the planned thread through LangGraph and report where it ended.

    ``db`` is the database (``--db``): its store's ``saver()`` is LangGraph's
    checkpointer for the run, and the outcome is read back read-only. Retries
    (``retries`` more attempts, waiting ``backoff * 2**i`` seconds before attempt
    ``i + 2``) happen only when an attempt failed in a task that was due when it
    started: the same task failing again, not a later one.
    """
    from lgtt.actions.edits import apply_edit
    from lgtt.actions.history import run_config
    from lgtt.graphs import user_code
    from lgtt.store import open_store

    if plan.nothing:
        return nothing_to_do(plan)
    plan.refuse_unless(force)
    warnings = _warnings(plan)
    marker = {"metadata": {RECOVERED_FROM_KEY: plan.point.checkpoint_id}}
    thread_cfg = run_config(plan.thread_id, plan.metadata)
    point_cfg = run_config(plan.thread_id, plan.metadata, plan.point.checkpoint_id)
    with thread_lock(db, plan.thread_id):
        store = open_store(db)
        try:
            with store.saver() as saver:
                if loaded.serde is not None:
                    saver.serde = loaded.serde
                graph = loaded.bind(saver)
                moved = _head_moved(saver, plan, thread_cfg)
                if moved and not force:
                    raise LgttError(moved, "check `lgtt recover --list`, then run recover again")
                if moved:
                    warnings.append(moved)
                if started is not None:
                    what = ", ".join(plan.would_run) if not plan.edit else "the edit, then on"
                    started(
                        f"resuming {plan.point.label()} ({plan.point_status}): "
                        f"running {what or 'nothing'}"
                    )
                # From the head: LangGraph keeps the writes of tasks that finished there.
                # From an earlier checkpoint: LangGraph forks and re-runs its tasks.
                start: Any = {**(thread_cfg if plan.at_head else point_cfg), **marker}
                if plan.edit:
                    with user_code():
                        apply_edit(graph, point_cfg, plan.edit)
                    start = {**thread_cfg, **marker}  # the edit's checkpoint is the head now
                head, raised, attempts = _attempts(
                    graph,
                    plan,
                    db,
                    start,
                    {**thread_cfg, **marker},
                    retries=retries,
                    backoff=backoff,
                    sleep=sleep,
                    note=note,
                )
        finally:
            store.close()
    status, error = head.status, head.error
    if raised is None and status == "failed":
        # a failing task raises out of invoke: this error is the one stored before
        warnings.append(
            f"LangGraph ran nothing from {plan.point.label()}: no task of today's graph is "
            "due there (see `lgtt check`); the error shown is the earlier one"
        )
    if raised is not None and status != "failed":
        # the run stopped without storing an error (recursion limit, bad resume…)
        status, error = "failed", f"{type(raised).__name__}: {raised}"
    edit = {"values": plan.edit.values, "as_node": plan.as_node} if plan.edit else None
    return Recovery(
        thread_id=plan.thread_id,
        action="resumed",
        before=plan.before,
        status=status,
        resumed_from=plan.resumed_from(),
        error=error,
        values=head.values,
        checkpoint_id=head.checkpoint_id,
        index=head.index,
        next=head.next,
        interrupts=head.interrupts,
        attempts=attempts,
        edit=edit,
        resume=plan.resume,
        problems=plan.problems,
        warnings=tuple(warnings),
    )


def _head_moved(saver: Any, plan: Plan, thread_cfg: Any) -> str | None:
    """Why the thread is not where the plan read it (another writer), or None."""
    try:
        latest = saver.get_tuple(thread_cfg)
    except Exception as exc:  # a blob LangGraph's serializer cannot decode
        raise GraphError(
            f"LangGraph cannot read the head of {plan.thread_id!r}: {type(exc).__name__}: {exc}",
            f"see `lgtt check {plan.thread_id}`",
        ) from exc
    now_id = latest.checkpoint["id"] if latest is not None else None
    if now_id == plan.head_id:
        return None
    return (
        f"thread {plan.thread_id!r} changed while recover was reading it "
        f"(head was {plan.head_id[:13]}, now {str(now_id)[:13]}): another process is writing it"
    )


def _attempts(
    graph: Any,
    plan: Plan,
    db: str,
    first: Any,
    again: Any,
    *,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None],
    note: Callable[[str], None] | None,
) -> tuple[_Head, BaseException | None, int]:
    """Invoke from ``first``, then retry from the head (config ``again``) while the same
    task fails again; returns the head, what the last invoke raised, and the attempts."""
    from langgraph.types import Command

    from lgtt.graphs import user_code

    config, attempts = first, 0
    while True:
        try:
            with user_code():
                due = set(graph.get_state(config).next)
        except Exception as exc:  # a blob LangGraph cannot decode, a schema that moved…
            raise GraphError(
                f"LangGraph cannot read {plan.point.label()}: {type(exc).__name__}: {exc}",
                f"see `lgtt check {plan.thread_id}` and `lgtt show {plan.point.label()}`",
            ) from exc
        payload: Any = None
        if plan.resume is not None and attempts == 0:
            payload = Command(resume=plan.resume.value)
        attempts += 1
        raised: BaseException | None = None
        try:
            with user_code():
                graph.invoke(payload, config, durability="sync")
        except Exception as exc:  # the graph failed: what it stored says where
            raised = exc
        head = _read_head(db, plan.thread_id)
        same_task = head.status == "failed" and bool(head.failed) and set(head.failed) <= due
        if not same_task or attempts > retries:
            return head, raised, attempts
        wait = backoff * 2 ** (attempts - 1)
        if note is not None:
            note(
                f"{plan.thread_id}: {', '.join(head.failed)} failed again "
                f"({one_line(head.error)}); retry {attempts}/{retries} in {wait:g}s"
            )
        if wait > 0:
            sleep(wait)
        config = again  # resume from the head, keeping what finished


# --- one recovery per thread at a time ---------------------------------------------------


class ThreadBusy(LgttError):
    """Another lgtt process is recovering this thread."""


@contextmanager
def thread_lock(db: str, thread: str) -> Iterator[None]:
    """An advisory lock per (database, thread), held while recovering.

    On PostgreSQL it is the server's own: a session-level ``pg_try_advisory_lock`` on a
    connection held for the recovery, so lgtt processes on any machine exclude each
    other, and a killed process's lock goes with its connection. On SQLite it is a lock
    file in the temporary directory (never beside the database): processes on other
    machines are not excluded there. Either way the head check in :func:`recover`
    catches most other races, and LangGraph's own writes cannot corrupt the thread (at
    worst two runs leave two children of one checkpoint, a fork).
    """
    from lgtt.store import is_postgres_url

    if is_postgres_url(db):
        with _postgres_lock(db, thread):
            yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Windows
        yield
        return
    from lgtt.store.sqlite import sqlite_path

    where = str(sqlite_path(db).resolve())
    key = hashlib.sha256(f"{where}\0{thread}".encode()).hexdigest()[:32]
    folder = Path(tempfile.gettempdir()) / "lgtt-locks"
    folder.mkdir(exist_ok=True)
    path = folder / f"{key}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise ThreadBusy(
                f"another lgtt recover (pid {holder}) is recovering thread {thread!r}",
                "wait for it to finish, then check `lgtt recover --list`",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


@contextmanager
def _postgres_lock(url: str, thread: str) -> Iterator[None]:
    """``pg_try_advisory_lock`` on a 64-bit key of the thread id, in this database."""
    import psycopg

    from lgtt.store.postgres import connect

    digest = hashlib.sha256(f"lgtt recover\0{thread}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    conn = connect(url, autocommit=True)
    try:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if not (row and row[0]):
            # A bigint key shows in pg_locks as classid (high half) and objid (low half).
            unsigned = key & 0xFFFFFFFFFFFFFFFF
            holder = conn.execute(
                "SELECT l.pid, host(a.client_addr) FROM pg_locks l"
                " LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND l.classid::bigint = %s AND l.objid::bigint = %s LIMIT 1",
                (unsigned >> 32, unsigned & 0xFFFFFFFF),
            ).fetchone()
            who = (
                f"PostgreSQL session {holder[0]}" + (f" from {holder[1]}" if holder[1] else "")
                if holder
                else "another session"
            )
            raise ThreadBusy(
                f"another lgtt recover ({who}) is recovering thread {thread!r}",
                "wait for it to finish, then check `lgtt recover --list`",
            )
        yield
    finally:
        with suppress(psycopg.Error):
            conn.close()  # the lock goes with the session


def recover_one(
    db: str,
    loaded: LoadedGraph,
    info: ThreadInfo,
    *,
    shape: GraphShape,
    resume: Resume | None = None,
    retries: int = 0,
    backoff: float = 0.5,
    force: bool = False,
    dry: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    note: Callable[[str], None] | None = None,
) -> Recovery:
    """One thread of a batch: plan, then run; never raises for the thread's own problems."""
    plan: Plan | None = None
    try:
        from lgtt.store import open_store

        with open_store(db) as store:
            plan = plan_recovery(
                store,
                loaded,
                info.thread_id,
                resume=resume if info.status == "interrupted" else None,
                shape=shape,
            )
        if plan.nothing:
            return nothing_to_do(plan)
        plan.refuse_unless(force)
        if dry:
            return dry_run(plan)
        return recover(
            plan,
            loaded,
            db,
            retries=retries,
            backoff=backoff,
            force=force,
            sleep=sleep,
            note=note,
        )
    except LgttError as exc:  # this thread cannot be recovered: say why, go on
        return refused(info.thread_id, info.status, exc, plan)


def batch_exit_ok(results: Sequence[Recovery]) -> bool:
    return all(r.status == "done" for r in results)
