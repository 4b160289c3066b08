"""Loading the user's graph (``--graph``) and binding it to the database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from lgtt.errors import GraphError, UsageError
from lgtt.graphs import load_graph, parse_spec
from tests.conftest import RunCli
from tests.graphs import counter

GRAPHS = Path(__file__).resolve().parent / "graphs"
COUNTER = GRAPHS / "counter.py"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database with one finished counter thread ``t``."""
    path = tmp_path / "runs.sqlite"
    conn = sqlite3.connect(str(path), check_same_thread=False)
    counter.builder.compile(checkpointer=SqliteSaver(conn)).invoke(
        counter.INPUT, {"configurable": {"thread_id": "t"}}
    )
    conn.close()
    return path


def branch_run(cli: RunCli, db: Path, spec: str, *extra: str) -> dict:
    """``branch t --from 2 --run`` with a graph spec; the parsed --json output."""
    r = cli(
        "branch",
        "t",
        "--from",
        "2",
        "--to",
        "b",
        "--run",
        "--db",
        db,
        "--graph",
        spec,
        "--json",
        *extra,
    )
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


# --- every accepted spelling --------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        f"{COUNTER}:graph",  # compiled with its own InMemorySaver
        f"{COUNTER}:plain",  # compiled without a checkpointer
        f"{COUNTER}:builder",  # an uncompiled StateGraph
        f"{COUNTER}:make_graph",  # a factory without arguments
        f"{COUNTER}:make_graph_with_config",  # a LangGraph CLI style factory(config)
        f"{COUNTER}:make_builder",  # a factory returning a StateGraph
        str(COUNTER),  # a file alone means attribute `graph`
        "tests.graphs.counter:graph",  # package.module:attr
    ],
)
def test_specs_load_and_run_into_the_database(cli: RunCli, db: Path, spec: str) -> None:
    doc = branch_run(cli, db, spec)
    assert doc["ran"] is True
    assert doc["status"] == "done"
    assert doc["values"]["count"] == 22
    # the run went into --db, whatever checkpointer the module compiled with
    conn = sqlite3.connect(str(db))
    n = conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = 'b'").fetchone()[0]
    assert n > 3


def test_relative_path_spec_resolves_from_the_current_directory(
    cli: RunCli, db: Path, tmp_path: Path
) -> None:
    (tmp_path / "agent.py").write_text(COUNTER.read_text())
    doc = branch_run(cli, db, "agent.py:graph")
    assert doc["values"]["count"] == 22


def test_langgraph_json_name(cli: RunCli, db: Path, tmp_path: Path) -> None:
    (tmp_path / "agent.py").write_text(COUNTER.read_text())
    (tmp_path / "langgraph.json").write_text(
        json.dumps({"dependencies": ["."], "graphs": {"agent": "./agent.py:builder"}})
    )
    assert branch_run(cli, db, "agent")["values"]["count"] == 22


def test_graph_from_env_and_pyproject(cli: RunCli, db: Path, tmp_path: Path) -> None:
    args = ["branch", "t", "--from", "2", "--run", "--db", db, "--json"]
    r = cli(*args, "--to", "e", env={"LGTT_GRAPH": f"{COUNTER}:graph"})
    assert r.exit_code == 0, r.stderr
    (tmp_path / "pyproject.toml").write_text(f'[tool.lgtt]\ngraph = "{COUNTER}:plain"\n')
    r = cli(*args, "--to", "p")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["values"]["count"] == 22


def test_bind_replaces_the_checkpointer_and_keeps_options(db: Path) -> None:
    loaded = load_graph(f"{COUNTER}:interrupting")
    conn = sqlite3.connect(str(db), check_same_thread=False)
    saver = SqliteSaver(conn)
    bound = loaded.bind(saver)
    assert bound.checkpointer is saver
    assert loaded.graph.checkpointer is None  # the module's graph is left alone
    assert bound.interrupt_before_nodes == ["dbl"]
    cfg = {"configurable": {"thread_id": "fresh"}}
    bound.invoke(counter.INPUT, cfg)
    assert bound.get_state(cfg).next == ("dbl",)  # the interrupt still applies
    assert loaded.nodes == ["inc", "dbl"]
    assert loaded.state_keys == ["count", "steps", "fail"]


