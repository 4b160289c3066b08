"""Benchmark ``lgtt diff`` on the W3 workload against the naive way, in one run.

W3 wide state (DESIGN.md §6): 200 steps of a real LangGraph graph (SqliteSaver) over a
state of 50 keys plus a 5,000-entry dict; each step changes a few dict entries and one
of the 50 keys. Generated once into --dir and reused.

Figures, for the diff of two far-apart checkpoints (w3@10 and w3@190):
  lgtt core in-process           open the store, resolve both references, diff_refs()
  lgtt diff --json in-process    the whole command through the CLI (typer's runner)
  lgtt diff --json, whole process  python -m lgtt …, interpreter start and imports included
  naive: LangGraph + DeepDiff    the saver's get_tuple() for both checkpoints (as
                                 graph.get_state does) and DeepDiff of the full states
  naive: lgtt load + DeepDiff    lgtt's own loading, then DeepDiff of the full states
                                 (the "without the shortcut" variant)
The changed paths lgtt reports are checked against DeepDiff's.

Not collected by pytest (its name does not match test_*.py).
Usage: python tests/benchmarks/bench_diff.py [--dir DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from langgraph.checkpoint.sqlite import SqliteSaver  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402

W3_STEPS = 200
W3_KEYS = 50
W3_ENTRIES = 5000
A_REF, B_REF = "w3@10", "w3@190"

W3 = TypedDict(  # type: ignore[misc]
    "W3",
    {"n": int, "table": dict[str, Any], **{f"k{i:02d}": str for i in range(W3_KEYS)}},
)


def make_w3(path: Path) -> None:
    def step(s: dict[str, Any]) -> dict[str, Any]:
        n = s["n"] + 1
        table = dict(s["table"])
        for j in range(3):  # a few entries change per step
            key = f"item-{(n * 37 + j * 1013) % W3_ENTRIES:05d}"
            table[key] = {**table[key], "qty": table[key]["qty"] + 1, "seen": n}
        return {"n": n, "table": table, f"k{n % W3_KEYS:02d}": f"value {n} of key {n % W3_KEYS}"}

    b = StateGraph(W3)
    b.add_node("step", step)
    b.add_edge(START, "step")
    b.add_conditional_edges("step", lambda s: "step" if s["n"] < W3_STEPS else END)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    g = b.compile(checkpointer=SqliteSaver(conn))
    start: dict[str, Any] = {
        "n": 0,
        "table": {
            f"item-{i:05d}": {"id": i, "name": f"item number {i}", "qty": i % 7, "seen": 0}
            for i in range(W3_ENTRIES)
        },
        **{f"k{i:02d}": f"initial {i}" for i in range(W3_KEYS)},
    }
    g.invoke(start, {"configurable": {"thread_id": "w3"}, "recursion_limit": W3_STEPS + 10})
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def best(n: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def lgtt_core(db: Path) -> Any:
    from lgtt.diff import diff_refs
    from lgtt.store import open_store

    store = open_store(str(db))
    try:
        return diff_refs(store, A_REF, B_REF)
    finally:
        store.close()


def lgtt_cli_in_process(db: Path, *extra: str) -> str:
    from typer.testing import CliRunner

    from lgtt.cli import app

    r = CliRunner().invoke(app, ["diff", A_REF, B_REF, "--db", str(db), *extra])
    assert r.exit_code == 1, (r.exit_code, r.stderr)
    return r.stdout


def whole_process(args: list[str], code: int) -> str:
    p = subprocess.run(
        [sys.executable, "-m", "lgtt", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
    )
    assert p.returncode == code, p.stderr
    return p.stdout


def checkpoint_ids(db: Path) -> list[str]:
    conn = sqlite3.connect(str(db))
    ids = [
        r[0]
        for r in conn.execute(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = 'w3' AND checkpoint_ns = ''"
            " ORDER BY checkpoint_id"
        )
    ]
    conn.close()
    return ids


def naive_langgraph(db: Path, a_id: str, b_id: str) -> Any:
    from deepdiff import DeepDiff

    conn = sqlite3.connect(str(db), check_same_thread=False)
    saver = SqliteSaver(conn)
    try:
        states = []
        for cid in (a_id, b_id):
            t = saver.get_tuple(
                {"configurable": {"thread_id": "w3", "checkpoint_ns": "", "checkpoint_id": cid}}
            )
            assert t is not None
            cv = t.checkpoint["channel_values"]
            states.append({k: v for k, v in cv.items() if not k.startswith("__") and ":" not in k})
        return DeepDiff(states[0], states[1])
    finally:
        conn.close()


def naive_lgtt_load(db: Path) -> Any:
    from deepdiff import DeepDiff

    from lgtt.diff import load_state
    from lgtt.refs import resolve
    from lgtt.serde import materialize
    from lgtt.store import open_store

    store = open_store(str(db))
    try:
        a = load_state(store, resolve(store, A_REF)).values
        b = load_state(store, resolve(store, B_REF)).values
        return DeepDiff(materialize(a), materialize(b))
    finally:
        store.close()


def deepdiff_paths(dd: Any) -> set[str]:
    paths: set[str] = set()
    for items in dd.values():
        paths.update(items if isinstance(items, (set, list)) else items.keys())
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "lgtt-bench")
    ap.add_argument("--repeat", type=int, default=5, help="best of N")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    w3 = args.dir / "w3.sqlite"
    if not w3.exists():
        print(f"generating {w3.name} …", file=sys.stderr)
        t0 = time.perf_counter()
        tmp = w3.with_suffix(".tmp")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        make_w3(tmp)
        tmp.rename(w3)
        print(
            f"  {time.perf_counter() - t0:.1f}s, {w3.stat().st_size / 1e6:.0f} MB", file=sys.stderr
        )
    ids = checkpoint_ids(w3)
    a_id, b_id = ids[int(A_REF.split("@")[1])], ids[int(B_REF.split("@")[1])]
    n = args.repeat

    lgtt_core(w3)  # warm imports (deepdiff, langgraph) before timing in-process
    naive_langgraph(w3, a_id, b_id)
    t_core, result = best(n, lambda: lgtt_core(w3))
    t_cli_json, out = best(n, lambda: lgtt_cli_in_process(w3, "--json"))
    t_cli_human, _ = best(n, lambda: lgtt_cli_in_process(w3))
    t_proc, proc_out = best(
        n, lambda: whole_process(["diff", A_REF, B_REF, "--json", "--db", str(w3)], 1)
    )
    t_start, _ = best(n, lambda: whole_process(["--version"], 0))
    t_naive_lg, dd = best(n, lambda: naive_langgraph(w3, a_id, b_id))
    t_naive_lgtt, dd2 = best(n, lambda: naive_lgtt_load(w3))

    doc = json.loads(out)
    assert json.loads(proc_out)["changes"] == doc["changes"]
    got = {c["path"] for c in doc["changes"]}
    assert got == deepdiff_paths(dd) == deepdiff_paths(dd2), sorted(got ^ deepdiff_paths(dd))[:10]

    rows = [
        (
            "W3",
            f"{w3.stat().st_size / 1e6:.0f} MB, {len(ids)} checkpoints",
            f"diff {A_REF} {B_REF}: {len(result.changes)} changes",
        ),
        ("lgtt core, in-process", f"{t_core * 1000:.1f} ms", "target ≤ 200 ms"),
        ("lgtt diff --json, in-process", f"{t_cli_json * 1000:.1f} ms", ""),
        ("lgtt diff (Rich), in-process", f"{t_cli_human * 1000:.1f} ms", ""),
        ("lgtt diff --json, whole process", f"{t_proc * 1000:.0f} ms", ""),
        ("  interpreter + imports", f"{t_start * 1000:.0f} ms", "(python -m lgtt --version)"),
        (
            "naive: get_tuple ×2 + DeepDiff",
            f"{t_naive_lg * 1000:.1f} ms",
            f"naive / lgtt core = {t_naive_lg / t_core:.1f} ×",
        ),
        (
            "naive: lgtt load + full DeepDiff",
            f"{t_naive_lgtt * 1000:.1f} ms",
            f"naive / lgtt core = {t_naive_lgtt / t_core:.1f} ×",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(
        f"lgtt diff benchmark — python {sys.version.split()[0]}, {os.cpu_count()} cores, best of {n}"
    )
    for a, b, c in rows:
        print(f"  {a:<{width}}  {b:<24} {c}")
    print(
        json.dumps(
            {
                "diff_w3_core_s": t_core,
                "diff_w3_cli_json_inprocess_s": t_cli_json,
                "diff_w3_cli_human_inprocess_s": t_cli_human,
                "diff_w3_whole_process_s": t_proc,
                "startup_s": t_start,
                "naive_langgraph_s": t_naive_lg,
                "naive_lgtt_load_s": t_naive_lgtt,
                "changes": len(result.changes),
            }
        )
    )


if __name__ == "__main__":
    main()
