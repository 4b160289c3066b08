"""State edits: ``--set key=JSON``, ``--patch file.json``, ``--as-node NODE``.

An edit is applied with LangGraph's own ``update_state``, so the graph's reducers apply
(``--set messages='[…]'`` appends to an ``add_messages`` key, as a node's return would).
The node the update is applied as is recorded in the new checkpoint's metadata as
``lgtt_as_node`` (LangGraph does not store it; it passes ``config["metadata"]`` into the
checkpoint's metadata, which is how lgtt records it). Without ``--as-node`` LangGraph's
own rule picks the node: the one that ran last.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from lgtt.errors import GraphError, UsageError

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.pregel import Pregel

    from lgtt.graphs import LoadedGraph

AS_NODE_KEY = "lgtt_as_node"


@dataclass(frozen=True)
class Edit:
    """Values to write into the state, as if node ``as_node`` had returned them."""

    values: dict[str, Any] = field(default_factory=dict)
    as_node: str | None = None

    def __bool__(self) -> bool:
        return bool(self.values) or self.as_node is not None

    def to_json(self) -> dict[str, Any]:
        return {"values": self.values, "as_node": self.as_node}

    def describe(self) -> str:
        keys = ", ".join(self.values) if self.values else "no values"
        return f"{keys} as node {self.as_node}" if self.as_node else keys


def parse_json(text: str) -> Any:
    """JSON text given by the user → a value; :class:`ValueError` saying why not.

    Beyond malformed JSON, refuses what ``json.loads`` accepts but a checkpoint cannot
    hold: nesting too deep to read (``json.loads`` raises RecursionError) and text that
    is not valid Unicode (a lone surrogate, from a ``\\ud800`` escape or from command-line
    bytes that are not UTF-8), which LangGraph's serializer would silently mangle.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError("it is nested too deeply") from None
    bad = invalid_text(value)
    if bad is not None:
        raise ValueError(f"{bad!r} is not valid Unicode text (not UTF-8 on the command line?)")
    return value


def invalid_text(value: Any) -> str | None:
    """The first string in a JSON value that cannot be encoded as UTF-8, if any."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return v
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return None


def parse_set(item: str) -> tuple[str, Any]:
    """``key=JSON`` → ``(key, value)``."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(
            f"--set {item!r} is not KEY=JSON", "write --set count=3 or --set plan='\"retry\"'"
        )
    try:
        return key, parse_json(raw)
    except ValueError as exc:
        shown = raw if len(raw) <= 60 else f"{raw[:57]}…"
        hint = (
            f"a string needs JSON quotes: --set {key}='\"{shown}\"'"
            if raw and not raw.lstrip().startswith(("{", "[", '"'))
            else "the value must be JSON"
        )
        raise UsageError(f"--set {key}: {shown!r} is not JSON ({exc})", hint) from None


def load_patch(path: str | Path) -> dict[str, Any]:
    """A JSON file holding one object of state key → new value."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--patch: no file {p}", 'pass a JSON file of {"key": value}') from None
    except OSError as exc:
        raise UsageError(f"--patch: cannot read {p}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"--patch {p} is not UTF-8 text ({exc.reason} at byte {exc.start})",
            "save it as UTF-8 JSON",
        ) from None
    try:
        data = parse_json(text)
    except ValueError as exc:
        raise UsageError(f"--patch {p} is not JSON ({exc})", "fix the file") from None
    if not isinstance(data, dict):
        raise UsageError(
            f"--patch {p} holds a {type(data).__name__}, not an object",
            'write {"key": value, …}: top-level state keys and their new values',
        )
    return data


def make_edit(
    sets: Sequence[str] = (), patch: str | Path | None = None, as_node: str | None = None
) -> Edit:
    """The edit the options ask for (``--set`` wins over the same key in ``--patch``)."""
    values: dict[str, Any] = dict(load_patch(patch)) if patch is not None else {}
    for item in sets:
        key, value = parse_set(item)
        values[key] = value
    return Edit(values, as_node or None)


def check_edit(edit: Edit, graph: LoadedGraph) -> None:
    """Refuse keys and nodes the graph does not have, before anything is written."""
    nodes = graph.nodes
    if edit.as_node is not None and edit.as_node not in graph.graph.nodes:
        raise UsageError(
            f"--as-node {edit.as_node!r}: the graph has no such node",
            f"nodes: {', '.join(nodes)}",
        )
    keys = graph.state_keys
    if keys is not None:
        unknown = [k for k in edit.values if k not in keys]
        if unknown:
            raise UsageError(
                f"the state has no key {', '.join(map(repr, unknown))}",
                f"state keys: {', '.join(keys)}",
            )


def infer_as_node(graph: Pregel, checkpoint: Mapping[str, Any]) -> str | None:
    """The node LangGraph applies an update as when none is given (the last that ran)."""
    infer = getattr(graph, "_infer_as_node", None)
    if infer is None:
        return None
    try:
        node = infer(checkpoint.get("versions_seen") or {})
    except Exception:
        return None
    return node if isinstance(node, str) else None


def apply_edit(graph: Pregel, config: RunnableConfig, edit: Edit) -> tuple[RunnableConfig, str]:
    """``update_state`` at ``config``; returns the new checkpoint's config and the node."""
    from langgraph.errors import InvalidUpdateError

    as_node = edit.as_node
    if as_node is None:
        saver = graph.checkpointer
        saved = saver.get_tuple(config) if isinstance(saver, BaseCheckpointSaver) else None
        as_node = infer_as_node(graph, saved.checkpoint) if saved is not None else None
        if as_node is None:
            nodes = ", ".join(n for n in graph.nodes if not n.startswith("__"))
            raise UsageError(
                "cannot tell which node the edit comes from (no single node ran last)",
                f"pass --as-node NODE (nodes: {nodes})",
            )
    cfg: RunnableConfig = {
        **config,
        "metadata": {**config.get("metadata", {}), AS_NODE_KEY: as_node},
    }
    try:
        new = graph.update_state(cfg, edit.values or None, as_node=as_node)
    except InvalidUpdateError as exc:
        raise UsageError(
            f"LangGraph refused the edit: {exc}", "check --set/--patch/--as-node"
        ) from None
    except Exception as exc:  # a reducer or the state schema raised
        raise GraphError(
            f"applying the edit raised {type(exc).__name__}: {exc}",
            "check the values against the state's types (rerun with --debug for the traceback)",
        ) from exc
    return new, as_node
