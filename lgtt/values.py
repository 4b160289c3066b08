"""The values lgtt builds when it decodes stored data strictly.

Kept apart from the decoder (lgtt/serde.py, which pulls in LangGraph's serializer and
LangChain) so that commands that only read metadata start fast.
"""

from __future__ import annotations

from typing import Any

UNREADABLE = "lgtt.unreadable"


class Record(dict[str, Any]):
    """An object stored as its fields (pydantic model, dataclass, named tuple).

    It is a plain ``dict`` of the fields, so diffing and JSON see the fields; the stored
    type name is kept for display.
    """

    __slots__ = ("type_name",)

    def __init__(self, type_name: str, fields: dict[str, Any]) -> None:
        super().__init__(fields)
        self.type_name = type_name

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.items())
        return f"{self.type_name.rsplit('.', 1)[-1]}({args})"


class Opaque:
    """A stored object of a type lgtt does not rebuild: its type name and stored value."""

    __slots__ = ("type_name", "value")

    def __init__(self, type_name: str, value: Any) -> None:
        self.type_name = type_name
        self.value = value

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Opaque)
            and other.type_name == self.type_name
            and other.value == self.value
        )

    def __hash__(self) -> int:
        return hash((self.type_name, repr(self.value)))

    def __repr__(self) -> str:
        return f"<{self.type_name} {self.value!r}>"


class LazyExt:
    """An undecoded msgpack extension object; equal bytes mean equal values."""

    __slots__ = ("code", "data")

    def __init__(self, code: int, data: bytes) -> None:
        self.code = code
        self.data = data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LazyExt) and other.code == self.code and other.data == self.data

    def __hash__(self) -> int:
        return hash((self.code, self.data))

    def __repr__(self) -> str:
        return f"<ext {self.code}: {len(self.data)} bytes>"

    def materialize(self) -> Any:
        from lgtt.serde import strict_hook

        try:
            return strict_hook(self.code, self.data)
        except Exception as exc:  # a damaged nested object: show it as such
            return Opaque(UNREADABLE, f"{type(exc).__name__}: {exc}")


def materialize(value: Any) -> Any:
    """Turn a lazily decoded value (or anything holding LazyExt) into a strict one."""
    if isinstance(value, LazyExt):
        return value.materialize()
    if isinstance(value, list):
        return [materialize(v) for v in value]
    if isinstance(value, tuple):
        return tuple(materialize(v) for v in value)
    if isinstance(value, dict) and not isinstance(value, Record):
        return {k: materialize(v) for k, v in value.items()}
    return value
