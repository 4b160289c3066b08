"""Recovery commands: recover (list, resume one thread, resume many) and check."""

from __future__ import annotations

import json
from collections.abc import Sequence
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
    Settings,
    app,
    opened,
    settings_for,
)
from lgtt.errors import ExitStatus, UsageError

if TYPE_CHECKING:
    from rich.console import RenderableType

    from lgtt.actions.check import CheckReport
    from lgtt.actions.recover import Recovery, RecoveryPoint, Resume
    from lgtt.graphs import LoadedGraph


def _parse_resume(raw: str | None) -> Resume | None:
    from lgtt.actions.edits import parse_json
    from lgtt.actions.recover import Resume

    if raw is None:
        return None
    try:
        return Resume(parse_json(raw))
    except ValueError as exc:
        shown = raw if len(raw) <= 60 else f"{raw[:57]}…"
        hint = (
            f"a string needs JSON quotes: --resume '\"{shown}\"'"
            if raw and not raw.lstrip().startswith(("{", "[", '"'))
            else "the value must be JSON"
        )
        raise UsageError(f"--resume: {shown!r} is not JSON ({exc})", hint) from None


def _load(s: Settings) -> LoadedGraph:
    from lgtt.graphs import load_graph, require_spec

    return load_graph(require_spec(s.graph, "recover"))


def _refuse_with(mode: str, **given: Any) -> None:
    """Options that make no sense in ``mode``: one clear line instead of silence."""
    bad = [name for name, value in given.items() if value not in (None, False, (), [])]
    if bad:
        raise UsageError(
            f"{', '.join(bad)} cannot be used with {mode}", "see `lgtt recover --help`"
        )


# --- recover ------------------------------------------------------------------------------


