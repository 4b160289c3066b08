"""Opening a checkpoint database by path or URL (read-only)."""

from __future__ import annotations

from lgtt.errors import DatabaseError, UsageError
from lgtt.store.base import CheckpointRow, Store, ThreadHead, WriteRow

__all__ = ["CheckpointRow", "Store", "ThreadHead", "WriteRow", "is_postgres_url", "open_store"]


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))


def open_store(url: str | None) -> Store:
    """Open the database named by ``--db`` for reading."""
    if not url:
        raise UsageError(
            "no database given",
            "pass --db PATH_OR_URL, set LGTT_DB, or add `db = …` under [tool.lgtt] in pyproject.toml",
        )
    if is_postgres_url(url):
        try:
            from lgtt.store.postgres import PostgresStore
        except ImportError as exc:  # the extra is not installed
            raise DatabaseError(
                f"PostgreSQL support is not installed ({exc.name} missing)",
                "pip install 'lgtt[postgres]'",
            ) from None
        return PostgresStore(url)
    if "://" in url and not url.startswith("sqlite:"):
        raise UsageError(
            f"unsupported database URL {url!r}",
            "use a SQLite file path, sqlite:///PATH, or postgresql://…",
        )
    from lgtt.store.sqlite import SqliteStore

    return SqliteStore(url)
