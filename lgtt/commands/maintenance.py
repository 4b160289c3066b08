"""Keeping databases healthy: stats, prune, export, import."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from lgtt.cli import DbOpt, DebugOpt, JsonOpt, NoColorOpt, Out, app, opened, settings_for
from lgtt.errors import UsageError


@app.command()
def stats(
    ctx: typer.Context,
    thread: Annotated[
        str | None,
        typer.Argument(
            metavar="THREAD",
            help="Only this thread, with the sizes of its state keys at the head.",
        ),
    ] = None,
    db: DbOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Database size, per-thread checkpoints, bytes and growth per step, largest checkpoints
    and state keys: what to prune or compress. Read-only."""
    from lgtt.maintenance.stats import collect_stats
    from lgtt.refs import resolve_thread

    s = settings_for(ctx, db=db, json=json_, no_color=no_color, debug=debug)
    out = Out(s)
    with opened(s) as store:
        if thread is not None:
            thread, _ = resolve_thread(store, thread)
        result = collect_stats(store, thread)
    if out.json:
        out.emit(result.to_json())
        return
    from lgtt.maintenance.views import stats_view

    out.show(stats_view(result))


@app.command()
def prune(
    ctx: typer.Context,
    thread: Annotated[
        str | None,
        typer.Argument(
            metavar="THREAD", help="Apply --keep to this thread only (default: every thread)."
        ),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(
            "--keep",
            min=1,
            metavar="N",
            help="Keep the last N checkpoints of each thread (or of THREAD).",
        ),
    ] = None,
    threads: Annotated[
        list[str] | None,
        typer.Option("--thread", metavar="THREAD", help="Delete this whole thread (repeatable)."),
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="DURATION",
            help="Delete whole threads last updated longer ago than this: 30d, 12h, 2w (s/m/h/d/w).",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Delete for real (the default is a dry run).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say what would be deleted (the default).")
    ] = False,
    vacuum: Annotated[
        bool,
        typer.Option("--vacuum", help="After deleting, give the space back (VACUUM)."),
    ] = False,
    db: DbOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Delete old checkpoints (--keep N) or whole threads (--thread, --older-than).
    Dry run unless --yes; one transaction; kept checkpoints stay loadable."""
    from lgtt.maintenance.prune import PruneRequest, parse_duration
    from lgtt.maintenance.prune import prune as run_prune

    s = settings_for(ctx, db=db, json=json_, no_color=no_color, debug=debug)
    if yes and dry_run:
        raise UsageError("--yes and --dry-run contradict each other", "pass one of them")
    req = PruneRequest(
        keep=keep,
        keep_thread=thread,
        threads=tuple(threads or ()),
        older_than=parse_duration(older_than) if older_than is not None else None,
        older_than_text=older_than,
    )
    req.check()
    out = Out(s)
    with opened(s) as store:
        plan = run_prune(store, req, yes=yes, vacuum=vacuum)
    for note in plan.notes:
        out.note(note)
    if out.json:
        out.emit(plan.to_json())
    else:
        from lgtt.maintenance.views import prune_view

        out.show(prune_view(plan))
    if plan.dry_run and not plan.empty:
        out.note("dry run: nothing was deleted; pass --yes to delete" + (
            " and --vacuum to shrink the file" if vacuum else ""))  # fmt: skip


@app.command()
def export(
    ctx: typer.Context,
    thread: Annotated[str, typer.Argument(metavar="THREAD", help="The thread to export.")],
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write to this file (default: stdout)."
        ),
    ] = None,
    redact: Annotated[
        list[str] | None,
        typer.Option(
            "--redact",
            metavar="REGEX",
            help="Blank state values whose path matches this regex, e.g. 'messages\\[\\d+\\]\\.content'"
            " or 'api_key' (repeatable).",
        ),
    ] = None,
    db: DbOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write a thread (every checkpoint of every namespace, metadata, writes) as one JSON
    document that `lgtt import` loads into any database. With -o FILE and --json, a
    summary goes to stdout."""
    from lgtt.maintenance.transfer import export_thread, output_file, refuse_overwriting

    s = settings_for(ctx, db=db, json=json_, no_color=no_color, debug=debug)
    out = Out(s)
    refuse_overwriting(output, s.db)
    to_stdout = output is None or output == "-"
    with opened(s) as store, output_file(output) as fh:
        summary = export_thread(store, thread, fh, redact=redact or ())
    where = "stdout" if to_stdout else output
    red = f", {summary.redacted} values redacted" if summary.redacted is not None else ""
    if out.json and not to_stdout:  # on stdout, the document is the one JSON document
        out.emit({**summary.to_json(), "output": where})
    else:
        out.note(
            f"exported {summary.thread_id}: {summary.checkpoints} checkpoints,"
            f" {summary.writes} writes{red} → {where}"
        )


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="A document `lgtt export` wrote (- for stdin).")
    ],
    to: Annotated[
        str | None,
        typer.Option(
            "--to", metavar="THREAD", help="Import as this thread id (default: the exported one)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the file and the target; write nothing.")
    ] = False,
    db: DbOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Load an exported thread into this database (SQLite or PostgreSQL) as a new thread,
    in one transaction, so LangGraph can continue it. Never merges into an existing one."""
    from lgtt.maintenance.transfer import import_thread, read_export
    from lgtt.store import is_postgres_url

    s = settings_for(ctx, db=db, json=json_, no_color=no_color, debug=debug)
    out = Out(s)
    if not s.db:
        raise UsageError(
            "no database given", "pass --db PATH_OR_URL (a new SQLite file is created)"
        )
    doc = read_export(file)
    summary = import_thread(s.db, doc, to=to, dry_run=dry_run)
    if out.json:
        out.emit(summary.to_json())
        return
    verb = "would import" if dry_run else "imported"
    renamed = f" as {summary.thread_id}" if summary.thread_id != summary.source_thread_id else ""
    created = ""
    if summary.created_database:
        what = "LangGraph's tables" if is_postgres_url(s.db) else "the file"
        created = f" ({'would create' if dry_run else 'created'} {what})"
    out.show(
        Text(
            f"{verb} {summary.source_thread_id}{renamed}: {summary.checkpoints} checkpoints,"
            f" {summary.writes} writes, {len(summary.namespaces)} namespace"
            f"{'s' if len(summary.namespaces) != 1 else ''} into {summary.database}{created}"
        )
    )
