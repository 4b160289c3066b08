"""State differences: two checkpoints, or two threads aligned step by step.

DeepDiff does the deep comparison; lgtt decides where it is needed, which is what
makes it fast on wide or long states:

- mappings (the state, nested dicts, pydantic records) are walked key by key and a key
  whose values compare equal with ``==`` is skipped — lazily decoded values compare as
  bytes, so an unchanged list of 1,000 messages costs a byte comparison;
- lists are trimmed of their common prefix and suffix first: an appended list reports
  the appended items at their real indexes without looking at the rest, an inserted
  item is one insertion;
- lists of messages (items with an ``id`` and a ``type`` or ``content``) are aligned by
  message id, so one inserted message is one ``added`` change, not every later
  message changed;
- what is left (objects, the changed middle of other lists, ``--ignore-order`` lists)
  goes to DeepDiff, and its paths are rebased onto the full path.

Paths are in DeepDiff's notation (``root['messages'][3].content``); ``--ignore``
patterns are searched in a path and in each of its ancestors, as DeepDiff's
``exclude_regex_paths`` does. DeepDiff types never leave this module: the result is
lgtt's own :class:`~lgtt.models.Change`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lgtt import channels as ch
from lgtt.errors import DatabaseError, RefError, UsageError
from lgtt.models import Change, CheckpointSummary
from lgtt.paths import parse_path
from lgtt.refs import Resolved, resolve, split_ref
from lgtt.serde import LazyExt, materialize
from lgtt.store.base import CheckpointRow, Store

# --- options --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiffOptions:
    """What to compare: ``ignore`` path regexes, list order, a subset of top-level keys."""

    ignore: tuple[re.Pattern[str], ...] = ()
    ignore_order: bool = False
    keys: tuple[str, ...] | None = None


def compile_ignores(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    out = []
    for p in patterns:
        try:
            out.append(re.compile(p))
        except (re.error, OverflowError, RecursionError) as exc:
            shown = p if len(p) <= 60 else p[:57] + "…"
            raise UsageError(
                f"invalid --ignore regex {shown!r}: {exc}",
                "it is a Python regex searched in paths such as root['messages'][3]; "
                "escape [ ] . with a backslash",
            ) from None
    return tuple(out)


def parse_keys(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    if not keys:
        raise UsageError("--keys is empty", "name top-level state keys: --keys count,messages")
    return keys


# --- results --------------------------------------------------------------------------


def ref_json(ref: Resolved) -> dict[str, Any]:
    return {
        "thread_id": ref.thread_id,
        "checkpoint_ns": ref.checkpoint_ns,
        "checkpoint_id": ref.checkpoint_id,
        "index": ref.index,
    }


@dataclass(frozen=True, slots=True)
class Divergence:
    """The first point where two threads' main lines differ."""

    #: how many checkpoints along both main lines (root = 0) precede it
    position: int
    a_index: int
    b_index: int
    a_checkpoint_id: str | None
    b_checkpoint_id: str | None
    #: what differs: ``input``, ``ran``, ``state``, ``next``, ``length``
    aspects: tuple[str, ...]
    reason: str
    #: top-level state keys that differ there
    keys: tuple[str, ...] = ()
    a_summary: CheckpointSummary | None = None
    b_summary: CheckpointSummary | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "a_index": self.a_index,
            "b_index": self.b_index,
            "reason": self.reason,
            "position": self.position,
            "aspects": list(self.aspects),
            "keys": list(self.keys),
            "a_checkpoint_id": self.a_checkpoint_id,
            "b_checkpoint_id": self.b_checkpoint_id,
        }


@dataclass(frozen=True, slots=True)
class StateDiff:
    """``lgtt diff A B``: the changes from A's state to B's, and for threads where they part."""

    mode: str  # "checkpoints" | "threads"
    a: Resolved
    b: Resolved
    changes: tuple[Change, ...]
    divergence: Divergence | None = None
    #: list path → (length in A, length in B) for lists B extends by appending
    appended: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    #: thread mode: checkpoints on each main line (root → head)
    a_length: int = 0
    b_length: int = 0

    @property
    def identical(self) -> bool:
        return not self.changes and self.divergence is None

    def to_json(self) -> dict[str, Any]:
        """DESIGN.md §4. ``divergence`` is always present: null for checkpoint diffs and
        for threads that agree; ``mode`` (added) tells the two apart. ``identical`` is
        false when threads diverge even if their final states are equal."""
        return {
            "a": ref_json(self.a),
            "b": ref_json(self.b),
            "identical": self.identical,
            "changes": [c.to_json() for c in self.changes],
            "divergence": self.divergence.to_json() if self.divergence else None,
            "mode": self.mode,
        }


