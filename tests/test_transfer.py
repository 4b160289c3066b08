"""export / import: exact round trips checked by LangGraph itself, redaction, bad files."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, interrupt

from tests.conftest import RunCli, file_digest
from tests.scenarios import (
    approval_graph,
    build_all,
    cfg,
    counter_graph,
    fanout_graph,
    saver_for,
    shop_graph,
)

THREADS = ["count", "fanout", "approval", "approved", "shop", "shop-exit", "failing"]
GRAPHS = {
    "count": counter_graph,
    "fanout": fanout_graph,
    "approval": approval_graph,
    "approved": approval_graph,
    "shop": shop_graph,
    "shop-exit": shop_graph,
}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("transfer") / "all.sqlite"
    _, saver = build_all(path)
    saver.conn.close()
    yield path


def one_error_line(r: Any) -> str:
    assert r.exit_code == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in r.stderr
    return lines[0]


# --- what LangGraph itself sees --------------------------------------------------------


def saver_view(saver: Any, thread: str) -> list[dict[str, Any]]:
    """Every checkpoint of every namespace as LangGraph's saver loads it (thread id left out)."""
    out = []
    for t in saver.list({"configurable": {"thread_id": thread}}):
        c = t.config["configurable"]
        out.append(
            {
                "ns": c["checkpoint_ns"],
                "id": c["checkpoint_id"],
                "parent": t.parent_config["configurable"]["checkpoint_id"]
                if t.parent_config
                else None,
                "checkpoint": t.checkpoint,
                "metadata": t.metadata,
                "pending_writes": t.pending_writes,
            }
        )
    return sorted(out, key=lambda x: (x["ns"], x["id"]))


def history_view(graph: Any, thread: str) -> list[tuple[Any, ...]]:
    """``get_state_history``: ids, parents, metadata, values, next, tasks."""
    return [
        (
            s.config["configurable"]["checkpoint_id"],
            s.parent_config["configurable"]["checkpoint_id"] if s.parent_config else None,
            s.metadata,
            s.values,
            s.next,
            [(t.name, repr(t.error), t.interrupts) for t in s.tasks],
        )
        for s in graph.get_state_history(cfg(thread))
    ]


