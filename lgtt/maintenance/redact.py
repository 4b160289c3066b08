"""Blanking state values in an export: ``lgtt export --redact REGEX``.

**Which values.** A state path is written two ways, and a pattern (Python ``re.search``)
redacts a value when it matches either: lgtt's notation (``messages[3].content``,
``user['api-key']``) and DeepDiff's (``root['messages'][3]['content']``), as ``lgtt
diff`` prints it. Paths start at the channel: checkpoint values at the state key, a
pending write at the channel it writes (a write of ``[msg]`` to ``messages`` is
``messages[0]``…). A matching value, whatever it holds, becomes the string
``"[redacted]"``.

**Copies elsewhere.** A secret also travels outside its path: in the write that set
it, an interrupt's payload, an error message, metadata. So every string of length 4 or
more found inside a redacted value (except a message's ``type``) is a *secret*, and any
string anywhere in the export — values, writes, metadata — equal to one or containing
one has it replaced by ``"[redacted]"``. Shorter strings are only redacted at matching
paths.

**How the stored blobs change.** Only what changed is re-encoded. Blobs are unpacked
lazily (every stored object stays its raw bytes); a stored object with something to
redact inside is decoded strictly, redacted, and encoded again with LangGraph's own
serializer (``JsonPlusSerializer``). In such a re-encoded object, types strict decoding
does not rebuild (anything not on LangGraph's allowlist of safe types) become plain
dicts of their fields (``{"$type": …, "value": …}`` when they have no fields); LangChain
messages and the other allowlisted types stay themselves. Everything else keeps its
original bytes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from typing import Any

from lgtt import serde
from lgtt.errors import UsageError
from lgtt.jsonable import to_jsonable
from lgtt.paths import Part, format_path

REDACTED = "[redacted]"
MIN_SECRET = 4


def deepdiff_path(parts: Sequence[Part]) -> str:
    return "root" + "".join(f"[{p}]" if isinstance(p, int) else f"[{p!r}]" for p in parts)


class Redactor:
    """Applies ``--redact`` patterns; remembers the secrets it blanked (see module doc)."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = list(patterns)
        compiled = []
        for p in patterns:
            try:
                compiled.append(re.compile(p))
            except (re.error, OverflowError, RecursionError) as exc:
                # re.compile raises OverflowError for a{99999999999}, RecursionError
                # for thousands of nested groups
                shown = p if len(p) <= 60 else f"{p[:57]}…"
                raise UsageError(
                    f"--redact {shown!r} is not a usable regular expression: {exc}"
                ) from None
        self._res = compiled
        self.secrets: set[str] = set()
        self.count = 0
        self._ordered: list[str] = []
        self._collecting = True
        self._memo: dict[tuple[Any, ...], tuple[Any, bool, int]] = {}

    # -- the two passes --------------------------------------------------------------

    def collect(self, value: Any, parts: tuple[Part, ...]) -> None:
        """Pass 1: learn the secrets under matching paths (nothing changes)."""
        self._collecting = True
        self._walk(value, parts)

    def done_collecting(self) -> None:
        self._collecting = False
        self._ordered = sorted(self.secrets, key=lambda s: (-len(s), s))

    def apply(self, value: Any, parts: tuple[Part, ...] | None) -> tuple[Any, bool]:
        """Pass 2: redact matching paths (``parts`` None: no path, copies only).

        ``value`` is lazily decoded; returns the new lazily decoded value and whether
        anything changed.
        """
        self._collecting = False
        return self._walk(value, parts)

    # -- walking lazily decoded values ----------------------------------------------

    def _matches(self, parts: tuple[Part, ...] | None) -> bool:
        if not parts:
            return False
        a, b = format_path(parts), deepdiff_path(parts)
        return any(r.search(a) or r.search(b) for r in self._res)

    def _hit(self, value: Any) -> tuple[Any, bool]:
        if self._collecting:
            for s in _strings(value):
                self.secrets.add(s)
        else:
            self.count += 1
        return REDACTED, True

    def _walk(self, value: Any, parts: tuple[Part, ...] | None) -> tuple[Any, bool]:
        if self._matches(parts):
            return self._hit(value)
        if isinstance(value, serde.LazyExt):
            # A long thread stores the same objects (messages) in every checkpoint:
            # decode and redact each distinct one once.
            key = (value.code, value.data, parts, self._collecting)
            if key in self._memo:
                result, changed, counted = self._memo[key]
                self.count += counted
                return (result if changed else value), changed
            count_before = self.count
            new, changed = self._strict(value.materialize(), parts)
            result = _reencode(new) if changed and not self._collecting else value
            changed = changed and not self._collecting
            self._memo[key] = (result, changed, self.count - count_before)
            return result, changed
        return self._containers(value, parts, self._walk)

    def _containers(
        self, value: Any, parts: tuple[Part, ...] | None, walk: Any
    ) -> tuple[Any, bool]:
        def sub(p: Part) -> tuple[Part, ...] | None:
            return None if parts is None else (*parts, p)

        if isinstance(value, str):
            return self._scrub(value)
        if isinstance(value, dict):
            out, changed = {}, False
            for k, v in value.items():
                nv, c = walk(v, sub(k if isinstance(k, (str, int)) else str(k)))
                out[k] = nv
                changed |= c
            if not changed:
                return value, False
            if isinstance(value, serde.Record):
                return serde.Record(value.type_name, out), True
            return out, True
        if isinstance(value, (list, tuple)):
            items, changed = [], False
            for i, v in enumerate(value):
                nv, c = walk(v, sub(i))
                items.append(nv)
                changed |= c
            if not changed:
                return value, False
            return (tuple(items) if isinstance(value, tuple) else items), True
        return value, False

    def _scrub(self, text: str) -> tuple[str, bool]:
        if self._collecting or not self._ordered:
            return text, False
        out = text
        for secret in self._ordered:
            if secret in out:
                out = out.replace(secret, REDACTED)
        if out == text:
            return text, False
        self.count += 1
        return out, True

    # -- walking strictly decoded objects (inside one stored object) -----------------

    def _strict(self, value: Any, parts: tuple[Part, ...] | None) -> tuple[Any, bool]:
        if self._matches(parts):
            return self._hit(value)
        if isinstance(value, serde.Opaque):
            inner, changed = self._strict(value.value, parts)
            return (serde.Opaque(value.type_name, inner), True) if changed else (value, False)
        if isinstance(value, (str, dict, list, tuple)):
            return self._containers(value, parts, self._strict)
        if isinstance(value, (set, frozenset)):
            items = [self._strict(v, None) for v in value]
            if not any(c for _, c in items):
                return value, False
            return type(value)(v for v, _ in items), True
        fields = _object_fields(value)
        if fields is None:
            return value, False
        updates = {}
        for name, v in fields.items():
            nv, c = self._strict(v, None if parts is None else (*parts, name))
            if c:
                updates[name] = nv
        if not updates:
            return value, False
        try:
            return _rebuild(value, updates), True
        except Exception:
            return REDACTED, True  # cannot rebuild it: blank all of it rather than leak


