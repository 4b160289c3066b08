"""State paths: ``count``, ``messages[3].content``, ``task_progress.current_step``,
``user_data['user-id']``, ``messages[-1]``.

Also accepts DeepDiff's notation (``root['messages'][3]``), so a path printed by
``lgtt diff`` can be pasted into ``lgtt show --key`` or ``lgtt blame``.
"""

from __future__ import annotations

import re
from typing import Any

from lgtt.errors import UsageError
from lgtt.values import LazyExt, Opaque

_TOKEN = re.compile(
    r"""\s*(?:
        \.?(?P<name>[A-Za-z_][A-Za-z0-9_\-]*)      # name or .name
      | \[\s*(?P<int>-?\d+)\s*\]                   # [3]
      | \[\s*'(?P<sq>(?:[^'\\]|\\.)*)'\s*\]         # ['key']
      | \[\s*"(?P<dq>(?:[^"\\]|\\.)*)"\s*\]         # ["key"]
    )""",
    re.VERBOSE,
)

Part = str | int


class MissingPath(LookupError):
    """The path does not exist in the value."""


def parse_path(text: str) -> tuple[Part, ...]:
    src = text.strip()
    if src.startswith("root"):
        src = src[4:]
    parts: list[Part] = []
    pos = 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise UsageError(
                f"cannot read state path {text!r} at {src[pos:]!r}",
                "write e.g. messages[3].content or task_progress.current_step",
            )
        if m.group("name") is not None:
            parts.append(m.group("name"))
        elif m.group("int") is not None:
            parts.append(int(m.group("int")))
        else:
            raw = m.group("sq") if m.group("sq") is not None else m.group("dq")
            parts.append(re.sub(r"\\(.)", r"\1", raw))
        pos = m.end()
    if not parts:
        raise UsageError(f"empty state path {text!r}", "name a state key, e.g. messages")
    return tuple(parts)


def format_path(parts: tuple[Part, ...]) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p):
            out += f".{p}" if out else p
        else:
            quoted = p.replace("\\", "\\\\").replace("'", "\\'")
            out += f"['{quoted}']"
    return out


def get_path(value: Any, parts: tuple[Part, ...]) -> Any:
    """Follow a path through dicts, lists and objects. Raises :class:`MissingPath`."""
    cur = value
    for i, p in enumerate(parts):
        if isinstance(cur, LazyExt):
            cur = cur.materialize()
        if isinstance(cur, Opaque):
            cur = cur.value
        try:
            if isinstance(p, int):
                if isinstance(cur, (list, tuple)) or (isinstance(cur, dict) and p in cur):
                    cur = cur[p]
                else:
                    raise MissingPath
            elif isinstance(cur, dict):
                cur = cur[p]
            elif hasattr(cur, p) and not p.startswith("_"):
                cur = getattr(cur, p)
            else:
                raise MissingPath
        except (KeyError, IndexError, MissingPath):
            raise MissingPath(format_path(parts[: i + 1])) from None
    return cur
