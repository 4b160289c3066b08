"""PostgreSQL checkpoint databases (LangGraph's ``PostgresSaver``), read in one snapshot.

``PostgresSaver`` splits a checkpoint in two. The ``checkpoints`` row holds it as JSONB
(``v``, ``id``, ``ts``, ``channel_versions``, ``versions_seen``, ``updated_channels``)
with only primitive channel values inline (None, str, int, float, bool). Every other
value is a row of ``checkpoint_blobs`` keyed by (thread, namespace, channel, version),
the version being the one the checkpoint's ``channel_versions`` names. A blob is written
once per new version of a channel, so checkpoints whose channel did not change share
one blob row. This store puts the pieces back together (blobs decoded strictly, as
everywhere in lgtt) and returns exactly what the SQLite store returns.

Every read runs in one ``REPEATABLE READ READ ONLY`` transaction opened with the store
and never committed: one consistent snapshot for a whole command, and no way to write
through this connection. Writes go through :meth:`PostgresStore.saver`, LangGraph's own
``PostgresSaver`` on a connection of its own.

Where the result can differ from the same run stored in SQLite, it is because of what
PostgresSaver stores: ``channel_values`` come sorted by name (the graph's order is not
kept), and an inline float JSONB prints without a fraction (``1e20``) reads back as an
int, exactly as LangGraph's own ``get_state`` returns it.

``lgtt.serde`` (which imports LangGraph) is imported only when a value is decoded, so
``lgtt threads`` on a database of finished threads starts fast.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg import IsolationLevel

from lgtt.errors import DatabaseError
from lgtt.store.base import (
    TRIGGER_CHANNEL_SQL,
    CheckpointRow,
    Store,
    ThreadHead,
    WriteRow,
    checkpoint_shape_error,
    decode_error_value,
    decode_writes,
    order_namespaces,
    uuid6_time,
)

CONNECT_TIMEOUT = 5  # seconds
TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
_NEEDED = {
    "checkpoints": {
        "thread_id",
        "checkpoint_ns",
        "checkpoint_id",
        "parent_checkpoint_id",
        "checkpoint",
        "metadata",
    },
    "checkpoint_blobs": {"thread_id", "checkpoint_ns", "channel", "version", "type", "blob"},
    "checkpoint_writes": {
        "thread_id",
        "checkpoint_ns",
        "checkpoint_id",
        "task_id",
        "idx",
        "channel",
        "type",
        "blob",
    },
}
#: checkpoints decoded per round trip: bounds memory to a few dozen checkpoints' blobs
_BATCH = 50
#: ``ORDER BY`` in byte order, as SQLite and Python sort, whatever the database's locale
_C = 'COLLATE "C"'
_EMPTY = "empty"  # PostgresSaver's type for a channel version that has no value


# --- URLs and connection errors ------------------------------------------------------

_SCHEME = re.compile(r"^postgres(?:ql)?(?:\+[\w-]+)?://", re.IGNORECASE)
_USERINFO_PASSWORD = re.compile(r"(://[^/?#@:]*):[^/?#@]*@")
_QUERY_PASSWORD = re.compile(r"(password=)[^&\s]*", re.IGNORECASE)


def conninfo(url: str) -> str:
    """What libpq accepts: ``postgres://`` and ``postgresql+psycopg://`` become ``postgresql://``."""
    return _SCHEME.sub("postgresql://", url, count=1)


def display_url(url: str) -> str:
    """The URL with any password replaced by ``***``, for messages."""
    return _QUERY_PASSWORD.sub(r"\1***", _USERINFO_PASSWORD.sub(r"\1:***@", url))


def _passwords(url: str) -> list[str]:
    found = [m.group(1) for m in re.finditer(r"://[^/?#@:]*:([^/?#@]*)@", url)]
    found += [m.group(0).split("=", 1)[1] for m in _QUERY_PASSWORD.finditer(url)]
    found += [urllib.parse.unquote(p) for p in found]
    # Longest first; a password of one or two characters would mangle the message.
    return sorted({p for p in found if len(p) > 2}, key=len, reverse=True)


