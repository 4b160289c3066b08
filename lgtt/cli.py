"""The ``lgtt`` command line: parse, call the core, render. No SQL or diffing here."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console, RenderableType
from typer.core import TyperGroup

try:  # typer >= 0.24 ships its own copy of click
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - older typer uses click itself
    import click.exceptions as click_exc  # type: ignore[no-redef]

from lgtt import __version__
from lgtt.errors import ExitStatus, LgttError
from lgtt.jsonable import dumps

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


def settings_for(ctx: typer.Context, **given: Any) -> Settings:
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
        except click_exc.NoArgsIsHelpError as exc:
            typer.echo(exc.ctx.get_help() if exc.ctx else "")
            sys.exit(ExitStatus.OK)
        except click_exc.UsageError as exc:
            ctx = exc.ctx
            sub = ctx.command.name if ctx is not None and ctx.parent is not None else None
            where = f"lgtt {sub} --help" if sub else "lgtt --help"
            _fail(f"{exc.format_message()} (see `{where}`)", ExitStatus.ERROR)
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except typer.Abort:
            _fail("aborted", ExitStatus.ERROR)
        except click_exc.ClickException as exc:
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
    typer.echo(line, err=True)
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
        typer.echo(f"lgtt {__version__}")
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
def opened(settings: Settings) -> Iterator[Any]:
    from lgtt.store import open_store

    store = open_store(settings.db)
    try:
        yield store
    finally:
        store.close()


def say_guess(out: Out, thread: str, guessed: bool) -> None:
    if guessed:
        out.note(f"using the most recently updated thread: {thread}")


def _load_commands() -> None:
    """Each module of lgtt/commands registers its commands on ``app``."""
    import lgtt.commands  # noqa: F401


_load_commands()


def main() -> None:
    app()
