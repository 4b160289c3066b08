"""Hardening of the commands that write or run user code (branch, replay, recover, check,
prune, export, import) and of diff/blame: bad input, concurrent writers, untrusted data.

Every bad input gets exit 2, exactly one ``error: …`` line on stderr (never lgtt's own
"internal error", which means a bug), nothing on stdout, and leaves the database as it
was: the same bytes for SQLite, the same tables, row counts and contents for PostgreSQL.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from lgtt.graphs import load_graph
from tests.conftest import RunCli, file_digest
from tests.graphs import counter

ROOT = Path(__file__).resolve().parent.parent
GRAPHS = ROOT / "tests" / "graphs"
COUNTER = f"{GRAPHS / 'counter.py'}:graph"
FLAKY = f"{ROOT / 'tests' / 'recovery_graphs' / 'flaky.py'}:graph"


def cfg(thread: str) -> Any:
    return {"configurable": {"thread_id": thread}}


def one_error_line(r: Any) -> str:
    """The contract for bad input: exit 2, one ``error:`` line, nothing else."""
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    assert r.stdout == "", r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in r.stderr
    assert "internal error" not in lines[0], lines[0]  # lgtt's own word for a bug
    return lines[0]


def build_runs(path: Path) -> None:
    """``t``: a finished counter run (tests/graphs/counter.py); ``f``: a failed run of
    tests/recovery_graphs/flaky.py (``work`` raises until ``ok`` is true)."""
    conn = sqlite3.connect(str(path), check_same_thread=False)
    saver = SqliteSaver(conn)
    counter.builder.compile(checkpointer=saver).invoke(counter.INPUT, cfg("t"))
    flaky = load_graph(FLAKY).bind(saver)
    with pytest.raises(ValueError, match="work needs ok=true"):
        flaky.invoke({"ok": False, "log": []}, cfg("f"))
    conn.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hardening") / "runs.sqlite"
    build_runs(path)
    return path


# --- the catalogue: one case per bad input, for every command that takes it ---------------

DEEP = "[" * 5000 + "]" * 5000
BROKEN = f"{GRAPHS / 'broken.py'}:graph"


def _export_variants(good: dict[str, Any]) -> dict[str, str]:
    """Damaged copies of a real export document, as file contents."""
    cp, w = good["checkpoints"][0], good["writes"][0]

    def with_(**changes: Any) -> str:
        return json.dumps({**good, **changes})

    without_id = {k: v for k, v in cp.items() if k != "checkpoint_id"}
    return {
        "export-v2.json": with_(lgtt_export=2),
        "export-no-version.json": json.dumps({k: v for k, v in good.items() if k != "lgtt_export"}),
        "export-no-thread.json": json.dumps({k: v for k, v in good.items() if k != "thread_id"}),
        "export-no-checkpoints.json": with_(checkpoints=None),
        "export-no-checkpoint-id.json": with_(checkpoints=[without_id]),
        "export-bad-base64.json": with_(checkpoints=[{**cp, "checkpoint": {"type": "msgpack", "$base64": "@@"}}]),
        "export-repeated.json": with_(checkpoints=[cp, cp]),
        "export-idx-bool.json": with_(writes=[{**w, "idx": True}]),
        "export-idx-huge.json": with_(writes=[{**w, "idx": 2**70}]),
        "export-thread-surrogate.json": with_(thread_id="t\ud800"),
        "export-ns-surrogate.json": with_(checkpoints=[{**cp, "checkpoint_ns": "\udcff"}]),
        "export-deep.json": json.dumps(good)[:-1] + ', "extra": ' + DEEP + "}",
        "export-array.json": "[1, 2]",
    }  # fmt: skip


@pytest.fixture(scope="module")
def export_doc(runs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from typer.testing import CliRunner

    from lgtt.cli import app

    r = CliRunner().invoke(app, ["export", "t", "--db", str(runs)])
    assert r.exit_code == 0, r.stderr
    return dict(json.loads(r.stdout))


def _files(where: Path, good: dict[str, Any]) -> None:
    """The files the cases name, in the test's directory (the cli fixture's cwd)."""
    texts = {
        "not-json.json": "{not json",
        "list.json": "[1, 2]",
        "deep.json": '{"count": ' + DEEP + "}",
        **_export_variants(good),
    }
    for name, text in texts.items():
        (where / name).write_text(text, encoding="utf-8", errors="surrogatepass")
    (where / "bad-utf8.json").write_bytes(b"\xff\xfe{}")
    (where / "a-directory").mkdir(exist_ok=True)


def _graph_cases() -> list[tuple[str, list[str], list[str]]]:
    """Every command that loads --graph, with every way a graph spec fails."""
    commands = {
        "branch-run": ["branch", "t", "--run"],
        "branch-edit": ["branch", "t", "--set", "count=1"],
        "replay": ["replay", "t"],
        "recover": ["recover", "f"],
        "check": ["check"],
    }
    specs = {
        "missing-file": (["--graph", "missing.py:graph"], ["no file", "missing.py"]),
        "missing-module": (["--graph", "no_such_pkg_xyz.agent:graph"],
                           ["no module named 'no_such_pkg_xyz'"]),
        "missing-attribute": (["--graph", f"{GRAPHS / 'counter.py'}:grph"],
                              ["has no attribute 'grph'", "graph-like attributes there"]),
        "raises-on-import": (["--graph", BROKEN], ["raised RuntimeError: no API key"]),
        "not-a-graph": (["--graph", f"{GRAPHS / 'counter.py'}:not_a_graph"],
                        ["is a builtins.dict, not a LangGraph graph"]),
        "not-given": ([], ["needs your graph", "--graph"]),
    }  # fmt: skip
    return [
        (f"{c}-graph-{k}", [*argv, *extra], words)
        for c, argv in commands.items()
        for k, (extra, words) in specs.items()
    ]


#: (id, argv (--db is added), words the error line must contain)
CATALOGUE: list[tuple[str, list[str], list[str]]] = [
    # --set / --patch / --resume
    ("branch-set-malformed", ["branch", "t", "--set", "count={", "--graph", COUNTER],
     ["--set count", "is not JSON"]),
    ("branch-set-no-equals", ["branch", "t", "--set", "count", "--graph", COUNTER],
     ["is not KEY=JSON"]),
    ("branch-set-empty-key", ["branch", "t", "--set", "=3", "--graph", COUNTER],
     ["is not KEY=JSON"]),
    ("branch-set-bare-string", ["branch", "t", "--set", "count=retry", "--graph", COUNTER],
     ["a string needs JSON quotes"]),
    ("branch-set-too-deep", ["branch", "t", "--set", f"count={DEEP}", "--graph", COUNTER],
     ["--set count", "nested too deeply"]),
    ("branch-set-not-unicode", ["branch", "t", "--set", 'steps=["\\ud800"]', "--graph", COUNTER],
     ["--set steps", "not valid Unicode"]),
    ("branch-set-unknown-key", ["branch", "t", "--set", "nokey=1", "--graph", COUNTER],
     ["the state has no key 'nokey'"]),
    ("branch-as-node-unknown", ["branch", "t", "--as-node", "ghost", "--graph", COUNTER],
     ["--as-node 'ghost'"]),
    ("branch-patch-missing", ["branch", "t", "--patch", "missing.json", "--graph", COUNTER],
     ["--patch: no file"]),
    ("branch-patch-not-json", ["branch", "t", "--patch", "not-json.json", "--graph", COUNTER],
     ["--patch", "is not JSON"]),
    ("branch-patch-not-object", ["branch", "t", "--patch", "list.json", "--graph", COUNTER],
     ["holds a list, not an object"]),
    ("branch-patch-not-utf8", ["branch", "t", "--patch", "bad-utf8.json", "--graph", COUNTER],
     ["--patch bad-utf8.json is not UTF-8"]),
    ("branch-patch-directory", ["branch", "t", "--patch", "a-directory", "--graph", COUNTER],
     ["--patch: cannot read"]),
    ("branch-patch-too-deep", ["branch", "t", "--patch", "deep.json", "--graph", COUNTER],
     ["nested too deeply"]),
    ("branch-edit-raises", ["branch", "t", "--set", "steps=5", "--as-node", "inc",
                            "--graph", COUNTER], ["applying the edit raised TypeError"]),
    ("branch-existing-target", ["branch", "t", "--to", "f"], ["thread 'f' already exists"]),
    ("branch-to-not-unicode", ["branch", "t", "--to", "x\udcff"], ["--to"]),
    ("replay-to-not-unicode", ["replay", "t", "--to", "x\udcff", "--graph", COUNTER], ["--to"]),
    ("branch-unknown-thread", ["branch", "nope"], ["no thread 'nope'"]),
    ("branch-from-out-of-range", ["branch", "t", "--from", "99"], ["out of range"]),
    ("recover-set-malformed", ["recover", "f", "--set", "ok=", "--graph", FLAKY],
     ["--set ok", "is not JSON"]),
    ("recover-patch-not-object", ["recover", "f", "--patch", "list.json", "--graph", FLAKY],
     ["not an object"]),
    ("recover-patch-not-utf8", ["recover", "f", "--patch", "bad-utf8.json", "--graph", FLAKY],
     ["is not UTF-8"]),
    ("recover-resume-malformed", ["recover", "f", "--resume", "{bad", "--graph", FLAKY],
     ["--resume", "is not JSON"]),
    ("recover-resume-bare-string", ["recover", "f", "--resume", "yes", "--graph", FLAKY],
     ["a string needs JSON quotes"]),
    ("recover-resume-too-deep", ["recover", "f", "--resume", DEEP, "--graph", FLAKY],
     ["--resume", "nested too deeply"]),
    ("recover-resume-not-unicode", ["recover", "f", "--resume", '"\\udcff"', "--graph", FLAKY],
     ["--resume", "not valid Unicode"]),
    ("recover-resume-not-interrupted", ["recover", "f", "--resume", '"yes"', "--graph", FLAKY],
     ["not waiting on an interrupt"]),
    ("recover-unknown-thread", ["recover", "nope", "--graph", FLAKY], ["no thread 'nope'"]),
    ("check-unknown-thread", ["check", "nope", "--graph", COUNTER], ["no thread 'nope'"]),
    # --ignore
    ("replay-ignore-invalid", ["replay", "t", "--ignore", "(", "--graph", COUNTER],
     ["invalid --ignore regex '('"]),
    ("diff-ignore-invalid", ["diff", "t", "f", "--ignore", "("], ["invalid --ignore regex '('"]),
    ("diff-ignore-unbalanced", ["diff", "t", "f", "--ignore", "[a-"], ["invalid --ignore regex"]),
    ("diff-ignore-too-big", ["diff", "t", "f", "--ignore", "a{99999999999}"], ["--ignore"]),
    ("replay-ignore-too-deep", ["replay", "t", "--ignore", "(" * 5000 + ")" * 5000,
                                   "--graph", COUNTER], ["--ignore"]),
    # diff / blame
    ("diff-unknown-thread", ["diff", "t", "nope"], ["no thread 'nope'"]),
    ("diff-unknown-key", ["diff", "t", "f", "--keys", "nokey"], ["nokey"]),
    ("blame-unknown-thread", ["blame", "nope", "count"], ["no thread 'nope'"]),
    ("blame-bad-path", ["blame", "t", "a[["], ["cannot read state path"]),
    ("blame-missing-path", ["blame", "t", "nokey"], ["nokey"]),
    # prune
    ("prune-keep-0", ["prune", "--keep", "0", "--yes"], ["--keep"]),
    ("prune-keep-negative", ["prune", "--keep", "-1", "--yes"], ["--keep"]),
    ("prune-keep-not-a-number", ["prune", "--keep", "all", "--yes"], ["--keep"]),
    ("prune-older-than-garbage", ["prune", "--older-than", "garbage", "--yes"],
     ["cannot read duration 'garbage'"]),
    ("prune-older-than-no-unit", ["prune", "--older-than", "30", "--yes"],
     ["cannot read duration '30'"]),
    ("prune-older-than-negative", ["prune", "--older-than", "-1d", "--yes"],
     ["cannot read duration"]),
    ("prune-older-than-empty", ["prune", "--older-than", "", "--yes"], ["cannot read duration"]),
    ("prune-nothing-to-do", ["prune", "--yes"], ["nothing to prune"]),
    ("prune-yes-and-dry-run", ["prune", "--keep", "1", "--yes", "--dry-run"], ["contradict"]),
    ("prune-unknown-thread", ["prune", "--thread", "nope", "--yes"], ["no thread 'nope'"]),
    ("prune-thread-without-keep", ["prune", "t", "--yes"], ["only limits --keep"]),
    # export
    ("export-unknown-thread", ["export", "nope"], ["no thread 'nope'"]),
    ("export-thread-not-unicode", ["export", "t\udcff"], ["no thread"]),
    ("export-output-no-directory", ["export", "t", "-o", "nowhere/t.json"],
     ["no directory nowhere"]),
    ("export-output-is-the-database", ["export", "t", "-o", "{db}"],
     ["is the database being exported"]),
    ("export-output-is-its-wal", ["export", "t", "-o", "{db}-wal"],
     ["is the database being exported"]),
    ("export-redact-invalid", ["export", "t", "--redact", "("], ["--redact '('"]),
    ("export-redact-too-big", ["export", "t", "--redact", "a{99999999999}"],
     ["--redact", "not a usable regular expression"]),
    ("export-redact-too-deep", ["export", "t", "--redact", "(" * 5000 + ")" * 5000],
     ["--redact", "not a usable regular expression"]),
    # import
    ("import-missing-file", ["import", "missing.json"], ["no file missing.json"]),
    ("import-directory", ["import", "a-directory"], ["cannot read a-directory"]),
    ("import-not-json", ["import", "not-json.json"], ["not-json.json is not JSON"]),
    ("import-not-utf8", ["import", "bad-utf8.json"], ["cannot read bad-utf8.json"]),
    ("import-array", ["import", "export-array.json"], ["not an lgtt export"]),
    ("import-wrong-version", ["import", "export-v2.json"], ["lgtt export format 2"]),
    ("import-no-version", ["import", "export-no-version.json"], ['no "lgtt_export" field']),
    ("import-no-thread", ["import", "export-no-thread.json"], ['"thread_id"']),
    ("import-no-checkpoints", ["import", "export-no-checkpoints.json"],
     ['"checkpoints" must be a list']),
    ("import-no-checkpoint-id", ["import", "export-no-checkpoint-id.json"],
     ["checkpoints[0] has no 'checkpoint_id'"]),
    ("import-bad-base64", ["import", "export-bad-base64.json"], ["is not base64"]),
    ("import-repeated-checkpoint", ["import", "export-repeated.json"], ["repeats checkpoint"]),
    ("import-idx-bool", ["import", "export-idx-bool.json"], ["idx must be an integer"]),
    ("import-idx-huge", ["import", "export-idx-huge.json"], ["idx is out of range"]),
    ("import-thread-not-unicode", ["import", "export-thread-surrogate.json", "--to", "x"],
     ['"thread_id" is not valid Unicode']),
    ("import-ns-not-unicode", ["import", "export-ns-surrogate.json", "--to", "x"],
     ["checkpoint_ns holds text that is not valid Unicode"]),
    ("import-too-deep", ["import", "export-deep.json"], ["nested too deeply"]),
    ("import-into-existing-thread", ["import", "-", "--to", "t"], ["thread 't' already exists"]),
    ("import-to-empty", ["import", "-", "--to", ""], ["--to needs a thread id"]),
    ("import-to-not-unicode", ["import", "-", "--to", "x\udcff"], ["--to", "not valid Unicode"]),
    *_graph_cases(),
]  # fmt: skip


def _case_params() -> list[Any]:
    out = []
    for case in CATALOGUE:
        if hasattr(case, "marks"):  # already a pytest.param (an xfail)
            (cid, argv, words), marks = case.values, case.marks
            out.append(pytest.param(argv, words, id=cid, marks=marks))
        else:
            out.append(pytest.param(case[1], case[2], id=case[0]))
    return out


@pytest.mark.parametrize(("argv", "words"), _case_params())
def test_bad_input_is_one_line_and_changes_nothing(
    cli: RunCli,
    runs: Path,
    export_doc: dict[str, Any],
    tmp_path: Path,
    argv: list[str],
    words: list[str],
) -> None:
    _files(tmp_path, export_doc)
    before = file_digest(runs)
    argv = [a.replace("{db}", str(runs)) for a in argv]
    stdin = json.dumps(export_doc) if "-" in argv else None
    line = one_error_line(cli(*argv, "--db", runs, input=stdin))
    for w in words:
        assert w in line, line
    assert file_digest(runs) == before


# --- PostgreSQL: a server that refuses, a database without LangGraph's tables ----------------

#: write commands (and the others that take a database) with arguments that would work
PG_COMMANDS: dict[str, list[str]] = {
    "branch": ["branch", "t"],
    "branch-edit": ["branch", "t", "--set", "count=1", "--graph", COUNTER],
    "replay": ["replay", "t", "--graph", COUNTER],
    "recover": ["recover", "f", "--set", "ok=true", "--graph", FLAKY],
    "check": ["check", "--graph", COUNTER],
    "prune-keep": ["prune", "--keep", "1", "--yes"],
    "prune-thread": ["prune", "--thread", "t", "--yes"],
    "export": ["export", "t"],
    "diff": ["diff", "t", "f"],
    "blame": ["blame", "t", "count"],
}


def pg_digest(url: str) -> dict[str, tuple[int, str]]:
    """Every table of the public schema → (row count, md5 of its rows in order)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]  # fmt: skip
        out = {}
        for t in tables:
            n, digest = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), ''))"
                f' FROM "{t}" x'
            ).fetchone()
            out[t] = (int(n), str(digest))
        return out