def _first_line(exc: BaseException, url: str) -> str:
    """A libpq/psycopg error as one line, without the password."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    text = re.sub(r"^connection failed:\s*", "", text)
    text = re.sub(
        r'^connection to server (?:at|on) "[^"]*"(?: \([^)]*\))?, port \d+ failed:\s*', "", text
    )
    text = re.sub(r"^(?:FATAL|ERROR):\s*", "", text)
    for secret in _passwords(url):
        text = text.replace(secret, "***")
    return text


def _connect_error(url: str, exc: BaseException) -> DatabaseError:
    reason = _first_line(exc, url)
    low = reason.lower()
    if "password" in low or "authentication" in low or "role" in low:
        hint = "check the user and password in the URL (or PGPASSWORD / ~/.pgpass)"
    elif "database" in low and "does not exist" in low:
        hint = "check the database name in the URL"
    elif "resolve host" in low or "could not translate host name" in low:
        hint = "check the host name in the URL"
    elif isinstance(exc, psycopg.ProgrammingError):  # libpq could not parse the URL
        hint = "the URL looks like postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    else:
        hint = "is the server running, and are the host and port in the URL right?"
    return DatabaseError(f"cannot connect to PostgreSQL at {display_url(url)}: {reason}", hint)


def connect(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A psycopg connection to ``url``, or one-line :class:`DatabaseError`."""
    try:
        return psycopg.connect(
            conninfo(url), connect_timeout=CONNECT_TIMEOUT, application_name="lgtt", **kwargs
        )
    except psycopg.Error as exc:
        raise _connect_error(url, exc) from None


# --- the store -----------------------------------------------------------------------


