"""``lgtt recover``: list, resume one thread, resume many — with real graphs and SQLite."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from lgtt.graphs import load_graph
from tests.conftest import RunCli, file_digest

GRAPHS = Path(__file__).resolve().parent / "recovery_graphs"
FLAKY = f"{GRAPHS / 'flaky.py'}:graph"
APPROVAL = f"{GRAPHS / 'approval.py'}:graph"
TRANSIENT = f"{GRAPHS / 'transient.py'}:graph"
SLOW = GRAPHS / "slow.py"


def cfg(thread: str) -> Any:
    return {"configurable": {"thread_id": thread}}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "runs.sqlite"


@pytest.fixture
def saver(db: Path) -> Iterator[SqliteSaver]:
    conn = sqlite3.connect(str(db), check_same_thread=False)
    yield SqliteSaver(conn)
    conn.close()


def run(spec: str, saver: Any, thread: str, inputs: Any, **kw: Any) -> Any:
    """Run a graph module's graph into the database; a failure leaves a failed thread."""
    graph = load_graph(spec).bind(saver)
    try:
        return graph.invoke(inputs, cfg(thread), **kw)
    except Exception:
        return None


def direct(spec: str, inputs: Any) -> Any:
    """What LangGraph computes running the (fixed) graph from scratch."""
    graph = load_graph(spec).bind(InMemorySaver())
    out = graph.invoke(inputs, cfg("direct"))
    return graph.get_state(cfg("direct")).values if out is not None else None