@pytest.mark.parametrize(
    "argv", [*PG_COMMANDS.values(), ["import", "t.json"]], ids=[*PG_COMMANDS, "import"]
)
def test_postgres_that_refuses(
    cli: RunCli, export_doc: dict[str, Any], tmp_path: Path, argv: list[str]
) -> None:
    from tests.pgserver import free_port

    (tmp_path / "t.json").write_text(json.dumps(export_doc))
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/lgtt"  # nothing listens there
    line = one_error_line(cli(*argv, "--db", url))
    assert "cannot connect to PostgreSQL" in line and "Connection refused" in line


@pytest.mark.parametrize(
    "argv",
    [*PG_COMMANDS.values(), ["import", "export-v2.json"], ["import", "not-json.json"]],
    ids=[*PG_COMMANDS, "import-wrong-version", "import-not-json"],
)
def test_postgres_without_langgraph_tables(
    cli: RunCli, pg_db_url: str, export_doc: dict[str, Any], tmp_path: Path, argv: list[str]
) -> None:
    """An empty database stays empty: no command creates tables in it by failing (only a
    valid import does, on purpose)."""
    _files(tmp_path, export_doc)
    before = pg_digest(pg_db_url)
    assert before == {}
    line = one_error_line(cli(*argv, "--db", pg_db_url))
    if argv[0] != "import":
        assert "has no LangGraph checkpoint tables" in line
    assert pg_digest(pg_db_url) == before


