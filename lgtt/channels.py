"""What a stored checkpoint means, worked out from its channels, without the graph.

LangGraph decides which tasks run next from a checkpoint's channels
(``langgraph.pregel._algo.prepare_next_tasks``): one PUSH task per ``Send`` queued in
``__pregel_tasks``, then one PULL task per node whose trigger channel is available and
newer than the version the node last saw. A ``StateGraph`` node ``N`` is triggered by
``branch:to:N`` and by ``join:A+B:N`` barriers, ``__start__`` by ``__start__``. These
functions apply the same rules to the stored checkpoint; the writes recorded against
the checkpoint add the names of tasks any other kind of graph ran.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lgtt.store.base import NULL_TASK_ID, WriteRow
from lgtt.values import LazyExt, materialize

TASKS = "__pregel_tasks"
START = "__start__"
ERROR = "__error__"
INTERRUPT = "__interrupt__"
RESUME = "__resume__"
CONTROL_CHANNELS = frozenset({ERROR, INTERRUPT, RESUME, "__scheduled__", "__return__"})
PULL_PREFIX = "~__pregel_pull, "
PUSH_PREFIX = "~__pregel_push, "
UPDATE_PREFIX = "~__interrupt__"
_NOT_NODES = frozenset({"__input__", "__interrupt__", "__copy__"})


def is_internal(channel: str) -> bool:
    """Channels LangGraph keeps for itself (edges, barriers, task queues)."""
    return channel.startswith("__") or ":" in channel


END = "__end__"


def state_values(checkpoint: dict[str, Any], writes: Sequence[WriteRow] = ()) -> Any:
    """The state as ``StateSnapshot.values`` shows it: state channels only.

    A ``StateGraph(int)`` keeps its state in ``__root__``; a functional-API
    ``@entrypoint`` shows the value it returned (channel ``__end__``), None before.
    """
    cv = checkpoint.get("channel_values") or {}
    values = {k: v for k, v in cv.items() if not is_internal(k)}
    if values:
        return values
    if "__root__" in cv:
        return cv["__root__"]
    if END in cv:
        return cv[END]
    if entry_node(checkpoint, writes) != START:
        return None
    return values


def entry_node(checkpoint: dict[str, Any], writes: Sequence[WriteRow] = ()) -> str:
    """The node the ``__start__`` channel triggers: ``__start__`` in a StateGraph, the
    entrypoint in the functional API (which records its name in ``versions_seen``, and
    in the task paths of its writes)."""
    seen = checkpoint.get("versions_seen") or {}
    for node, versions in seen.items():
        if node != START and node not in _NOT_NODES and START in (versions or {}):
            return node
    if END in (checkpoint.get("channel_versions") or {}):
        return next(iter(n for n in seen if n not in _NOT_NODES and n != START), START)
    pulled = {
        w.task_path[len(PULL_PREFIX) :] for w in writes if w.task_path.startswith(PULL_PREFIX)
    }
    if (
        pulled
        and START not in pulled
        and len(pulled) == 1
        and not any(c.startswith("branch:to:") for c in checkpoint.get("channel_values") or {})
    ):
        return next(iter(pulled))
    return START


def _version_gt(a: Any, b: Any) -> bool:
    if b is None:
        return a is not None
    if a is None:
        return False
    try:
        return bool(a > b)
    except TypeError:  # mixed int/str versions from an old saver
        return str(a) > str(b)


def _available(channel: str, value: Any) -> bool:
    if channel.startswith("join:"):
        names = set(channel[len("join:") :].rsplit(":", 1)[0].split("+"))
        seen, finished = value, True
        if isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[1], bool):
            seen, finished = value
        seen = materialize(seen)
        return finished and isinstance(seen, (set, frozenset, list)) and set(seen) == names
    if (
        channel.startswith("branch:to:")
        and isinstance(value, (list, tuple))
        and len(value) == 2
        and isinstance(value[1], bool)
    ):
        return value[1]  # a deferred node's channel: available once the run finished
    return True


def _trigger_target(channel: str, entry: str = START) -> str | None:
    if channel == START:
        return entry
    if channel.startswith("branch:to:"):
        return channel[len("branch:to:") :]
    if channel.startswith("join:"):
        return channel.rsplit(":", 1)[1]
    return None


def _send_node(send: Any) -> str | None:
    if isinstance(send, LazyExt):
        send = send.materialize()
    node = getattr(send, "node", None)
    if node is None and isinstance(send, (list, tuple)) and send:  # undecoded Send args
        node = send[0]
    return node if isinstance(node, str) else None


@dataclass(frozen=True, slots=True)
class Task:
    """A task due at a checkpoint, and what its recorded writes say about it."""

    name: str
    path: str
    task_id: str | None = None
    status: str = "pending"  # done | failed | interrupted | pending
    error: Any = None
    interrupts: tuple[Any, ...] = ()
    resumed: bool = False
    writes: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        from lgtt.jsonable import to_jsonable

        return {
            "id": self.task_id,
            "name": self.name,
            "path": self.path,
            "status": self.status,
            "error": to_jsonable(self.error),
            "interrupts": [to_jsonable(i) for i in self.interrupts],
        }


def push_nodes(checkpoint: dict[str, Any]) -> list[str]:
    queued = (checkpoint.get("channel_values") or {}).get(TASKS)
    if not isinstance(queued, list):
        return []
    return [n for n in (_send_node(s) for s in queued) if n is not None]


def due_tasks(checkpoint: dict[str, Any], writes: Sequence[WriteRow] = ()) -> list[tuple[str, str]]:
    """``(name, task_path)`` of the tasks LangGraph would run from this checkpoint.

    Order as LangGraph's: Send tasks in queue order, then nodes (by name: the graph's
    own node order is not stored).
    """
    cv = checkpoint.get("channel_values") or {}
    versions = checkpoint.get("channel_versions") or {}
    seen_all = checkpoint.get("versions_seen") or {}
    out: list[tuple[str, str]] = [
        (n, f"{PUSH_PREFIX}{i:010d}") for i, n in enumerate(push_nodes(checkpoint))
    ]
    pulled: set[str] = set()
    entry = entry_node(checkpoint, writes) if START in cv else START
    if versions:
        for channel, value in cv.items():
            node = _trigger_target(channel, entry)
            if node is None or node in pulled or not _available(channel, value):
                continue
            seen = seen_all.get(node)
            if seen is None or _version_gt(versions.get(channel), seen.get(channel)):
                pulled.add(node)
    for w in writes:  # tasks of graphs whose triggers lgtt cannot read from channels
        if w.task_path.startswith(PULL_PREFIX):
            pulled.add(w.task_path[len(PULL_PREFIX) :])
    out.extend((n, f"{PULL_PREFIX}{n}") for n in sorted(pulled))
    return out


def _task_key(path: str) -> str:
    """Normalise a writes ``task_path`` to the key ``due_tasks`` uses."""
    if path.startswith(PUSH_PREFIX):
        parts = path[len(PUSH_PREFIX) :].split(", ")
        try:
            return f"{PUSH_PREFIX}{int(parts[0]):010d}"
        except ValueError:
            return path
    return path


def tasks_at(checkpoint: dict[str, Any] | None, writes: Sequence[WriteRow]) -> list[Task]:
    """The tasks due at a checkpoint with their status, from the writes they recorded."""
    due = due_tasks(checkpoint, writes) if checkpoint is not None else []
    by_key: dict[str, list[WriteRow]] = {}
    for w in writes:
        if w.task_id == NULL_TASK_ID or w.task_path.startswith(UPDATE_PREFIX):
            continue
        by_key.setdefault(_task_key(w.task_path), []).append(w)
    if checkpoint is None:  # unreadable blob: the writes are all there is
        due = [(k[len(PULL_PREFIX) :] if k.startswith(PULL_PREFIX) else k, k) for k in by_key]
    tasks = []
    for name, key in due:
        ws = by_key.get(key, [])
        error = next((w.value for w in ws if w.channel == ERROR), None)
        interrupts: list[Any] = []
        for w in ws:
            if w.channel == INTERRUPT:
                raw = w.value if isinstance(w.value, (list, tuple)) else [w.value]
                interrupts.extend(raw)
        output = tuple((w.channel, w.value) for w in ws if w.channel not in CONTROL_CHANNELS)
        resumed = any(w.channel == RESUME for w in ws)
        if error is not None:
            status = "failed"
        elif interrupts and not output:
            status = "interrupted"
        elif ws:
            status = "done"
        else:
            status = "pending"
        tasks.append(
            Task(
                name=name,
                path=key,
                task_id=ws[0].task_id if ws else None,
                status=status,
                error=error,
                interrupts=tuple(interrupts),
                resumed=resumed,
                writes=output,
            )
        )
    return tasks


def interrupt_value(interrupt: Any) -> Any:
    """The value an ``interrupt()`` call raised (an Interrupt object, or its stored fields)."""
    if hasattr(interrupt, "value"):
        return interrupt.value
    if isinstance(interrupt, dict) and "value" in interrupt:
        return interrupt["value"]
    return interrupt


def nodes_by_last_run(checkpoint: dict[str, Any]) -> list[str]:
    """Nodes recorded in ``versions_seen``, in the order they last ran."""
    seen = checkpoint.get("versions_seen") or {}
    ranked = []
    for node, versions in seen.items():
        if node in _NOT_NODES or not versions:
            continue
        ranked.append((max(str(v) for v in versions.values()), node))
    return [n for _, n in sorted(ranked)]


def infer_update_node(checkpoint: dict[str, Any], metadata: dict[str, Any]) -> str | None:
    """The node an ``update_state`` was applied as.

    LangGraph does not store it. lgtt's own writes record it in the metadata
    (``lgtt_as_node``); otherwise this is the node LangGraph itself assumes when
    ``as_node`` is not given: the one that ran last.
    """
    recorded = metadata.get("lgtt_as_node")
    if isinstance(recorded, str):
        return recorded
    ranked = nodes_by_last_run(checkpoint)
    return ranked[-1] if ranked else None


def changed_keys(
    child: dict[str, Any], parent: dict[str, Any] | None, keys: Iterable[str] | None = None
) -> list[str]:
    """State keys whose value differs between parent and child.

    A channel whose version did not move cannot have changed, so only channels with a
    new version are compared, and equal lazily decoded values compare as bytes.
    """
    cv = child.get("channel_values") or {}
    if parent is None:
        return sorted(k for k in cv if not is_internal(k))
    pv = parent.get("channel_values") or {}
    cver = child.get("channel_versions") or {}
    pver = parent.get("channel_versions") or {}
    out = []
    names = keys if keys is not None else set(cv) | set(pv)
    for k in names:
        if is_internal(k):
            continue
        in_c, in_p = k in cv, k in pv
        if in_c != in_p or (
            in_c and (cver.get(k) != pver.get(k) or k not in cver) and cv[k] != pv[k]
        ):
            out.append(k)
    return sorted(out)