def rows(path: Path, thread: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        cps = conn.execute(
            "SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint,"
            " metadata FROM checkpoints WHERE thread_id = ? ORDER BY 1, 2",
            (thread,),
        ).fetchall()
        ws = conn.execute(
            "SELECT checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, value"
            " FROM writes WHERE thread_id = ? ORDER BY 1, 2, 3, 5",
            (thread,),
        ).fetchall()
    finally:
        conn.close()
    return cps, ws


# --- round trips ------------------------------------------------------------------------


def test_sqlite_round_trip_is_byte_exact_and_langgraph_agrees(
    cli: RunCli, source: Path, tmp_path: Path
) -> None:
    target = tmp_path / "copy.sqlite"  # does not exist yet: import creates it
    for thread in THREADS:
        doc = tmp_path / f"{thread}.json"
        r = cli("export", thread, "--db", source, "-o", doc)
        assert r.exit_code == 0, r.stderr
        assert r.stdout == ""
        r = cli("import", doc, "--db", target)
        assert r.exit_code == 0, r.stderr
        assert rows(target, thread) == rows(source, thread)
    a, b = saver_for(source), saver_for(target)
    try:
        for thread in THREADS:
            assert saver_view(b, thread) == saver_view(a, thread)
        for thread, make in GRAPHS.items():
            assert history_view(make(b), thread) == history_view(make(a), thread)
    finally:
        a.conn.close()
        b.conn.close()


def test_export_document_shape(cli: RunCli, source: Path) -> None:
    r = cli("export", "approval", "--db", source)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["lgtt_export"] == 1
    assert doc["thread_id"] == "approval" and doc["source"] == {"backend": "sqlite"}
    assert doc["redacted"] is None
    assert doc["namespaces"][0] == "" and len(doc["namespaces"]) == 2
    cps, ws = rows(source, "approval")
    assert len(doc["checkpoints"]) == len(cps) and len(doc["writes"]) == len(ws)
    first = doc["checkpoints"][0]
    assert set(first) >= {
        "checkpoint_ns",
        "checkpoint_id",
        "parent_checkpoint_id",
        "metadata",
        "checkpoint",
        "values",
        "unreadable",
    }
    assert first["checkpoint"]["type"] == "msgpack"
    assert base64.b64decode(first["checkpoint"]["$base64"]) == cps[0][4]
    head = [c for c in doc["checkpoints"] if c["checkpoint_ns"] == ""][-1]
    assert head["values"] == {"draft": "Hello world", "approved": False, "notes": ["polished"]}
    interrupt_write = next(w for w in doc["writes"] if w["channel"] == "__interrupt__")
    assert interrupt_write["preview"][0]["value"] == {
        "question": "publish?",
        "draft": "Hello world",
    }
    # --json with -o: a summary on stdout
    r = cli("export", "approval", "--db", source, "-o", "a.json", "--json")
    assert json.loads(r.stdout)["checkpoints"] == len(cps)


def test_imported_thread_continues_under_a_new_id(
    cli: RunCli, source: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target.sqlite"
    saver = saver_for(target)
    saver.setup()
    saver.conn.close()
    doc = tmp_path / "approval.json"
    assert cli("export", "approval", "--db", source, "-o", doc).exit_code == 0
    r = cli("import", doc, "--db", target, "--to", "approval-copy", "--json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["thread_id"] == "approval-copy" and summary["source_thread_id"] == "approval"
    assert summary["checkpoints"] == 6 and summary["dry_run"] is False
    a, b = saver_for(source), saver_for(target)
    try:
        before = history_view(approval_graph(a), "approval")
        assert history_view(approval_graph(b), "approval-copy") == before
        # LangGraph resumes the interrupt of the imported thread
        result = approval_graph(b).invoke(Command(resume="yes"), cfg("approval-copy"))
        assert result["approved"] is True and result["notes"][-1] == "answer=yes"
    finally:
        a.conn.close()
        b.conn.close()


def test_import_refuses_an_existing_thread_and_dry_run_writes_nothing(
    cli: RunCli, source: Path, tmp_path: Path
) -> None:
    doc = tmp_path / "count.json"
    assert cli("export", "count", "--db", source, "-o", doc).exit_code == 0
    before = file_digest(source)
    line = one_error_line(cli("import", doc, "--db", source))
    assert "already exists" in line and "--to" in line
    r = cli("import", doc, "--db", source, "--to", "count-2", "--dry-run", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["dry_run"] is True
    assert file_digest(source) == before
    fresh = tmp_path / "none.sqlite"
    r = cli("import", doc, "--db", fresh, "--dry-run")
    assert r.exit_code == 0 and "would import" in r.stdout
    assert not fresh.exists()


def _bad_docs(good: dict[str, Any]) -> dict[str, str]:
    def without(key: str) -> str:
        return json.dumps({k: v for k, v in good.items() if k != key})

    cp = dict(good["checkpoints"][0])
    del cp["checkpoint"]
    bad_b64 = dict(good["checkpoints"][0], checkpoint={"type": "msgpack", "$base64": "!!"})
    return {
        "not json": "{nope",
        "not an export": json.dumps({"hello": 1}),
        "wrong version": json.dumps({**good, "lgtt_export": 2}),
        "no thread": without("thread_id"),
        "no checkpoints": without("checkpoints"),
        "checkpoint without blob": json.dumps({**good, "checkpoints": [cp]}),
        "bad base64": json.dumps({**good, "checkpoints": [bad_b64]}),
        "repeated checkpoint": json.dumps({**good, "checkpoints": [good["checkpoints"][0]] * 2}),
    }


def test_bad_files_exit_2_with_one_line_and_change_nothing(
    cli: RunCli, source: Path, tmp_path: Path
) -> None:
    good = json.loads(cli("export", "failing", "--db", source).stdout)
    before = file_digest(source)
    expected = {
        "not json": "is not JSON",
        "not an export": "not an lgtt export",
        "wrong version": "format 2",
        "no thread": "thread_id",
        "no checkpoints": "checkpoints",
        "checkpoint without blob": "checkpoint",
        "bad base64": "not base64",
        "repeated checkpoint": "repeats",
    }
    for name, text in _bad_docs(good).items():
        path = tmp_path / "bad.json"
        path.write_text(text)
        line = one_error_line(cli("import", path, "--db", source, "--to", "fresh"))
        assert expected[name] in line, (name, line)
    assert "no file" in one_error_line(cli("import", tmp_path / "nope.json", "--db", source))
    assert "no thread" in one_error_line(cli("export", "nope", "--db", source))
    assert file_digest(source) == before
    assert not (tmp_path / "out.json").exists()


# --- redaction --------------------------------------------------------------------------

API_KEY = "sk-live-4f9a8b7c6d5e"
PASSWORD = "my password is hunter2-correct-horse"


class Secretive(TypedDict):
    api_key: str
    messages: Annotated[list[AnyMessage], add_messages]
    note: str


def secret_graph(saver: Any) -> Any:
    def echo(s: Secretive) -> dict[str, Any]:
        said = s["messages"][1].content
        return {"messages": [AIMessage(content=f"you said: {said}", id="ai-1")]}

    def confirm(s: Secretive) -> dict[str, Any]:
        answer = interrupt({"confirm": s["messages"][1].content, "key": s["api_key"]})
        return {"note": f"confirmed {answer}"}

    b = StateGraph(Secretive)
    b.add_node("echo", echo)
    b.add_node("confirm", confirm)
    b.add_edge(START, "echo")
    b.add_edge("echo", "confirm")
    return b.compile(checkpointer=saver)


def test_redacted_export_holds_no_secret_anywhere(cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "secret.sqlite"
    saver = saver_for(path)
    g = secret_graph(saver)
    g.invoke(
        {
            "api_key": API_KEY,
            "messages": [
                HumanMessage(content="hello", id="h-0"),
                HumanMessage(content=PASSWORD, id="h-1"),
            ],
            "note": "",
        },
        cfg("s"),
    )
    g.invoke(Command(resume="yes"), cfg("s"))
    saver.conn.close()
    raw = cli("export", "s", "--db", path).stdout
    assert API_KEY in raw or API_KEY.encode() in _all_blob_bytes(json.loads(raw))

    r = cli(
        "export", "s", "--db", path, "--redact", r"root\['api_key'\]",
        "--redact", r"messages\[1\]\.content", "-o", "red.json",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    text = (tmp_path / "red.json").read_text()
    doc = json.loads(text)
    blobs = _all_blob_bytes(doc)
    for secret in (API_KEY, PASSWORD, "hunter2"):
        assert secret not in text
        assert secret.encode() not in blobs
    assert doc["redacted"]["values"] > 0
    head = [c for c in doc["checkpoints"] if c["checkpoint_ns"] == ""][-1]["values"]
    assert head["api_key"] == "[redacted]"
    assert head["messages"][0]["content"] == "hello"
    assert head["messages"][1]["content"] == "[redacted]"
    assert head["messages"][2]["content"] == "you said: [redacted]"
    assert head["note"] == "confirmed yes"

    # the redacted thread still loads in LangGraph, with the same shape
    r = cli("import", tmp_path / "red.json", "--db", tmp_path / "red.sqlite")
    assert r.exit_code == 0, r.stderr
    red = saver_for(tmp_path / "red.sqlite")
    orig = saver_for(path)
    try:
        got = history_view(secret_graph(red), "s")
        want = history_view(secret_graph(orig), "s")
        assert [h[:3] for h in got] == [h[:3] for h in want]
        values = got[0][3]
        assert values["api_key"] == "[redacted]"
        assert [type(m) for m in values["messages"]] == [HumanMessage, HumanMessage, AIMessage]
        assert values["messages"][1].content == "[redacted]"
    finally:
        red.conn.close()
        orig.conn.close()


def _all_blob_bytes(doc: dict[str, Any]) -> bytes:
    parts = [base64.b64decode(c["checkpoint"]["$base64"] or "") for c in doc["checkpoints"]]
    parts += [base64.b64decode(w["value"]["$base64"] or "") for w in doc["writes"]]
    return b"\x00".join(parts)


def test_bad_redact_pattern(cli: RunCli, source: Path) -> None:
    assert "regular expression" in one_error_line(
        cli("export", "count", "--db", source, "--redact", "(")
    )


# --- PostgreSQL -------------------------------------------------------------------------


@pytest.mark.postgres
def test_sqlite_to_postgres_to_sqlite(
    cli: RunCli, source: Path, tmp_path: Path, pg_db_url: str
) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver

    back = tmp_path / "back.sqlite"
    for thread in THREADS:
        doc = tmp_path / f"{thread}.json"
        assert cli("export", thread, "--db", source, "-o", doc).exit_code == 0
        r = cli("import", doc, "--db", pg_db_url)
        assert r.exit_code == 0, r.stderr
        again = tmp_path / f"{thread}-pg.json"
        r = cli("export", thread, "--db", pg_db_url, "-o", again)
        assert r.exit_code == 0, r.stderr
        assert json.loads(again.read_text())["source"] == {"backend": "postgres"}
        r = cli("import", again, "--db", back)
        assert r.exit_code == 0, r.stderr
    # never merged into an existing thread; --dry-run writes nothing
    r = cli("import", tmp_path / "count.json", "--db", pg_db_url)
    assert "already exists" in one_error_line(r)
    r = cli("import", tmp_path / "count.json", "--db", pg_db_url, "--to", "c2", "--dry-run")
    assert r.exit_code == 0 and "would import" in r.stdout
    r = cli("threads", "--db", pg_db_url, "--json")
    assert sorted(t["thread_id"] for t in json.loads(r.stdout)["threads"]) == sorted(THREADS)
    a, c = saver_for(source), saver_for(back)
    try:
        with PostgresSaver.from_conn_string(pg_db_url) as pg:
            for thread in THREADS:
                want = saver_view(a, thread)
                assert saver_view(pg, thread) == want, thread
                assert saver_view(c, thread) == want, thread
            assert history_view(approval_graph(pg), "approval") == history_view(
                approval_graph(a), "approval"
            )
            result = approval_graph(pg).invoke(Command(resume="yes"), cfg("approval"))
            assert result["approved"] is True
    finally:
        a.conn.close()
        c.conn.close()


def test_corrupt_blob_is_carried_as_stored_but_not_redacted(
    cli: RunCli, source: Path, tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged.sqlite"
    conn = sqlite3.connect(source)
    conn.execute(f"VACUUM INTO '{damaged}'")
    conn.close()
    conn = sqlite3.connect(damaged)
    (cid,) = conn.execute(
        "SELECT checkpoint_id FROM checkpoints WHERE thread_id = 'count' AND checkpoint_ns = ''"
        " ORDER BY checkpoint_id LIMIT 1 OFFSET 2"
    ).fetchone()
    conn.execute(
        "UPDATE checkpoints SET checkpoint = x'c1c1c1' WHERE thread_id = 'count'"
        " AND checkpoint_id = ?",
        (cid,),
    )
    conn.commit()
    conn.close()
    r = cli("export", "count", "--db", damaged, "--json")  # --json: the document itself
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    bad = next(c for c in doc["checkpoints"] if c["checkpoint_id"] == cid)
    assert bad["values"] is None and bad["unreadable"]
    # import from stdin carries the damaged checkpoint byte for byte
    r = cli("import", "-", "--db", tmp_path / "copy.sqlite", input=r.stdout)
    assert r.exit_code == 0, r.stderr
    assert rows(tmp_path / "copy.sqlite", "count") == rows(damaged, "count")
    # redaction cannot vouch for what it cannot read
    before = file_digest(damaged)
    line = one_error_line(cli("export", "count", "--db", damaged, "--redact", "x", "-o", "r.json"))
    assert "cannot redact" in line and cid in line
    assert not (tmp_path / "r.json").exists()
    assert file_digest(damaged) == before