def test_module_prints_go_to_stderr(cli: RunCli, db: Path, tmp_path: Path) -> None:
    (tmp_path / "noisy.py").write_text(COUNTER.read_text() + 'print("loading my graph")\n')
    r = cli("branch", "t", "--from", "2", "--run", "--db", db, "--graph", "noisy.py", "--json")
    assert r.exit_code == 0, r.stderr
    json.loads(r.stdout)  # stdout holds the JSON document only
    assert "loading my graph" in r.stderr


# --- what goes wrong: exit 2, one line ---------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("missing.py:graph", "no file"),
        ("nowhere/missing.py", "no file"),
        ("no_such_pkg.agent:graph", "no module named 'no_such_pkg'"),
        ("tests.graphs.nothing_here:graph", "no module named 'tests.graphs.nothing_here'"),
        (f"{COUNTER}:grph", "has no attribute 'grph' (graph-like attributes there: builder, graph"),
        (f"{GRAPHS / 'broken.py'}:graph", "raised RuntimeError: no API key in the environment"),
        ("tests.graphs.broken:graph", "raised RuntimeError: no API key"),
        (f"{COUNTER}:not_a_graph", "is a builtins.dict, not a LangGraph graph"),
        (f"{COUNTER}:make_nothing", "returned a builtins.int, not a LangGraph graph"),
        (f"{COUNTER}:needs_two", "is a function of (a, b)"),
        (f"{COUNTER}:", "nothing after ':'"),
        ("agent", "neither a graph spec nor a name in ./langgraph.json"),
        ("not a module:graph", "neither a .py file nor a module name"),
        (f"{GRAPHS}:graph", "is a directory"),
    ],
)
def test_graph_errors_exit_2_with_one_line(cli: RunCli, db: Path, spec: str, expected: str) -> None:
    r = cli("branch", "t", "--from", "2", "--run", "--db", db, "--graph", spec)
    assert r.exit_code == 2, r.stdout
    assert r.stdout == ""
    assert r.stderr.startswith("error: ")
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert expected in r.stderr


def test_graph_missing_where_needed(cli: RunCli, db: Path) -> None:
    for args in (["branch", "t", "--run"], ["branch", "t", "--set", "count=3"], ["replay", "t"]):
        r = cli(*args, "--db", db)
        assert r.exit_code == 2
        assert "needs your graph" in r.stderr and "--graph" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_read_commands_never_import_the_graph(cli: RunCli, db: Path) -> None:
    broken = f"{GRAPHS / 'broken.py'}:graph"
    for args in (["threads"], ["timeline", "t"], ["show", "t"]):
        r = cli("--graph", broken, *args, "--db", db, env={"LGTT_GRAPH": broken})
        assert r.exit_code == 0, r.stderr
    # a plain copy does not need the graph either, so it does not load it
    r = cli("branch", "t", "--from", "1", "--db", db, "--graph", broken)
    assert r.exit_code == 0, r.stderr


def test_parse_spec_forms(tmp_path: Path) -> None:
    s = parse_spec("a/b.py:g", cwd=tmp_path)
    assert (s.path, s.attr, s.module) == (tmp_path / "a/b.py", "g", None)
    assert parse_spec("b.py", cwd=tmp_path).attr == "graph"
    s = parse_spec("pkg.mod:app", cwd=tmp_path)
    assert (s.module, s.attr, s.path) == ("pkg.mod", "app", None)
    s = parse_spec(r"C:\proj\agent.py:graph", cwd=tmp_path)
    assert s.attr == "graph" and str(s.path).endswith("agent.py")
    with pytest.raises(UsageError):
        parse_spec("pkg.mod", cwd=tmp_path)  # a module needs its attribute


def test_module_not_shadowing_stdlib(tmp_path: Path) -> None:
    """A user file named like a stdlib module loads under a private name."""
    (tmp_path / "types.py").write_text(COUNTER.read_text())
    loaded = load_graph(f"{tmp_path / 'types.py'}:graph")
    assert loaded.nodes == ["inc", "dbl"]
    import types

    assert hasattr(types, "ModuleType")  # the real one is still in place


def test_graph_error_is_a_graph_error(tmp_path: Path) -> None:
    with pytest.raises(GraphError):
        load_graph(f"{tmp_path / 'nope.py'}:graph")
