"""The small interface every backend implements, and the rows it returns.

A store reads LangGraph's tables directly (fast SQL, strict decoding, read-only by
default). Writes never go through a store: they go through LangGraph's own
checkpointer (see :meth:`Store.saver`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    """One stored checkpoint, decoded. ``checkpoint`` is None when the blob is unreadable."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    metadata: dict[str, Any]
    checkpoint: dict[str, Any] | None
    unreadable: str | None = None
    size: int = 0


@dataclass(frozen=True, slots=True)
class WriteRow:
    """One pending write: a task's output recorded against the checkpoint it ran from."""

    checkpoint_id: str
    task_id: str
    task_path: str
    idx: int
    channel: str
    value: Any = None
    unreadable: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadHead:
    """What the fast thread listing reads for one thread, without decoding checkpoints."""

    thread_id: str
    checkpoints: int
    head_id: str
    parent_id: str | None
    metadata: dict[str, Any]
    created_at: str | None
    #: (task_id, task_path, channel) of the writes recorded against the head
    head_writes: list[tuple[str, str, str]] = field(default_factory=list)
    #: decoded value of the first ``__error__`` write at the head, if any
    error: Any = None
    #: (task_path, channel) of writes to trigger channels recorded against the parent
    parent_triggers: list[tuple[str, str]] = field(default_factory=list)


class Store(ABC):
    """A LangGraph checkpoint database opened for reading."""

    #: what the user passed (may hold a password: use ``display`` in messages)
    url: str

    @property
    def display(self) -> str:
        """The database as messages name it: no password."""
        return self.url

    @abstractmethod
    def threads(self) -> list[ThreadHead]:
        """Every thread with a root-namespace checkpoint; one query, no blob decoded."""

    @abstractmethod
    def thread_ids(self) -> list[str]:
        """All thread ids (any namespace)."""

    @abstractmethod
    def has_thread(self, thread_id: str) -> bool:
        """Whether any checkpoint belongs to this thread: one indexed lookup."""

    def __contains__(self, thread_id: object) -> bool:
        return isinstance(thread_id, str) and self.has_thread(thread_id)

    @abstractmethod
    def checkpoint_ids(self, thread_id: str, ns: str = "") -> list[tuple[str, str | None]]:
        """``(checkpoint_id, parent_checkpoint_id)`` of a thread's namespace, oldest first."""

    @abstractmethod
    def iter_checkpoints(
        self,
        thread_id: str,
        ns: str = "",
        *,
        ids: Sequence[str] | None = None,
        lazy: bool = False,
    ) -> Iterator[CheckpointRow]:
        """Decoded checkpoints, oldest first, streamed (bounded memory).

        ``ids`` restricts to those checkpoints (still oldest first).
        """

    @abstractmethod
    def get_checkpoint(
        self, thread_id: str, ns: str, checkpoint_id: str, *, lazy: bool = False
    ) -> CheckpointRow | None:
        """One decoded checkpoint."""

    @abstractmethod
    def writes(
        self,
        thread_id: str,
        ns: str = "",
        checkpoint_ids: Sequence[str] | None = None,
        *,
        values: bool | Sequence[str] = True,
    ) -> list[WriteRow]:
        """Pending writes, ordered by checkpoint, task and index.

        ``values``: True decodes every value, False none, a list of channel names only
        those channels' values (the others are None).
        """

    @abstractmethod
    def namespaces(self, thread_id: str) -> list[str]:
        """Checkpoint namespaces present for a thread (``""`` first)."""

    def saver(self) -> AbstractContextManager[BaseCheckpointSaver[Any]]:
        """LangGraph's own checkpointer on this database, opened for writing."""
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- helpers shared by backends -------------------------------------------------------

_UUID_EPOCH_100NS = 0x01B21DD213814000