@pytest.fixture(scope="module")
def pg_runs(pg_server: Any, runs: Path) -> Iterator[str]:
    """A PostgreSQL database holding ``t`` and ``f``, imported from the SQLite runs."""
    from typer.testing import CliRunner

    from lgtt.cli import app
    from tests.pgserver import create_database

    url = create_database(pg_server, prefix="lgtt_hard")
    runner = CliRunner()
    for thread in ("t", "f"):
        doc = runner.invoke(app, ["export", thread, "--db", str(runs)]).stdout
        r = runner.invoke(app, ["import", "-", "--db", url], input=doc)
        assert r.exit_code == 0, r.stderr
    yield url


PG_BAD: list[tuple[str, list[str], str]] = [
    ("prune-keep-0", ["prune", "--keep", "0", "--yes"], "--keep"),
    ("prune-older-than-garbage", ["prune", "--older-than", "soon", "--yes"], "cannot read duration"),
    ("prune-unknown-thread", ["prune", "--thread", "nope", "--yes"], "no thread 'nope'"),
    ("import-existing-thread", ["import", "t.json"], "thread 't' already exists"),
    ("import-wrong-version", ["import", "export-v2.json"], "format 2"),
    ("import-idx-huge", ["import", "export-idx-huge.json", "--to", "x"], "idx is out of range"),
    ("export-unknown-thread", ["export", "nope"], "no thread 'nope'"),
    ("branch-set-malformed", ["branch", "t", "--set", "count={", "--graph", COUNTER], "--set count"),
    ("branch-unknown-thread", ["branch", "nope"], "no thread 'nope'"),
    ("branch-existing-target", ["branch", "t", "--to", "f"], "thread 'f' already exists"),
    ("branch-from-out-of-range", ["branch", "t", "--from", "99"], "out of range"),
    ("recover-resume-malformed", ["recover", "f", "--resume", "{bad", "--graph", FLAKY],
     "--resume"),
    ("recover-graph-raises", ["recover", "f", "--graph", BROKEN], "raised RuntimeError"),
    ("replay-ignore-invalid", ["replay", "t", "--ignore", "(", "--graph", COUNTER], "--ignore"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "word"), [c[1:] for c in PG_BAD], ids=[c[0] for c in PG_BAD])
