"""Read commands at the CLI: references, bad input, read-only guarantees, untrusted data."""

from __future__ import annotations

import json
import os
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

from tests.conftest import RunCli, file_digest
from tests.scenarios import build_all, run_counter_with_fork, saver_for

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("read") / "all.sqlite"
    _, saver = build_all(path)
    saver.conn.close()
    yield path


def _one_error_line(r: Any) -> str:
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in r.stderr
    return lines[0]


# --- references ------------------------------------------------------------------------


def _ids(cli: RunCli, db: Path, thread: str) -> list[str]:
    doc = json.loads(cli("timeline", thread, "--db", db, "--json").stdout)
    return [c["checkpoint_id"] for c in doc["checkpoints"]]


def test_reference_forms_resolve_to_the_same_checkpoint(cli: RunCli, db: Path) -> None:
    ids = _ids(cli, db, "count")
    n = len(ids)

    def cid(ref: str) -> str:
        r = cli("show", ref, "--db", db, "--json")
        assert r.exit_code == 0, r.stderr
        return json.loads(r.stdout)["checkpoint_id"]

    assert cid("count") == cid("count@-1") == cid(f"count@{n - 1}") == ids[-1]
    assert cid("count@0") == cid(f"count@-{n}") == cid(f"count@{ids[0]}") == ids[0]
    # the shortest prefix unique in the thread works too
    for length in range(8, 37):
        prefix = ids[3][:length]
        if sum(i.startswith(prefix) for i in ids) == 1:
            break
    assert cid(f"count@{prefix}") == ids[3]


def test_thread_ids_may_contain_at(cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "at.sqlite"
    saver = saver_for(path)
    run_counter_with_fork(saver, "user@example.com")
    saver.conn.close()
    whole = json.loads(cli("show", "user@example.com", "--db", path, "--json").stdout)
    first = json.loads(cli("show", "user@example.com@0", "--db", path, "--json").stdout)
    assert whole["thread_id"] == first["thread_id"] == "user@example.com"
    assert first["index"] == 0 and whole["index"] > 0


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope", "no thread 'nope'"),
        ("coutn", "did you mean count"),
        ("count@99", "out of range"),
        ("count@-99", "out of range"),
        ("count@zzzz", "no checkpoint of count has an id starting with 'zzzz'"),
        ("count@1f", "ambiguous"),
        ("count@", "nothing after '@'"),
    ],
)
def test_bad_references(cli: RunCli, db: Path, ref: str, message: str) -> None:
    assert message in _one_error_line(cli("show", ref, "--db", db))


# --- the bad-input catalogue -------------------------------------------------------------


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _other_app_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    return path


def _wrong_schema_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE checkpoints(thread_id TEXT, checkpoint BLOB)")
    conn.execute("CREATE TABLE writes(thread_id TEXT)")
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.sqlite", "no database at"),
        (lambda p: p, "is a directory"),
        (lambda p: _file(p / "empty.sqlite", b""), "is empty"),
        (lambda p: _file(p / "t.txt", b"hello\n"), "is not a SQLite database"),
        (lambda p: _other_app_db(p / "app.sqlite"), "has no LangGraph checkpoint tables"),
        (lambda p: _wrong_schema_db(p / "old.sqlite"), "lacks columns"),
    ],
    ids=["missing", "directory", "empty", "text", "other-app", "wrong-schema"],
)
@pytest.mark.parametrize("command", [["threads"], ["timeline", "t"], ["show", "t"]])
def test_bad_databases(
    cli: RunCli, tmp_path: Path, make: Any, message: str, command: list[str]
) -> None:
    target = make(tmp_path)
    before = file_digest(target) if target.is_file() else None
    assert message in _one_error_line(cli(*command, "--db", target))
    if before is not None:
        assert file_digest(target) == before


def test_no_database_given(cli: RunCli) -> None:
    assert "no database given" in _one_error_line(cli("threads"))