def ok_json(result: Any) -> Any:
    assert result.stderr == "" or "error" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def one_error_line(result: Any, *words: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for w in words:
        assert w in lines[0], lines[0]


# --- one thread ------------------------------------------------------------------------------


def test_failed_thread_fixed_by_a_state_edit(cli: RunCli, db: Path, saver: Any) -> None:
    run(FLAKY, saver, "t1", {"ok": False, "log": []})
    again = cli("recover", "t1", "--db", db, "--graph", FLAKY)
    assert again.exit_code == 1
    assert "failed again" in again.stdout and "work needs ok=true" in again.stdout

    r = cli("recover", "t1", "--db", db, "--graph", FLAKY, "--set", "ok=true", "--json")
    assert r.exit_code == 0, r.stderr
    doc = ok_json(r)
    assert doc["status"] == "done" and doc["error"] is None and doc["action"] == "resumed"
    assert doc["resumed_from"]["thread_id"] == "t1" and doc["resumed_from"]["index"] == 2
    assert doc["edit"] == {"values": {"ok": True}, "as_node": "prepare"}
    assert doc["values"] == direct(FLAKY, {"ok": True, "log": []})
    # the run went through LangGraph: its own view of the thread agrees
    graph = load_graph(FLAKY).bind(saver)
    assert graph.get_state(cfg("t1")).values == doc["values"]
    assert graph.get_state(cfg("t1")).next == ()


def test_recovering_a_done_thread_twice_does_nothing(cli: RunCli, db: Path, saver: Any) -> None:
    run(FLAKY, saver, "t1", {"ok": False, "log": []})
    first = cli("recover", "t1", "--db", db, "--graph", FLAKY, "--set", "ok=true")
    assert first.exit_code == 0, first.stderr
    before = file_digest(db)
    for _ in range(2):
        again = cli("recover", "t1", "--db", db, "--graph", FLAKY, "--set", "ok=true")
        assert again.exit_code == 0
        assert again.stdout.startswith("nothing to recover: thread is done")
    doc = ok_json(cli("recover", "t1", "--db", db, "--graph", FLAKY, "--json"))
    assert doc["action"] == "none" and doc["status"] == "done" and doc["resumed_from"] is None
    assert file_digest(db) == before


def test_failed_thread_fixed_by_a_changed_graph(
    cli: RunCli, tmp_path: Path, db: Path, saver: Any
) -> None:
    template = textwrap.dedent(
        """
        import operator
        from typing import Annotated, TypedDict
        from langgraph.graph import END, START, StateGraph

        class State(TypedDict):
            n: int
            log: Annotated[list[str], operator.add]

        def load(s): return {"n": s["n"] + 1, "log": ["load"]}
        def parse(s):
            BODY
        def save(s): return {"log": [f"saved {s['n']}"]}

        builder = StateGraph(State)
        for name, fn in (("load", load), ("parse", parse), ("save", save)):
            builder.add_node(name, fn)
        builder.add_edge(START, "load")
        builder.add_edge("load", "parse")
        builder.add_edge("parse", "save")
        builder.add_edge("save", END)
        graph = builder.compile()
        """
    )
    v1 = tmp_path / "pipeline_v1.py"
    v2 = tmp_path / "pipeline_v2.py"
    v1.write_text(template.replace("BODY", "raise KeyError('field')"))
    v2.write_text(template.replace("BODY", "return {'n': s['n'] * 10, 'log': ['parse']}"))
    run(f"{v1}:graph", saver, "p1", {"n": 1, "log": []})

    r = cli("recover", "p1", "--db", db, "--graph", f"{v1}:graph", "--json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["status"] == "failed" and "KeyError" in doc["error"]

    r = cli("recover", "p1", "--db", db, "--graph", f"{v2}:graph", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["status"] == "done"
    assert doc["values"] == direct(f"{v2}:graph", {"n": 1, "log": []})
    assert doc["values"] == {"n": 20, "log": ["load", "parse", "saved 20"]}


def test_interrupted_thread_gets_the_resume_value(cli: RunCli, db: Path, saver: Any) -> None:
    run(APPROVAL, saver, "a1", {"draft": " post ", "answer": None, "log": []})
    plain = cli("recover", "a1", "--db", db, "--graph", APPROVAL)
    one_error_line(plain, "waiting on interrupt()", "--resume")

    r = cli("recover", "a1", "--db", db, "--graph", APPROVAL, "--resume", '"yes"', "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["before"] == "interrupted" and doc["status"] == "done"
    assert doc["values"]["answer"] == "yes"
    assert doc["values"]["log"] == ["draft", "ask=yes", "published"]
    assert doc["resume"] == {"value": "yes"}


def test_resume_value_may_be_any_json(cli: RunCli, db: Path, saver: Any) -> None:
    run(APPROVAL, saver, "a1", {"draft": "x", "answer": None, "log": []})
    r = cli("recover", "a1", "--db", db, "--graph", APPROVAL, "--resume", '{"ok": [1, null]}')
    assert r.exit_code == 0, r.stderr
    graph = load_graph(APPROVAL).bind(saver)
    assert graph.get_state(cfg("a1")).values["answer"] == {"ok": [1, None]}


def test_killed_process_is_pending_and_recovers(cli: RunCli, tmp_path: Path, db: Path) -> None:
    marker = tmp_path / "two.started"
    proc = subprocess.Popen(
        [sys.executable, str(SLOW), str(db), "k1", str(marker)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not marker.exists():
            assert proc.poll() is None, "the graph process ended early"
            assert time.monotonic() < deadline, "node `two` never started"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)  # between steps: `one` stored, `two` running
    finally:
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    listed = ok_json(cli("recover", "--list", "--db", db, "--json"))["threads"]
    assert [(t["thread_id"], t["status"], t["next"]) for t in listed] == [
        ("k1", "pending", ["two"])
    ]

    r = cli("recover", "k1", "--db", db, "--graph", f"{SLOW}:graph", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["before"] == "pending" and doc["status"] == "done"
    assert doc["values"] == {"marker": str(marker), "log": ["one", "two", "three"]}
    assert "still running" in r.stderr  # it was updated moments ago: a warning, not a refusal
    assert ok_json(cli("recover", "--list", "--db", db, "--json"))["threads"] == []


def test_from_an_earlier_checkpoint_forks_inside_the_thread(
    cli: RunCli, db: Path, saver: Any
) -> None:
    run(FLAKY, saver, "t1", {"ok": False, "log": []})
    # @1 is before `prepare` ran: resuming there re-runs prepare, then work (with the edit)
    r = cli("recover", "t1@1", "--db", db, "--graph", FLAKY, "--set", "ok=true", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["resumed_from"]["index"] == 1
    assert doc["values"] == {"ok": True, "log": ["prepare", "work", "finish"]}
    timeline = ok_json(cli("timeline", "t1", "--db", db, "--json"))["checkpoints"]
    assert len(timeline) > 3 and timeline[3]["parent_checkpoint_id"] == timeline[1]["checkpoint_id"]
    # nothing stored was rewritten: the failed checkpoint still holds its error
    assert timeline[2]["error"] is not None


def test_retries_with_backoff_until_the_transient_failure_passes(
    cli: RunCli, tmp_path: Path, db: Path, saver: Any
) -> None:
    counter = tmp_path / "calls"
    run(TRANSIENT, saver, "n1", {"counter": str(counter), "fail_times": 3, "log": []})
    assert counter.read_text() == "1"
    r = cli("recover", "n1", "--db", db, "--graph", TRANSIENT, "--retries", "4", "--backoff", "0")
    assert r.exit_code == 0, r.stderr
    assert "done" in r.stdout and "attempts: 3" in r.stdout
    assert r.stderr.count("failed again") == 2  # two retries announced on stderr
    assert counter.read_text() == "4"


def test_retries_give_up_and_report_the_new_error(
    cli: RunCli, tmp_path: Path, db: Path, saver: Any
) -> None:
    counter = tmp_path / "calls"
    run(TRANSIENT, saver, "n1", {"counter": str(counter), "fail_times": 99, "log": []})
    r = cli(
        "recover", "n1", "--db", db, "--graph", TRANSIENT, "--retries", "2", "--backoff", "0",
        "--json",
    )  # fmt: skip
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["status"] == "failed" and doc["attempts"] == 3
    assert doc["error"] == "ConnectionError('timeout (call 4)')"


def test_dry_run_writes_nothing(cli: RunCli, db: Path, saver: Any) -> None:
    run(FLAKY, saver, "t1", {"ok": False, "log": []})
    run(APPROVAL, saver, "a1", {"draft": "x", "answer": None, "log": []})
    saver.conn.close()
    before = file_digest(db)
    r = cli("recover", "t1", "--db", db, "--graph", FLAKY, "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert "dry run: nothing written" in r.stdout and "would run: work" in r.stdout
    r = cli("recover", "t1", "--db", db, "--graph", FLAKY, "--dry-run", "--set", "ok=true")
    assert "would edit ok=true as node prepare" in r.stdout
    a = ("recover", "a1", "--db", db, "--graph", APPROVAL)
    doc = ok_json(cli(*a, "--dry-run", "--resume", '"no"', "--json"))
    assert doc["action"] == "dry-run" and doc["would_run"] == ["ask"]
    assert doc["resume"] == {"value": "no"} and doc["status"] == "interrupted"
    assert doc["interrupts"] == [{"question": "publish?", "draft": "x"}]
    r = cli("recover", "--all", "--db", db, "--graph", FLAKY, "--dry-run", "--json")
    assert json.loads(r.stdout)["dry_run"] is True
    assert file_digest(db) == before


# --- many threads -----------------------------------------------------------------------------


def test_list_classifies_a_mixed_database(cli: RunCli, db: Path, saver: Any) -> None:
    run(FLAKY, saver, "failed-1", {"ok": False, "log": []})
    run(APPROVAL, saver, "waiting-1", {"draft": "x", "answer": None, "log": []})
    run(FLAKY, saver, "stopped-1", {"ok": True, "log": []}, interrupt_before=["work"])
    run(FLAKY, saver, "done-1", {"ok": True, "log": []})

    doc = ok_json(cli("recover", "--list", "--db", db, "--json"))
    by_id = {t["thread_id"]: t for t in doc["threads"]}
    assert set(by_id) == {"failed-1", "waiting-1", "stopped-1"}
    assert by_id["failed-1"]["status"] == "failed"
    assert by_id["failed-1"]["error"] == "ValueError('work needs ok=true')"
    assert by_id["waiting-1"]["status"] == "interrupted"
    assert by_id["waiting-1"]["interrupts"] == [{"question": "publish?", "draft": "x"}]
    assert by_id["stopped-1"]["status"] == "pending" and by_id["stopped-1"]["error"] is None
    assert {t: by_id[t]["next"] for t in by_id} == {
        "failed-1": ["work"],
        "waiting-1": ["ask"],
        "stopped-1": ["work"],
    }
    threads = {t["thread_id"]: t for t in ok_json(cli("threads", "--db", db, "--json"))["threads"]}
    for tid, t in by_id.items():
        assert t["resume_from"] == {
            "thread_id": tid,
            "checkpoint_id": threads[tid]["latest_checkpoint_id"],
            "index": threads[tid]["checkpoints"] - 1,
        }
        assert {k: v for k, v in t.items() if k != "resume_from"} == threads[tid]

    def listed(*args: str) -> list[str]:
        out = ok_json(cli("recover", "--list", "--db", db, "--json", *args))
        return sorted(t["thread_id"] for t in out["threads"])

    assert listed("--status", "failed") == ["failed-1"]
    assert listed("--status", "failed,pending") == ["failed-1", "stopped-1"]
    assert listed("--status", "interrupted", "--status", "pending") == ["stopped-1", "waiting-1"]
    assert listed("--since", "1h") == ["failed-1", "stopped-1", "waiting-1"]
    assert listed("--since", "2999-01-01") == []

    text = cli("recover", "--list", "--db", db)
    assert text.exit_code == 0
    assert "done-1" not in text.stdout
    assert "work needs ok=true" in text.stdout and "publish?" in text.stdout


def test_batch_reports_each_thread_and_fails_when_one_fails_again(
    cli: RunCli, tmp_path: Path, db: Path, saver: Any
) -> None:
    run(TRANSIENT, saver, "once", {"counter": str(tmp_path / "a"), "fail_times": 1, "log": []})
    run(TRANSIENT, saver, "always", {"counter": str(tmp_path / "b"), "fail_times": 9, "log": []})
    run(TRANSIENT, saver, "fine", {"counter": str(tmp_path / "c"), "fail_times": 0, "log": []})
    r = cli("recover", "--all", "--status", "failed", "--db", db, "--graph", TRANSIENT, "--json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    results = {x["thread_id"]: x for x in doc["results"]}
    assert set(results) == {"once", "always"}
    assert results["once"]["status"] == "done" and results["once"]["before"] == "failed"
    assert results["always"]["status"] == "failed"
    assert results["always"]["error"] == "ConnectionError('timeout (call 2)')"
    assert (doc["recovered"], doc["failed"]) == (1, 1)

    again = cli("recover", "--all", "--db", db, "--graph", TRANSIENT)
    assert again.exit_code == 1
    assert "always" in again.stdout and "timeout (call 3)" in again.stdout
    assert "once" not in again.stdout  # done now: nothing left to recover there
    assert "recovered 0 of 1 thread" in again.stdout


def test_batch_all_recovered_exits_0_and_shows_a_summary(
    cli: RunCli, tmp_path: Path, db: Path, saver: Any
) -> None:
    for tid in ("x1", "x2"):
        run(TRANSIENT, saver, tid, {"counter": str(tmp_path / tid), "fail_times": 1, "log": []})
    run(APPROVAL, saver, "a1", {"draft": "x", "answer": None, "log": []})
    r = cli("recover", "--all", "--db", db, "--graph", TRANSIENT, "--status", "failed")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["THREAD", "BEFORE", "AFTER", "ERROR"]
    assert sorted(line.split()[:3] for line in lines[2:4]) == [
        ["x1", "failed", "done"],
        ["x2", "failed", "done"],
    ]
    assert "recovered 2 of 2 threads" in r.stdout
    # an interrupted thread in a batch without --resume is reported, not resumed
    r = cli("recover", "--all", "--db", db, "--graph", APPROVAL, "--json")
    assert r.exit_code == 1
    [res] = json.loads(r.stdout)["results"]
    assert res["action"] == "refused" and "--resume" in res["error"]
    r = cli("recover", "--all", "--db", db, "--graph", APPROVAL, "--resume", '"yes"', "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["recovered"] == 1


def test_nothing_to_recover_in_a_batch(cli: RunCli, db: Path, saver: Any) -> None:
    run(FLAKY, saver, "done-1", {"ok": True, "log": []})
    r = cli("recover", "--all", "--db", db, "--graph", FLAKY, "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == {"results": [], "recovered": 0, "failed": 0}


# --- safety -----------------------------------------------------------------------------------


def test_one_recovery_per_thread_at_a_time(cli: RunCli, db: Path, saver: Any) -> None:
    from lgtt.actions.recover import thread_lock

    run(FLAKY, saver, "t1", {"ok": False, "log": []})
    with thread_lock(str(db), "t1"):
        r = cli("recover", "t1", "--db", db, "--graph", FLAKY, "--set", "ok=true")
        one_error_line(r, "another lgtt recover", str(os.getpid()))
    r = cli("recover", "t1", "--db", db, "--graph", FLAKY, "--set", "ok=true")
    assert r.exit_code == 0, r.stderr


def test_refuses_when_the_head_moved_after_planning(db: Path, saver: Any) -> None:
    from lgtt.actions.recover import plan_recovery, recover
    from lgtt.errors import LgttError
    from lgtt.store import open_store

    run(FLAKY, saver, "t1", {"ok": False, "log": []})
    loaded = load_graph(FLAKY)
    with open_store(str(db)) as store:
        plan = plan_recovery(store, loaded, "t1")
    # another process edits the thread meanwhile
    load_graph(FLAKY).bind(saver).update_state(cfg("t1"), {"ok": True})
    with pytest.raises(LgttError, match="changed while recover was reading it"):
        recover(plan, loaded, str(db))
    forced = recover(plan, loaded, str(db), force=True)
    assert forced.status == "done"
    assert any("another process" in w for w in forced.warnings)


# --- bad input --------------------------------------------------------------------------------


def test_bad_input_is_one_line_and_exit_2(cli: RunCli, db: Path, saver: Any) -> None:
    run(FLAKY, saver, "t1", {"ok": False, "log": []})
    saver.conn.close()
    before = file_digest(db)
    g = ("--db", db, "--graph", FLAKY)
    one_error_line(cli("recover", "t1", *g, "--resume", "yes"), "--resume", "not JSON")
    one_error_line(cli("recover", "t1", *g, "--resume", "{bad"), "--resume", "not JSON")
    one_error_line(cli("recover", "t1", *g, "--resume", '"yes"'), "not waiting on an interrupt")
    one_error_line(cli("recover", "nope", *g), "no thread 'nope'")
    one_error_line(cli("recover", "t1", "--db", db), "needs your graph", "--graph")
    one_error_line(cli("recover", *g), "recover needs THREAD, --list or --all")
    one_error_line(cli("recover", "t1", "--list", "--db", db), "THREAD cannot be used with --list")
    one_error_line(cli("recover", "t1", *g, "--status", "failed"), "--status")
    one_error_line(cli("recover", "--list", "--db", db, "--status", "done"), "nothing to recover")
    one_error_line(cli("recover", "--list", "--db", db, "--status", "lost"), "unknown status")
    one_error_line(cli("recover", "--list", "--db", db, "--since", "yesterday"), "--since")
    one_error_line(cli("recover", "t1", *g, "--from", "99"), "out of range")
    one_error_line(cli("recover", "t1", *g, "--set", "ok=yes"), "--set ok")
    one_error_line(cli("recover", "t1", *g, "--set", "nokey=1"), "no key 'nokey'")
    one_error_line(cli("recover", "t1", *g, "--as-node", "ghost", "--set", "ok=true"), "ghost")
    one_error_line(
        cli("recover", "--all", *g, "--set", "ok=true"), "--set cannot be used with --all"
    )
    one_error_line(cli("recover", "t1", "--db", db, "--graph", "missing.py:graph"), "missing.py")
    one_error_line(cli("recover", "t1", *g, "--retries", "-1"), "--retries")
    assert file_digest(db) == before
