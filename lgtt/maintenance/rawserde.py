"""Stored blobs kept as they are: unpacked without interpreting, packed back byte for byte.

Moving a thread between databases needs the structure of a checkpoint (which channel
holds which value, to split a SQLite checkpoint into PostgreSQL's blobs or join them
back) but never the meaning of the objects inside. :func:`unpack` decodes msgpack
lazily: every extension object (a message, a pydantic model, a class LangGraph would
import) stays its raw bytes (:class:`~lgtt.serde.LazyExt`), so nothing is imported or
called. :func:`pack` is its inverse with LangGraph's own conventions
(``JsonPlusSerializer.dumps_typed``): the same value packs to the same bytes LangGraph
wrote.
"""

from __future__ import annotations

from typing import Any

import ormsgpack

from lgtt import serde
from lgtt.errors import LgttError

_PACK_OPTS = ormsgpack.OPT_NON_STR_KEYS


class PackError(LgttError):
    """A value that cannot be packed back without interpreting it (e.g. a pickle)."""


def _ext(obj: Any) -> Any:
    if isinstance(obj, serde.LazyExt):
        return ormsgpack.Ext(obj.code, obj.data)
    raise TypeError(f"cannot pack {type(obj).__name__}")


def unpack(type_: str | None, data: bytes | None) -> Any:
    """Decode a stored ``(type, bytes)`` pair lazily. Raises :class:`serde.DecodeError`."""
    return serde.loads(type_, data, lazy=True)


def pack(value: Any) -> tuple[str, bytes]:
    """``JsonPlusSerializer.dumps_typed`` for a lazily decoded value."""
    if value is None:
        return "null", b""
    if isinstance(value, bytes):
        return "bytes", value
    if isinstance(value, bytearray):
        return "bytearray", bytes(value)
    try:
        return "msgpack", ormsgpack.packb(value, default=_ext, option=_PACK_OPTS)
    except (TypeError, ormsgpack.MsgpackEncodeError) as exc:
        raise PackError(
            f"a stored value cannot be copied without loading it ({exc})",
            "values stored as pickles or in unknown formats cannot be moved by lgtt",
        ) from None


def packed_size(value: Any) -> int:
    """Bytes a (lazily or strictly decoded) value takes when stored."""
    try:
        return len(pack(value)[1])
    except PackError:
        pass
    try:
        from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

        return len(JsonPlusSerializer().dumps_typed(value)[1])
    except Exception:
        from lgtt.jsonable import dumps, to_jsonable

        return len(dumps(to_jsonable(value)).encode())


class RawSerializer:
    """A LangGraph serializer (``SerializerProtocol``) for lazily decoded values.

    Given to a saver that writes imported checkpoints, it stores each value's original
    bytes instead of re-serializing objects it would otherwise have to load.
    """

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        return pack(obj)

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        return unpack(data[0], data[1])
