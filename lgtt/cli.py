"""The ``lgtt`` command line: parse, call the core, render. No SQL or diffing here."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import typer
from rich.console import Console, RenderableType
from typer.core import TyperGroup

from lgtt import __version__
from lgtt.errors import ExitStatus, LgttError, UsageError
from lgtt.jsonable import dumps, to_jsonable

# --- options shared by every command (defined once) --------------------------------

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="LGTT_DB",
        show_envvar=True,
        help="Checkpoint database: a SQLite path, sqlite:///PATH or postgresql://URL.",
    ),
]
GraphOpt = Annotated[
    str | None,
    typer.Option(
        "--graph",
        envvar="LGTT_GRAPH",
        show_envvar=True,
        help="Your graph: path/to/file.py:attr, package.module:attr, or a langgraph.json name.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour (also NO_COLOR=1).")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")]
NsOpt = Annotated[
    str, typer.Option("--ns", help="Checkpoint namespace (a subgraph's); default the root graph.")
]


@dataclass
class Settings:
    db: str | None = None
    graph: str | None = None
    json: bool = False
    no_color: bool = False
    debug: bool = False


class Out:
    """Where a command's output goes: one JSON document, or Rich renderables."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        no_color = settings.no_color or bool(os.environ.get("NO_COLOR"))
        # On a terminal: its width. Piped: long lines rather than wrapped ones, so that
        # grep and friends see one checkpoint per line (COLUMNS still wins).
        width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200
        self.console = Console(no_color=no_color, highlight=False, soft_wrap=False, width=width)
        self.err = Console(stderr=True, no_color=no_color, highlight=False)

    @property
    def json(self) -> bool:
        return self.settings.json

    def emit(self, doc: Any) -> None:
        sys.stdout.write(dumps(doc) + "\n")

    def show(self, *renderables: RenderableType) -> None:
        for r in renderables:
            self.console.print(r)

    def note(self, message: str) -> None:
        self.err.print(message, style="dim", markup=False)


def _settings(ctx: typer.Context, **given: Any) -> Settings:
    """Merge a command's own options over the global ones (both spellings work)."""
    base: Settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    merged = Settings(**vars(base))
    for key, value in given.items():
        if value not in (None, False):
            setattr(merged, key, value)
    if merged.db is None or merged.graph is None:
        from lgtt.config import project_settings

        project = project_settings()
        if merged.db is None and isinstance(project.get("db"), str):
            merged.db = project["db"]
        if merged.graph is None and isinstance(project.get("graph"), str):
            merged.graph = project["graph"]
    ctx.obj = merged
    return merged


# --- error handling, in one place ----------------------------------------------------


class LgttGroup(TyperGroup):
    """Turns every user error into one ``error: …`` line on stderr and exit 2."""

    def main(self, args: Sequence[str] | None = None, *a: Any, **kw: Any) -> Any:
        kw["standalone_mode"] = False
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv
        try:
            rv = super().main(argv, *a, **kw)
        except LgttError as exc:
            if debug:
                raise
            _fail(str(exc), exc.exit_status)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else "", err=False)
            sys.exit(ExitStatus.OK)
        except click.UsageError as exc:
            where = (
                f"lgtt {exc.ctx.command_path.split(' ', 1)[1]} --help"
                if exc.ctx and " " in exc.ctx.command_path
                else "lgtt --help"
            )
            _fail(f"{exc.format_message()} (see `{where}`)", ExitStatus.ERROR)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            _fail("aborted", ExitStatus.ERROR)
        except click.ClickException as exc:
            _fail(exc.format_message(), ExitStatus.ERROR)
        except KeyboardInterrupt:
            _fail("interrupted", ExitStatus.ERROR)
        except Exception as exc:
            if debug:
                raise
            _fail(
                f"internal error: {type(exc).__name__}: {exc} (a bug in lgtt: rerun with --debug and report it)",
                ExitStatus.ERROR,
            )
        sys.exit(rv if isinstance(rv, int) else ExitStatus.OK)


def _fail(message: str, status: int) -> NoReturn:
    line = " ".join(f"error: {message}".split())
    click.echo(line, err=True)
    sys.exit(status)


app = typer.Typer(
    cls=LgttGroup,
    name="lgtt",
    help="Time-travel debugger for LangGraph: see, compare, fork, replay and recover runs "
    "stored in a checkpoint database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        click.echo(f"lgtt {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    db: DbOpt = None,
    graph: GraphOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    ctx.obj = Settings(db=db, graph=graph, json=json_, no_color=no_color, debug=debug)


@contextmanager
def _opened(settings: Settings) -> Iterator[Any]:
    from lgtt.store import open_store

    store = open_store(settings.db)
    try:
        yield store
    finally:
        store.close()


def _say_guess(out: Out, thread: str, guessed: bool) -> None:
    if guessed:
        out.note(f"using the most recently updated thread: {thread}")


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

    s = _settings(ctx, db=db, json=json_, no_color=no_color, debug=debug)
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown status {status!r}", f"use one of {', '.join(STATUSES)}")
    out = Out(s)
    with _opened(s) as store:
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

    s = _settings(ctx, db=db, json=json_, no_color=no_color, debug=debug)
    out = Out(s)
    with _opened(s) as store:
        tid, guessed = resolve_thread(store, thread)
        _say_guess(out, tid, guessed)
        tl = load_timeline(store, tid, ns, limit=limit)
        all_ids = [cid for cid, _ in store.checkpoint_ids(tid, ns)]
    if out.json:
        out.emit(tl.to_json())
        return
    from lgtt.render import short_len, timeline_view

    out.show(timeline_view(tl, graph_lanes(tl.checkpoints), short_len(all_ids)))


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

    s = _settings(ctx, db=db, json=json_, no_color=no_color, debug=debug)
    out = Out(s)
    parts = parse_path(key) if key else None
    with _opened(s) as store:
        detail = load_checkpoint(store, resolve(store, ref, ns=ns))
    if parts is not None:
        if detail.summary.unreadable:
            raise LgttError(
                f"checkpoint {detail.summary.checkpoint_id} is unreadable: {detail.summary.unreadable}"
            )
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

    s = _settings(ctx, json=json_, no_color=no_color, debug=debug)
    path = Path(db or "lgtt-demo.sqlite")
    out = Out(s)
    threads_made = build_demo_db(path, force=force)
    s.db = str(path)
    if out.json:
        out.emit({"db": str(path), "threads": threads_made})
        return
    from lgtt.render import short_len, threads_table, timeline_view
    from lgtt.threads import list_threads
    from lgtt.timeline import graph_lanes, load_timeline

    out.note(f"built {path} with {len(threads_made)} threads")
    with _opened(s) as store:
        found = list_threads(store)
        tl = load_timeline(store, "conversation-1")
        ids = [c for c, _ in store.checkpoint_ids("conversation-1")]
    out.show(threads_table(found), "")
    out.show(timeline_view(tl, graph_lanes(tl.checkpoints), short_len(ids)), "")
    db_arg = f" --db {path}"
    tips = [
        f"lgtt threads{db_arg}",
        f"lgtt timeline steps-42{db_arg}",
        f"lgtt show steps-42{db_arg}",
        f"lgtt show chat-1@-1 --key 'messages[-1].content'{db_arg}",
        f"lgtt timeline approval-3{db_arg} --json",
    ]
    out.show("try next:", *[f"  {t}" for t in tips])


def main() -> None:
    app()