# --- the value diff -------------------------------------------------------------------

_SCALARS = (str, bytes, bytearray, int, float, bool, type(None))
_KINDS = {
    "values_changed": "changed",
    "type_changes": "changed",
    "unprocessed": "changed",
    "dictionary_item_added": "added",
    "iterable_item_added": "added",
    "attribute_added": "added",
    "set_item_added": "added",
    "dictionary_item_removed": "removed",
    "iterable_item_removed": "removed",
    "attribute_removed": "removed",
    "set_item_removed": "removed",
}
_SEGMENT = re.compile(r"""\[(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\]]*)\]|\.[^.\[]+""")
_LIST_ROOT = re.compile(r"^root\[(\d+)\]")


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except Exception:  # objects whose __eq__ refuses (numpy-like)
        return False


def _key(k: Any) -> str:
    return f"[{k!r}]"


def _plain(value: Any) -> Any:
    return value.materialize() if isinstance(value, LazyExt) else value


def message_id(item: Any) -> str | None:
    """A LangChain message's id (object, or its fields as a dict/Record), else None."""
    if isinstance(item, Mapping):
        mid = item.get("id")
        return mid if isinstance(mid, str) and ("type" in item or "content" in item) else None
    mid = getattr(item, "id", None)
    if isinstance(mid, str) and (hasattr(item, "type") or hasattr(item, "content")):
        return mid
    return None


def _ids(items: Sequence[Any]) -> list[str] | None:
    ids = [message_id(x) for x in items]
    if not ids or any(i is None for i in ids) or len(set(ids)) != len(ids):
        return None
    return ids  # type: ignore[return-value]


