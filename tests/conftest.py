"""Shared fixtures: run the real CLI in-process with a fixed width and no colour."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lgtt.cli import app

RunCli = Callable[..., Result]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> RunCli:
    """``cli("threads", "--db", path)`` → click Result (exit_code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)  # no stray pyproject.toml / langgraph.json
    for var in ("LGTT_DB", "LGTT_GRAPH"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        base = {"COLUMNS": "160", "NO_COLOR": "1", "TERM": "dumb"}
        return runner.invoke(app, [str(a) for a in args], env={**base, **(env or {})}, input=input)

    return run


def file_digest(path: Path) -> str:
    """Hash of a database file and its -wal/-shm companions (absent ones count too)."""
    h = hashlib.sha256()
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{path}{suffix}")
        h.update(suffix.encode())
        h.update(p.read_bytes() if p.exists() else b"<absent>")
    return h.hexdigest()


# --- PostgreSQL: the session's throwaway server (pg_url, pg_db_url) -------------------
pytest_plugins = ["tests.pgserver"]
