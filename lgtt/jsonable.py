"""State values as plain JSON: the one serializer every command's ``--json`` uses.

Plain JSON types as they are; LangChain messages, pydantic models and dataclasses as
their fields; datetimes ISO-8601; bytes as ``{"$base64": …}``; sets as sorted lists;
anything else as ``{"$type": "module.Name", "value": …}``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

from lgtt.values import LazyExt, Opaque, Record


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _sort_key(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    if _depth > 200:
        return {"$type": "lgtt.TooDeep", "value": None}
    d = _depth + 1
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$type": "float", "value": repr(value)}
    if isinstance(value, LazyExt):
        return to_jsonable(value.materialize(), d)
    if isinstance(value, Record):
        return {str(k): to_jsonable(v, d) for k, v in value.items()}
    if isinstance(value, Opaque):
        return {"$type": value.type_name, "value": to_jsonable(value.value, d)}
    if isinstance(value, Mapping):
        return {_key(k): to_jsonable(v, d) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, d) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((to_jsonable(v, d) for v in value), key=_sort_key)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return {"$type": _type_name(value), "value": to_jsonable(value.value, d)}
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump) and not isinstance(value, type):  # pydantic v2, LangChain messages
        try:
            return to_jsonable(model_dump(), d)
        except Exception:
            pass
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name), d) for f in dataclasses.fields(value)}
    as_dict = getattr(value, "_asdict", None)
    if callable(as_dict):  # named tuple
        return to_jsonable(as_dict(), d)
    if hasattr(value, "node") and hasattr(value, "arg"):  # langgraph Send
        return {
            "$type": _type_name(value),
            "value": {"node": value.node, "arg": to_jsonable(value.arg, d)},
        }
    if isinstance(value, dt.timedelta):
        return {"$type": "datetime.timedelta", "value": value.total_seconds()}
    return {"$type": _type_name(value), "value": str(value)}


def _key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, (int, float, bool)) or k is None:
        return json.dumps(k)
    return str(k)


def dumps(doc: Any) -> str:
    """The one JSON document a ``--json`` command prints."""
    return json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False)
