"""Maintenance results as Rich renderables. Nothing here prints."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lgtt.maintenance.prune import PrunePlan
from lgtt.maintenance.stats import Stats

SHOWN_THREADS = 20


def human_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{sign}{n:.0f} {unit}" if unit == "B" else f"{sign}{n:.1f} {unit}"
        n /= 1000
    return f"{sign}{n:.1f} TB"  # pragma: no cover


def _table(*cols: str, right: tuple[str, ...] = ()) -> Table:
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for c in cols:
        t.add_column(c, justify="right" if c in right else "left", no_wrap=True)
    return t


def stats_view(stats: Stats) -> RenderableType:
    parts: list[RenderableType] = []
    total = sum(stats.size.values())
    detail = ", ".join(f"{k} {human_bytes(v)}" for k, v in stats.size.items())
    parts.append(Text(f"{stats.url}: {human_bytes(total)} ({stats.backend}: {detail or 'empty'})"))
    doc = stats.to_json()["totals"]
    parts.append(
        Text(
            f"{doc['threads']} thread{'s' if doc['threads'] != 1 else ''},"
            f" {doc['checkpoints']} checkpoints, {doc['writes']} writes,"
            f" {human_bytes(doc['bytes'])} stored"
        )
    )
    if stats.threads:
        t = _table(
            "THREAD",
            "CHECKPOINTS",
            "WRITES",
            "SIZE",
            "FIRST",
            "LAST",
            "GROWTH/STEP",
            right=("CHECKPOINTS", "WRITES", "SIZE", "FIRST", "LAST", "GROWTH/STEP"),
        )
        for th in stats.threads[:SHOWN_THREADS]:
            t.add_row(
                Text(th.thread_id),
                str(th.checkpoints),
                str(th.writes),
                human_bytes(th.bytes),
                human_bytes(th.first_checkpoint_bytes),
                human_bytes(th.last_checkpoint_bytes),
                human_bytes(th.growth_per_step) if th.growth_per_step is not None else "-",
            )
        parts += ["", t]
        if len(stats.threads) > SHOWN_THREADS:
            parts.append(Text(f"… {len(stats.threads) - SHOWN_THREADS} more (--json lists all)"))
        growing = [t for t in stats.threads if (t.growth_per_step or 0) > 0]
        if growing:
            g = max(growing, key=lambda t: t.growth_per_step or 0)
            per = g.growth_per_step or 0
            last = g.last_checkpoint_bytes or 0
            more = 1000 * last + per * 1000 * 1000 / 2
            parts.append(
                Text(
                    f"every checkpoint stores the whole state: {g.thread_id} grows"
                    f" {human_bytes(per)} per step, so 1,000 more steps would store about"
                    f" {human_bytes(more)} (prune with `lgtt prune --keep N`)"
                )
            )
    if stats.largest_checkpoints:
        t = _table("LARGEST CHECKPOINTS", "NAMESPACE", "STEP", "SIZE", right=("STEP", "SIZE"))
        for c in stats.largest_checkpoints:
            t.add_row(
                Text(f"{c.thread_id}@{c.checkpoint_id}"),
                Text(c.checkpoint_ns),
                "" if c.step is None else str(c.step),
                human_bytes(c.bytes),
            )
        parts += ["", t]
    if stats.thread_id is not None:
        if stats.head_unreadable:
            parts += ["", Text(f"head {stats.head_checkpoint_id} cannot be decoded: "
                               f"{stats.head_unreadable}")]  # fmt: skip
        elif stats.largest_keys:
            t = _table(
                f"STATE KEY (at {stats.thread_id}@-1)", "SIZE", "SHARE", right=("SIZE", "SHARE")
            )
            total_keys = sum(k.bytes for k in stats.largest_keys) or 1
            for k in stats.largest_keys:
                t.add_row(Text(k.key), human_bytes(k.bytes), f"{100 * k.bytes / total_keys:.0f}%")
            parts += ["", t]
    return Group(*parts)


def prune_view(plan: PrunePlan) -> RenderableType:
    totals = plan.totals()
    verb = "would delete" if plan.dry_run else "deleted"
    if plan.empty:
        return Text("nothing to prune")
    t = _table(
        "THREAD",
        "ACTION",
        "CHECKPOINTS",
        "KEPT",
        "WRITES",
        "BLOBS",
        "FREES",
        right=("CHECKPOINTS", "KEPT", "WRITES", "BLOBS", "FREES"),
    )
    for p in plan.threads:
        t.add_row(
            Text(p.thread_id),
            "delete thread" if p.action == "delete" else p.reason,
            str(p.checkpoints_deleted),
            str(p.checkpoints_kept),
            str(p.writes_deleted),
            str(p.blobs_deleted),
            human_bytes(p.bytes_freed),
        )
    line = (
        f"{verb} {totals['threads_deleted']} whole thread"
        f"{'s' if totals['threads_deleted'] != 1 else ''},"
        f" {totals['checkpoints_deleted']} checkpoints, {totals['writes_deleted']} writes"
        + (f", {totals['blobs_deleted']} blobs" if totals["blobs_deleted"] else "")
        + f" ({human_bytes(totals['bytes_freed'])})"
    )
    parts: list[RenderableType] = [t, "", Text(line)]
    if plan.vacuum and plan.vacuum.get("backend") == "postgres":
        parts.append(
            Text(
                "vacuumed LangGraph's tables: PostgreSQL reuses the freed space for new rows"
                " (VACUUM FULL would give it back to the OS, but locks the tables)"
            )
        )
    elif plan.vacuum:
        parts.append(
            Text(
                f"vacuumed: {human_bytes(plan.vacuum['bytes_before'])} →"
                f" {human_bytes(plan.vacuum['bytes_after'])}"
            )
        )
    return Group(*parts)