@app.command()
def recover(
    ctx: typer.Context,
    thread: Annotated[
        str | None,
        typer.Argument(
            help="Thread to resume (THREAD, or THREAD@REF for --from REF).", show_default=False
        ),
    ] = None,
    list_: Annotated[
        bool,
        typer.Option(
            "--list",
            help="List unfinished threads (failed, interrupted, pending), where they would "
            "resume and what would run. Needs no graph.",
        ),
    ] = False,
    all_: Annotated[
        bool,
        typer.Option(
            "--all", help="Resume every unfinished thread matching --status/--since, one by one."
        ),
    ] = False,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help="With --list/--all: only threads with this status: failed, interrupted, "
            "pending (repeatable or comma-separated; default all three).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DURATION|ISO",
            help="With --list/--all: only threads updated since then: a duration back from "
            "now (30m, 2h, 1d) or an ISO date/time.",
        ),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="REF",
            help="Resume from this earlier checkpoint of the thread (N, -N, an id prefix): "
            "a fork inside the thread. Default: the head, keeping finished tasks' writes.",
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=JSON",
            help="Edit a state key before resuming: KEY=JSON (repeatable).",
        ),
    ] = None,
    patch: Annotated[
        Path | None,
        typer.Option(
            "--patch", metavar="FILE", help="Edit from a JSON file (object of key → new value)."
        ),
    ] = None,
    as_node: Annotated[
        str | None,
        typer.Option(
            "--as-node", metavar="NODE", help="Apply the edit as if this node returned it."
        ),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            metavar="JSON",
            help="Answer the interrupt() the thread waits on with this JSON value, "
            "e.g. '\"yes\"' (with --all: every interrupted thread gets it).",
        ),
    ] = None,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            metavar="N",
            min=0,
            help="Try again up to N more times when the same task fails again.",
        ),
    ] = 0,
    backoff: Annotated[
        float,
        typer.Option(
            "--backoff",
            metavar="SECONDS",
            min=0.0,
            help="Seconds before the first retry, doubled for each next one.",
        ),
    ] = 0.5,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Resume even when `lgtt check` finds the checkpoint incompatible with the "
            "graph, or the thread moved meanwhile.",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Say what would run (and be edited); write nothing."),
    ] = False,
    db: DbOpt = None,
    graph: GraphOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Resume a failed, interrupted or half-finished thread with your graph.

    Resuming goes through LangGraph (invoke with None, or with Command(resume=…)) and
    never rewrites a checkpoint. From the head, tasks that finished keep their writes
    and only the failed or unfinished ones run; --from resumes from an earlier
    checkpoint (a fork inside the thread). The checkpoint is first checked against the
    graph (as `lgtt check` does) and recover refuses, exit 2, when resuming cannot work.
    A done thread has nothing to recover: running recover again does nothing. Exit 0
    when the thread (every thread, with --all) ends done, 1 when it fails or is
    interrupted again.
    """
    s = settings_for(ctx, db=db, graph=graph, json=json_, no_color=no_color, debug=debug)
    out = Out(s)
    edit_given = {"--set": set_, "--patch": patch, "--as-node": as_node}
    if list_:
        _refuse_with(
            "--list",
            THREAD=thread,
            **{"--all": all_, "--from": from_, "--resume": resume, "--dry-run": dry_run},
            **{"--force": force, "--retries": retries},
            **edit_given,
        )
        _recover_list(out, s, status, since)
        return
    resume_value = _parse_resume(resume)
    if all_:
        _refuse_with("--all", THREAD=thread, **{"--from": from_}, **edit_given)
        _recover_all(
            out,
            s,
            status,
            since,
            resume=resume_value,
            retries=retries,
            backoff=backoff,
            force=force,
            dry_run=dry_run,
        )
        return
    if thread is None:
        raise UsageError(
            "which thread? recover needs THREAD, --list or --all",
            "see unfinished threads with `lgtt recover --list`",
        )
    _refuse_with(
        "a THREAD (they filter --list and --all)", **{"--status": status, "--since": since}
    )
    from lgtt.actions.edits import make_edit

    edit = make_edit(set_ or (), patch, as_node)
    loaded = _load(s)
    _recover_thread(
        out,
        s,
        loaded,
        thread,
        from_,
        edit=edit,
        resume=resume_value,
        retries=retries,
        backoff=backoff,
        force=force,
        dry_run=dry_run,
    )


def _recover_list(out: Out, s: Settings, status: list[str] | None, since: str | None) -> None:
    from lgtt.actions.recover import list_unfinished, parse_since, parse_statuses

    statuses = parse_statuses(status)
    after = parse_since(since) if since else None
    with opened(s) as store:
        points = list_unfinished(store, statuses, after)
    if out.json:
        out.emit({"threads": [p.to_json() for p in points]})
        return
    if not points:
        out.note("nothing to recover: no " + "/".join(statuses) + " threads")
        return
    out.show(_list_table(points))


def _recover_thread(
    out: Out,
    s: Settings,
    loaded: LoadedGraph,
    thread: str,
    from_: str | None,
    **kw: Any,
) -> None:
    from lgtt.actions.recover import dry_run, plan_recovery, recover
    from lgtt.refs import split_ref

    with opened(s) as store:
        tid, selector = split_ref(thread, store)
        if selector is not None:
            if from_ is not None:
                raise UsageError(f"{thread!r} already names a checkpoint", "drop --from")
            from_ = selector
        plan = plan_recovery(
            store, loaded, tid, from_ref=from_, edit=kw["edit"], resume=kw["resume"]
        )
        db_url = store.url
    if plan.nothing:
        ignored = [k for k, v in (("--from", from_), ("--resume", kw["resume"])) if v is not None]
        ignored += ["--set/--patch/--as-node"] if kw["edit"] else []
        if ignored:
            out.note(
                f"warning: {', '.join(ignored)} ignored: recover only resumes unfinished "
                "threads (to re-run a finished one: `lgtt branch --in-place --run`)"
            )
        result = recover(plan, loaded, db_url)
    else:
        plan.refuse_unless(kw["force"])
        if kw["dry_run"]:
            result = dry_run(plan)
        else:
            result = recover(
                plan,
                loaded,
                db_url,
                retries=kw["retries"],
                backoff=kw["backoff"],
                force=kw["force"],
                note=out.note,
                started=None if out.json else out.note,
            )
    for warning in result.warnings:
        out.note(f"warning: {warning}")
    if out.json:
        out.emit(result.to_json())
    else:
        out.show(*_result_lines(result))
    if result.action == "resumed" and not result.recovered:
        raise typer.Exit(ExitStatus.DIFFERENT)


def _recover_all(
    out: Out,
    s: Settings,
    status: list[str] | None,
    since: str | None,
    *,
    resume: Resume | None,
    retries: int,
    backoff: float,
    force: bool,
    dry_run: bool,
) -> None:
    from lgtt.actions.check import GraphShape
    from lgtt.actions.recover import list_unfinished, parse_since, parse_statuses, recover_one

    statuses = parse_statuses(status)
    after = parse_since(since) if since else None
    loaded = _load(s)
    with opened(s) as store:
        points = list_unfinished(store, statuses, after)
        db_url = store.url
    shape = GraphShape.of(loaded)
    results: list[Recovery] = []

    def one(point: RecoveryPoint) -> Recovery:
        return recover_one(
            db_url,
            loaded,
            point.thread,
            shape=shape,
            resume=resume,
            retries=retries,
            backoff=backoff,
            force=force,
            dry=dry_run,
            note=out.note,
        )

    if out.json or not points:
        results = [one(p) for p in points]
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=out.err,
            transient=True,
        ) as progress:
            task = progress.add_task("recovering", total=len(points))
            for point in points:
                progress.update(task, description=f"recovering {point.thread.thread_id}")
                results.append(one(point))
                progress.advance(task)
    recovered = sum(1 for r in results if r.recovered)
    problems = sum(1 for r in results if r.action == "refused")
    failed = problems if dry_run else len(results) - recovered
    if out.json:
        doc: dict[str, Any] = {
            "results": [r.to_json() for r in results],
            "recovered": recovered,
            "failed": failed,
        }
        if dry_run:
            doc["dry_run"] = True
        out.emit(doc)
    elif not results:
        out.note("nothing to recover: no " + "/".join(statuses) + " threads")
    else:
        out.show(_summary_table(results, dry_run=dry_run))
        verb = "would resume" if dry_run else "recovered"
        done = len(results) - problems if dry_run else recovered
        out.show(f"{verb} {done} of {len(results)} thread{'s' if len(results) != 1 else ''}")
    if failed:
        raise typer.Exit(ExitStatus.DIFFERENT)


# --- check --------------------------------------------------------------------------------


@app.command()
def check(
    ctx: typer.Context,
    thread: Annotated[
        str | None,
        typer.Argument(help="Thread to check (default: every thread).", show_default=False),
    ] = None,
    all_checkpoints: Annotated[
        bool,
        typer.Option(
            "--all-checkpoints", help="Check every checkpoint, not only each thread's head."
        ),
    ] = False,
    db: DbOpt = None,
    graph: GraphOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Are the stored checkpoints compatible with today's graph? Exit 1 if not.

    Checks that every node a checkpoint says should run next, every node it recorded
    as having run, and every node its edge channels name still exists; that every
    stored state key is still a key of the graph's state; and, for a pydantic state
    schema, that the stored state validates. Each problem is listed with its thread,
    checkpoint index and id.
    """
    from lgtt.actions.check import GraphShape, check_store
    from lgtt.graphs import load_graph, require_spec
    from lgtt.refs import resolve_thread

    s = settings_for(ctx, db=db, graph=graph, json=json_, no_color=no_color, debug=debug)
    out = Out(s)
    loaded = load_graph(require_spec(s.graph, "check"))
    shape = GraphShape.of(loaded)
    with opened(s) as store:
        tid = resolve_thread(store, thread)[0] if thread is not None else None
        report = check_store(store, shape, tid, all_checkpoints=all_checkpoints)
    if out.json:
        out.emit(report.to_json())
    else:
        out.show(*_check_lines(report))
    if not report.ok:
        raise typer.Exit(ExitStatus.DIFFERENT)


