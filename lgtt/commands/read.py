"""Read commands: threads, timeline, show — and demo, which makes something to read."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from lgtt.cli import (
    DbOpt,
    DebugOpt,
    JsonOpt,
    NoColorOpt,
    NsOpt,
    Out,
    app,
    opened,
    say_guess,
    settings_for,
)
from lgtt.errors import DatabaseError, UsageError
from lgtt.jsonable import to_jsonable
from lgtt.models import CheckpointSummary

# --- read commands ---------------------------------------------------------------------


@app.command()
def threads(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Only threads with this status: done, interrupted, failed, pending."
        ),
    ] = None,
    db: DbOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List every thread: checkpoints, last update, step, status, next nodes, error."""
    from lgtt.threads import STATUSES, list_threads

    s = settings_for(ctx, db=db, json=json_, no_color=no_color, debug=debug)
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown status {status!r}", f"use one of {', '.join(STATUSES)}")
    out = Out(s)
    with opened(s) as store:
        found = list_threads(store)
    if status:
        found = [t for t in found if t.status == status]
    if out.json:
        out.emit({"threads": [t.to_json() for t in found]})
        return
    if not found:
        out.note("no threads" + (f" with status {status}" if status else ""))
        return
    from lgtt.render import threads_table

    out.show(threads_table(found))


@app.command()
def timeline(
    ctx: typer.Context,
    thread: Annotated[
        str | None, typer.Argument(help="Thread id (default: the most recently updated).")
    ] = None,
    ns: NsOpt = "",
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Only the newest N checkpoints.")
    ] = None,
    db: DbOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Every checkpoint of a thread in order, forks drawn as a tree."""
    from lgtt.refs import resolve_thread
    from lgtt.timeline import graph_lanes, load_timeline

    s = settings_for(ctx, db=db, json=json_, no_color=no_color, debug=debug)
    out = Out(s)
    with opened(s) as store:
        tid, guessed = resolve_thread(store, thread)
        say_guess(out, tid, guessed)
        tl = load_timeline(store, tid, ns, limit=limit)
    if out.json:
        out.emit(tl.to_json())
    else:
        from lgtt.render import timeline_view

        out.show(timeline_view(tl, graph_lanes(tl.checkpoints)))
    _fail_on_unreadable(tl.checkpoints)


def _fail_on_unreadable(checkpoints: Sequence[CheckpointSummary]) -> None:
    """Corrupt blobs are marked and the rest shown; the exit status still says so."""
    bad = [c for c in checkpoints if c.unreadable]
    if bad:
        first = bad[0]
        raise DatabaseError(
            f"{len(bad)} checkpoint{'s' if len(bad) > 1 else ''} could not be decoded"
            f" (first: #{first.index} {first.checkpoint_id}: {first.unreadable})",
            "the others are shown; the database may be damaged",
        )


@app.command()
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="THREAD, THREAD@N, THREAD@-1 or THREAD@ID(prefix).")],
    key: Annotated[
        str | None,
        typer.Option("--key", "-k", help="Only this state path, e.g. messages[3].content."),
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Do not shorten long values.")] = False,
    ns: NsOpt = "",
    db: DbOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The full state at a checkpoint, its pending writes, next tasks, errors, interrupts."""
    from lgtt.checkpoints import load_checkpoint
    from lgtt.paths import MissingPath, get_path, parse_path
    from lgtt.refs import resolve

    s = settings_for(ctx, db=db, json=json_, no_color=no_color, debug=debug)
    out = Out(s)
    parts = parse_path(key) if key else None
    with opened(s) as store:
        detail = load_checkpoint(store, resolve(store, ref, ns=ns))
    if detail.summary.unreadable:
        raise DatabaseError(
            f"checkpoint {detail.summary.thread_id}@{detail.summary.index}"
            f" ({detail.summary.checkpoint_id}) cannot be decoded: {detail.summary.unreadable}",
            "its neighbours may be readable: see `lgtt timeline`",
        )
    if parts is not None:
        try:
            value = get_path(detail.values, parts)
        except MissingPath as exc:
            keys = ", ".join(sorted(detail.values)) if isinstance(detail.values, dict) else ""
            raise UsageError(
                f"{exc.args[0]} does not exist in the state at {ref}",
                f"state keys: {keys}" if keys else None,
            ) from None
        if out.json:
            out.emit(to_jsonable(value))
        elif isinstance(value, str):
            sys.stdout.write(value + "\n")
        else:
            from lgtt.render import value_view

            out.show(value_view(value, full=True))
        return
    if out.json:
        out.emit(detail.to_json())
        return
    from lgtt.render import checkpoint_view

    out.show(checkpoint_view(detail, full=full))


@app.command()
def demo(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
    db: DbOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Build a demo database from sample_graphs and show what to try next."""
    from lgtt.demo import build_demo_db

    s = settings_for(ctx, json=json_, no_color=no_color, debug=debug)
    path = Path(db or "lgtt-demo.sqlite")
    out = Out(s)
    threads_made = build_demo_db(path, force=force)
    s.db = str(path)
    if out.json:
        out.emit({"db": str(path), "threads": threads_made})
        return
    from lgtt.render import threads_table, timeline_view
    from lgtt.threads import list_threads
    from lgtt.timeline import graph_lanes, load_timeline

    out.note(f"built {path} with {len(threads_made)} threads")
    with opened(s) as store:
        found = list_threads(store)
        tl = load_timeline(store, "conversation-1")
    out.show(threads_table(found), "")
    out.show(timeline_view(tl, graph_lanes(tl.checkpoints)), "")
    db_arg = f" --db {path}"
    tips = [
        f"lgtt threads{db_arg}",
        f"lgtt timeline steps-42{db_arg}",
        f"lgtt show steps-42{db_arg}",
        f"lgtt show chat-1@-1 --key 'messages[-1].content'{db_arg}",
        f"lgtt timeline approval-3{db_arg} --json",
    ]
    out.show("try next:", *[f"  {t}" for t in tips])
