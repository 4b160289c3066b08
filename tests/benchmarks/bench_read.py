"""Benchmark lgtt's read commands against the floor and the naive way, in one run.

Workloads (DESIGN.md §6), generated once into --dir and reused:
  W1 long chat: one thread, 1,000 steps, one ~300-byte message appended per step.
  W2 many threads: 10,000 threads of 6 small checkpoints.

Figures:
  timeline W1, whole process    vs the floor: a process that reads every row with SQL
                                and decodes every blob with LangGraph's serializer
                                vs the naive way: get_state_history + DeepDiff of each
                                consecutive pair of full states (timed on a sample of
                                pairs and extrapolated unless --full-naive)
  threads W2, whole process     and, in-process, how many SQL statements ran and how
                                many checkpoint blobs were decoded
  peak memory of timeline W1    ru_maxrss of the lgtt process

Usage: python tests/benchmarks/bench_read.py [--dir DIR] [--full-naive]
"""

from __future__ import annotations

import argparse
import itertools
import json
import operator
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


from langchain_core.messages import AIMessage, AnyMessage, HumanMessage  # noqa: E402
from langgraph.checkpoint.sqlite import SqliteSaver  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402
from langgraph.graph.message import add_messages  # noqa: E402

W1_STEPS = 1000
W2_THREADS = 10_000
W4_STEPS = 5000
W5_ITEMS = 50_000  # × ~1 KB: one state of ~50 MB


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    turn: int