class _Differ:
    def __init__(self, opts: DiffOptions) -> None:
        self.opts = opts
        self.changes: list[Change] = []
        self.appended: dict[str, tuple[int, int]] = {}

    # -- reporting ---------------------------------------------------------------

    def ignored(self, path: str) -> bool:
        return any(r.search(path) for r in self.opts.ignore)

    def ignored_below(self, path: str, base: str) -> bool:
        """Is ``path`` or an ancestor of it below ``base`` ignored? (base already checked)"""
        if not self.opts.ignore:
            return False
        cur = base
        for m in _SEGMENT.finditer(path, len(base)):
            cur = path[: m.end()]
            if self.ignored(cur):
                return True
        return cur != path and self.ignored(path)

    def add(self, path: str, value: Any) -> None:
        self.changes.append(Change(path, "added", None, materialize(value)))

    def remove(self, path: str, value: Any) -> None:
        self.changes.append(Change(path, "removed", materialize(value), None))

    # -- walking -----------------------------------------------------------------

    def value(self, a: Any, b: Any, path: str) -> None:
        if _same(a, b):
            return
        a, b = _plain(a), _plain(b)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            self.mapping(a, b, path)
        elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            self.sequence(a, b, path)
        elif isinstance(a, (set, frozenset)) and isinstance(b, (set, frozenset)):
            self.set(a, b, path)
        elif isinstance(a, _SCALARS) or isinstance(b, _SCALARS) or type(a) is not type(b):
            if not _same(a, b):
                self.changes.append(Change(path, "changed", materialize(a), materialize(b)))
        else:
            self.deep(a, b, path)

    def mapping(self, a: Mapping[Any, Any], b: Mapping[Any, Any], path: str) -> None:
        for k, va in a.items():
            child = path + _key(k)
            if self.ignored(child):
                continue
            if k in b:
                self.value(va, b[k], child)
            else:
                self.remove(child, va)
        for k, vb in b.items():
            if k not in a:
                child = path + _key(k)
                if not self.ignored(child):
                    self.add(child, vb)

    def set(self, a: Any, b: Any, path: str) -> None:
        for item in sorted(a - b, key=repr):
            if not self.ignored(child := path + _key(item)):
                self.remove(child, item)
        for item in sorted(b - a, key=repr):
            if not self.ignored(child := path + _key(item)):
                self.add(child, item)

    def sequence(self, a: Sequence[Any], b: Sequence[Any], path: str) -> None:
        n, m = len(a), len(b)
        p, lim = 0, min(n, m)
        while p < lim and _same(a[p], b[p]):
            p += 1
        s = 0
        while s < lim - p and _same(a[n - 1 - s], b[m - 1 - s]):
            s += 1
        mid_a, mid_b = a[p : n - s], b[p : m - s]
        if not mid_a:
            if p == n:
                self.appended[path] = (n, m)
            for j, v in enumerate(mid_b):
                if not self.ignored(child := f"{path}[{p + j}]"):
                    self.add(child, v)
            return
        if not mid_b:
            for j, v in enumerate(mid_a):
                if not self.ignored(child := f"{path}[{p + j}]"):
                    self.remove(child, v)
            return
        mid_a = [_plain(x) for x in mid_a]
        mid_b = [_plain(x) for x in mid_b]
        ids_a, ids_b = _ids(mid_a), _ids(mid_b)
        if ids_a is not None and ids_b is not None:
            self.by_id(mid_a, mid_b, ids_a, ids_b, path, p)
        else:
            self.deep(mid_a, mid_b, path, offset=p)

    def by_id(
        self,
        a: list[Any],
        b: list[Any],
        ids_a: list[str],
        ids_b: list[str],
        path: str,
        offset: int,
    ) -> None:
        """Messages: same id = same message (diffed in place), others added or removed.

        Paths use B's index for added and changed messages and A's for removed ones.
        """
        pairs: list[tuple[int, int]] = []
        if self.opts.ignore_order:
            pos_b = {mid: j for j, mid in enumerate(ids_b)}
            pairs = [(i, pos_b[mid]) for i, mid in enumerate(ids_a) if mid in pos_b]
        else:
            sm = difflib.SequenceMatcher(None, ids_a, ids_b, autojunk=False)
            for block in sm.get_matching_blocks():
                pairs.extend((block.a + k, block.b + k) for k in range(block.size))
        paired_a = {i for i, _ in pairs}
        paired_b = {j for _, j in pairs}
        # In list order: removed items at A's index, added and paired ones at B's.
        events: list[tuple[int, int, int, int]] = [
            (i, 0, i, -1) for i in range(len(a)) if i not in paired_a
        ]
        events += [(j, 1, -1, j) for j in range(len(b)) if j not in paired_b]
        events += [(j, 1, i, j) for i, j in pairs]
        for _, _, i, j in sorted(events):
            child = f"{path}[{offset + (j if j >= 0 else i)}]"
            if self.ignored(child):
                continue
            if j < 0:
                self.remove(child, a[i])
            elif i < 0:
                self.add(child, b[j])
            else:
                self.value(a[i], b[j], child)

    def deep(self, a: Any, b: Any, path: str, *, offset: int | None = None) -> None:
        """DeepDiff of what is left, its paths rebased onto ``path``."""
        from deepdiff import DeepDiff

        a, b = materialize(a), materialize(b)
        try:
            tree = DeepDiff(a, b, view="tree", ignore_order=self.opts.ignore_order)
        except Exception:  # an object DeepDiff cannot walk: report it whole
            if offset is None:
                self.changes.append(Change(path, "changed", a, b))
            else:
                self.sequence_whole(a, b, path, offset)
            return
        found: list[Change] = []
        for report, levels in tree.items():
            kind = _KINDS.get(report)
            if kind is None:  # repetition_change, moves: not reported by lgtt
                continue
            for level in levels:
                local = level.path()
                if report.startswith("set_item"):
                    local += _key(level.t2 if kind == "added" else level.t1)
                full = _rebase(local, path, offset)
                if self.ignored_below(full, path):
                    continue
                found.append(
                    Change(
                        full,
                        kind,
                        None if kind == "added" else level.t1,
                        None if kind == "removed" else level.t2,
                    )
                )
        found.sort(key=lambda c: _path_key(c.path))
        self.changes.extend(found)

    def sequence_whole(self, a: list[Any], b: list[Any], path: str, offset: int) -> None:
        """Index by index, for list middles DeepDiff could not walk."""
        for j in range(max(len(a), len(b))):
            child = f"{path}[{offset + j}]"
            if self.ignored(child):
                continue
            if j >= len(a):
                self.add(child, b[j])
            elif j >= len(b):
                self.remove(child, a[j])
            elif not _same(a[j], b[j]):
                self.changes.append(Change(child, "changed", a[j], b[j]))


