"""Crash safety: ``lgtt import``, ``lgtt prune --yes`` and ``lgtt branch`` (copy + edit)
killed with SIGKILL leave the database exactly as before or exactly as after — never
half-written — as LangGraph itself sees it on reopening, with SQLite's integrity intact.

Two kinds of kill:

- **inside the transaction, deterministically**: the process stops at a known point in
  the middle of its writes and is killed there. For branch, the edit's reducer blocks
  (tests/hardening_graphs/pausing.py, when ``LGTT_TEST_PAUSE`` is set) after the copy
  was inserted; for prune and import, lgtt runs under a small launcher that makes the
  maintenance layer block halfway through its deletes or inserts (test-only fault
  injection: the code that runs is lgtt's own, cut in half).
- **at random points**: the real command, killed after a delay drawn from a seeded RNG
  over the time one whole run takes (reads, the transaction, the commit, VACUUM).

No test asserts on timing: a kill that comes after the command finished is simply a
case where the database must be "after".
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from lgtt.graphs import load_graph
from tests.conftest import RunCli
from tests.graphs import counter

ROOT = Path(__file__).resolve().parent.parent
PAUSING = f"{ROOT / 'tests' / 'hardening_graphs' / 'pausing.py'}:graph"
SEED = 20261124
RANDOM_KILLS = 5

#: runs lgtt with the maintenance layer blocking halfway through one of its methods
_LAUNCHER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from lgtt.maintenance import db

    marker = Path(os.environ["LGTT_TEST_PAUSE"])
    name = os.environ["LGTT_TEST_PAUSE_IN"]  # e.g. delete_checkpoints, insert_writes

    calls = []

    def halfway(original):
        def method(self, *args):
            *head, items = args
            if not isinstance(items, (list, tuple)):  # one row a call: block at the third
                calls.append(items)
                if len(calls) == 3:
                    marker.write_text(f"{name}: 2 calls done")
                    time.sleep(120)  # the test kills the process here
                return original(self, *args)
            half = len(items) // 2
            original(self, *head, items[:half])
            marker.write_text(f"{name}: {half} of {len(items)} done")
            time.sleep(120)  # the test kills the process here
            return original(self, *head, items[half:])
        return method

    for cls in (db.SqliteDb, db.PostgresDb):
        setattr(cls, name, halfway(getattr(cls, name)))
    from lgtt.cli import main
    sys.argv = ["lgtt", *sys.argv[1:]]
    main()
    """
)


def cfg(thread: str) -> Any:
    return {"configurable": {"thread_id": thread}}


# --- what the database holds, as LangGraph sees it --------------------------------------------


def snapshot(path: Path, known: set[str] | None = None) -> dict[str, Any]:
    """Every thread as LangGraph's SqliteSaver lists it (checkpoints of every namespace,
    metadata, pending writes), plus the raw row counts per thread and table (rows
    LangGraph would not list, such as writes of a missing checkpoint, count too).

    With ``known``, checkpoint ids not in it (new ones, different on every run) are
    replaced by their order of appearance and their ``ts`` dropped.
    """
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        (ok,) = conn.execute("PRAGMA integrity_check").fetchone()
        assert ok == "ok", ok
        counts = {
            (table, str(t)): n
            for table in ("checkpoints", "writes")
            for t, n in conn.execute(f"SELECT thread_id, count(*) FROM {table} GROUP BY 1")
        }
        saver = SqliteSaver(conn)
        names: dict[str, str] = {}

        def name(cid: str | None) -> str | None:
            if cid is None or known is None or cid in known:
                return cid
            return names.setdefault(cid, f"new-{len(names)}")

        threads: dict[str, Any] = {}
        for _, thread in sorted(counts):
            if thread in threads:
                continue
            rows = []
            for t in reversed(list(saver.list(cfg(thread)))):
                c = t.config["configurable"]
                parent = (t.parent_config or {}).get("configurable", {}).get("checkpoint_id")
                cp = dict(t.checkpoint)
                if name(c["checkpoint_id"]) != c["checkpoint_id"]:
                    cp.pop("ts", None)
                    cp["id"] = name(cp["id"])
                    cp["channel_versions"] = _counters(cp["channel_versions"])
                    cp["versions_seen"] = {
                        node: _counters(seen) for node, seen in cp["versions_seen"].items()
                    }
                rows.append(
                    (c["checkpoint_ns"], name(c["checkpoint_id"]), name(parent), cp,
                     t.metadata, t.pending_writes)
                )  # fmt: skip
            threads[thread] = rows
        return {"threads": threads, "rows": counts}
    finally:
        conn.close()


