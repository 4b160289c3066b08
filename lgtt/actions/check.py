"""Are stored checkpoints compatible with today's graph?

A checkpoint refers to the graph that wrote it by name: the tasks due next are nodes,
``versions_seen`` records which nodes ran, ``branch:to:N`` and ``join:…:N`` channels
point at nodes, and ``channel_values`` holds one value per state channel. When the
graph's code changes (a node removed or renamed, a state key dropped, a field's type
changed), LangGraph does not complain when it resumes such a checkpoint: it silently
skips a due node it no longer has and drops a value it has no channel for. This module
finds those mismatches, from the stored data (decoded strictly, as every lgtt reader
does) and the loaded graph's structure.

What is checked, honestly:

- nodes: every task due at the checkpoint (``lgtt.channels.due_tasks``, the ``next``
  lgtt shows), every node in ``versions_seen``, every node a ``branch:to:``/``join:``
  channel names — each must be a node of the graph;
- channels: every stored state channel must be a channel of the graph
  (``graph.channels``, which a ``StateGraph`` builds from its state schema);
- values: with a pydantic state schema, the stored state is validated against the model
  (missing fields are not reported: LangGraph allows a partial state; a field whose
  stored value lgtt cannot rebuild without importing its module is skipped). A
  TypedDict or dataclass schema says nothing lgtt can check beyond its keys. Reducers
  and subgraph namespaces are not checked.

A problem is *blocking* when resuming from that checkpoint cannot do what the run would
have done: a due node is gone (LangGraph would skip it), a stored value would be dropped,
the state does not validate, or the checkpoint cannot be decoded (damaged, or written
with a serializer lgtt does not read: ``--force`` lets LangGraph try). ``recover`` refuses to resume past blocking problems
unless ``--force``; the others (a removed node that ran earlier) are reported by
``check`` but do not stop a recovery.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lgtt import channels as ch
from lgtt.serde import LazyExt, Opaque, materialize
from lgtt.store.base import CheckpointRow, Store, WriteRow

if TYPE_CHECKING:
    from lgtt.graphs import LoadedGraph

#: kind → blocking; the kinds a problem can have (stable, used in ``--json``)
KINDS: dict[str, bool] = {
    "missing_node": True,  # a task due here names a node the graph no longer has
    "unknown_channel": True,  # a stored state channel the graph no longer has
    "invalid_state": True,  # the stored state does not validate against the schema
    "unknown_seen_node": False,  # versions_seen names a node the graph no longer has
    "unknown_edge_target": False,  # a branch:to:/join: channel names a missing node
    "unreadable": True,  # lgtt cannot decode the checkpoint: nothing checked
}
_MAX_VALIDATION_ERRORS = 5


@dataclass(frozen=True, slots=True)
class Problem:
    """One way a stored checkpoint does not fit today's graph."""

    thread_id: str
    checkpoint_id: str
    index: int
    kind: str
    detail: str

    @property
    def blocking(self) -> bool:
        return KINDS.get(self.kind, True)

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "checkpoint_id": self.checkpoint_id,
            "index": self.index,
            "kind": self.kind,
            "detail": self.detail,
            "blocking": self.blocking,
        }

    def line(self) -> str:
        return f"{self.thread_id}@{self.index} ({self.checkpoint_id[:13]}): {self.detail}"


@dataclass(frozen=True, slots=True)
class CheckReport:
    problems: tuple[Problem, ...]
    threads: int
    checkpoints: int
    #: how the state's values were checked: "pydantic", "keys" or "none"
    validation: str

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": [p.to_json() for p in self.problems],
            "checked": {"threads": self.threads, "checkpoints": self.checkpoints},
            "validation": self.validation,
        }


@dataclass(frozen=True)
class GraphShape:
    """What a checkpoint is compared with: the graph's nodes, channels and state model."""

    nodes: frozenset[str]
    channels: frozenset[str]
    #: the pydantic model of the state, when the state schema is one
    model: Any = None
    validation: str = "none"

    @classmethod
    def of(cls, loaded: LoadedGraph) -> GraphShape:
        graph = loaded.graph
        builder = getattr(graph, "builder", None)
        schema = getattr(builder, "state_schema", None)
        model, validation = None, "none"
        try:
            from pydantic import BaseModel

            if isinstance(schema, type) and issubclass(schema, BaseModel):
                model, validation = schema, "pydantic"
        except ImportError:  # pragma: no cover - pydantic ships with LangGraph
            pass
        if model is None and loaded.state_keys is not None:
            validation = "keys"
        return cls(
            nodes=frozenset(graph.nodes),
            channels=frozenset(graph.channels),
            model=model,
            validation=validation,
        )

    def node_list(self) -> str:
        return ", ".join(sorted(n for n in self.nodes if not n.startswith("__"))) or "none"


