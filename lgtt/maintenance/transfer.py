"""``lgtt export`` / ``lgtt import``: one thread as one JSON document, and back.

The document (``"lgtt_export": 1``)::

    {
      "lgtt_export": 1,
      "thread_id": "t-42",
      "exported_at": "2026-…+00:00",
      "lgtt_version": "0.1.0",
      "source": {"backend": "sqlite"},
      "redacted": null | {"patterns": ["…"], "values": 3},
      "namespaces": ["", "prepare:5d1e…"],
      "checkpoints": [
        {"checkpoint_ns": "", "checkpoint_id": "1f1e…", "parent_checkpoint_id": null,
         "metadata": {"source": "input", "step": -1, "parents": {}},
         "checkpoint": {"type": "msgpack", "$base64": "…"},
         "values": {…}, "unreadable": null},
        …],
      "writes": [
        {"checkpoint_ns": "", "checkpoint_id": "1f1e…", "task_id": "…",
         "task_path": "~__pregel_pull, __start__", "idx": 0, "channel": "messages",
         "value": {"type": "msgpack", "$base64": "…"}, "preview": …},
        …]
    }

``checkpoint`` and ``value`` are what is loaded back: each blob exactly as LangGraph
stored it (type and bytes, base64), the whole checkpoint in one blob as SqliteSaver
keeps it (a PostgreSQL checkpoint is joined back with its blobs, each value's bytes
unchanged). ``values`` and ``preview`` are for people: the state and each write's value
decoded strictly (nothing imported) and shown as ``lgtt show --json`` shows values; they
are ignored on import. ``metadata_raw`` appears only when the stored metadata bytes are
not plain ``json.dumps`` of ``metadata``. Checkpoints are in namespace then id order,
writes in namespace, checkpoint, task and index order.

Import writes every row as new, in one transaction, and refuses a thread that already
exists (``--to NEW_ID`` imports under another id). SQLite: the rows are inserted with
the columns SqliteSaver uses, bytes as stored. PostgreSQL: each checkpoint goes
through ``PostgresSaver.put`` (which splits it into JSONB and blobs as a run does) with
a serializer that packs the lazily unpacked values back to their original bytes, and
writes are inserted with PostgresSaver's columns, bytes as stored.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from lgtt import __version__, serde
from lgtt import channels as ch
from lgtt.errors import DatabaseError, LgttError, RefError, UsageError
from lgtt.jsonable import to_jsonable
from lgtt.maintenance import rawserde
from lgtt.maintenance.db import (
    MaintenanceDb,
    RawCheckpoint,
    RawWrite,
    create_postgres_tables,
    metadata_bytes,
    new_sqlite_file,
    postgres_without_tables,
    reading,
    writing,
)
from lgtt.maintenance.redact import Redactor
from lgtt.store.base import Store

FORMAT_VERSION = 1


# --- blobs in JSON --------------------------------------------------------------------


def blob_json(type_: str | None, data: bytes | None) -> dict[str, Any]:
    return {
        "type": type_,
        "$base64": base64.b64encode(data).decode("ascii") if data is not None else None,
    }


def _preview(type_: str | None, data: bytes | None) -> tuple[Any, str | None]:
    try:
        return serde.loads(type_, data), None
    except serde.DecodeError as exc:
        return None, str(exc)


# --- export -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportSummary:
    thread_id: str
    checkpoints: int
    writes: int
    namespaces: list[str]
    redacted: int | None
    output: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "checkpoints": self.checkpoints,
            "writes": self.writes,
            "namespaces": self.namespaces,
            "redacted": self.redacted,
            "output": self.output,
        }


def export_thread(
    store: Store, thread_id: str, out: IO[str], *, redact: Sequence[str] = ()
) -> ExportSummary:
    """Write the thread's document to ``out`` (streamed: one checkpoint at a time)."""
    redactor = Redactor(redact) if redact else None
    with reading(store) as db:
        if not is_text(thread_id) or not db.thread_exists(thread_id):
            raise RefError(f"no thread {thread_id!r} in {db.url}", "run `lgtt threads`")
        namespaces = sorted({e.checkpoint_ns for e in db.checkpoint_index([thread_id])})
        if redactor is not None:
            _collect_secrets(db, thread_id, redactor)
        header = {
            "lgtt_export": FORMAT_VERSION,
            "thread_id": thread_id,
            "exported_at": datetime.now(UTC).isoformat(),
            "lgtt_version": __version__,
            "source": {"backend": db.backend},
            "redacted": None,
            "namespaces": namespaces,
        }
        out.write("{\n")
        for k, v in header.items():
            if k != "redacted":
                out.write(f"  {json.dumps(k)}: {_dump(v)},\n")
        out.write('  "checkpoints": [')
        n_cp = 0
        for cp in db.raw_checkpoints(thread_id):
            out.write(("," if n_cp else "") + "\n    " + _dump(_checkpoint_entry(cp, redactor)))
            n_cp += 1
        out.write("\n  ],\n" if n_cp else "],\n")
        out.write('  "writes": [')
        n_w = 0
        for w in db.raw_writes(thread_id):
            out.write(("," if n_w else "") + "\n    " + _dump(_write_entry(w, redactor)))
            n_w += 1
        out.write("\n  ],\n" if n_w else "],\n")
        redacted = {"patterns": redactor.patterns, "values": redactor.count} if redactor else None
        out.write(f'  "redacted": {_dump(redacted)}\n}}\n')
    return ExportSummary(
        thread_id, n_cp, n_w, namespaces, redactor.count if redactor else None, None
    )


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _unpack_or_refuse(what: str, type_: str | None, data: bytes | None) -> Any:
    try:
        return rawserde.unpack(type_, data)
    except serde.DecodeError as exc:
        raise DatabaseError(
            f"cannot redact {what}: it cannot be decoded ({exc})",
            "export without --redact to carry it as stored",
        ) from None