def _rebase(local: str, base: str, offset: int | None) -> str:
    if offset is not None and (m := _LIST_ROOT.match(local)):
        return f"{base}[{int(m.group(1)) + offset}]{local[m.end() :]}"
    return base + local[len("root") :]


def _path_key(path: str) -> tuple[tuple[int, Any], ...]:
    out: list[tuple[int, Any]] = []
    for m in _SEGMENT.finditer(path):
        seg = m.group(0)
        if seg.startswith("[") and seg[1:-1].lstrip("-").isdigit():
            out.append((0, int(seg[1:-1])))
        else:
            out.append((1, seg))
    return tuple(out)


def diff_values(a: Any, b: Any, opts: DiffOptions | None = None) -> list[Change]:
    """The changes from ``a`` to ``b`` (any decoded values), DeepDiff-notation paths."""
    return _diff(a, b, opts or DiffOptions())[0]


def _diff(a: Any, b: Any, opts: DiffOptions) -> tuple[list[Change], dict[str, tuple[int, int]]]:
    if opts.keys is not None and isinstance(a, Mapping) and isinstance(b, Mapping):
        a = {k: a[k] for k in opts.keys if k in a}
        b = {k: b[k] for k in opts.keys if k in b}
    d = _Differ(opts)
    if not d.ignored("root"):
        d.value(a, b, "root")
    return d.changes, d.appended


def top_key(path: str) -> str | None:
    """``root['count'][2]`` → ``count``."""
    try:
        first = parse_path(path)[0]
    except UsageError:
        return None
    return first if isinstance(first, str) else None


# --- states of checkpoints ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateAt:
    ref: Resolved
    row: CheckpointRow
    values: Any


def load_state(store: Store, ref: Resolved) -> StateAt:
    """A checkpoint's state, lazily decoded (extension objects stay bytes until needed)."""
    row = store.get_checkpoint(ref.thread_id, ref.checkpoint_ns, ref.checkpoint_id, lazy=True)
    if row is None:
        raise RefError(f"checkpoint {ref.checkpoint_id} of {ref.thread_id} no longer exists")
    if row.checkpoint is None:
        raise DatabaseError(
            f"checkpoint {ref.label()} ({ref.checkpoint_id}) cannot be decoded: {row.unreadable}",
            "its neighbours may be readable: see `lgtt timeline`",
        )
    return StateAt(ref, row, ch.state_values(row.checkpoint))


def _with_defaults(store: Store, state: StateAt, other: Any) -> Any:
    """Reducer keys LangGraph shows at their empty value where nothing was stored.

    As ``lgtt show`` does; only looked up (a scan of the thread) when the other side
    has keys this one lacks.
    """
    values = state.values
    if not isinstance(values, dict) or not isinstance(other, dict) or set(other) <= set(values):
        return values
    from lgtt.checkpoints import scan_thread

    scan = scan_thread(store, state.ref.thread_id, state.ref.checkpoint_ns, state.ref.ids)
    return scan.values_with_defaults(state.ref.checkpoint_id, values)


def _check_keys(opts: DiffOptions, a: Any, b: Any, labels: tuple[str, str]) -> None:
    if opts.keys is None:
        return
    if not isinstance(a, Mapping) or not isinstance(b, Mapping):
        raise UsageError("--keys needs states with keys; these states are single values")
    unknown = [k for k in opts.keys if k not in a and k not in b]
    if unknown:
        known = ", ".join(sorted(str(k) for k in set(a) | set(b))) or "none"
        raise UsageError(
            f"--keys names {', '.join(map(repr, unknown))}: not a state key of {labels[0]}"
            f" or {labels[1]}",
            f"state keys: {known}",
        )


