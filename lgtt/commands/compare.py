"""Change detection: ``diff`` (checkpoints, or threads aligned step by step) and ``blame``.

Exit codes as diff(1): 0 identical, 1 different, 2 error. ``--json`` prints one
document (DESIGN.md §4); ``--quiet`` prints nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lgtt.cli import DbOpt, DebugOpt, JsonOpt, NoColorOpt, NsOpt, Out, app, opened, settings_for
from lgtt.errors import ExitStatus
from lgtt.models import Change

if TYPE_CHECKING:
    from lgtt.blame import Blame
    from lgtt.diff import Divergence, StateDiff
    from lgtt.refs import Resolved

IgnoreOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--ignore",
        metavar="REGEX",
        help="Drop changes whose path (or a parent path) matches this regex, e.g. "
        "\"\\['timestamp'\\]\". Repeatable.",
    ),
]
IgnoreOrderOpt = Annotated[
    bool, typer.Option("--ignore-order", help="Compare lists as multisets (order ignored).")
]
KeysOpt = Annotated[
    str | None,
    typer.Option(
        "--keys",
        metavar="K1,K2",
        help="Only these top-level state keys, comma-separated: count,messages.",
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="Print nothing; the exit code says it (0 same, 1 not)."),
]
FullOpt = Annotated[bool, typer.Option("--full", help="Do not shorten long values.")]


@app.command()
def diff(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="A: THREAD, THREAD@N, THREAD@-N or THREAD@ID(prefix).")],
    b: Annotated[
        str,
        typer.Argument(
            help="B: compared with A. Two different bare threads are aligned step by step."
        ),
    ],
    ignore: IgnoreOpt = None,
    ignore_order: IgnoreOrderOpt = False,
    keys: KeysOpt = None,
    quiet: QuietOpt = False,
    full: FullOpt = False,
    ns: NsOpt = "",
    db: DbOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """State difference of two checkpoints, or of two threads (first divergence named).

    Two different bare thread ids are aligned step by step along their main lines
    (root to head); anything else compares two checkpoints. --ignore, --ignore-order
    and --keys also apply to the alignment. Exit 0 when identical, 1 when different,
    2 on error.
    """
    from lgtt.diff import DiffOptions, compile_ignores, diff_refs, parse_keys

    s = settings_for(ctx, db=db, json=json_, no_color=no_color, debug=debug)
    opts = DiffOptions(
        ignore=compile_ignores(ignore or []), ignore_order=ignore_order, keys=parse_keys(keys)
    )
    out = Out(s)
    with opened(s) as store:
        result = diff_refs(store, a, b, ns=ns, opts=opts)
    if not quiet:
        if out.json:
            out.emit(result.to_json())
        else:
            out.show(diff_view(result, full=full))
    if not result.identical:
        raise typer.Exit(ExitStatus.DIFFERENT)


@app.command()
def blame(
    ctx: typer.Context,
    thread: Annotated[
        str, typer.Argument(help="Thread id (or THREAD@REF: blame up to that checkpoint).")
    ],
    path: Annotated[
        str, typer.Argument(help="State path: count, messages[3].content, task_progress.step.")
    ],
    all_: Annotated[
        bool, typer.Option("--all", "-a", help="Every change of the path, with old and new values.")
    ] = False,
    full: FullOpt = False,
    ns: NsOpt = "",
    db: DbOpt = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Which checkpoint and which node last changed a state path (--all: its history)."""
    from lgtt.blame import blame as blame_path
    from lgtt.refs import resolve

    s = settings_for(ctx, db=db, json=json_, no_color=no_color, debug=debug)
    out = Out(s)
    with opened(s) as store:
        result = blame_path(store, resolve(store, thread, ns=ns), path)
    if out.json:
        out.emit(result.to_json(all_changes=all_))
    else:
        out.show(blame_view(result, all_changes=all_, full=full))


# --- rendering ------------------------------------------------------------------------

WIDTH = 48
#: rows of changes shown at most (without --full): a person reads the first ones, a
#: script uses --json; Rich also takes ~0.3 s to lay out a thousand-row table
MAX_ROWS = 200
KIND_MARK = {"added": ("+", "green"), "removed": ("-", "red"), "changed": ("~", "yellow")}


def _label(ref: Resolved) -> str:
    return ref.label()


def _json_text(value: Any) -> str:
    from lgtt.jsonable import to_jsonable

    return json.dumps(to_jsonable(value), ensure_ascii=False, default=str)


def _message_text(value: Any) -> str | None:
    from lgtt.diff import message_id

    if message_id(value) is None and not (
        isinstance(value, dict) and "type" in value and "content" in value
    ):
        return None
    if isinstance(value, dict):
        kind, content = value.get("type"), value.get("content")
    else:
        kind, content = getattr(value, "type", None), getattr(value, "content", None)
    body = content if isinstance(content, str) else _json_text(content)
    return f"{kind or 'message'}: {body}"