def _collect_secrets(db: MaintenanceDb, thread_id: str, redactor: Redactor) -> None:
    for cp in db.raw_checkpoints(thread_id):
        lazy = _unpack_or_refuse(f"checkpoint {cp.checkpoint_id}", cp.type, cp.blob)
        for key, value in _channel_values(lazy).items():
            redactor.collect(value, (key,))
    for w in db.raw_writes(thread_id):
        lazy = _unpack_or_refuse(f"a write of checkpoint {w.checkpoint_id}", w.type, w.blob)
        redactor.collect(lazy, (w.channel,))
    redactor.done_collecting()


def _channel_values(lazy: Any) -> dict[str, Any]:
    if isinstance(lazy, dict) and isinstance(lazy.get("channel_values"), dict):
        return lazy["channel_values"]
    return {}


def _checkpoint_entry(cp: RawCheckpoint, redactor: Redactor | None) -> dict[str, Any]:
    type_, blob, metadata, metadata_raw = cp.type, cp.blob, cp.metadata, cp.metadata_raw
    if redactor is not None:
        lazy = _unpack_or_refuse(f"checkpoint {cp.checkpoint_id}", type_, blob)
        values = _channel_values(lazy)
        new_values, changed = {}, False
        for key, value in values.items():
            nv, c = redactor.apply(value, (key,))
            new_values[key] = nv
            changed |= c
        if changed:
            type_, blob = rawserde.pack({**lazy, "channel_values": new_values})
        if metadata is not None:
            new_md, md_changed = redactor.apply(metadata, None)
            if md_changed:
                metadata, metadata_raw = new_md, None
        if metadata_raw is not None:
            if metadata is None:
                raise DatabaseError(
                    f"cannot redact checkpoint {cp.checkpoint_id}: its metadata is not JSON",
                    "export without --redact to carry it as stored",
                )
            metadata_raw = None  # the redacted metadata, as SqliteSaver would store it
    decoded, unreadable = _preview(type_, blob)
    values_preview = None
    if unreadable is None and isinstance(decoded, dict) and "channel_values" in decoded:
        values_preview = to_jsonable(ch.state_values(decoded))
    elif unreadable is None:
        unreadable = "not a checkpoint"
    entry: dict[str, Any] = {
        "checkpoint_ns": cp.checkpoint_ns,
        "checkpoint_id": cp.checkpoint_id,
        "parent_checkpoint_id": cp.parent_checkpoint_id,
        "metadata": metadata,
        "checkpoint": blob_json(type_, blob),
        "values": values_preview,
        "unreadable": unreadable,
    }
    if metadata_raw is not None:
        entry["metadata_raw"] = {"$base64": base64.b64encode(metadata_raw).decode("ascii")}
    return entry