class PostgresStore(Store):
    @property
    def display(self) -> str:
        return self._display

    def __init__(self, url: str) -> None:
        self.url = url
        self._display = display_url(url)
        self.conn: psycopg.Connection[Any] = connect(url, autocommit=False)
        # psycopg opens the transaction with the first query, with these settings:
        # BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY. It is never committed.
        self.conn.isolation_level = IsolationLevel.REPEATABLE_READ
        self.conn.read_only = True
        self._has_task_path = True
        try:
            self._check_schema()
        except BaseException:
            self.close()
            raise

    # -- opening ------------------------------------------------------------------

    def _check_schema(self) -> None:
        rows = self._q(
            "SELECT t, c.oid IS NOT NULL,"
            "       c.oid IS NOT NULL AND has_table_privilege(c.oid, 'SELECT'),"
            "       ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid"
            "             AND a.attnum > 0 AND NOT a.attisdropped)"
            "  FROM unnest(%s::text[]) AS t LEFT JOIN pg_class c ON c.oid = to_regclass(t)",
            (list(TABLES),),
        )
        present = {t: (exists, readable, set(cols or [])) for t, exists, readable, cols in rows}
        missing = [t for t in TABLES if not present[t][0]]
        if len(missing) == len(TABLES):
            raise DatabaseError(
                f"{self.display} has no LangGraph checkpoint tables"
                f" ({', '.join(TABLES)}) in its search_path",
                "pass the database your PostgresSaver writes to (PostgresSaver.setup() makes them)",
            )
        if missing:
            raise DatabaseError(
                f"{self.display} lacks LangGraph's {', '.join(missing)} table"
                f"{'s' if len(missing) > 1 else ''} (a partly set-up PostgresSaver database)",
                "run PostgresSaver.setup() on it, or pass the right database",
            )
        for table in TABLES:
            _, readable, cols = present[table]
            if not readable:
                raise DatabaseError(
                    f"{self.display}: this user may not read table `{table}`",
                    "connect as a user granted SELECT on LangGraph's tables",
                )
            lacking = _NEEDED[table] - cols
            if lacking:
                raise DatabaseError(
                    f"{self.display}: table `{table}` lacks columns {', '.join(sorted(lacking))}"
                    " (a LangGraph saver version lgtt does not know)",
                    "open it with langgraph-checkpoint-postgres 2.x/3.x tables",
                )
        self._has_task_path = "task_path" in present["checkpoint_writes"][2]

    def close(self) -> None:
        with suppress(psycopg.Error):
            self.conn.close()

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql.encode(), params or None)  # our own literal SQL
                return cur.fetchall()
        except psycopg.Error as exc:
            # Leave the connection usable: the next query opens a new snapshot.
            with suppress(psycopg.Error):
                self.conn.rollback()
            raise DatabaseError(
                f"cannot read {self.display}: {_first_line(exc, self.url)}"
            ) from None

    def _tp(self, alias: str) -> str:
        return f"{alias}.task_path" if self._has_task_path else "''"

    # -- reading ------------------------------------------------------------------

    def threads(self) -> list[ThreadHead]:
        sql = f"""
        SELECT h.thread_id, h.n, c.checkpoint_id, c.parent_checkpoint_id, c.metadata,
               c.checkpoint ->> 'ts',
               (SELECT array_agg(ARRAY[w.task_id, {self._tp("w")}, w.channel]
                                 ORDER BY w.task_id {_C}, w.idx)
                  FROM checkpoint_writes w
                 WHERE w.thread_id = c.thread_id AND w.checkpoint_ns = ''
                   AND w.checkpoint_id = c.checkpoint_id),
               e.type, e.blob,
               (SELECT array_agg(ARRAY[{self._tp("w")}, w.channel]
                                 ORDER BY w.task_id {_C}, w.idx)
                  FROM checkpoint_writes w
                 WHERE w.thread_id = c.thread_id AND w.checkpoint_ns = ''
                   AND w.checkpoint_id = c.parent_checkpoint_id AND {TRIGGER_CHANNEL_SQL})
          FROM (SELECT thread_id, max(checkpoint_id {_C}) AS head, count(*) AS n
                  FROM checkpoints WHERE checkpoint_ns = '' GROUP BY thread_id) h
          JOIN checkpoints c ON c.thread_id = h.thread_id AND c.checkpoint_ns = ''
                            AND c.checkpoint_id = h.head
          LEFT JOIN LATERAL (
                SELECT w.type, w.blob FROM checkpoint_writes w
                 WHERE w.thread_id = c.thread_id AND w.checkpoint_ns = ''
                   AND w.checkpoint_id = c.checkpoint_id AND w.channel = '__error__'
                 ORDER BY w.task_id {_C}, w.idx LIMIT 1) e ON true
        """
        out = []
        for tid, n, cid, pid, md, ts, hw, et, ev, pt in self._q(sql):
            error = decode_error_value(et, ev)
            out.append(
                ThreadHead(
                    thread_id=str(tid),
                    checkpoints=n,
                    head_id=cid,
                    parent_id=pid,
                    metadata=_metadata(md),
                    created_at=ts if isinstance(ts, str) else uuid6_time(cid),
                    head_writes=[(a, b, c) for a, b, c in hw or []],
                    error=error,
                    parent_triggers=[(a, b) for a, b in pt or []],
                )
            )
        return out

    def thread_ids(self) -> list[str]:
        return [str(r[0]) for r in self._q("SELECT DISTINCT thread_id FROM checkpoints")]

    def has_thread(self, thread_id: str) -> bool:
        return bool(self._q("SELECT 1 FROM checkpoints WHERE thread_id = %s LIMIT 1", (thread_id,)))

    def checkpoint_ids(self, thread_id: str, ns: str = "") -> list[tuple[str, str | None]]:
        return [
            (cid, pid)
            for cid, pid in self._q(
                "SELECT checkpoint_id, parent_checkpoint_id FROM checkpoints"
                f" WHERE thread_id = %s AND checkpoint_ns = %s ORDER BY checkpoint_id {_C}",
                (thread_id, ns),
            )
        ]

    def iter_checkpoints(
        self,
        thread_id: str,
        ns: str = "",
        *,
        ids: Sequence[str] | None = None,
        lazy: bool = False,
    ) -> Iterator[CheckpointRow]:
        # The ids first (small), then the checkpoints a batch at a time: memory holds one
        # batch's blobs, and the snapshot makes the batches agree with the id list.
        if ids is None:
            wanted = [cid for cid, _ in self.checkpoint_ids(thread_id, ns)]
        else:
            wanted = sorted(set(ids))  # byte order, as ORDER BY … COLLATE "C"
        for i in range(0, len(wanted), _BATCH):
            yield from self._fetch(thread_id, ns, wanted[i : i + _BATCH], lazy)

    def get_checkpoint(
        self, thread_id: str, ns: str, checkpoint_id: str, *, lazy: bool = False
    ) -> CheckpointRow | None:
        return next(iter(self._fetch(thread_id, ns, [checkpoint_id], lazy)), None)

    def _fetch(self, thread_id: str, ns: str, ids: list[str], lazy: bool) -> list[CheckpointRow]:
        rows = self._q(
            "SELECT checkpoint_id, parent_checkpoint_id, checkpoint, metadata,"
            "       pg_column_size(checkpoint)"
            "  FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = %s"
            f"   AND checkpoint_id = ANY(%s) ORDER BY checkpoint_id {_C}",
            (thread_id, ns, ids),
        )
        # The blobs these checkpoints name, each fetched once however many share it.
        wanted = sorted(
            {
                (str(ch), str(ver))
                for _cid, _pid, cp, _md, _size in rows
                if isinstance(cp, dict) and isinstance(cp.get("channel_versions"), dict)
                for ch, ver in cp["channel_versions"].items()
            }
        )
        blobs: dict[tuple[str, str], tuple[str | None, bytes | None]] = {}
        if wanted:
            for ch, ver, type_, blob in self._q(
                "SELECT b.channel, b.version, b.type, b.blob FROM checkpoint_blobs b"
                " JOIN unnest(%s::text[], %s::text[]) AS v(channel, version)"
                "   ON b.channel = v.channel AND b.version = v.version"
                " WHERE b.thread_id = %s AND b.checkpoint_ns = %s",
                ([c for c, _ in wanted], [v for _, v in wanted], thread_id, ns),
            ):
                blobs[(ch, ver)] = (type_, blob)
        return [_assemble(thread_id, ns, row, blobs, lazy) for row in rows]

    def writes(
        self,
        thread_id: str,
        ns: str = "",
        checkpoint_ids: Sequence[str] | None = None,
        *,
        values: bool | Sequence[str] = True,
    ) -> list[WriteRow]:
        params: list[Any] = []
        if values is True:
            value_sql = "type, blob"
        elif values is False or not values:
            value_sql = "NULL, NULL"
        else:
            value_sql = (
                "CASE WHEN channel = ANY(%s) THEN type END,"
                " CASE WHEN channel = ANY(%s) THEN blob END"
            )
            params += [list(values), list(values)]
        sql = (
            f"SELECT checkpoint_id, task_id, {self._tp('checkpoint_writes')}, idx, channel,"
            f" {value_sql} FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = %s"
        )
        params += [thread_id, ns]
        if checkpoint_ids is not None:
            sql += " AND checkpoint_id = ANY(%s)"
            params.append(sorted(set(checkpoint_ids)))
        sql += f" ORDER BY checkpoint_id {_C}, task_id {_C}, idx"
        return decode_writes(self._q(sql, params))

    def namespaces(self, thread_id: str) -> list[str]:
        found = [
            r[0]
            for r in self._q(
                "SELECT DISTINCT checkpoint_ns FROM checkpoints WHERE thread_id = %s", (thread_id,)
            )
        ]
        return order_namespaces(found)

    # -- writing through LangGraph ------------------------------------------------

    @contextmanager
    def saver(self, setup: bool = False) -> Iterator[Any]:
        """LangGraph's ``PostgresSaver`` on a new read-write connection.

        ``setup=True`` runs ``PostgresSaver.setup()`` when LangGraph's tables are
        missing (never otherwise: migrations are the application's business).
        """
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        # What PostgresSaver.from_conn_string opens; ours so errors read as lgtt's.
        conn = connect(self.url, autocommit=True, prepare_threshold=0, row_factory=dict_row)
        try:
            saver = PostgresSaver(conn)
            if setup:
                row = conn.execute(
                    "SELECT bool_and(to_regclass(t) IS NOT NULL) AS ok FROM unnest(%s::text[]) t",
                    (list(TABLES),),
                ).fetchone()
                if not (row and row["ok"]):
                    saver.setup()
            yield saver
        finally:
            conn.close()