def test_database_from_env_and_pyproject(cli: RunCli, db: Path, tmp_path: Path) -> None:
    r = cli("threads", "--json", env={"LGTT_DB": str(db)})
    assert r.exit_code == 0 and json.loads(r.stdout)["threads"]
    (tmp_path / "pyproject.toml").write_text(f'[tool.lgtt]\ndb = "{db}"\n')
    r = cli("threads", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["threads"]


def test_unsupported_url(cli: RunCli) -> None:
    assert "unsupported database URL" in _one_error_line(cli("threads", "--db", "mysql://x/y"))


def test_show_key(cli: RunCli, db: Path) -> None:
    r = cli("show", "shop", "--key", "messages[-1].content", "--db", db)
    assert (r.exit_code, r.stdout) == (0, "confirmed\n")
    r = cli("show", "shop", "--key", "order.tags", "--db", db, "--json")
    assert json.loads(r.stdout) == ["confirmed"]
    r = cli("show", "shop", "--key", "root['price']['amount']", "--db", db, "--json")
    assert json.loads(r.stdout) == 19.0
    assert "order.nope does not exist" in _one_error_line(
        cli("show", "shop", "--key", "order.nope", "--db", db)
    )
    assert "cannot read state path" in _one_error_line(
        cli("show", "shop", "--key", "a[[", "--db", db)
    )


def test_global_options_work_before_and_after_the_command(cli: RunCli, db: Path) -> None:
    a = cli("--db", str(db), "--json", "timeline", "count")
    b = cli("timeline", "count", "--db", str(db), "--json")
    assert a.exit_code == b.exit_code == 0 and a.stdout == b.stdout


def test_latest_thread_is_used_and_said(cli: RunCli, db: Path) -> None:
    r = cli("timeline", "--db", db, "--json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert r.stderr.strip() == f"using the most recently updated thread: {doc['thread_id']}"


def test_human_output_is_plain_without_colour(cli: RunCli, db: Path) -> None:
    for args in (["threads"], ["timeline", "count"], ["show", "fanout"]):
        r = cli(*args, "--db", db)
        assert r.exit_code == 0, r.stderr
        assert "\x1b[" not in r.stdout
    text = cli("threads", "--db", db).stdout
    assert "failed" in text and "interrupted" in text and "cannot handle item 2" in text


def test_threads_status_filter(cli: RunCli, db: Path) -> None:
    doc = json.loads(cli("threads", "--status", "failed", "--db", db, "--json").stdout)
    assert sorted(t["thread_id"] for t in doc["threads"]) == ["exit-fail", "failing", "fanout"]
    assert "unknown status" in _one_error_line(cli("threads", "--status", "weird", "--db", db))


# --- corrupt blobs ------------------------------------------------------------------------


def test_corrupt_blob_is_marked_and_the_rest_shown(cli: RunCli, db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "corrupt.sqlite"
    shutil.copy(db, copy)
    conn = sqlite3.connect(copy)
    (cid,) = conn.execute(
        "SELECT checkpoint_id FROM checkpoints WHERE thread_id='count' ORDER BY checkpoint_id LIMIT 1 OFFSET 2"
    ).fetchone()
    conn.execute(
        "UPDATE checkpoints SET checkpoint = x'c1c1c1ff00' WHERE thread_id='count' AND checkpoint_id=?",
        (cid,),
    )
    conn.commit()
    conn.close()
    before = file_digest(copy)
    r = cli("timeline", "count", "--db", copy, "--json")
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    bad = [c for c in doc["checkpoints"] if c["unreadable"]]
    assert [c["checkpoint_id"] for c in bad] == [cid]
    assert len(doc["checkpoints"]) == doc["total"] > 3
    assert r.stderr.count("\n") == 1 and "could not be decoded" in r.stderr
    line = _one_error_line(cli("show", "count@2", "--db", copy))
    assert "cannot be decoded" in line
    assert cli("threads", "--db", copy).exit_code == 0
    assert file_digest(copy) == before


# --- read commands never write -------------------------------------------------------------


READ_COMMANDS = [
    ["threads"],
    ["threads", "--json"],
    ["timeline", "count"],
    ["timeline", "approval", "--json"],
    ["show", "fanout"],
    ["show", "count@1", "--json"],
    ["show", "shop", "--key", "order"],
]


def test_read_commands_leave_the_database_byte_identical(cli: RunCli, db: Path) -> None:
    before = file_digest(db)
    for args in READ_COMMANDS:
        assert cli(*args, "--db", db).exit_code == 0, args
    assert file_digest(db) == before
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()


def _run_as_unprivileged(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "lgtt", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    if os.geteuid() == 0:  # root ignores file modes unless it gives up DAC override
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def test_works_on_a_read_only_file_in_a_read_only_directory(
    db: Path, tmp_path_factory: Any
) -> None:
    if os.geteuid() == 0:
        assert shutil.which("setpriv"), "util-linux setpriv is needed to test read-only as root"
    folder = Path(tmp_path_factory.mktemp("ro"))
    ro = folder / "ro.sqlite"
    shutil.copy(db, ro)
    ro.chmod(0o444)
    folder.chmod(0o555)
    try:
        before = file_digest(ro)
        for args in READ_COMMANDS:
            r = _run_as_unprivileged([*args, "--db", str(ro)], cwd=folder)
            assert r.returncode == 0, (args, r.stderr)
        assert file_digest(ro) == before
        assert sorted(p.name for p in folder.iterdir()) == ["ro.sqlite"]
        probe = subprocess.run(
            [
                "setpriv",
                "--bounding-set",
                "-dac_override,-dac_read_search",
                "--",
                "touch",
                str(folder / "x"),
            ]
            if os.geteuid() == 0
            else ["touch", str(folder / "x")],
            capture_output=True,
        )
        assert probe.returncode != 0  # the folder really is read-only to such a process
    finally:
        folder.chmod(0o755)


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from tests.scenarios import counter_graph, saver_for
    g = counter_graph(saver_for(Path({db!r})))
    stop, give_up = Path({stop!r}), time.time() + 120
    i = 0
    while not stop.exists() and time.time() < give_up:
        g.invoke({{"count": 0, "steps": []}}, {{"configurable": {{"thread_id": f"live-{{i % 3}}"}}}})
        i += 1
        Path({progress!r}).write_text(str(i))
    print(i)
    """
)


def test_reads_while_another_process_writes(cli: RunCli, tmp_path: Path) -> None:
    """Reads run while a graph keeps writing: every read succeeds and sees a consistent
    prefix (contiguous indexes, every parent present, never fewer checkpoints)."""
    path = tmp_path / "live.sqlite"
    saver = saver_for(path)
    run_counter_with_fork(saver, "seed")
    saver.conn.close()
    stop, progress = tmp_path / "stop", tmp_path / "progress"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _WRITER.format(root=str(ROOT), db=str(path), stop=str(stop), progress=str(progress)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    seen: dict[str, int] = {}
    progress_seen: set[str] = set()
    try:
        while not progress.exists():  # wait until the writer is writing
            assert writer.poll() is None, "writer died"
            time.sleep(0.01)
        for _ in range(12):
            progress_seen.add(progress.read_text())
            r = cli("threads", "--db", path, "--json")
            assert r.exit_code == 0, r.stderr
            for t in json.loads(r.stdout)["threads"]:
                r2 = cli("timeline", t["thread_id"], "--db", path, "--json")
                assert r2.exit_code == 0, r2.stderr
                cps = json.loads(r2.stdout)["checkpoints"]
                ids = {c["checkpoint_id"] for c in cps}
                assert [c["index"] for c in cps] == list(range(len(cps)))
                assert all(c["parent_checkpoint_id"] in ids for c in cps[1:])
                assert len(cps) >= seen.get(t["thread_id"], 0)
                seen[t["thread_id"]] = len(cps)
                r3 = cli("show", t["thread_id"], "--db", path, "--json")
                assert r3.exit_code == 0, r3.stderr
    finally:
        stop.write_text("stop")
        out, _ = writer.communicate(timeout=120)
    assert writer.returncode == 0 and int(out) > 0
    assert len(progress_seen) > 1  # the writer really was writing during the reads
    assert any(k.startswith("live-") for k in seen)


# --- untrusted databases -------------------------------------------------------------------


_EVIL_MODULE = textwrap.dedent(
    """
    import os, pathlib
    pathlib.Path(os.environ["EVIL_MARKER"]).write_text("imported")

    import pydantic

    class Payload(pydantic.BaseModel):
        x: int
        def model_post_init(self, context):
            pathlib.Path(os.environ["EVIL_MARKER"]).write_text("called")

    import dataclasses

    @dataclasses.dataclass
    class Gadget:
        cmd: str
        def __post_init__(self):
            os.system(self.cmd)
    """
)

_MAKE_EVIL_DB = textwrap.dedent(
    """
    import sys, operator
    from typing import Any, TypedDict
    sys.path.insert(0, {mod_dir!r})
    sys.path.insert(0, {root!r})
    import evil_payload
    from langgraph.graph import StateGraph, START
    from tests.scenarios import saver_for
    from pathlib import Path

    class S(TypedDict):
        thing: Any
        gadget: Any

    b = StateGraph(S)
    b.add_node("n", lambda s: {{"thing": s["thing"]}})
    b.add_edge(START, "n")
    g = b.compile(checkpointer=saver_for(Path({db!r})))
    g.invoke({{"thing": evil_payload.Payload(x=1), "gadget": evil_payload.Gadget("touch {touched}")}},
             {{"configurable": {{"thread_id": "evil"}}}})
    """
)


def test_untrusted_database_imports_and_calls_nothing(tmp_path: Path) -> None:
    mod_dir = tmp_path / "mods"
    mod_dir.mkdir()
    (mod_dir / "evil_payload.py").write_text(_EVIL_MODULE)
    db = tmp_path / "evil.sqlite"
    marker = tmp_path / "marker.txt"
    touched = tmp_path / "touched.txt"
    env = {**os.environ, "EVIL_MARKER": str(marker)}
    subprocess.run(
        [
            sys.executable,
            "-c",
            _MAKE_EVIL_DB.format(mod_dir=str(mod_dir), root=str(ROOT), db=str(db), touched=touched),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    assert marker.exists() and touched.exists()  # the graph's own run did import and call them
    marker.unlink()
    touched.unlink()
    # lgtt reads it from a process where the module is importable: it must not be imported.
    reader_env = {**env, "PYTHONPATH": f"{mod_dir}{os.pathsep}{ROOT}", "NO_COLOR": "1"}
    for args in (
        ["threads"],
        ["timeline", "evil"],
        ["show", "evil"],
        ["show", "evil@0", "--json"],
        ["show", "evil", "--json"],
    ):
        r = subprocess.run(
            [sys.executable, "-m", "lgtt", *args, "--db", str(db)],
            env=reader_env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert r.returncode == 0, r.stderr
        assert not marker.exists(), args
        assert not touched.exists(), args
    doc = json.loads(
        subprocess.run(
            [sys.executable, "-m", "lgtt", "show", "evil", "--json", "--db", str(db)],
            env=reader_env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
        ).stdout
    )
    assert doc["values"]["thing"] == {"x": 1}  # stored fields, shown as data
    assert doc["values"]["gadget"] == {"cmd": f"touch {touched}"}
    # The danger is real: LangGraph's default reader imports and calls them.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; from langgraph.checkpoint.sqlite import SqliteSaver; "
            "SqliteSaver(sqlite3.connect(sys.argv[1])).get_tuple({'configurable': {'thread_id': 'evil'}})",
            str(db),
        ],
        env=reader_env,
        check=True,
        capture_output=True,
    )
    assert marker.exists() and touched.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show"], "Missing argument"),
        (["timeline", "count", "--limit", "x"], "Invalid value for '--limit'"),
        (["timeline", "count", "--limit", "0"], "Invalid value for '--limit'"),
        (["bogus"], "No such command 'bogus'"),
        (["threads", "--nope"], "No such option"),
    ],
)
def test_usage_errors_are_one_line(cli: RunCli, db: Path, args: list[str], message: str) -> None:
    assert message in _one_error_line(cli(*args, "--db", db))


def test_debug_shows_the_traceback(cli: RunCli, db: Path) -> None:
    r = cli("show", "nope", "--db", db, "--debug")
    assert r.exit_code != 0 and r.exception is not None
    assert type(r.exception).__name__ == "RefError"