def _write_entry(w: RawWrite, redactor: Redactor | None) -> dict[str, Any]:
    type_, blob = w.type, w.blob
    if redactor is not None:
        lazy = _unpack_or_refuse(f"a write of checkpoint {w.checkpoint_id}", type_, blob)
        new, changed = redactor.apply(lazy, (w.channel,))
        if changed:
            type_, blob = rawserde.pack(new)
    decoded, unreadable = _preview(type_, blob)
    return {
        "checkpoint_ns": w.checkpoint_ns,
        "checkpoint_id": w.checkpoint_id,
        "task_id": w.task_id,
        "task_path": w.task_path,
        "idx": w.idx,
        "channel": w.channel,
        "value": blob_json(type_, blob),
        "preview": to_jsonable(decoded) if unreadable is None else {"$unreadable": unreadable},
    }


def refuse_overwriting(output: str | None, db: str | None) -> None:
    """``-o`` must not name the SQLite database being exported (or its -wal/-shm/-journal):
    the export would replace it."""
    if output is None or output == "-" or not db:
        return
    from lgtt.store import is_postgres_url

    if is_postgres_url(db) or ("://" in db and not db.startswith("sqlite:")):
        return
    from lgtt.store.sqlite import sqlite_path

    target = Path(output)
    base = sqlite_path(db)
    for suffix in ("", "-wal", "-shm", "-journal"):
        part = Path(f"{base}{suffix}")
        same = target.resolve() == part.resolve()
        if not same and target.exists() and part.exists():
            with suppress(OSError):
                same = os.path.samefile(target, part)
        if same:
            raise UsageError(
                f"-o {output} is the database being exported ({base}{suffix})",
                "write the export to another file",
            )


@contextmanager
def output_file(path: str | None) -> Iterator[IO[str]]:
    """stdout, or a file written whole or not at all (a temp file renamed into place)."""
    if path is None or path == "-":
        yield sys.stdout
        return
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"cannot write {path}: no directory {directory}")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as open() would make it, not mkstemp's 0600
        os.replace(tmp, target)
    except BaseException:
        with suppress(OSError):
            os.remove(tmp)
        raise


# --- reading a document ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportDoc:
    thread_id: str
    checkpoints: list[RawCheckpoint]
    writes: list[RawWrite]
    source: str = "-"
    redacted: bool = False

    @property
    def namespaces(self) -> list[str]:
        return sorted({c.checkpoint_ns for c in self.checkpoints})


class BadExport(UsageError):
    """A file that is not an lgtt export (or not one this version reads)."""


def read_export(path: str) -> ExportDoc:
    """Read and check a document; every problem is one :class:`BadExport` line."""
    name = "stdin" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no file {path}", "pass the file `lgtt export -o` wrote") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {name}: {exc}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise BadExport(f"{name} is not JSON ({exc})", "pass a file `lgtt export` wrote") from None
    except RecursionError:
        raise BadExport(
            f"{name} is not a usable lgtt export: it is nested too deeply to read",
            "pass a file `lgtt export` wrote",
        ) from None
    return parse_export(doc, name)