def test_postgres_bad_input_changes_nothing(
    cli: RunCli,
    pg_runs: str,
    export_doc: dict[str, Any],
    tmp_path: Path,
    argv: list[str],
    word: str,
) -> None:
    _files(tmp_path, export_doc)
    (tmp_path / "t.json").write_text(json.dumps(export_doc))
    before = pg_digest(pg_runs)
    assert before["checkpoints"][0] > 0
    assert word in one_error_line(cli(*argv, "--db", pg_runs))
    assert pg_digest(pg_runs) == before


# --- branch and recover while another process writes ---------------------------------------

_WRITER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import sqlite3
    from langgraph.checkpoint.base import WRITES_IDX_MAP
    from langgraph.checkpoint.sqlite import SqliteSaver
    from tests.scenarios import counter_graph

    class Recording(SqliteSaver):
        "LangGraph's SqliteSaver, noting every checkpoint and write it stored."
        checkpoints, writes = [], []

        def put(self, config, checkpoint, metadata, new_versions):
            out = super().put(config, checkpoint, metadata, new_versions)
            c = out["configurable"]
            self.checkpoints.append([c["thread_id"], c["checkpoint_ns"], c["checkpoint_id"]])
            return out

        def put_writes(self, config, writes, task_id, task_path=""):
            super().put_writes(config, writes, task_id, task_path)
            c = config["configurable"]
            for i, (channel, _) in enumerate(writes):
                self.writes.append([c["thread_id"], c["checkpoint_ns"], c["checkpoint_id"],
                                    task_id, WRITES_IDX_MAP.get(channel, i)])

    saver = Recording(sqlite3.connect({db!r}, check_same_thread=False))
    g = counter_graph(saver)
    stop, give_up, i, error = Path({stop!r}), time.time() + 120, 0, None
    try:
        while not stop.exists() and time.time() < give_up:
            g.invoke({{"count": 0, "steps": []}}, {{"configurable": {{"thread_id": f"live-{{i}}"}}}})
            i += 1
            Path({progress!r}).write_text(str(i))
    except Exception as exc:
        error = f"{{type(exc).__name__}}: {{exc}}"
    print(json.dumps({{"runs": i, "checkpoints": saver.checkpoints, "writes": saver.writes,
                      "error": error}}))
    """
)


def _history(path: Path, builder: Any, thread: str) -> list[tuple[Any, ...]]:
    """LangGraph's own view of a thread, without the ids new checkpoints get."""
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        g = builder.compile(checkpointer=SqliteSaver(conn))
        return [
            (s.values, s.next, s.metadata.get("source"), s.metadata.get("step"), len(s.tasks))
            for s in g.get_state_history(cfg(thread))
        ]
    finally:
        conn.close()