def _object_fields(value: Any) -> dict[str, Any] | None:
    model_fields = getattr(type(value), "model_fields", None)
    if isinstance(model_fields, dict) and hasattr(value, "model_copy"):
        return {name: getattr(value, name, None) for name in model_fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if type(value).__name__ == "Send" and hasattr(value, "node") and hasattr(value, "arg"):
        return {"node": value.node, "arg": value.arg}
    return None


def _rebuild(value: Any, updates: dict[str, Any]) -> Any:
    if hasattr(value, "model_copy") and isinstance(
        getattr(type(value), "model_fields", None), dict
    ):
        return value.model_copy(update=updates)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **updates)
    return type(value)(updates.get("node", value.node), updates.get("arg", value.arg))


def _strings(value: Any) -> Iterator[str]:
    """Strings worth hunting for elsewhere: those inside a redacted value."""
    plain = to_jsonable(serde.materialize(value))
    stack: list[Any] = [plain]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if len(v) >= MIN_SECRET:
                yield v
        elif isinstance(v, dict):
            stack.extend(x for k, x in v.items() if k != "type")
        elif isinstance(v, list):
            stack.extend(v)


def _plain(value: Any) -> Any:
    """Types strict decoding left as data become plain dicts, so they can be encoded."""
    if isinstance(value, serde.Record):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, serde.Opaque):
        return {"$type": value.type_name, "value": _plain(value.value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def _reencode(value: Any) -> Any:
    """A strictly decoded, redacted object → lazily decoded form of LangGraph's encoding."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    plain = _plain(value)
    try:
        type_, data = JsonPlusSerializer(pickle_fallback=False).dumps_typed(plain)
    except Exception:
        type_, data = JsonPlusSerializer(pickle_fallback=False).dumps_typed(to_jsonable(plain))
    return serde.loads(type_, data, lazy=True)
