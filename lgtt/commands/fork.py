"""Commands that fork and re-run threads with the user's graph: branch, replay."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lgtt.cli import (
    DbOpt,
    DebugOpt,
    GraphOpt,
    JsonOpt,
    NoColorOpt,
    Out,
    app,
    opened,
    say_guess,
    settings_for,
)
from lgtt.errors import ExitStatus, UsageError
from lgtt.refs import Resolved
from lgtt.store.base import Store

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lgtt.actions.branch import BranchResult
    from lgtt.actions.replay import ReplayResult

ThreadArg = Annotated[
    str | None,
    typer.Argument(
        help="Thread id, or THREAD@REF (default: the most recently updated thread).",
        show_default=False,
    ),
]
ToOpt = Annotated[str | None, typer.Option("--to", help="Name of the new thread.")]
DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", help="Say what would be written and run; write nothing."),
]


def resolve_start(
    store: Store, thread: str | None, from_: str | None, *, default: str, out: Out
) -> Resolved:
    """``[THREAD[@REF]] [--from REF]`` → the checkpoint to start from."""
    from lgtt.refs import resolve, resolve_from, resolve_thread, split_ref

    if thread is not None:
        tid, selector = split_ref(thread, store)
        if selector is not None:
            if from_ is not None:
                raise UsageError(
                    f"{thread!r} already names a checkpoint", "drop --from, or give THREAD alone"
                )
            return resolve(store, thread)
        tid, _ = resolve_thread(store, tid)
        return resolve_from(store, tid, from_ if from_ is not None else default)
    if from_ is not None and "@" in from_:
        return resolve(store, from_)
    tid, guessed = resolve_thread(store, None)
    say_guess(out, tid, guessed)
    return resolve_from(store, tid, from_ if from_ is not None else default)


def _load(spec: str | None, what: str) -> Any:
    from lgtt.graphs import load_graph, require_spec

    return load_graph(require_spec(spec, what))


# --- branch ------------------------------------------------------------------------------


@app.command()
def branch(
    ctx: typer.Context,
    thread: ThreadArg = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Checkpoint to fork at: N, -N, an id (prefix) or THREAD@… (default: head).",
        ),
    ] = None,
    to: ToOpt = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Edit a state key: KEY=JSON (repeatable), e.g. plan='\"retry\"'."
        ),
    ] = None,
    patch: Annotated[
        Path | None,
        typer.Option("--patch", help="Edit from a JSON file: an object of key → new value."),
    ] = None,
    as_node: Annotated[
        str | None,
        typer.Option("--as-node", help="Apply the edit as if this node returned it."),
    ] = None,
    run: Annotated[
        bool, typer.Option("--run", help="Continue the run from there with your graph.")
    ] = False,
    in_place: Annotated[
        bool,
        typer.Option(
            "--in-place", help="Fork inside the same thread, as LangGraph's update_state does."
        ),
    ] = False,
    dry_run: DryRunOpt = False,
    db: DbOpt = None,
    graph: GraphOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Fork a thread at a checkpoint into a new thread; optionally edit it and run on.

    The new thread holds the source's history up to the checkpoint (same checkpoint
    ids, so `lgtt diff SOURCE NEW` aligns them); the source is never modified. Edits
    go through LangGraph's update_state, so reducers apply. Editing or running needs
    --graph; a plain copy does not.
    """
    from lgtt.actions.branch import execute_branch, plan_branch
    from lgtt.actions.edits import make_edit

    s = settings_for(ctx, db=db, graph=graph, json=json_, no_color=no_color, debug=debug)
    out = Out(s)
    edit = make_edit(set_ or (), patch, as_node)
    loaded = _load(s.graph, "editing or running a branch") if edit or run else None
    with opened(s) as store:
        ref = resolve_start(store, thread, from_, default="-1", out=out)
        plan = plan_branch(
            store,
            ref,
            to=to,
            edit=edit,
            run=run,
            in_place=in_place,
            dry_run=dry_run,
            graph=loaded,
        )
    result = execute_branch(plan, loaded)
    if out.json:
        out.emit(result.to_json())
        return
    out.show(*_branch_lines(result))


