"""``lgtt check``: stored checkpoints against today's graph, and recover's refusal."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from lgtt.graphs import load_graph
from tests.conftest import RunCli, file_digest

PIPELINE = textwrap.dedent(
    """
    import operator
    from typing import Annotated, TypedDict
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        ok: bool
        log: Annotated[list[str], operator.add]
        EXTRA_KEY

    def prepare(s): return {"log": ["prepare"], EXTRA_WRITE}
    def work(s):
        if not s["ok"]:
            raise ValueError("not ok")
        return {"log": ["work"]}
    def finish(s): return {"log": ["finish"]}

    builder = StateGraph(State)
    builder.add_node("prepare", prepare)
    builder.add_node("finish", finish)
    builder.add_edge(START, "prepare")
    if WITH_WORK:
        builder.add_node("work", work)
        builder.add_edge("prepare", "work")
        builder.add_edge("work", "finish")
    else:
        builder.add_edge("prepare", "finish")
    builder.add_edge("finish", END)
    graph = builder.compile()
    """
)


def write_pipeline(path: Path, *, work: bool, extra: bool) -> str:
    text = (
        PIPELINE.replace("EXTRA_KEY", "extra: str" if extra else "")
        .replace("EXTRA_WRITE", '"extra": "kept"' if extra else "")
        .replace("WITH_WORK", str(work))
    )
    path.write_text(text)
    return f"{path}:graph"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "runs.sqlite"


@pytest.fixture
def saver(db: Path) -> Iterator[SqliteSaver]:
    conn = sqlite3.connect(str(db), check_same_thread=False)
    yield SqliteSaver(conn)
    conn.close()


@pytest.fixture
def versions(tmp_path: Path, db: Path, saver: SqliteSaver) -> tuple[str, str]:
    """A database written by v1 (thread `bad` failed in `work`, thread `good` done);
    v2 has no node `work` and no state key `extra`."""
    v1 = write_pipeline(tmp_path / "pipeline_v1.py", work=True, extra=True)
    v2 = write_pipeline(tmp_path / "pipeline_v2.py", work=False, extra=False)
    graph = load_graph(v1).bind(saver)
    with pytest.raises(ValueError):
        graph.invoke({"ok": False, "log": []}, {"configurable": {"thread_id": "bad"}})
    graph.invoke({"ok": True, "log": []}, {"configurable": {"thread_id": "good"}})
    saver.conn.close()
    return v1, v2


def head_of(cli: RunCli, db: Path, thread: str) -> dict[str, Any]:
    doc = json.loads(cli("timeline", thread, "--db", db, "--json").stdout)
    return doc["checkpoints"][-1]  # type: ignore[no-any-return]


def test_same_graph_is_compatible(cli: RunCli, db: Path, versions: tuple[str, str]) -> None:
    v1, _ = versions
    r = cli("check", "--db", db, "--graph", v1, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {
        "ok": True,
        "problems": [],
        "checked": {"threads": 2, "checkpoints": 2},
        "validation": "keys",
    }
    r = cli("check", "--db", db, "--graph", v1, "--all-checkpoints")
    assert r.exit_code == 0
    assert r.stdout.startswith("ok: 8 checkpoints of 2 threads fit the graph")


def test_removed_node_and_removed_state_key(
    cli: RunCli, db: Path, versions: tuple[str, str]
) -> None:
    _, v2 = versions
    before = file_digest(db)
    r = cli("check", "--db", db, "--graph", v2, "--json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["checked"] == {"threads": 2, "checkpoints": 2}
    bad = head_of(cli, db, "bad")
    good = head_of(cli, db, "good")
    found = {(p["thread_id"], p["kind"]): p for p in doc["problems"]}
    assert set(found) == {
        ("bad", "missing_node"),
        ("bad", "unknown_channel"),
        ("good", "unknown_seen_node"),
        ("good", "unknown_channel"),
    }
    missing = found[("bad", "missing_node")]
    assert missing["checkpoint_id"] == bad["checkpoint_id"] and missing["index"] == bad["index"]
    assert "'work'" in missing["detail"] and missing["blocking"] is True
    assert "'extra'" in found[("bad", "unknown_channel")]["detail"]
    assert found[("good", "unknown_seen_node")]["index"] == good["index"]
    assert found[("good", "unknown_seen_node")]["blocking"] is False

    one = json.loads(cli("check", "bad", "--db", db, "--graph", v2, "--json").stdout)
    assert {p["thread_id"] for p in one["problems"]} == {"bad"}
    assert one["checked"] == {"threads": 1, "checkpoints": 1}

    every = json.loads(
        cli("check", "good", "--db", db, "--graph", v2, "--json", "--all-checkpoints").stdout
    )
    # `work` was due at @2 of the good thread: an older checkpoint that no longer fits
    assert ("missing_node", 2) in {(p["kind"], p["index"]) for p in every["problems"]}
    assert every["checked"]["checkpoints"] == good["index"] + 1

    text = cli("check", "--db", db, "--graph", v2)
    assert text.exit_code == 1
    assert "missing_node" in text.stdout and "unknown_channel" in text.stdout
    assert "4 problems in 2 checkpoints of 2 threads" in text.stdout
    assert file_digest(db) == before


def test_recover_refuses_an_incompatible_checkpoint_unless_forced(
    cli: RunCli, db: Path, versions: tuple[str, str]
) -> None:
    _, v2 = versions
    before = file_digest(db)
    r = cli("recover", "bad", "--db", db, "--graph", v2)
    assert r.exit_code == 2 and r.stdout == ""
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("error: cannot resume bad@") and "'work'" in line and "--force" in line
    r = cli("recover", "bad", "--db", db, "--graph", v2, "--dry-run")
    assert r.exit_code == 2
    assert file_digest(db) == before

    forced = cli("recover", "bad", "--db", db, "--graph", v2, "--force", "--json")
    doc = json.loads(forced.stdout)
    assert doc["action"] == "resumed"
    assert {p["kind"] for p in doc["problems"]} == {"missing_node", "unknown_channel"}
    assert "(--force)" in forced.stderr
    # LangGraph skips a due node the graph lacks: nothing ran, and lgtt says so
    assert forced.exit_code == 1 and "LangGraph ran nothing" in forced.stderr

    batch = cli("recover", "--all", "--db", db, "--graph", v2, "--json")
    assert batch.exit_code == 1
    [res] = json.loads(batch.stdout)["results"]
    assert res["action"] == "refused" and "'work'" in res["error"]


def test_pydantic_state_is_validated(cli: RunCli, tmp_path: Path, db: Path, saver: Any) -> None:
    model = textwrap.dedent(
        """
        from pydantic import BaseModel
        from langgraph.graph import END, START, StateGraph

        class State(BaseModel):
            count: COUNT_TYPE
            name: str = "x"

        def bump(s): return {"count": s.count + 1} if isinstance(s.count, int) else {}

        builder = StateGraph(State)
        builder.add_node("bump", bump)
        builder.add_edge(START, "bump")
        builder.add_edge("bump", END)
        graph = builder.compile()
        """
    )
    v1 = tmp_path / "model_v1.py"
    v2 = tmp_path / "model_v2.py"
    v1.write_text(model.replace("COUNT_TYPE", "int"))
    v2.write_text(model.replace("COUNT_TYPE", "list[int]"))
    load_graph(f"{v1}:graph").bind(saver).invoke({"count": 1}, {"configurable": {"thread_id": "m"}})
    ok = json.loads(cli("check", "--db", db, "--graph", f"{v1}:graph", "--json").stdout)
    assert ok["ok"] is True and ok["validation"] == "pydantic"
    r = cli("check", "--db", db, "--graph", f"{v2}:graph", "--json")
    assert r.exit_code == 1
    [problem] = json.loads(r.stdout)["problems"]
    assert problem["kind"] == "invalid_state" and problem["detail"].startswith("count:")
    assert "State" in problem["detail"]


def test_check_bad_input(cli: RunCli, db: Path, versions: tuple[str, str]) -> None:
    v1, _ = versions
    for args, word in (
        (("check", "--db", db), "--graph"),
        (("check", "nope", "--db", db, "--graph", v1), "no thread 'nope'"),
        (("check", "--db", db, "--graph", "nowhere.py:graph"), "nowhere.py"),
        (("check", "--db", db.parent / "absent.sqlite", "--graph", v1), "absent.sqlite"),
    ):
        r = cli(*args)
        assert r.exit_code == 2 and r.stdout == ""
        [line] = r.stderr.strip().splitlines()
        assert line.startswith("error: ") and word in line


def test_a_damaged_checkpoint_is_reported_not_a_crash(
    cli: RunCli, db: Path, versions: tuple[str, str]
) -> None:
    v1, _ = versions
    bad = head_of(cli, db, "bad")
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE checkpoints SET checkpoint = ? WHERE checkpoint_id = ?",
            (b"\xc1\x00 not msgpack", bad["checkpoint_id"]),
        )
    r = cli("check", "--db", db, "--graph", v1, "--json")
    assert r.exit_code == 1, r.stderr
    [problem] = json.loads(r.stdout)["problems"]
    assert problem["kind"] == "unreadable" and problem["index"] == bad["index"]
    assert problem["blocking"] is True
    r = cli("recover", "bad", "--db", db, "--graph", v1)
    assert r.exit_code == 2 and r.stderr.startswith("error: cannot resume bad@")
    r = cli("recover", "bad", "--db", db, "--graph", v1, "--force")
    assert r.exit_code == 2 and "internal error" not in r.stderr
    assert r.stderr.startswith("error: LangGraph cannot read")