def brief(value: Any, limit: int = WIDTH) -> str:
    """A value on one line: messages as ``type: content``, anything else as JSON."""
    from lgtt.serde import materialize

    value = materialize(value)
    text = _message_text(value)
    if text is None:
        text = _json_text(value)
    text = " ".join(text.split())
    return text if limit <= 0 or len(text) <= limit else text[: limit - 1] + "…"


def _escape(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)[1:-1]


def string_pair(old: str, new: str, limit: int = WIDTH) -> tuple[Text, Text]:
    """Two strings shortened around where they differ, the differing part highlighted."""
    n = min(len(old), len(new))
    pre = 0
    while pre < n and old[pre] == new[pre]:
        pre += 1
    suf = 0
    while suf < n - pre and old[len(old) - 1 - suf] == new[len(new) - 1 - suf]:
        suf += 1

    def one(s: str, style: str) -> Text:
        mid = s[pre : len(s) - suf]
        if limit > 0:
            room = max(limit - 2 - len(_escape(mid)), 8)
            before = min(pre, room // 2)
            after = min(suf, room - before)
            if len(_escape(mid)) > limit - 2:
                mid = mid[: max(limit - 12, 8)] + "…"
        else:
            before, after = pre, suf
        t = Text('"')
        if before < pre:
            t.append("…", style="dim")
        t.append(_escape(s[pre - before : pre]))
        t.append(_escape(mid), style=style)
        t.append(_escape(s[len(s) - suf : len(s) - suf + after]))
        if after < suf:
            t.append("…", style="dim")
        t.append('"')
        return t

    return one(old, "bold red"), one(new, "bold green")


def _cells(c: Change, limit: int) -> tuple[Text, Text]:
    if c.kind == "changed" and isinstance(c.old, str) and isinstance(c.new, str):
        return string_pair(c.old, c.new, limit)
    old = Text(brief(c.old, limit)) if c.kind != "added" else Text("")
    new = Text(brief(c.new, limit)) if c.kind != "removed" else Text("")
    return old, new


def _append_runs(
    changes: Sequence[Change], appended: dict[str, tuple[int, int]]
) -> list[Change | tuple[str, int, int, list[Change]]]:
    """Group the ``added`` items of appended lists into one row each."""
    rows: list[Change | tuple[str, int, int, list[Change]]] = []
    groups: dict[str, tuple[str, int, int, list[Change]]] = {}
    for c in changes:
        base, _, idx = c.path.rpartition("[")
        if c.kind == "added" and base in appended and idx[:-1].isdigit():
            if base not in groups:
                len_a, len_b = appended[base]
                groups[base] = (base, len_a, len_b, [])
                rows.append(groups[base])
            groups[base][3].append(c)
        else:
            rows.append(c)
    return rows


def changes_table(
    changes: Sequence[Change],
    appended: dict[str, tuple[int, int]],
    a_label: str,
    b_label: str,
    *,
    full: bool = False,
) -> RenderableType:
    limit = 0 if full else WIDTH
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("PATH", overflow="fold")
    table.add_column(a_label, overflow="fold")
    table.add_column(b_label, overflow="fold")
    rows = _append_runs(changes, appended)
    hidden = 0 if full or len(rows) <= MAX_ROWS else len(rows) - MAX_ROWS
    for row in rows[: len(rows) - hidden]:
        if isinstance(row, Change):
            mark, style = KIND_MARK.get(row.kind, ("?", ""))
            old, new = _cells(row, limit)
            table.add_row(Text(mark, style=style), Text(row.path, style=style), old, new)
            continue
        base, len_a, _len_b, items = row
        shown = items if full else items[:3]
        new_text = Text(f"+{len(items)} appended", style="green")
        for c in shown:
            new_text.append(f"\n[{c.path.rpartition('[')[2]} {brief(c.new, limit)}")
        if len(shown) < len(items):
            new_text.append(f"\n… {len(items) - len(shown)} more", style="dim")
        table.add_row(
            Text("+", style="green"),
            Text(f"{base}[{len_a}:]", style="green"),
            Text(f"{len_a} item{'s' if len_a != 1 else ''}", style="dim"),
            new_text,
        )
    if hidden:
        more = Text(f"… {hidden} more: --full shows every change, --json for scripts", "dim")
        return Group(table, more)
    return table


def _divergence_view(d: Divergence, result: StateDiff) -> RenderableType:
    a, b = result.a, result.b
    head = Text.assemble(
        ("first divergence", "bold red"),
        (f" after {d.position} aligned checkpoint{'s' if d.position != 1 else ''}: ", ""),
        (f"{a.thread_id}@{d.a_index}", "bold"),
        (" vs ", "dim"),
        (f"{b.thread_id}@{d.b_index}", "bold"),
    )
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_column()
    facts.add_row("", Text("a", style="bold"), Text("b", style="bold"))
    sa, sb = d.a_summary, d.b_summary
    if sa is not None and sb is not None:
        facts.add_row("checkpoint", sa.checkpoint_id, sb.checkpoint_id)
        facts.add_row("step · source", f"{sa.step} · {sa.source}", f"{sb.step} · {sb.source}")
        facts.add_row("ran", ", ".join(sa.ran) or "-", ", ".join(sb.ran) or "-")
        facts.add_row("next", ", ".join(sa.next) or "-", ", ".join(sb.next) or "-")
    return Group(head, Text(f"  {d.reason}"), facts)


def diff_view(result: StateDiff, *, full: bool = False) -> RenderableType:
    a, b = result.a, result.b
    parts: list[RenderableType] = []
    if result.mode == "threads":
        parts.append(
            Text.assemble(
                ("threads ", "dim"),
                (a.thread_id, "bold"),
                (f" ({result.a_length} checkpoints root→head)", "dim"),
                (" vs ", "dim"),
                (b.thread_id, "bold"),
                (f" ({result.b_length})", "dim"),
            )
        )
        if result.divergence is None:
            parts.append(
                Text(f"aligned: the threads agree step by step ({result.a_length} checkpoints)")
            )
        else:
            parts.append(_divergence_view(result.divergence, result))
        parts.append(Text(f"\nfinal states: {_label(a)} vs {_label(b)}", style="bold"))
    parts.append(
        Text.assemble(
            ("a ", "dim"),
            (_label(a), "bold"),
            (f"  {a.checkpoint_id}", "yellow"),
            ("\nb ", "dim"),
            (_label(b), "bold"),
            (f"  {b.checkpoint_id}", "yellow"),
        )
    )
    if not result.changes:
        parts.append(Text("identical states", style="green"))
    else:
        n = len(result.changes)
        parts.append(Text(f"{n} change{'s' if n != 1 else ''}", style="bold"))
        parts.append(changes_table(result.changes, dict(result.appended), "a", "b", full=full))
    return Group(*parts)


def blame_view(result: Blame, *, all_changes: bool = False, full: bool = False) -> RenderableType:
    from lgtt.refs import short_len

    limit = 0 if full else WIDTH
    id_len = short_len([cid for cid, _ in result.head.ids])
    last = result.last
    parts: list[RenderableType] = [
        Text.assemble(
            (result.path, "bold"),
            (" in ", "dim"),
            (result.thread_id, "bold"),
            (f" [{result.checkpoint_ns}]" if result.checkpoint_ns else "", "magenta"),
            (f" · {result.length} checkpoints root→{result.head.label()}", "dim"),
            (
                f" · changed {len(result.changes)} time{'s' if len(result.changes) != 1 else ''}",
                "dim",
            ),
        )
    ]
    if last is not None:
        what = {"added": "set", "removed": "removed", "changed": "last changed"}[last.kind]
        parts.append(
            Text.assemble(
                (f"{what} at ", ""),
                (f"{result.thread_id}@{last.index}", "bold"),
                (f"  {last.checkpoint_id}", "yellow"),
                (f"  step {last.step} · {last.source}", "dim"),
                (" by ", ""),
                (", ".join(last.nodes) or "?", "bold cyan"),
            )
        )
    if not result.exists:
        parts.append(Text("it does not exist at the head", style="yellow"))
    if all_changes:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for col in ("#", "ID", "STEP", "NODE", "", "OLD", "NEW"):
            table.add_column(
                col, justify="right" if col in ("#", "STEP") else "left", overflow="fold"
            )
        for c in result.changes:
            mark, style = KIND_MARK[c.kind]
            change = Change(result.path, c.kind, c.old, c.new)
            old, new = _cells(change, limit)
            table.add_row(
                str(c.index),
                Text(c.checkpoint_id[:id_len], style="yellow"),
                "" if c.step is None else str(c.step),
                ", ".join(c.nodes) or "?",
                Text(mark, style=style),
                old,
                new,
            )
        parts.append(table)
    elif last is not None:
        old, new = _cells(Change(result.path, last.kind, last.old, last.new), limit)
        row = Text("  ")
        if last.kind != "added":
            row.append_text(old)
            row.append(" → ", style="dim")
        else:
            row.append("(absent) → ", style="dim")
        row.append_text(new if last.kind != "removed" else Text("(absent)", style="dim"))
        parts.append(row)
        if len(result.changes) > 1:
            parts.append(Text("--all shows every change", style="dim"))
    return Group(*parts)