def _names(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "-"


def _branch_lines(r: BranchResult) -> list[Any]:
    from lgtt.render import one_line, value_view

    p = r.plan
    src = p.ref.label()
    lines: list[Any] = []
    would = p.dry_run
    if p.dry_run:
        lines.append("dry run: nothing written")
    if p.in_place:
        lines.append(f"{'would fork' if would else 'forked'} {src} inside {p.thread}")
    elif p.copy is not None:
        n, w = len(p.copy.ids), p.copy.writes
        lines.append(
            f"{src} → {p.thread}: {'would copy' if would else 'copied'} {n} checkpoint"
            f"{'s' if n != 1 else ''} and {w} write{'s' if w != 1 else ''}"
        )
    if p.edit:
        where = f" ({p.thread}@{r.edit_index})" if r.edit_index is not None else ""
        values = ", ".join(f"{k}={one_line(v, 40)}" for k, v in p.edit.values.items())
        lines.append(
            f"{'would edit' if would else 'edited'} {values or 'nothing'} as node {r.as_node}{where}"
        )
    if r.ran:
        lines.append(f"ran: {r.status}" + (f": {one_line(r.error, 100)}" if r.error else ""))
    elif p.run:
        lines.append(f"would run: {_names(r.next)}")
    head = f"{p.thread}@{r.index}" if r.index is not None else f"{p.thread} (new head)"
    lines.append(f"head {head}: {r.status}, next {_names(r.next)}")
    lines.append(value_view(r.values))
    if not p.dry_run and not p.in_place:
        lines.append(f"compare: lgtt diff {p.ref.thread_id} {p.thread}")
    return lines


# --- replay ------------------------------------------------------------------------------


@app.command()
def replay(
    ctx: typer.Context,
    thread: ThreadArg = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Checkpoint to replay from: N, -N, an id (prefix) or THREAD@… (default: 0, the first).",
        ),
    ] = None,
    to: ToOpt = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Exit 1 when the replay diverges from the recording (for CI)."
        ),
    ] = False,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore",
            help="Regex of state paths that may differ, e.g. 'last_updated' (repeatable).",
        ),
    ] = None,
    ignore_order: Annotated[
        bool, typer.Option("--ignore-order", help="Compare lists ignoring their order.")
    ] = False,
    keep: Annotated[
        bool | None,
        typer.Option(
            "--keep/--no-keep",
            help="Keep the replay thread in the database (default), or run it in a scratch "
            "copy that is thrown away (default with --check: the database is not written).",
            show_default=False,
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    db: DbOpt = None,
    graph: GraphOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Re-run a thread from a checkpoint with today's graph code and compare.

    The replay goes into a new thread (<thread>-replay-<n>) and is compared with the
    recording step by step: nodes that ran, what they wrote, the state after each step,
    the next nodes, the final status. The first divergence and the final-state
    difference are reported; with --check the exit code is 1 when they differ.
    """
    from lgtt.actions.replay import execute_replay, plan_replay
    from lgtt.diff import DiffOptions, compile_ignores

    s = settings_for(ctx, db=db, graph=graph, json=json_, no_color=no_color, debug=debug)
    out = Out(s)
    options = DiffOptions(ignore=compile_ignores(ignore or ()), ignore_order=ignore_order)
    loaded = _load(s.graph, "`lgtt replay`")
    with opened(s) as store:
        ref = resolve_start(store, thread, from_, default="0", out=out)
        plan = plan_replay(
            store,
            ref,
            to=to,
            keep=(not check) if keep is None else keep,
            dry_run=dry_run,
            options=options,
        )
    result = execute_replay(plan, loaded)
    for note in result.notes:
        out.note(note)
    if result.rerun_before_start:
        out.note(
            "warning: LangGraph re-ran nodes before the starting checkpoint: "
            + ", ".join(result.rerun_before_start)
        )
    if out.json:
        out.emit(result.to_json())
    else:
        out.show(*_replay_lines(result))
    if check and result.diverged and not plan.dry_run:
        raise typer.Exit(ExitStatus.DIFFERENT)


def _replay_lines(r: ReplayResult) -> list[Any]:
    from lgtt.render import one_line

    p = r.plan
    src = p.ref.label()
    if p.dry_run:
        return [
            "dry run: nothing written",
            f"would copy {src} and its {len(p.copy.ids) - 1} ancestors into {p.thread},",
            f"then run {_names(p.due)} with your graph and compare with the "
            f"{r.recorded_steps} recorded step{'s' if r.recorded_steps != 1 else ''} after it",
        ]
    where = p.thread if p.keep else f"{p.thread} (scratch copy, not kept)"
    lines: list[Any] = [
        f"replayed {src} → {where}: {r.replayed_steps} step"
        f"{'s' if r.replayed_steps != 1 else ''} (recorded {r.recorded_steps}), "
        f"status {r.status}" + (f": {one_line(r.error, 100)}" if r.error else "")
    ]
    d = r.divergence
    if not r.diverged:
        lines.append("same: the replay reproduces the recording")
        return lines
    if d is not None:
        node = f", node {d.node}" if d.node else ""
        lines.append(
            f"diverged at step {d.step}{node}: {p.ref.thread_id}@{d.a_index} vs "
            f"{p.thread}@{d.b_index}"
        )
        lines.append(f"  {d.reason}")
    if r.changes:
        lines.append(f"final state: {len(r.changes)} change{'s' if len(r.changes) != 1 else ''}")
        for c in r.changes[:20]:
            if c.kind == "added":
                lines.append(f"  + {c.path}: {one_line(c.new)}")
            elif c.kind == "removed":
                lines.append(f"  - {c.path}: {one_line(c.old)}")
            else:
                lines.append(f"  ~ {c.path}: {one_line(c.old)} → {one_line(c.new)}")
        if len(r.changes) > 20:
            lines.append(f"  … and {len(r.changes) - 20} more (--json for all)")
    if p.keep:
        lines.append(f"compare: lgtt diff {p.ref.thread_id} {p.thread}")
    return lines