def _assemble(
    thread_id: str,
    ns: str,
    row: tuple[Any, ...],
    blobs: dict[tuple[str, str], tuple[str | None, bytes | None]],
    lazy: bool,
) -> CheckpointRow:
    """One checkpoint as the SQLite store gives it: the JSONB plus its decoded blobs.

    As PostgresSaver's ``_load_checkpoint_tuple``: inline values first, then the blob
    of each channel at the checkpoint's version (a blob wins over an inline marker);
    ``empty`` blobs stand for no value.

    The graph's channel order (SQLite keeps it) is not stored here: JSONB reorders keys,
    and which values are inline changes as values change type. Channels come sorted by
    name, so a key keeps its place from one checkpoint to the next.
    """
    from lgtt import serde

    cid, pid, cp, md, size = row
    checkpoint: dict[str, Any] | None = None
    unreadable = None
    size = size or 0
    try:
        inline = (cp.get("channel_values") or {}) if isinstance(cp, dict) else None
        if not isinstance(inline, dict):
            raise serde.DecodeError("the checkpoint column is not a LangGraph checkpoint")
        values = dict(inline)
        versions = cp.get("channel_versions")
        for ch, ver in (versions if isinstance(versions, dict) else {}).items():
            found = blobs.get((str(ch), str(ver)))
            if found is None:
                continue  # a primitive kept inline, or a channel with no value
            type_, data = found
            size += len(data or b"")
            if type_ == _EMPTY:
                continue
            try:
                values[ch] = serde.loads(type_, data, lazy=lazy)
            except serde.DecodeError as exc:
                raise serde.DecodeError(f"channel {ch!r}: {exc}") from None
        checkpoint = {**cp, "channel_values": dict(sorted(values.items()))}
        problem = checkpoint_shape_error(checkpoint)
        if problem:
            checkpoint = None
            raise serde.DecodeError(problem)
    except serde.DecodeError as exc:
        unreadable = str(exc)
    return CheckpointRow(
        thread_id=thread_id,
        checkpoint_ns=ns,
        checkpoint_id=cid,
        parent_checkpoint_id=pid,
        metadata=_metadata(md),
        checkpoint=checkpoint,
        unreadable=unreadable,
        size=size,
    )


def _metadata(raw: Any) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {}  # JSONB, decoded by psycopg