def uuid6_time(checkpoint_id: str) -> str | None:
    """The creation time encoded in a uuid6 checkpoint id, ISO-8601 UTC."""
    try:
        h = checkpoint_id.replace("-", "")
        if len(h) != 32 or h[12] != "6":
            return None
        n = int(h, 16)
        ts = (((n >> 80) & 0xFFFFFFFFFFFF) << 12) | ((n >> 64) & 0x0FFF)
        micros = (ts - _UUID_EPOCH_100NS) // 10
        dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
        return dt.isoformat()
    except (ValueError, OverflowError):
        return None


def ts_from_blob_prefix(prefix: bytes | None) -> str | None:
    """Read the ``ts`` field from the first bytes of a msgpack checkpoint blob.

    LangGraph writes ``{"v": …, "ts": "…", "id": …, …}``: the timestamp sits near the
    start, so it can be read without decoding the blob.
    """
    if not prefix:
        return None
    i = prefix.find(b"\xa2ts")
    if i < 0 or i + 3 >= len(prefix):
        return None
    j = i + 3
    tag = prefix[j]
    if 0xA0 <= tag <= 0xBF:
        n, j = tag - 0xA0, j + 1
    elif tag == 0xD9 and j + 1 < len(prefix):
        n, j = prefix[j + 1], j + 2
    else:
        return None
    raw = prefix[j : j + n]
    if len(raw) != n:
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


TRIGGER_CHANNEL_SQL = (
    "(channel LIKE 'branch:to:%' OR channel LIKE 'join:%' OR channel = '__pregel_tasks')"
)


def checkpoint_shape_error(decoded: Any) -> str | None:
    """Why a decoded blob is not a usable checkpoint (damaged data can decode to any
    msgpack value), or None when its structure is what LangGraph writes."""
    if not isinstance(decoded, dict):
        return f"not a checkpoint (a {type(decoded).__name__})"
    cv = decoded.get("channel_values")
    if not isinstance(cv, dict) or not all(isinstance(k, str) for k in cv):
        return "not a checkpoint (channel_values is damaged)"
    versions = decoded.get("channel_versions", {})
    if not isinstance(versions, dict) or not all(
        isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in versions.items()
    ):
        return "not a checkpoint (channel_versions is damaged)"
    seen = decoded.get("versions_seen", {})
    if not isinstance(seen, dict) or not all(
        isinstance(k, str)
        and isinstance(v, dict)
        and all(isinstance(c, str) and isinstance(x, (str, int, float)) for c, x in v.items())
        for k, v in seen.items()
    ):
        return "not a checkpoint (versions_seen is damaged)"
    updated = decoded.get("updated_channels")
    if updated is not None and (
        not isinstance(updated, (list, tuple)) or not all(isinstance(c, str) for c in updated)
    ):
        return "not a checkpoint (updated_channels is damaged)"
    if not isinstance(decoded.get("ts", ""), str):
        return "not a checkpoint (ts is damaged)"
    return None


def decode_writes(rows: Iterable[tuple[Any, ...]]) -> list[WriteRow]:
    """``(checkpoint_id, task_id, task_path, idx, channel, type, value)`` rows, decoded
    strictly; a value that cannot be decoded is marked, not raised."""
    from lgtt import serde  # the decoder is imported once writes are read, not before

    out: list[WriteRow] = []
    for cid, task_id, task_path, idx, channel, type_, value in rows:
        decoded, unreadable = None, None
        if type_ is not None or value is not None:
            try:
                decoded = serde.loads(type_, value)
            except serde.DecodeError as exc:
                unreadable = str(exc)
        out.append(WriteRow(cid, task_id, task_path or "", idx, channel, decoded, unreadable))
    return out


def order_namespaces(found: Iterable[str]) -> list[str]:
    """The root namespace first, then subgraph namespaces by name."""
    return sorted(found, key=lambda ns: (ns != "", ns))


def decode_error_value(type_: str | None, value: bytes | None) -> Any:
    """The stored ``__error__`` write (the exception's repr), or a marker if damaged."""
    if type_ is None and value is None:
        return None
    from lgtt import serde  # imports LangGraph: only when there is an error to read

    try:
        return serde.loads(type_, value)
    except serde.DecodeError as exc:
        return f"<unreadable error value: {exc}>"