def check_checkpoint(
    shape: GraphShape, row: CheckpointRow, index: int, writes: Sequence[WriteRow] = ()
) -> list[Problem]:
    """Every incompatibility of one stored checkpoint with the graph."""

    def problem(kind: str, detail: str) -> Problem:
        return Problem(row.thread_id, row.checkpoint_id, index, kind, detail)

    cp = row.checkpoint
    if cp is None:
        return [problem("unreadable", f"lgtt cannot decode it ({row.unreadable}): not checked")]
    shapes = [cp.get(k) or {} for k in ("channel_values", "channel_versions", "versions_seen")]
    if not all(isinstance(x, dict) for x in shapes):
        return [problem("unreadable", "the checkpoint is malformed (damaged?): not checked")]
    try:
        due = [name for name, _ in ch.due_tasks(cp, writes)]
    except (AttributeError, TypeError, ValueError) as exc:
        detail = f"its next tasks cannot be worked out ({type(exc).__name__}): not checked"
        return [problem("unreadable", detail)]
    out: list[Problem] = []
    missing_due = sorted({n for n in due if n not in shape.nodes})
    for name in missing_due:
        out.append(
            problem(
                "missing_node",
                f"node {name!r} is due to run here but the graph has no such node "
                f"(nodes: {shape.node_list()}): resuming would skip it",
            )
        )
    seen = cp.get("versions_seen") or {}
    for name in sorted(seen):
        if not name.startswith("__") and name not in shape.nodes:
            out.append(
                problem(
                    "unknown_seen_node",
                    f"node {name!r} ran before this checkpoint (versions_seen) "
                    "but the graph has no such node",
                )
            )
    values = cp.get("channel_values") or {}
    for channel in sorted(values):
        for target in _named_nodes(channel):
            if target not in shape.nodes and target not in missing_due:
                out.append(
                    problem(
                        "unknown_edge_target",
                        f"channel {channel!r} names node {target!r}, which the graph no longer has",
                    )
                )
    state = {k: v for k, v in values.items() if not ch.is_internal(k)}
    for key in sorted(state):
        if key not in shape.channels:
            out.append(
                problem(
                    "unknown_channel",
                    f"state key {key!r} is stored but the graph's state has no such key: "
                    "resuming would drop its value",
                )
            )
    if shape.model is not None:
        known = {k: v for k, v in state.items() if k in shape.channels}
        out.extend(problem("invalid_state", d) for d in _validate(shape.model, known))
    return out


def _named_nodes(channel: str) -> Iterable[str]:
    """The nodes an edge or barrier channel names (none for other channels)."""
    if channel.startswith("branch:to:"):
        return [channel[len("branch:to:") :]]
    if channel.startswith("join:"):
        sources, _, target = channel[len("join:") :].rpartition(":")
        return [*sources.split("+"), target]
    return []


def _holds_opaque(value: Any, depth: int = 0) -> bool:
    """Whether lgtt left part of a value undecoded (a type it does not import)."""
    if isinstance(value, (Opaque, LazyExt)):
        return True
    if depth > 50:
        return False
    if isinstance(value, dict):
        return any(_holds_opaque(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_opaque(v, depth + 1) for v in value)
    return False


def _validate(model: Any, state: dict[str, Any]) -> list[str]:
    """Pydantic validation errors of the stored state, one line each (capped)."""
    from pydantic import ValidationError

    values = {k: materialize(v) for k, v in state.items()}
    skipped = {k for k, v in values.items() if _holds_opaque(v)}
    try:
        model.model_validate(values)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = err.get("loc") or ()
            if err.get("type") == "missing" or (loc and loc[0] in skipped):
                continue
            where = ".".join(str(p) for p in loc) or "(state)"
            lines.append(f"{where}: {err.get('msg')} (schema {model.__name__})")
        if len(lines) > _MAX_VALIDATION_ERRORS:
            more = len(lines) - _MAX_VALIDATION_ERRORS
            lines = [*lines[:_MAX_VALIDATION_ERRORS], f"… and {more} more validation errors"]
        return lines
    except Exception as exc:  # a validator in the user's model raised something else
        return [f"validating against {model.__name__} raised {type(exc).__name__}: {exc}"]
    return []


def check_thread(
    store: Store, shape: GraphShape, thread: str, *, all_checkpoints: bool = False
) -> tuple[list[Problem], int]:
    """Problems of a thread's head (or every checkpoint), and how many were checked."""
    ids = store.checkpoint_ids(thread, "")
    if not ids:
        return [], 0
    index_of = {cid: i for i, (cid, _) in enumerate(ids)}
    wanted = [cid for cid, _ in ids] if all_checkpoints else [ids[-1][0]]
    grouped: dict[str, list[WriteRow]] = {}
    for w in store.writes(thread, "", wanted, values=False):
        grouped.setdefault(w.checkpoint_id, []).append(w)
    problems: list[Problem] = []
    checked = 0
    for row in store.iter_checkpoints(thread, "", ids=wanted, lazy=True):
        checked += 1
        index = index_of[row.checkpoint_id]
        problems.extend(check_checkpoint(shape, row, index, grouped.get(row.checkpoint_id, [])))
    return problems, checked


def check_store(
    store: Store,
    shape: GraphShape,
    thread: str | None = None,
    *,
    all_checkpoints: bool = False,
) -> CheckReport:
    """Check one thread, or every thread of the database."""
    threads = [thread] if thread is not None else sorted(h.thread_id for h in store.threads())
    problems: list[Problem] = []
    checkpoints = 0
    for tid in threads:
        found, n = check_thread(store, shape, tid, all_checkpoints=all_checkpoints)
        problems.extend(found)
        checkpoints += n
    return CheckReport(tuple(problems), len(threads), checkpoints, shape.validation)
