"""Hardening of the commands that write or run user code (branch, replay, recover, check,
prune, export, import) and of diff/blame: bad input, concurrent writers, untrusted data.

Every bad input gets exit 2, exactly one ``error: …`` line on stderr (never lgtt's own
"internal error", which means a bug), nothing on stdout, and leaves the database as it
was: the same bytes for SQLite, the same tables, row counts and contents for PostgreSQL.
"""

from __future__ import annotations

import sqlite3
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

#: files the cases point at, made in each test's directory (the cli fixture's cwd)
FILES: dict[str, str | bytes] = {
    "not-json.json": "{not json",
    "list.json": "[1, 2]",
    "deep.json": '{"count": ' + "[" * 5000 + "]" * 5000 + "}",
    "bad-utf8.json": b"\xff\xfe{}",
}
DEEP = "[" * 5000 + "]" * 5000


def _files(where: Path) -> None:
    for name, data in FILES.items():
        p = where / name
        if isinstance(data, bytes):
            p.write_bytes(data)
        else:
            p.write_text(data)
    (where / "a-directory").mkdir(exist_ok=True)


#: (id, argv after the command's own --db, words the error line must contain)
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
    ("recover-set-malformed", ["recover", "f", "--set", "ok=", "--graph", FLAKY],
     ["--set ok", "is not JSON"]),
    ("recover-patch-not-object", ["recover", "f", "--patch", "list.json", "--graph", FLAKY],
     ["not an object"]),
    ("recover-resume-malformed", ["recover", "f", "--resume", "{bad", "--graph", FLAKY],
     ["--resume", "is not JSON"]),
    ("recover-resume-bare-string", ["recover", "f", "--resume", "yes", "--graph", FLAKY],
     ["a string needs JSON quotes"]),
    ("recover-resume-too-deep", ["recover", "f", "--resume", DEEP, "--graph", FLAKY],
     ["--resume", "nested too deeply"]),
    ("recover-resume-not-unicode", ["recover", "f", "--resume", '"\\udcff"', "--graph", FLAKY],
     ["--resume", "not valid Unicode"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "words"), [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE]
)
def test_bad_input_is_one_line_and_changes_nothing(
    cli: RunCli, runs: Path, tmp_path: Path, argv: list[str], words: list[str]
) -> None:
    _files(tmp_path)
    before = file_digest(runs)
    line = one_error_line(cli(*argv, "--db", runs))
    for w in words:
        assert w in line, line
    assert file_digest(runs) == before