# --- rendering ----------------------------------------------------------------------------


def _names(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "-"


def _list_table(points: Sequence[RecoveryPoint]) -> RenderableType:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from lgtt.render import STATUS_STYLE, one_line, when

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for col in ("THREAD", "STATUS", "RESUME FROM", "UPDATED", "WOULD RUN", "ERROR / INTERRUPT"):
        table.add_column(col, no_wrap=col != "ERROR / INTERRUPT", overflow="ellipsis")
    for p in points:
        t = p.thread
        detail = ""
        if t.error is not None:
            detail = one_line(t.error, 80)
        elif t.interrupts:
            detail = one_line(t.interrupts[0], 80)
        table.add_row(
            t.thread_id,
            Text(t.status, style=STATUS_STYLE.get(t.status, "")),
            f"@{p.index} {t.latest_checkpoint_id[:13]}",
            when(t.updated_at),
            _names(t.next),
            Text(detail, style="red" if t.error is not None else "yellow"),
        )
    return table


def _result_lines(r: Recovery) -> list[Any]:
    from lgtt.jsonable import to_jsonable
    from lgtt.render import one_line, value_view

    if r.action == "none":
        return [f"nothing to recover: thread is {r.status} ({r.thread_id}@{r.index})"]
    src = r.resumed_from or {}
    point = f"{r.thread_id}@{src.get('index')}"
    if r.action == "dry-run":
        lines: list[Any] = ["dry run: nothing written"]
        state = f"{r.thread_id} is {r.before} at {r.thread_id}@{r.index}"
        if r.error is not None:
            state += f": {one_line(r.error, 100)}"
        elif r.interrupts:
            state += f", waiting on: {one_line(r.interrupts[0], 100)}"
        lines.append(state)
        lines.append(f"would resume from {point} ({str(src.get('checkpoint_id'))[:13]})")
        if r.edit is not None:
            values = ", ".join(
                f"{k}={one_line(json.dumps(to_jsonable(v)), 40)}"
                for k, v in r.edit["values"].items()
            )
            node = r.edit["as_node"] or "?"
            lines.append(
                f"would edit {values or 'nothing'} as node {node}, then run what follows {node}"
            )
        else:
            kept = f" (kept: {_names(r.kept)})" if r.kept else ""
            lines.append(f"would run: {_names(r.would_run)}{kept}")
        if r.resume is not None:
            lines.append(f"would answer the interrupt with: {json.dumps(r.resume.value)}")
        return lines
    outcome = {
        "done": "done",
        "failed": "failed again",
        "interrupted": "interrupted again",
        "pending": "stopped with tasks still due",
    }.get(r.status, r.status)
    head = f"{r.thread_id}@{r.index}"
    lines = [f"recovered {r.thread_id} from {point}: {outcome} (head {head})"]
    if r.error is not None and r.status != "done":
        lines.append(f"error: {one_line(r.error, 200)}")
    if r.interrupts:
        lines.append(f"waiting on: {one_line(r.interrupts[0], 200)}")
    if r.status != "done" and r.next:
        lines.append(f"next: {_names(r.next)}")
    if r.attempts > 1:
        lines.append(f"attempts: {r.attempts}")
    lines.append(value_view(r.values))
    return lines


def _summary_table(results: Sequence[Recovery], *, dry_run: bool) -> RenderableType:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from lgtt.render import STATUS_STYLE, one_line

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    after = "WOULD RUN" if dry_run else "AFTER"
    for col in ("THREAD", "BEFORE", after, "ERROR"):
        table.add_column(col, no_wrap=col != "ERROR", overflow="ellipsis")
    for r in results:
        if r.action == "refused":
            shown = Text("refused", style="bold red")
        elif dry_run:
            shown = Text(_names(r.would_run) if r.edit is None else "edit, then on")
        else:
            shown = Text(r.status, style=STATUS_STYLE.get(r.status, ""))
        error = (
            "" if r.error is None or (dry_run and r.action != "refused") else one_line(r.error, 100)
        )
        table.add_row(
            r.thread_id,
            Text(r.before, style=STATUS_STYLE.get(r.before, "")),
            shown,
            Text(error, style="red"),
        )
    return table


def _check_lines(report: CheckReport) -> list[Any]:
    from rich import box
    from rich.table import Table

    what = {
        "pydantic": "nodes, channels, and values against the pydantic state schema",
        "keys": "nodes and state keys; the state schema gives no types lgtt can check",
        "none": "nodes and channels",
    }[report.validation]
    scope = (
        f"{report.checkpoints} checkpoint{'s' if report.checkpoints != 1 else ''} of "
        f"{report.threads} thread{'s' if report.threads != 1 else ''}"
    )
    if report.ok:
        return [f"ok: {scope} fit the graph (checked {what})"]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for col in ("THREAD", "#", "CHECKPOINT", "KIND", "DETAIL"):
        table.add_column(col, no_wrap=col != "DETAIL", justify="right" if col == "#" else "left")
    for p in report.problems:
        table.add_row(p.thread_id, str(p.index), p.checkpoint_id[:13], p.kind, p.detail)
    n = len(report.problems)
    blocking = sum(1 for p in report.problems if p.blocking)
    return [
        table,
        f"{n} problem{'s' if n != 1 else ''} in {scope} ({blocking} would stop "
        f"`lgtt recover`; checked {what})",
    ]