def _tuples(path: Path, thread: str) -> list[tuple[Any, ...]]:
    """Every checkpoint of a thread as LangGraph's saver lists it, ids included."""
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        return [
            (t.config["configurable"]["checkpoint_id"], t.checkpoint, t.metadata,
             t.pending_writes)
            for t in SqliteSaver(conn).list(cfg(thread))
        ]  # fmt: skip
    finally:
        conn.close()


#: what runs while the writer writes: (args, thread written, graph module's builder)
CONCURRENT: list[tuple[list[str], str, str]] = [
    (["branch", "t", "--from", "3", "--to", "b1", "--set", "count=100", "--run", "--graph",
      COUNTER], "b1", "counter"),
    (["branch", "t", "--from", "5", "--to", "b2", "--set", "count=1", "--as-node", "inc",
      "--run", "--graph", COUNTER], "b2", "counter"),
    (["recover", "f0", "--set", "ok=true", "--graph", FLAKY], "f0", "flaky"),
    (["branch", "t", "--from", "2", "--to", "b3"], "b3", "counter"),
    (["recover", "f1", "--set", "ok=true", "--graph", FLAKY], "f1", "flaky"),
]  # fmt: skip


def test_branch_and_recover_while_another_process_writes(cli: RunCli, tmp_path: Path) -> None:
    """A graph keeps writing to the file from another process while branch (copy, edit,
    run) and recover (edit, resume) write other threads: both sides keep every checkpoint,
    nothing fails with "database is locked", and the branches and recoveries are what the
    same commands make on a quiet copy of the file."""
    path = tmp_path / "live.sqlite"
    conn = sqlite3.connect(str(path), check_same_thread=False)
    saver = SqliteSaver(conn)
    counter.builder.compile(checkpointer=saver).invoke(counter.INPUT, cfg("t"))
    flaky = load_graph(FLAKY)
    for thread in ("f0", "f1"):
        with pytest.raises(ValueError):
            flaky.bind(saver).invoke({"ok": False, "log": []}, cfg(thread))
    conn.close()
    quiet = tmp_path / "quiet.sqlite"
    shutil.copy(path, quiet)
    for args, _, _ in CONCURRENT:  # the reference: the same commands, nobody else writing
        r = cli(*args, "--db", quiet, "--json")
        assert r.exit_code == 0, (args, r.stderr)

    stop, progress = tmp_path / "stop", tmp_path / "progress"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER.format(
            root=str(ROOT), db=str(path), stop=str(stop), progress=str(progress))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    seen: set[str] = set()
    try:
        while not progress.exists():  # wait until the writer is writing
            assert writer.poll() is None, writer.communicate()
            time.sleep(0.01)
        for args, _, _ in CONCURRENT:
            seen.add(progress.read_text())
            r = cli(*args, "--db", path, "--json")
            assert "locked" not in r.stderr, r.stderr
            assert r.exit_code == 0, (args, r.stderr)
        seen.add(progress.read_text())
    finally:
        stop.write_text("stop")
        out, err = writer.communicate(timeout=120)
    report = json.loads(out)
    assert report["error"] is None, report["error"]  # e.g. "database is locked"
    assert writer.returncode == 0, err
    assert len(seen) > 1  # the writer really was writing while the commands ran

    # the writer lost nothing and nothing else landed in its threads
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    stored = {tuple(r) for r in db.execute(
        "SELECT thread_id, checkpoint_ns, checkpoint_id FROM checkpoints"
        " WHERE thread_id LIKE 'live-%'")}  # fmt: skip
    writes = {tuple(r) for r in db.execute(
        "SELECT thread_id, checkpoint_ns, checkpoint_id, task_id, idx FROM writes"
        " WHERE thread_id LIKE 'live-%'")}  # fmt: skip
    db.close()
    assert report["runs"] > 0
    assert stored == {tuple(c) for c in report["checkpoints"]}
    assert writes == {tuple(w) for w in report["writes"]}
    assert _history(path, counter.builder, f"live-{report['runs'] - 1}")[0][0]["count"] == 4

    # lgtt's side: LangGraph sees the same branches and recoveries as on the quiet copy
    builders = {"counter": counter.builder, "flaky": flaky.graph.builder}
    for _, thread, module in CONCURRENT:
        assert _history(path, builders[module], thread) == _history(
            quiet, builders[module], thread
        ), thread
    assert _tuples(path, "t") == _tuples(quiet, "t")  # the source, untouched
    for _, thread, module in CONCURRENT:
        if module == "flaky":
            assert _history(path, builders[module], thread)[0][0]["log"][-1] == "finish"