def parse_export(doc: Any, name: str = "document") -> ExportDoc:
    def bad(what: str) -> BadExport:
        return BadExport(f"{name} is not a usable lgtt export: {what}")

    if not isinstance(doc, dict) or "lgtt_export" not in doc:
        raise BadExport(f"{name} is not an lgtt export (no \"lgtt_export\" field)",
                        "pass a file `lgtt export` wrote")  # fmt: skip
    if doc["lgtt_export"] != FORMAT_VERSION:
        raise BadExport(
            f"{name} is lgtt export format {doc['lgtt_export']!r}; this lgtt reads format"
            f" {FORMAT_VERSION}",
            "import it with the lgtt version that exported it",
        )
    thread_id = doc.get("thread_id")
    if not isinstance(thread_id, str) or not thread_id:
        raise bad('"thread_id" must be a non-empty string')
    if not is_text(thread_id):
        raise bad('"thread_id" is not valid Unicode text')
    cps, ws = doc.get("checkpoints"), doc.get("writes")
    if not isinstance(cps, list):
        raise bad('"checkpoints" must be a list')
    if not isinstance(ws, list):
        raise bad('"writes" must be a list')
    checkpoints: list[RawCheckpoint] = []
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(cps):
        where = f"checkpoints[{i}]"
        if not isinstance(c, dict):
            raise bad(f"{where} is not an object")
        ns = _field(c, "checkpoint_ns", str, where, bad)
        cid = _field(c, "checkpoint_id", str, where, bad)
        pid = _field(c, "parent_checkpoint_id", (str, type(None)), where, bad)
        md = _field(c, "metadata", (dict, type(None)), where, bad)
        type_, blob = _blob(c.get("checkpoint"), f"{where}.checkpoint", bad)
        if not cid:
            raise bad(f"{where}.checkpoint_id is empty")
        if (ns, cid) in seen:
            raise bad(f"{where} repeats checkpoint {cid}")
        seen.add((ns, cid))
        raw = None
        if "metadata_raw" in c:
            raw = _b64(c["metadata_raw"], f"{where}.metadata_raw", bad)
        elif md is None:
            raise bad(f"{where}.metadata is null")
        checkpoints.append(RawCheckpoint(ns, cid, pid, type_, blob, md, raw))
    writes: list[RawWrite] = []
    seen_w: set[tuple[str, str, str, int]] = set()
    for i, w in enumerate(ws):
        where = f"writes[{i}]"
        if not isinstance(w, dict):
            raise bad(f"{where} is not an object")
        ns = _field(w, "checkpoint_ns", str, where, bad)
        cid = _field(w, "checkpoint_id", str, where, bad)
        task_id = _field(w, "task_id", str, where, bad)
        task_path = _field(w, "task_path", str, where, bad)
        idx = _field(w, "idx", int, where, bad)
        channel = _field(w, "channel", str, where, bad)
        type_, blob = _blob(w.get("value"), f"{where}.value", bad)
        if isinstance(idx, bool):
            raise bad(f"{where}.idx must be an integer")
        if not -(2**63) <= idx < 2**63:
            raise bad(f"{where}.idx is out of range (a 64-bit integer)")
        if (ns, cid, task_id, idx) in seen_w:
            raise bad(f"{where} repeats a write (task {task_id}, idx {idx})")
        seen_w.add((ns, cid, task_id, idx))
        writes.append(RawWrite(ns, cid, task_id, task_path, idx, channel, type_, blob))
    redacted = doc.get("redacted") is not None
    return ExportDoc(thread_id, checkpoints, writes, name, redacted)


def _field(obj: dict[str, Any], key: str, types: Any, where: str, bad: Any) -> Any:
    if key not in obj:
        raise bad(f"{where} has no {key!r}")
    value = obj[key]
    if not isinstance(value, types):
        raise bad(f"{where}.{key} has the wrong type ({type(value).__name__})")
    if isinstance(value, (str, dict)) and not is_text(value):
        raise bad(f"{where}.{key} holds text that is not valid Unicode")
    return value


def is_text(value: Any) -> bool:
    """Whether every string in a JSON value (or the string itself) can be stored: a lone
    surrogate (a ``\\ud800`` escape, or command-line bytes that are not UTF-8) cannot."""
    from lgtt.actions.edits import invalid_text  # the check --set and --patch make

    return invalid_text(value) is None