class Small(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


def make_w1(path: Path) -> None:
    filler = "lorem ipsum dolor sit amet " * 5  # 318 bytes serialized, with the envelope

    def reply(s: Chat) -> dict[str, Any]:
        n = s["turn"] + 1
        return {"messages": [AIMessage(content=f"{n}: {filler}", id=f"m-{n}")], "turn": n}

    b = StateGraph(Chat)
    b.add_node("reply", reply)
    b.add_edge(START, "reply")
    b.add_conditional_edges("reply", lambda s: "reply" if s["turn"] < W1_STEPS else END)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    g = b.compile(checkpointer=SqliteSaver(conn))
    g.invoke(
        {"messages": [HumanMessage(content="start", id="h-0")], "turn": 0},
        {"configurable": {"thread_id": "w1"}, "recursion_limit": W1_STEPS + 10},
    )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def make_w2(path: Path) -> None:
    """One real run of a 6-checkpoint graph per thread, for the first 100 threads;
    the other 9,900 threads are exact copies of those rows under new thread ids (the
    same bytes LangGraph wrote, generated in seconds instead of minutes)."""
    b = StateGraph(Small)
    for name, nxt in (("a", "b"), ("b", "c"), ("c", "d"), ("d", None)):
        b.add_node(name, lambda s, name=name: {"n": s["n"] + 1, "log": [name]})
        if nxt:
            b.add_edge(name, nxt)
    b.add_edge(START, "a")
    conn = sqlite3.connect(str(path), check_same_thread=False)
    g = b.compile(checkpointer=SqliteSaver(conn))
    for i in range(100):
        g.invoke({"n": i, "log": []}, {"configurable": {"thread_id": f"t{i:05d}"}})
    for i in range(100, W2_THREADS):
        src = f"t{i % 100:05d}"
        dst = f"t{i:05d}"
        conn.execute(
            "INSERT INTO checkpoints SELECT ?, checkpoint_ns, checkpoint_id, parent_checkpoint_id,"
            " type, checkpoint, metadata FROM checkpoints WHERE thread_id = ?",
            (dst, src),
        )
        conn.execute(
            "INSERT INTO writes SELECT ?, checkpoint_ns, checkpoint_id, task_id, task_path, idx,"
            " channel, type, value FROM writes WHERE thread_id = ?",
            (dst, src),
        )
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def make_w4(path: Path) -> None:
    """A 5,000-checkpoint thread (a counter looping 5,000 times)."""
    b = StateGraph(Small)
    b.add_node("tick", lambda s: {"n": s["n"] + 1, "log": ["t"] if s["n"] % 100 == 0 else []})
    b.add_edge(START, "tick")
    b.add_conditional_edges("tick", lambda s: "tick" if s["n"] < W4_STEPS - 2 else END)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    g = b.compile(checkpointer=SqliteSaver(conn))
    g.invoke(
        {"n": 0, "log": []}, {"configurable": {"thread_id": "w4"}, "recursion_limit": W4_STEPS + 10}
    )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


class Big(TypedDict):
    rows: list[dict[str, Any]]
    note: str


def make_w5(path: Path) -> None:
    """A thread whose state holds ~50 MB (50,000 rows of ~1 KB), then changes a little."""
    b = StateGraph(Big)
    b.add_node(
        "load",
        lambda s: {"rows": [{"i": i, "text": f"{i:08d}" + "x" * 1000} for i in range(W5_ITEMS)]},
    )
    b.add_node("touch", lambda s: {"note": "touched"})
    b.add_edge(START, "load")
    b.add_edge("load", "touch")
    conn = sqlite3.connect(str(path), check_same_thread=False)
    g = b.compile(checkpointer=SqliteSaver(conn))
    g.invoke({"rows": [], "note": ""}, {"configurable": {"thread_id": "w5"}})
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


_FLOOR = """
import sqlite3, sys, time
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
ser = JsonPlusSerializer()
conn = sqlite3.connect(sys.argv[1])
n = 0
for t, blob, md in conn.execute(
    "SELECT type, checkpoint, metadata FROM checkpoints WHERE thread_id = ? ORDER BY checkpoint_id",
    (sys.argv[2],),
):
    ser.loads_typed((t, blob))
    n += 1
for t, v in conn.execute("SELECT type, value FROM writes WHERE thread_id = ?", (sys.argv[2],)):
    ser.loads_typed((t, v))
print(n)
"""


# Runs `-m module args…` or `-c code args…` and reports its own peak memory on stderr.
_WRAP = """
import runpy, sys
mode, rest = sys.argv[1], sys.argv[2:]
try:
    if mode == "-m":
        sys.argv = rest
        runpy.run_module(rest[0], run_name="__main__", alter_sys=True)
    else:
        sys.argv = ["-c", *rest[1:]]
        exec(compile(rest[0], "<bench>", "exec"), {"__name__": "__main__"})
finally:
    # VmHWM belongs to this address space (reset by exec); ru_maxrss is not: Linux
    # carries it over from the parent through fork and exec.
    hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]
    sys.stderr.write(f"\\nMAXRSS {hwm}\\n")
"""


def run_process(args: list[str]) -> tuple[float, int, str]:
    """Wall time, peak RSS (KiB) and stdout of one child process (``python -m/-c …``)."""
    cmd = [args[0], "-c", _WRAP, *args[1:]]
    t0 = time.perf_counter()
    p = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    elapsed = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{args} failed:\n{p.stderr}")
    peak = int(p.stderr.rsplit("MAXRSS", 1)[1].split()[0])
    return elapsed, peak, p.stdout


def best_of(n: int, args: list[str]) -> tuple[float, int, str]:
    runs = [run_process(args) for _ in range(n)]
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[0][2]


def naive_timeline(db: Path, full: bool) -> tuple[float, str]:
    from deepdiff import DeepDiff

    sys.path.insert(0, str(Path(__file__).parent))
    conn = sqlite3.connect(str(db), check_same_thread=False)
    saver = SqliteSaver(conn)
    # get_state_history needs the graph; its cost is list() + a snapshot per checkpoint,
    # dominated by list() (decode everything). Use the saver's list(), as the graph does.
    t0 = time.perf_counter()
    tuples = list(saver.list({"configurable": {"thread_id": "w1"}}))
    states = [t.checkpoint["channel_values"] for t in reversed(tuples)]
    t_history = time.perf_counter() - t0
    pairs = list(itertools.pairwise(states))
    sample = pairs if full else pairs[:: max(1, len(pairs) // 15)]
    t0 = time.perf_counter()
    for a, b in sample:
        DeepDiff(a, b)
    per_pair = (time.perf_counter() - t0) / len(sample)
    total = t_history + per_pair * len(pairs)
    how = (
        "measured"
        if full
        else f"history {t_history:.2f}s + {per_pair * 1000:.0f} ms/pair × {len(pairs)} pairs (mean of {len(sample)} sampled)"
    )
    conn.close()
    return total, how


def threads_in_process(db: Path) -> tuple[float, int, int]:
    """Time ``list_threads`` in-process, counting SQL statements and blob decodes."""
    from lgtt import serde
    from lgtt.store.sqlite import SqliteStore
    from lgtt.threads import list_threads

    decodes = 0
    original = serde.loads

    def counting(type_: Any, data: Any, *, lazy: bool = False) -> Any:
        nonlocal decodes
        if isinstance(data, (bytes, memoryview)) and len(data) > 64 and type_ == "msgpack":
            decodes += 1
        return original(type_, data, lazy=lazy)

    serde.loads = counting  # type: ignore[assignment]
    try:
        store = SqliteStore(str(db))
        statements: list[str] = []
        store.conn.set_trace_callback(statements.append)
        t0 = time.perf_counter()
        found = list_threads(store)
        elapsed = time.perf_counter() - t0
        store.close()
    finally:
        serde.loads = original  # type: ignore[assignment]
    assert len(found) == W2_THREADS, len(found)
    return (
        elapsed,
        len([s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]),
        decodes,
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "lgtt-bench")
    ap.add_argument("--full-naive", action="store_true", help="DeepDiff all 999 pairs (minutes)")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for whole-process timings")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    w1, w2 = args.dir / "w1.sqlite", args.dir / "w2.sqlite"
    w4, w5 = args.dir / "w4.sqlite", args.dir / "w5.sqlite"
    for path, make in ((w1, make_w1), (w2, make_w2), (w4, make_w4), (w5, make_w5)):
        if not path.exists():
            print(f"generating {path.name} …", file=sys.stderr)
            t0 = time.perf_counter()
            tmp = path.with_suffix(".tmp")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{tmp}{suffix}").unlink(missing_ok=True)
            make(tmp)
            tmp.rename(path)
            print(
                f"  {time.perf_counter() - t0:.1f}s, {path.stat().st_size / 1e6:.0f} MB",
                file=sys.stderr,
            )

    py = sys.executable
    t_floor, rss_floor, n = best_of(args.repeat, [py, "-c", _FLOOR, str(w1), "w1"])
    t_lgtt, rss_lgtt, out = best_of(
        args.repeat, [py, "-m", "lgtt", "timeline", "w1", "--json", "--db", str(w1)]
    )
    doc = json.loads(out)
    assert len(doc["checkpoints"]) == int(n), (len(doc["checkpoints"]), n)
    t_naive, naive_how = naive_timeline(w1, args.full_naive)
    t_threads, _, out2 = best_of(
        args.repeat, [py, "-m", "lgtt", "threads", "--json", "--db", str(w2)]
    )
    assert len(json.loads(out2)["threads"]) == W2_THREADS
    t_startup, _, _ = best_of(args.repeat, [py, "-m", "lgtt", "--version"])
    t_in, queries, decodes = threads_in_process(w2)
    t_w4, rss_w4, out4 = best_of(1, [py, "-m", "lgtt", "timeline", "w4", "--json", "--db", str(w4)])
    n_w4 = len(json.loads(out4)["checkpoints"])
    t_w5, rss_w5, _ = best_of(1, [py, "-m", "lgtt", "timeline", "w5", "--json", "--db", str(w5)])
    t_w5s, rss_w5s, _ = best_of(
        1, [py, "-m", "lgtt", "show", "w5", "--key", "rows[-1].i", "--db", str(w5)]
    )
    t_w5f, rss_w5f, _ = best_of(1, [py, "-c", _FLOOR, str(w5), "w5"])

    rows = [
        ("W1 size", f"{w1.stat().st_size / 1e6:.0f} MB, {n.strip()} checkpoints", ""),
        (
            "timeline W1 (whole process)",
            f"{t_lgtt:.2f} s",
            "target ≤ 1.5 × floor, ≥ 100 × faster than naive",
        ),
        (
            "floor (SQL + decode every blob)",
            f"{t_floor:.2f} s",
            f"lgtt / floor = {t_lgtt / t_floor:.2f}",
        ),
        (
            "naive (history + DeepDiff pairs)",
            f"{t_naive:.1f} s",
            f"naive / lgtt = {t_naive / t_lgtt:.0f} ×",
        ),
        ("  naive measured as", naive_how, ""),
        (
            "peak memory, timeline W1",
            f"{rss_lgtt / 1024:.0f} MB",
            f"floor process: {rss_floor / 1024:.0f} MB; target < 300 MB",
        ),
        ("threads W2 (whole process)", f"{t_threads:.2f} s", "target ≤ 1 s"),
        ("  of which interpreter + imports", f"{t_startup:.2f} s", "(lgtt --version)"),
        (
            "  threads W2 in-process",
            f"{t_in:.3f} s",
            f"{queries} SQL statement(s), {decodes} checkpoint blobs decoded",
        ),
        (f"timeline, {n_w4}-checkpoint thread", f"{t_w4:.2f} s", f"peak {rss_w4 / 1024:.0f} MB"),
        (
            f"timeline, ~50 MB state ({w5.stat().st_size / 1e6:.0f} MB file)",
            f"{t_w5:.2f} s",
            f"peak {rss_w5 / 1024:.0f} MB",
        ),
        ("show --key, ~50 MB state", f"{t_w5s:.2f} s", f"peak {rss_w5s / 1024:.0f} MB"),
        ("  floor for the ~50 MB thread", f"{t_w5f:.2f} s", f"peak {rss_w5f / 1024:.0f} MB"),
    ]
    width = max(len(r[0]) for r in rows)
    print(
        f"lgtt read benchmark — python {sys.version.split()[0]}, {os.cpu_count()} cores, best of {args.repeat}"
    )
    for a, b, c in rows:
        print(f"  {a:<{width}}  {b:<28} {c}")
    print(
        json.dumps(
            {
                "timeline_w1_s": t_lgtt,
                "floor_w1_s": t_floor,
                "naive_w1_s": t_naive,
                "ratio_floor": t_lgtt / t_floor,
                "ratio_naive": t_naive / t_lgtt,
                "peak_rss_mb": rss_lgtt / 1024,
                "threads_w2_s": t_threads,
                "threads_w2_inprocess_s": t_in,
                "threads_w2_queries": queries,
                "threads_w2_decodes": decodes,
                "timeline_w4_s": t_w4,
                "timeline_w4_peak_mb": rss_w4 / 1024,
                "timeline_w5_s": t_w5,
                "timeline_w5_peak_mb": rss_w5 / 1024,
                "show_w5_peak_mb": rss_w5s / 1024,
                "floor_w5_peak_mb": rss_w5f / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