def _counters(versions: dict[str, Any]) -> dict[str, Any]:
    """Channel versions without the random part SqliteSaver adds (``000…5.0.3449…``)."""
    return {k: str(v).split(".", 1)[0] for k, v in versions.items()}


def checkpoint_ids(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return {r[0] for r in conn.execute("SELECT checkpoint_id FROM checkpoints")}


# --- running and killing lgtt ---------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **extra}


def kill_when_paused(args: list[str], cwd: Path, marker: Path, **env: str) -> str:
    """Start lgtt (through the launcher when LGTT_TEST_PAUSE_IN is given), wait until it
    says it is blocked inside its writes, SIGKILL it. Returns what it was doing."""
    launcher = ["-c", _LAUNCHER] if "LGTT_TEST_PAUSE_IN" in env else ["-m", "lgtt"]
    proc = subprocess.Popen(
        [sys.executable, *launcher, *args],
        cwd=cwd,
        env=_env(LGTT_TEST_PAUSE=str(marker), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not marker.exists():
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"lgtt ended before pausing ({proc.returncode}): {err or out}")
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return marker.read_text()


def kill_after(args: list[str], cwd: Path, delay: float) -> int:
    """Run the real command and SIGKILL it after ``delay`` seconds (if still running)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lgtt", *args],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGKILL), err
    return proc.returncode


def timed_run(args: list[str], cwd: Path) -> float:
    """One whole run of the real command (the "after" database); how long it took, to
    draw kill delays from (not asserted)."""
    start = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "lgtt", *args], cwd=cwd, env=_env(), capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return time.monotonic() - start


def random_kills(
    pristine: Path,
    work: Path,
    args: list[str],
    states: Callable[[Path], Any],
    before: Any,
    after: Any,
    duration: float,
    seed: int,
) -> list[str]:
    """Kill the command at random points; each time the database is before or after."""
    rng = random.Random(seed)
    seen = []
    for _ in range(RANDOM_KILLS):
        for suffix in ("-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
        shutil.copy(pristine, work)
        # most of a run is starting Python and importing: aim at its second half
        code = kill_after(args, work.parent, rng.uniform(duration * 0.4, duration * 1.1))
        state = states(work)
        assert state in (before, after), f"half-written after a kill ({code})"
        seen.append("after" if state == after else "before")
    return seen


# --- the databases ----------------------------------------------------------------------------


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """Threads of three graphs: ``t`` (counter, 8 checkpoints), ``p0``…``p2`` (pausing,
    6 each), ``f`` (flaky, failed)."""
    path = tmp_path / "pristine.sqlite"
    conn = sqlite3.connect(str(path), check_same_thread=False)
    saver = SqliteSaver(conn)
    counter.builder.compile(checkpointer=saver).invoke(counter.INPUT, cfg("t"))
    pausing = load_graph(PAUSING).bind(saver)
    for i in range(3):
        pausing.invoke({"until": 4, "items": []}, cfg(f"p{i}"))
    flaky = load_graph(f"{ROOT / 'tests' / 'recovery_graphs' / 'flaky.py'}:graph").bind(saver)
    with pytest.raises(ValueError):
        flaky.invoke({"ok": False, "log": []}, cfg("f"))
    conn.close()
    return path


def _fresh(pristine: Path, name: str) -> Path:
    path = pristine.parent / name
    shutil.copy(pristine, path)
    return path


# --- branch -----------------------------------------------------------------------------------

BRANCH = [
    "branch",
    "p0",
    "--from",
    "3",
    "--to",
    "b",
    "--set",
    'items=["edited"]',
    "--graph",
    PAUSING,
]


def test_branch_killed_during_the_edit_leaves_nothing(runs: Path, tmp_path: Path) -> None:
    """Killed inside the items reducer (the edit, after the copy was inserted in the same
    transaction): no trace of the branch, the rest as it was."""
    db = _fresh(runs, "kill.sqlite")
    before = snapshot(db)
    doing = kill_when_paused([*BRANCH, "--db", str(db)], tmp_path, tmp_path / "paused")
    assert "items reducer" in doing
    assert snapshot(db) == before
    assert "b" not in snapshot(db)["threads"]


def test_branch_killed_at_random_points(cli: RunCli, runs: Path, tmp_path: Path) -> None:
    known = checkpoint_ids(runs)
    before = snapshot(runs, known)
    done = _fresh(runs, "done.sqlite")
    duration = timed_run([*BRANCH, "--db", str(done)], tmp_path)
    after = snapshot(done, known)
    assert len(after["threads"]["b"]) == 5  # 4 copied (root → @3) and the edit
    assert after["threads"]["b"][-1][3]["channel_values"]["items"][-1] == "edited"
    work = tmp_path / "work.sqlite"
    random_kills(
        runs, work, [*BRANCH, "--db", str(work)], lambda p: snapshot(p, known), before, after,
        duration, SEED,
    )  # fmt: skip


# --- prune --yes ------------------------------------------------------------------------------

PRUNE = ["prune", "--thread", "t", "--keep", "2", "--yes"]


def test_prune_killed_halfway_through_its_deletes_leaves_everything(
    runs: Path, tmp_path: Path
) -> None:
    """Killed after thread t was deleted and half of the other threads' old checkpoints
    too, inside the one transaction: every checkpoint and write is still there."""
    db = _fresh(runs, "kill.sqlite")
    before = snapshot(db)
    doing = kill_when_paused(
        [*PRUNE, "--db", str(db)], tmp_path, tmp_path / "paused",
        LGTT_TEST_PAUSE_IN="delete_checkpoints",
    )  # fmt: skip
    assert doing.startswith("delete_checkpoints: ") and not doing.startswith(
        "delete_checkpoints: 0 of"
    )
    assert snapshot(db) == before


def test_prune_killed_at_random_points(runs: Path, tmp_path: Path) -> None:
    before = snapshot(runs)
    done = _fresh(runs, "done.sqlite")
    args = [*PRUNE, "--vacuum"]
    duration = timed_run([*args, "--db", str(done)], tmp_path)
    after = snapshot(done)
    assert "t" not in after["threads"] and len(after["threads"]["p0"]) == 2
    work = tmp_path / "work.sqlite"
    random_kills(
        runs, work, [*args, "--db", str(work)], snapshot, before, after, duration, SEED + 1
    )


# --- import -----------------------------------------------------------------------------------


@pytest.fixture
def export_file(cli: RunCli, runs: Path, tmp_path: Path) -> Path:
    out = tmp_path / "t.json"
    assert cli("export", "t", "--db", runs, "-o", out).exit_code == 0
    return out


def test_import_killed_halfway_through_its_inserts_leaves_nothing(
    runs: Path, export_file: Path, tmp_path: Path
) -> None:
    db = _fresh(runs, "kill.sqlite")
    before = snapshot(db)
    doing = kill_when_paused(
        ["import", str(export_file), "--to", "t2", "--db", str(db)], tmp_path,
        tmp_path / "paused", LGTT_TEST_PAUSE_IN="insert_writes",
    )  # fmt: skip
    assert doing.startswith("insert_writes: ") and not doing.startswith("insert_writes: 0 of")
    assert snapshot(db) == before


def test_import_into_a_new_file_killed_leaves_no_half_database(
    export_file: Path, tmp_path: Path
) -> None:
    """A new file is created (LangGraph's empty tables) before the transaction: killed
    inside it, what is left is an empty LangGraph database or nothing, never half a thread."""
    db = tmp_path / "new.sqlite"
    kill_when_paused(
        ["import", str(export_file), "--db", str(db)], tmp_path, tmp_path / "paused",
        LGTT_TEST_PAUSE_IN="insert_writes",
    )  # fmt: skip
    assert not db.exists() or snapshot(db) == {"threads": {}, "rows": {}}


def test_import_killed_at_random_points(runs: Path, export_file: Path, tmp_path: Path) -> None:
    before = snapshot(runs)
    done = _fresh(runs, "done.sqlite")
    args = ["import", str(export_file), "--to", "t2"]
    duration = timed_run([*args, "--db", str(done)], tmp_path)
    after = snapshot(done)
    assert len(after["threads"]["t2"]) == len(before["threads"]["t"])
    work = tmp_path / "work.sqlite"
    random_kills(
        runs, work, [*args, "--db", str(work)], snapshot, before, after, duration, SEED + 2
    )


# --- PostgreSQL: the transaction is the server's -----------------------------------------------


def pg_snapshot(url: str) -> dict[str, Any]:
    """Every thread as PostgresSaver lists it, and each table's rows (count and md5)."""
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row

    from tests.test_hardening import pg_digest

    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        threads = sorted(r["thread_id"] for r in conn.execute(
            "SELECT DISTINCT thread_id FROM checkpoints"))  # fmt: skip
        saver = PostgresSaver(conn)  # type: ignore[arg-type]
        listed = {
            t: [(s.config, s.parent_config, s.checkpoint, s.metadata, s.pending_writes)
                for s in saver.list(cfg(t))]
            for t in threads
        }  # fmt: skip
    return {"threads": listed, "tables": pg_digest(url)}


@pytest.fixture
def pg_runs(cli: RunCli, runs: Path, pg_db_url: str, tmp_path: Path) -> str:
    for thread in ("t", "p0", "p1", "f"):
        doc = cli("export", thread, "--db", runs).stdout
        assert cli("import", "-", "--db", pg_db_url, input=doc).exit_code == 0
    return pg_db_url


@pytest.mark.parametrize(
    ("args", "method"),
    [
        (["prune", "--thread", "t", "--keep", "1", "--yes"], "delete_checkpoints"),
        (["import", "t.json", "--to", "t2"], "insert_writes"),
        (["import", "t.json", "--to", "t3"], "insert_checkpoint"),
    ],
    ids=["prune", "import-writes", "import-checkpoints"],
)
def test_postgres_killed_inside_the_transaction(
    cli: RunCli, pg_runs: str, tmp_path: Path, args: list[str], method: str
) -> None:
    assert cli("export", "t", "--db", pg_runs, "-o", tmp_path / "t.json").exit_code == 0
    before = pg_snapshot(pg_runs)
    doing = kill_when_paused(
        [*args, "--db", pg_runs], tmp_path, tmp_path / "paused", LGTT_TEST_PAUSE_IN=method
    )
    assert doing.startswith(f"{method}: ")
    assert pg_snapshot(pg_runs) == before
    # and the database still takes the same command whole
    assert cli(*args, "--db", pg_runs).exit_code == 0


def test_postgres_branch_killed_during_the_edit_leaves_nothing(
    pg_runs: str, tmp_path: Path
) -> None:
    before = pg_snapshot(pg_runs)
    doing = kill_when_paused([*BRANCH, "--db", pg_runs], tmp_path, tmp_path / "paused")
    assert "items reducer" in doing
    assert pg_snapshot(pg_runs) == before