def _b64(obj: Any, where: str, bad: Any) -> bytes | None:
    if not isinstance(obj, dict) or "$base64" not in obj:
        raise bad(f'{where} must be an object with "$base64"')
    data = obj["$base64"]
    if data is None:
        return None
    if not isinstance(data, str):
        raise bad(f"{where}.$base64 must be a string")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise bad(f"{where}.$base64 is not base64") from None


def _blob(obj: Any, where: str, bad: Any) -> tuple[str | None, bytes | None]:
    data = _b64(obj, where, bad)
    type_ = obj.get("type")
    if type_ is not None and (not isinstance(type_, str) or not is_text(type_)):
        raise bad(f"{where}.type must be a string or null")
    return type_, data


# --- import -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportSummary:
    thread_id: str
    source_thread_id: str
    checkpoints: int
    writes: int
    namespaces: list[str]
    dry_run: bool
    #: the target database, as messages name it (no password)
    database: str = ""
    created_database: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "source_thread_id": self.source_thread_id,
            "checkpoints": self.checkpoints,
            "writes": self.writes,
            "namespaces": self.namespaces,
            "dry_run": self.dry_run,
            "database": self.database,
            "created_database": self.created_database,
        }


def _exists_error(thread_id: str, url: str) -> LgttError:
    return UsageError(
        f"thread {thread_id!r} already exists in {url}; import never merges into a thread",
        f"import under a new id with --to NEW_ID, or delete it first: lgtt prune --thread {thread_id} --yes",
    )


def import_thread(
    url: str, doc: ExportDoc, *, to: str | None = None, dry_run: bool = False
) -> ImportSummary:
    """Load ``doc`` into the database at ``url`` as a new thread, in one transaction."""
    from lgtt.store import is_postgres_url, open_store

    target = to or doc.thread_id
    if to is not None and not to:
        raise UsageError("--to needs a thread id")
    if to is not None and not is_text(to):
        raise UsageError(f"--to {to!r} is not valid Unicode text", "give a UTF-8 thread id")
    shown = url
    if is_postgres_url(url):
        from lgtt.store.postgres import display_url

        shown = display_url(url)
    summary = ImportSummary(
        target,
        doc.thread_id,
        len(doc.checkpoints),
        len(doc.writes),
        doc.namespaces,
        dry_run,
        database=shown,
    )
    created = False
    path: Path | None = None
    if is_postgres_url(url):
        if postgres_without_tables(url):
            if dry_run:
                return replace(summary, created_database=True)
            create_postgres_tables(url)  # LangGraph's own DDL; stays if the import fails
            created = True
    else:
        from lgtt.store.sqlite import sqlite_path

        path = sqlite_path(url)
        if not path.exists():
            if dry_run:
                return replace(summary, created_database=True)
            new_sqlite_file(path)
            created = True
    try:
        store = open_store(url)
        try:
            with reading(store) as db:
                if db.thread_exists(target):
                    raise _exists_error(target, db.url)
            if dry_run:
                return summary
            with writing(store) as db, db.transaction():
                if db.thread_exists(target):  # created meanwhile
                    raise _exists_error(target, db.url)
                for cp in doc.checkpoints:
                    db.insert_checkpoint(target, cp)
                db.insert_writes(target, doc.writes)
        finally:
            store.close()
    except BaseException:
        if created and path is not None:  # a SQLite file this import made
            for suffix in ("", "-wal", "-shm"):
                with suppress(OSError):
                    os.remove(f"{path}{suffix}")
        raise
    return replace(summary, created_database=created)


__all__ = [
    "FORMAT_VERSION",
    "BadExport",
    "ExportDoc",
    "ExportSummary",
    "ImportSummary",
    "export_thread",
    "import_thread",
    "metadata_bytes",
    "output_file",
    "parse_export",
    "read_export",
    "refuse_overwriting",
]