def diff_checkpoints(
    store: Store, a: Resolved, b: Resolved, opts: DiffOptions | None = None
) -> StateDiff:
    """The state difference between two checkpoints (of any threads)."""
    opts = opts or DiffOptions()
    sa, sb = load_state(store, a), load_state(store, b)
    va = _with_defaults(store, sa, sb.values)
    vb = _with_defaults(store, sb, sa.values)
    _check_keys(opts, va, vb, (a.label(), b.label()))
    changes, appended = _diff(va, vb, opts)
    return StateDiff("checkpoints", a, b, tuple(changes), appended=appended)


# --- threads against threads ----------------------------------------------------------


def main_line(ids: Sequence[tuple[str, str | None]], head: int) -> list[int]:
    """Indexes of the checkpoints from the root to ``head`` following parent ids."""
    index_of = {cid: i for i, (cid, _) in enumerate(ids)}
    out: list[int] = []
    seen: set[int] = set()
    cur: int | None = head
    while cur is not None and cur not in seen:
        seen.add(cur)
        out.append(cur)
        parent = ids[cur][1]
        cur = index_of.get(parent) if parent else None
    out.reverse()
    return out


def walk(
    store: Store, ref: Resolved, indexes: Sequence[int], *, batch: int = 16
) -> Iterator[tuple[CheckpointSummary, Any, Any]]:
    """Summary, lazily decoded state and input (``source: input`` checkpoints' ``__start__``
    value, else None) of each checkpoint of ``indexes``, in order.

    Reads a few checkpoints at a time, so two walks can run side by side on one
    connection with bounded memory.
    """
    from lgtt.checkpoints import Summarizer, group_writes

    writes = store.writes(ref.thread_id, ref.checkpoint_ns, values=False)
    summarizer = Summarizer(
        store, ref.thread_id, ref.checkpoint_ns, ref.ids, group_writes(writes), lazy=True
    )
    for i in range(0, len(indexes), batch):
        wanted = [ref.ids[j][0] for j in indexes[i : i + batch]]
        rows = list(store.iter_checkpoints(ref.thread_id, ref.checkpoint_ns, ids=wanted, lazy=True))
        for row in rows:
            cp = row.checkpoint
            values = ch.state_values(cp) if cp is not None else None
            given = None
            if cp is not None and row.metadata.get("source") == "input":
                given = (cp.get("channel_values") or {}).get(ch.START)
            yield summarizer.summarize(row), values, given