# --- untrusted databases through the write commands -----------------------------------------


class _Pickled:
    """Unpickling this runs ``touch PATH`` (what a hostile pickle in a database does)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.path}",))


@pytest.fixture
def evil(tmp_path: Path) -> dict[str, Any]:
    """A database whose blobs name a module that writes a file on import, a pydantic model
    and a dataclass that run code when built (tests/test_read_cli.py's), plus a pickled
    write that runs a command when unpickled."""
    from tests.test_read_cli import _EVIL_MODULE, _MAKE_EVIL_DB

    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "evil_payload.py").write_text(_EVIL_MODULE)
    db = tmp_path / "evil.sqlite"
    marks = {n: tmp_path / f"{n}.txt" for n in ("imported", "touched", "unpickled")}
    env = {**os.environ, "EVIL_MARKER": str(marks["imported"])}
    script = _MAKE_EVIL_DB.format(
        mod_dir=str(mods), root=str(ROOT), db=str(db), touched=marks["touched"]
    )
    subprocess.run([sys.executable, "-c", script], check=True, env=env, capture_output=True)
    assert marks["imported"].exists() and marks["touched"].exists()  # the run did call them
    conn = sqlite3.connect(str(db))
    (first,) = conn.execute(
        "SELECT min(checkpoint_id) FROM checkpoints WHERE thread_id = 'evil'"
    ).fetchone()
    conn.executemany(
        "INSERT INTO writes VALUES ('evil', '', ?, 'evil-task', '', ?, ?, ?, ?)",
        [  # a pending write of the first checkpoint: branch copies it
            (first, 0, "thing", "pickle", pickle.dumps(_Pickled(marks["unpickled"]))),
        ],
    )
    conn.commit()
    conn.close()
    for m in marks.values():
        m.unlink(missing_ok=True)
    return {
        "db": db,
        "marks": marks,
        "env": {**env, "PYTHONPATH": f"{mods}{os.pathsep}{ROOT}", "NO_COLOR": "1"},
    }


def _lgtt(evil: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    """lgtt in a process where the evil module is importable, as a victim's would be."""
    r = subprocess.run(
        [sys.executable, "-m", "lgtt", *args],
        env=evil["env"],
        capture_output=True,
        text=True,
        cwd=evil["db"].parent,
        timeout=120,
    )
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, (args, r.stderr)
    for name, mark in evil["marks"].items():
        assert not mark.exists(), f"lgtt {' '.join(args)}: the payload was {name}"
    return r


def test_untrusted_database_through_write_commands(evil: dict[str, Any]) -> None:
    """export, import, prune, branch (a plain copy, no --graph), diff and blame move and
    compare the hostile blobs byte for byte without importing, building or unpickling
    anything; the payload is intact, as LangGraph's own reader proves at the end."""
    db, folder = str(evil["db"]), evil["db"].parent
    ok = [
        ["export", "evil", "-o", "evil.json"],
        ["export", "evil", "--redact", "gadget", "-o", "redacted.json"],
        ["import", "evil.json", "--db", "copy.sqlite"],
        ["import", "evil.json", "--to", "evil-imported"],
        ["import", "redacted.json", "--to", "evil-redacted"],
        ["branch", "evil", "--to", "evil-copy"],
        ["branch", "evil", "--from", "0", "--to", "evil-0", "--dry-run"],
        ["prune", "--keep", "1"],
        ["blame", "evil", "thing", "--all"],
        ["blame", "evil-copy", "gadget"],
        ["stats", "evil"],
        ["recover", "--list"],
        ["prune", "--thread", "evil-redacted", "--yes"],
        ["prune", "evil-imported", "--keep", "1", "--yes"],
    ]
    for args in ok:
        r = _lgtt(evil, *args, *([] if "--db" in args else ["--db", db]))
        assert r.returncode == 0, (args, r.stderr)
    for args in (
        ["diff", "evil", "evil-copy"],
        ["diff", "evil@0", "evil"],
        ["diff", "evil", "evil-imported"],
    ):
        r = _lgtt(evil, *args, "--db", db)
        assert r.returncode in (0, 1), (args, r.stderr)
    assert _lgtt(evil, "diff", "evil", "evil-copy", "--db", db).returncode == 0

    # byte for byte: the copy and the import hold exactly the hostile rows
    def rows(path: Path, thread: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            cps = conn.execute(
                "SELECT checkpoint_id, type, checkpoint FROM checkpoints WHERE thread_id = ?"
                " ORDER BY checkpoint_id", (thread,)).fetchall()  # fmt: skip
            ws = conn.execute(
                "SELECT checkpoint_id, task_id, idx, channel, type, value FROM writes"
                " WHERE thread_id = ? ORDER BY checkpoint_id, task_id, idx", (thread,)).fetchall()  # fmt: skip
        return cps + ws

    original = rows(evil["db"], "evil")
    assert any(r[4] == "pickle" for r in original if len(r) == 6)
    assert rows(folder / "copy.sqlite", "evil") == original
    # the plain branch copies the history up to the head with the writes before it
    copied = rows(evil["db"], "evil-copy")
    assert [r for r in copied if len(r) == 3] == [r for r in original if len(r) == 3]
    assert any(r[4] == "pickle" for r in copied if len(r) == 6)

    # the danger is real: LangGraph's default reader (with pickle allowed, as some
    # deployments configure it) imports, builds and unpickles what lgtt only moved
    subprocess.run(
        [sys.executable, "-c",
         "import sqlite3, sys\n"
         "from langgraph.checkpoint.sqlite import SqliteSaver\n"
         "from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer\n"
         "s = SqliteSaver(sqlite3.connect(sys.argv[1]), serde=JsonPlusSerializer(pickle_fallback=True))\n"
         "for t in s.list({'configurable': {'thread_id': 'evil'}}): pass\n",
         str(folder / "copy.sqlite")],
        env=evil["env"], check=True, capture_output=True,
    )  # fmt: skip
    assert all(m.exists() for m in evil["marks"].values())


def test_untrusted_database_through_postgres(evil: dict[str, Any], pg_db_url: str) -> None:
    """The same blobs into PostgreSQL and back (import splits each checkpoint into
    PostgresSaver's blobs, export joins them), copied by branch and pruned there: nothing
    is imported, built or unpickled."""
    db, folder = str(evil["db"]), evil["db"].parent
    assert _lgtt(evil, "export", "evil", "-o", "evil.json", "--db", db).returncode == 0
    for args in (
        ["import", "evil.json"],
        ["import", "evil.json", "--to", "evil-2"],
        ["export", "evil", "-o", "from-pg.json"],
        ["blame", "evil", "thing"],
        ["branch", "evil", "--to", "evil-copy"],
        ["prune", "evil-2", "--keep", "1", "--yes"],
        ["import", "from-pg.json", "--db", str(folder / "back.sqlite")],
    ):
        r = _lgtt(evil, *args, *([] if "--db" in args else ["--db", pg_db_url]))
        assert r.returncode == 0, (args, r.stderr)
    r = _lgtt(evil, "diff", "evil", "evil-2", "--db", pg_db_url)
    assert r.returncode in (0, 1), r.stderr
    back = json.loads((folder / "from-pg.json").read_text())
    assert any(w["value"]["type"] == "pickle" for w in back["writes"])


# --- a read-only database ---------------------------------------------------------------------


def test_write_commands_refuse_a_read_only_database(
    runs: Path, export_doc: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """As a process that file modes bind (not root's DAC override): every write is one
    line saying the database is read-only, dry runs and ``replay --check`` still work, and
    the file and its folder are as they were."""
    from tests.test_read_cli import _run_as_unprivileged

    if os.geteuid() == 0:
        assert shutil.which("setpriv"), "util-linux setpriv is needed to test read-only as root"
    folder = Path(tmp_path_factory.mktemp("ro"))
    doc = folder.parent / f"{folder.name}-t.json"
    doc.write_text(json.dumps(export_doc))
    ro = folder / "ro.sqlite"
    shutil.copy(runs, ro)
    ro.chmod(0o444)
    folder.chmod(0o555)
    writes = [
        ["branch", "t", "--to", "b"],
        ["branch", "t", "--to", "b", "--set", "count=1", "--graph", COUNTER],
        ["replay", "t", "--graph", COUNTER],
        ["recover", "f", "--set", "ok=true", "--graph", FLAKY],
        ["prune", "--keep", "1", "--yes"],
        ["prune", "--thread", "t", "--yes"],
        ["import", str(doc), "--to", "x"],
    ]
    reads = [
        ["branch", "t", "--to", "b", "--set", "count=1", "--graph", COUNTER, "--dry-run"],
        ["replay", "t", "--check", "--graph", COUNTER],
        ["recover", "f", "--set", "ok=true", "--graph", FLAKY, "--dry-run"],
        ["prune", "--keep", "1"],
        ["import", str(doc), "--to", "x", "--dry-run"],
        ["export", "t", "-o", "-"],
    ]
    try:
        before = file_digest(ro)
        for args in writes:
            r = _run_as_unprivileged([*args, "--db", str(ro)], cwd=folder)
            assert r.returncode == 2 and r.stdout == "", (args, r.stdout, r.stderr)
            [line] = r.stderr.strip().splitlines()
            assert line.startswith("error: ") and "is read-only" in line, (args, line)
        for args in reads:
            r = _run_as_unprivileged([*args, "--db", str(ro)], cwd=folder)
            assert r.returncode == 0, (args, r.stderr)
        assert file_digest(ro) == before
        assert sorted(p.name for p in folder.iterdir()) == ["ro.sqlite"]
    finally:
        folder.chmod(0o755)
