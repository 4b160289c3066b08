"""Models to Rich renderables. Nothing here prints."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.pretty import Pretty
from rich.table import Table
from rich.text import Text

from lgtt.channels import Task
from lgtt.models import CheckpointDetail, CheckpointSummary, ThreadInfo, Timeline
from lgtt.values import Record

STATUS_STYLE = {"done": "green", "failed": "bold red", "interrupted": "yellow", "pending": "cyan"}
MAX_STRING = 200
MAX_LENGTH = 20


def when(ts: str | None, *, precise: bool = False) -> str:
    if not ts:
        return "-"
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        return ts
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if precise else dt.strftime("%Y-%m-%d %H:%M:%S")


def one_line(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _names(names: Sequence[str]) -> str:
    if not names:
        return ""
    out: list[str] = []
    for n in names:  # collapse repeated Send targets: work ×3
        if out and out[-1].split(" ×")[0] == n:
            base, _, count = out[-1].partition(" ×")
            out[-1] = f"{base} ×{int(count or 1) + 1}"
        else:
            out.append(n)
    return ", ".join(out)


def threads_table(threads: Sequence[ThreadInfo]) -> Table:
    # One line per thread: every column keeps its width, the last one (the error or
    # interrupt, in full in `show` and --json) takes what is left and is shortened.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=True)
    for col in ("THREAD", "STATUS", "CHECKPOINTS", "STEP", "UPDATED", "NEXT"):
        table.add_column(
            col, justify="right" if col in ("CHECKPOINTS", "STEP") else "left", no_wrap=True
        )
    table.add_column("ERROR / INTERRUPT", ratio=1, no_wrap=True, overflow="ellipsis")
    for t in threads:
        detail = ""
        if t.error is not None:
            detail = one_line(t.error)
        elif t.interrupts:
            detail = one_line(t.interrupts[0])
        table.add_row(
            t.thread_id,
            Text(t.status, style=STATUS_STYLE.get(t.status, "")),
            str(t.checkpoints),
            "" if t.step is None else str(t.step),
            when(t.updated_at),
            _names(t.next),
            Text(detail, style="red" if t.error is not None else "yellow"),
        )
    return table


def _markers(c: CheckpointSummary) -> Text:
    out = Text()
    if c.unreadable:
        out.append("✗ unreadable ", style="bold red")
    if c.error is not None:
        out.append(f"✗ {one_line(c.error, 50)} ", style="red")
    if c.interrupts:
        out.append(f"⏸ {one_line(c.interrupts[0], 40)} ", style="yellow")
    if c.subgraphs:
        out.append(f"⊂ subgraph ×{len(c.subgraphs)}", style="magenta")
    return out


def timeline_view(timeline: Timeline, lanes: Sequence[str]) -> RenderableType:
    id_len = timeline.id_len
    n = timeline.total
    forks = sum(lane.count("╮") + lane.count("┬") for lane in lanes)
    head = Text.assemble(
        ("thread ", "dim"),
        (timeline.thread_id, "bold"),
        (f" [{timeline.checkpoint_ns}]" if timeline.checkpoint_ns else "", "magenta"),
        (f" · {n} checkpoint{'s' if n != 1 else ''}", "dim"),
        (f" · {forks} fork{'s' if forks != 1 else ''}" if forks else "", "dim"),
        (
            f" · showing the last {len(timeline.checkpoints)}"
            if len(timeline.checkpoints) < n
            else "",
            "dim",
        ),
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    has_lanes = any(lane.strip() != "●" for lane in lanes)
    if has_lanes:
        table.add_column("", no_wrap=True, style="cyan")
    for col in ("#", "ID", "STEP", "SOURCE", "RAN", "NEXT", "CHANGED", "", "TIME"):
        table.add_column(
            col,
            justify="right" if col in ("#", "STEP") else "left",
            no_wrap=col not in ("CHANGED", ""),
            overflow="ellipsis",
        )
    for lane, c in zip(lanes, timeline.checkpoints, strict=False):
        row: list[RenderableType] = [lane] if has_lanes else []
        row += [
            str(c.index),
            Text(c.checkpoint_id[:id_len], style="yellow"),
            "" if c.step is None else str(c.step),
            Text(c.source or "?", style="magenta" if c.source in ("update", "fork") else ""),
            _names(c.ran),
            _names(c.next),
            ", ".join(c.changed),
            _markers(c),
            when(c.created_at, precise=True)[11:] if c.created_at else "-",
        ]
        table.add_row(*row)
    parts: list[RenderableType] = [head, table]
    if timeline.namespaces:
        parts.append(
            Text(
                f"subgraph namespaces: {', '.join(timeline.namespaces[:4])}"
                + (" …" if len(timeline.namespaces) > 4 else "")
                + "  (lgtt timeline THREAD --ns NS)",
                style="dim",
            )
        )
    return Group(*parts)


def value_view(value: Any, *, full: bool = False) -> RenderableType:
    if isinstance(value, str) and full:
        return Text(value)
    return Pretty(
        _plain(value),
        max_string=None if full else MAX_STRING,
        max_length=None if full else MAX_LENGTH,
        expand_all=False,
    )


def _plain(value: Any) -> Any:
    """Records show as their fields with the type name, like the object they were."""
    if isinstance(value, Record):
        return _RecordView(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _RecordView:
    def __init__(self, rec: Record) -> None:
        self.rec = rec

    def __rich_repr__(self) -> Iterator[tuple[str, Any]]:
        for k, v in self.rec.items():
            yield k, _plain(v)

    def __repr__(self) -> str:
        return repr(self.rec)


_RecordView.__name__ = "Record"


def _tasks_table(tasks: Sequence[Task]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title_justify="left")
    for col in ("TASK", "STATUS", "ID", "DETAIL"):
        table.add_column(col)
    for t in tasks:
        detail = ""
        if t.error is not None:
            detail = one_line(t.error, 80)
        elif t.interrupts:
            from lgtt.channels import interrupt_value

            detail = "waiting: " + one_line(interrupt_value(t.interrupts[0]), 70)
            if t.resumed:
                detail = "resumed: " + detail[len("waiting: ") :]
        table.add_row(
            t.name,
            Text(t.status, style=STATUS_STYLE.get(t.status, "")),
            (t.task_id or "")[:8],
            detail,
        )
    return table


def checkpoint_view(detail: CheckpointDetail, *, full: bool = False) -> RenderableType:
    c = detail.summary
    head = Text.assemble(
        (f"{c.thread_id}@{c.index}", "bold"),
        (f" [{c.checkpoint_ns}]" if c.checkpoint_ns else "", "magenta"),
        ("  ", ""),
        (c.checkpoint_id, "yellow"),
    )
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_row("step", f"{c.step}   source {c.source}   {when(c.created_at, precise=True)}")
    facts.add_row("parent", c.parent_checkpoint_id or "-")
    facts.add_row("ran", _names(c.ran) or "-")
    facts.add_row("next", _names(c.next) or "- (nothing due: the run ended here)")
    facts.add_row("changed", ", ".join(c.changed) or "-")
    if c.error is not None:
        facts.add_row("error", Text(str(c.error), style="red"))
    if c.interrupts:
        facts.add_row("interrupts", Pretty(list(c.interrupts), max_string=MAX_STRING))
    if c.subgraphs:
        facts.add_row("subgraphs", ", ".join(c.subgraphs))
    extra = {k: v for k, v in detail.metadata.items() if k not in ("source", "step", "parents")}
    if extra:
        facts.add_row("metadata", Pretty(extra, max_string=80))
    parts: list[RenderableType] = [head, facts]
    if c.unreadable:
        parts.append(
            Text(f"this checkpoint's blob is unreadable: {c.unreadable}", style="bold red")
        )
    else:
        parts += [Text("\nstate", style="bold"), value_view(detail.values, full=full)]
    if detail.tasks:
        parts += [Text("\ntasks", style="bold"), _tasks_table(detail.tasks)]
    if detail.pending_writes:
        writes = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for col in ("TASK", "CHANNEL", "VALUE"):
            writes.add_column(col)
        for w in detail.pending_writes:
            writes.add_row(
                w.task, w.channel, value_view(w.value, full=full) if full else one_line(w.value, 80)
            )
        parts += [Text("\npending writes", style="bold"), writes]
    if not full:
        parts.append(
            Text(
                "\nlong values are shortened: --full shows everything, --key PATH one value",
                style="dim",
            )
        )
    return Group(*parts)
