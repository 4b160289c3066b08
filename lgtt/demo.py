"""``lgtt demo``: a database with one of everything, made by running sample_graphs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lgtt.errors import UsageError


def build_demo_db(path: Path, *, force: bool = False) -> dict[str, str]:
    """Run the sample graphs into a new SQLite file; return thread id → description."""
    if path.exists():
        if not force:
            raise UsageError(
                f"{path} already exists", "pass --force to rebuild it, or --db NEW_PATH"
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    from langgraph.checkpoint.sqlite import SqliteSaver

    from sample_graphs.scenarios import build_demo

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        made = build_demo(SqliteSaver(conn))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return made