def _names(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "nothing"


def _compare_step(
    a: tuple[CheckpointSummary, Any, Any],
    b: tuple[CheckpointSummary, Any, Any],
    opts: DiffOptions,
) -> tuple[list[str], list[str], tuple[str, ...]]:
    """(aspects, reason parts, differing keys) of one aligned pair of checkpoints."""
    (sa, va, ia), (sb, vb, ib) = a, b
    aspects: list[str] = []
    reasons: list[str] = []
    keys: tuple[str, ...] = ()
    if ia is not None or ib is not None:
        inputs = _diff(ia, ib, DiffOptions(ignore=opts.ignore, ignore_order=opts.ignore_order))[0]
        if inputs:
            aspects.append("input")
            first = inputs[0]
            reasons.append(f"different input: {first.path} {_brief_change(first)}")
    if sa.ran != sb.ran:
        aspects.append("ran")
        reasons.append(f"different node ran: a ran {_names(sa.ran)}, b ran {_names(sb.ran)}")
    if (va is None) != (vb is None):
        aspects.append("state")
        side = "a" if va is None else "b"
        reasons.append(f"{side}'s checkpoint cannot be decoded")
    elif va is not None:
        changes, _ = _diff(va, vb, opts)
        if changes:
            aspects.append("state")
            keys = tuple(dict.fromkeys(k for c in changes if (k := top_key(c.path)) is not None))
            first = changes[0]
            more = f" (and {len(changes) - 1} more)" if len(changes) > 1 else ""
            reasons.append(
                f"different state in {', '.join(keys) or 'the state'}:"
                f" {first.path} {_brief_change(first)}{more}"
            )
    if sa.next != sb.next:
        aspects.append("next")
        reasons.append(f"different next: a → {_names(sa.next)}, b → {_names(sb.next)}")
    if aspects and sa.source != sb.source:
        reasons.append(f"sources: a {sa.source}, b {sb.source}")
    return aspects, reasons, keys


def _brief_change(c: Change, limit: int = 40) -> str:
    from lgtt.jsonable import to_jsonable

    def short(v: Any) -> str:
        import json

        text = json.dumps(to_jsonable(v), ensure_ascii=False, default=str)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    if c.kind == "added":
        return f"added {short(c.new)}"
    if c.kind == "removed":
        return f"removed {short(c.old)}"
    return f"{short(c.old)} → {short(c.new)}"


def align_threads(
    store: Store, a: Resolved, b: Resolved, opts: DiffOptions
) -> tuple[Divergence | None, int, int]:
    """Walk both main lines (root → head) in step; the first point where they differ.

    Returns ``(divergence or None, length of a's main line, length of b's)``.
    """
    line_a, line_b = main_line(a.ids, a.index), main_line(b.ids, b.index)
    walk_a, walk_b = walk(store, a, line_a), walk(store, b, line_b)
    last: dict[str, CheckpointSummary] = {}
    for pos, (step_a, step_b) in enumerate(zip(walk_a, walk_b, strict=False)):
        sa, sb = step_a[0], step_b[0]
        last = {"a": sa, "b": sb}
        aspects, reasons, keys = _compare_step(step_a, step_b, opts)
        if aspects:
            divergence = Divergence(
                position=pos,
                a_index=sa.index,
                b_index=sb.index,
                a_checkpoint_id=sa.checkpoint_id,
                b_checkpoint_id=sb.checkpoint_id,
                aspects=tuple(aspects),
                reason="; ".join(reasons),
                keys=keys,
                a_summary=sa,
                b_summary=sb,
            )
            return divergence, len(line_a), len(line_b)
    if len(line_a) == len(line_b):
        return None, len(line_a), len(line_b)
    # One main line is a prefix of the other: they part where the shorter one ends.
    n = min(len(line_a), len(line_b))
    shorter, longer = ("a", "b") if len(line_a) < len(line_b) else ("b", "a")
    lref, lline = (b, line_b) if longer == "b" else (a, line_a)
    sref = a if shorter == "a" else b
    nxt = next(walk(store, lref, [lline[n]]))[0]
    end = last[shorter]
    what = f"ran {_names(nxt.ran)}" if nxt.ran else f"source {nxt.source}"
    reason = (
        f"{shorter} ends at {sref.thread_id}@{end.index} while {longer} goes on to"
        f" {lref.thread_id}@{nxt.index} ({what})"
    )
    sides = {shorter: end, longer: nxt}
    divergence = Divergence(
        position=n,
        a_index=sides["a"].index,
        b_index=sides["b"].index,
        a_checkpoint_id=sides["a"].checkpoint_id,
        b_checkpoint_id=sides["b"].checkpoint_id,
        aspects=("length",),
        reason=reason,
        a_summary=sides["a"],
        b_summary=sides["b"],
    )
    return divergence, len(line_a), len(line_b)


def diff_threads(
    store: Store, a: Resolved, b: Resolved, opts: DiffOptions | None = None
) -> StateDiff:
    """Two threads: where their main lines first part, then their heads' difference."""
    opts = opts or DiffOptions()
    sa, sb = load_state(store, a), load_state(store, b)
    va = _with_defaults(store, sa, sb.values)
    vb = _with_defaults(store, sb, sa.values)
    _check_keys(opts, va, vb, (a.thread_id, b.thread_id))
    divergence, len_a, len_b = align_threads(store, a, b, opts)
    changes, appended = _diff(va, vb, opts)
    return StateDiff(
        "threads",
        a,
        b,
        tuple(changes),
        divergence=divergence,
        appended=appended,
        a_length=len_a,
        b_length=len_b,
    )


def diff_refs(
    store: Store, a: str, b: str, *, ns: str = "", opts: DiffOptions | None = None
) -> StateDiff:
    """``lgtt diff A B``: two bare, different thread ids compare as threads; else checkpoints."""
    ta, sel_a = split_ref(a, store)
    tb, sel_b = split_ref(b, store)
    ra, rb = resolve(store, a, ns=ns), resolve(store, b, ns=ns)
    if sel_a is None and sel_b is None and ta != tb:
        return diff_threads(store, ra, rb, opts)
    return diff_checkpoints(store, ra, rb, opts)
