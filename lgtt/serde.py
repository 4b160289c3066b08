"""Decoding stored blobs without trusting them.

LangGraph's default serializer imports and calls whatever module and class a blob
names. A checkpoint database can come from anywhere, so lgtt decodes strictly: only
LangGraph's own allowlist of safe types (datetimes, UUIDs, LangChain messages, ``Send``,
``Interrupt``…) is rebuilt; every other object comes back as data — a :class:`Record`
(pydantic models, dataclasses, named tuples: their fields) or an :class:`Opaque` (the
type's name and its stored argument). No module is imported because a blob names it.

``lazy=True`` keeps every extension object as its raw bytes (:class:`LazyExt`). Equal
bytes mean equal values, which is all change detection needs, and it skips building
thousands of message objects per checkpoint.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import ormsgpack
from langgraph.checkpoint.serde._msgpack import SAFE_MSGPACK_METHODS, SAFE_MSGPACK_TYPES

from lgtt.values import UNREADABLE, LazyExt, Opaque, Record, materialize

__all__ = [
    "UNREADABLE",
    "DecodeError",
    "LazyExt",
    "Opaque",
    "Record",
    "loads",
    "materialize",
    "strict_hook",
]

_UNPACK_OPTS = ormsgpack.OPT_NON_STR_KEYS

# LangGraph's serializer logs a warning for each object it cannot rebuild; lgtt reports
# damage itself, and stderr is reserved for lgtt's own messages.
logging.getLogger("langgraph.checkpoint.serde.jsonplus").setLevel(logging.CRITICAL)


class DecodeError(Exception):
    """A blob that cannot be decoded (corrupt, truncated, unknown format)."""


# LangGraph's msgpack extension codes (langgraph.checkpoint.serde.jsonplus.EXT_*).
EXT_CONSTRUCTOR_SINGLE_ARG = 0
EXT_CONSTRUCTOR_POS_ARGS = 1
EXT_CONSTRUCTOR_KW_ARGS = 2
EXT_METHOD_SINGLE_ARG = 3
EXT_PYDANTIC_V1 = 4
EXT_PYDANTIC_V2 = 5
EXT_NUMPY_ARRAY = 6
EXT_DELTA_SNAPSHOT = 7

_safe_hook: Callable[[int, bytes], Any] | None = None


def _lg_safe_hook(code: int, data: bytes) -> Any:
    """LangGraph's own decoder restricted to its allowlist (imported on first use: it
    brings in LangChain, which states without messages never need)."""
    global _safe_hook
    if _safe_hook is None:
        from langgraph.checkpoint.serde import jsonplus

        _safe_hook = jsonplus._create_msgpack_ext_hook(None)
    return _safe_hook(code, data)


def _unpack(data: bytes, hook: Callable[[int, bytes], Any]) -> Any:
    return ormsgpack.unpackb(data, ext_hook=hook, option=_UNPACK_OPTS)


def _type_name(tup: Any) -> str:
    return f"{tup[0]}.{tup[1]}"


def strict_hook(code: int, data: bytes) -> Any:
    if code == EXT_DELTA_SNAPSHOT:
        return _unpack(data, strict_hook)
    if code == EXT_NUMPY_ARRAY:
        dtype, shape, order, _buf = _unpack(data, strict_hook)
        return Opaque("numpy.ndarray", {"dtype": dtype, "shape": list(shape), "order": order})
    if code in (
        EXT_CONSTRUCTOR_SINGLE_ARG,
        EXT_CONSTRUCTOR_POS_ARGS,
        EXT_CONSTRUCTOR_KW_ARGS,
        EXT_METHOD_SINGLE_ARG,
        EXT_PYDANTIC_V1,
        EXT_PYDANTIC_V2,
    ):
        tup = _unpack(data, strict_hook)
        if not isinstance(tup, (list, tuple)) or len(tup) < 3:
            raise DecodeError(f"malformed extension object (code {code})")
        key = (tup[0], tup[1])
        safe = (
            (key[0], key[1], tup[3]) in SAFE_MSGPACK_METHODS
            if code == EXT_METHOD_SINGLE_ARG and len(tup) > 3
            else key in SAFE_MSGPACK_TYPES
        )
        if safe:
            # A type on LangGraph's own allowlist: let LangGraph rebuild it, so values
            # look exactly as the graph saw them (messages, Send, Interrupt…).
            return _lg_safe_hook(code, data)
        if code in (EXT_PYDANTIC_V1, EXT_PYDANTIC_V2) or (
            code == EXT_CONSTRUCTOR_KW_ARGS and isinstance(tup[2], dict)
        ):
            return Record(_type_name(tup), dict(tup[2]))
        if code == EXT_CONSTRUCTOR_POS_ARGS:
            return Opaque(_type_name(tup), list(tup[2]))
        return Opaque(_type_name(tup), tup[2])
    return Opaque("msgpack.ext", {"code": code, "$base64": base64.b64encode(data).decode()})


def _lazy_hook(code: int, data: bytes) -> Any:
    return LazyExt(code, data)


def loads(type_: str | None, data: bytes | None, *, lazy: bool = False) -> Any:
    """Decode one stored ``(type, bytes)`` pair strictly. Raises :class:`DecodeError`."""
    try:
        if type_ == "null" or (type_ is None and not data):
            return None
        if type_ == "bytes":
            return bytes(data or b"")
        if type_ == "bytearray":
            return bytearray(data or b"")
        if type_ == "msgpack":
            return _unpack(data or b"", _lazy_hook if lazy else strict_hook)
        if type_ == "json":
            # Legacy format: plain JSON, LangChain constructor envelopes left as data.
            return json.loads(data or b"null")
        if type_ == "pickle":
            return Opaque("pickle", "<pickled data: not loaded, lgtt never unpickles>")
    except DecodeError:
        raise
    except Exception as exc:  # ormsgpack raises several types on corrupt input
        raise DecodeError(f"{type(exc).__name__}: {exc}") from None
    raise DecodeError(f"unknown serialization type {type_!r}")
