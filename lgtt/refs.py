"""The checkpoint reference grammar and its resolution.

- ``THREAD`` — the thread's head (its latest checkpoint);
- ``THREAD@N`` — index N, 0 = oldest, in creation (checkpoint id) order; ``@-1`` the head;
- ``THREAD@ID`` — a full checkpoint id or a prefix unique in the thread.

A thread id may itself contain ``@``: a reference that names an existing thread
exactly is that thread; otherwise the text after the last ``@`` is the selector.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Container, Sequence
from dataclasses import dataclass

from lgtt.errors import RefError, UsageError
from lgtt.store.base import Store

_INT = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True, slots=True)
class Resolved:
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    index: int
    #: every (checkpoint_id, parent_id) of the namespace, oldest first
    ids: tuple[tuple[str, str | None], ...]

    @property
    def parent_id(self) -> str | None:
        return self.ids[self.index][1]

    def label(self) -> str:
        ns = f" [{self.checkpoint_ns}]" if self.checkpoint_ns else ""
        return f"{self.thread_id}@{self.index}{ns}"


def split_ref(text: str, known_threads: Container[str] | None = None) -> tuple[str, str | None]:
    """``"t1@3"`` → ``("t1", "3")``; ``"t1"`` → ``("t1", None)``.

    ``known_threads`` (a Store, or any container of thread ids) lets a thread id that
    contains ``@`` name itself.
    """
    if not text:
        raise UsageError("empty reference", "write THREAD, THREAD@N or THREAD@CHECKPOINT_ID")
    if known_threads is not None and text in known_threads:
        return text, None
    if "@" not in text:
        return text, None
    thread, _, selector = text.rpartition("@")
    if not thread:
        raise UsageError(f"reference {text!r} has no thread", "write THREAD@N")
    if not selector:
        raise UsageError(f"reference {text!r} has nothing after '@'", "write THREAD@N or THREAD@ID")
    return thread, selector


def _unknown_thread(store: Store, thread: str) -> RefError:
    close = difflib.get_close_matches(thread, sorted(store.thread_ids()), n=3)
    hint = f"did you mean {', '.join(close)}?" if close else "run `lgtt threads` to list them"
    return RefError(f"no thread {thread!r} in {store.display}", hint)


def select(ids: list[tuple[str, str | None]], selector: str | None, *, label: str) -> int:
    """The index a selector picks among a thread's checkpoint ids."""
    n = len(ids)
    if selector is None:
        return n - 1
    if _INT.match(selector):
        i = int(selector)
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise RefError(
                f"{label}@{selector} is out of range: {label} has {n} checkpoint"
                f"{'s' if n != 1 else ''} (0 to {n - 1}, or -1 to -{n})"
            )
        return j
    sel = selector.lower()
    matches = [i for i, (cid, _) in enumerate(ids) if cid.lower().startswith(sel)]
    if not matches:
        raise RefError(
            f"no checkpoint of {label} has an id starting with {selector!r}",
            f"run `lgtt timeline {label}` to see ids and indexes",
        )
    if len(matches) > 1:
        raise RefError(
            f"{selector!r} is ambiguous in {label}: it starts {len(matches)} checkpoint ids",
            "give more characters of the id, or use THREAD@INDEX",
        )
    return matches[0]


def resolve(store: Store, text: str, *, ns: str = "") -> Resolved:
    """Resolve ``THREAD[@SELECTOR]`` to one checkpoint of the given namespace."""
    thread, selector = split_ref(text, store)
    if thread not in store:
        raise _unknown_thread(store, thread)
    return resolve_in(store, thread, selector, ns=ns)


def resolve_in(store: Store, thread: str, selector: str | None, *, ns: str = "") -> Resolved:
    ids = store.checkpoint_ids(thread, ns)
    if not ids:
        spaces = [s for s in store.namespaces(thread) if s]
        hint = f"namespaces: {', '.join(spaces[:5])}" if spaces else "run `lgtt threads`"
        where = f" in namespace {ns!r}" if ns else ""
        raise RefError(f"thread {thread!r} has no checkpoints{where}", hint)
    idx = select(ids, selector, label=thread)
    return Resolved(thread, ns, ids[idx][0], idx, tuple(ids))


def resolve_from(store: Store, thread: str, text: str, *, ns: str = "") -> Resolved:
    """``--from`` takes ``N``, ``-N``, an id (prefix), or a full ``THREAD@…``."""
    if "@" in text and not _INT.match(text):
        return resolve(store, text, ns=ns)
    return resolve_in(store, thread, text, ns=ns)


def resolve_thread(store: Store, thread: str | None) -> tuple[str, bool]:
    """The thread to use; with none given, the most recently updated one.

    Returns ``(thread_id, guessed)`` so the CLI can say on stderr which it chose.
    """
    if thread:
        if thread not in store:
            raise _unknown_thread(store, thread)
        return thread, False
    heads = store.threads()
    if not heads:
        raise RefError(
            f"{store.display} has no threads", "run a graph with this checkpointer first"
        )
    latest = max(heads, key=lambda h: (h.head_id, h.thread_id))
    return latest.thread_id, True


def short_len(ids: Sequence[str], minimum: int = 8) -> int:
    """Shortest prefix length that keeps every id of a thread unique (like git): the
    timeline's short ids are references that resolve."""
    s = sorted(ids)
    need = minimum
    for a, b in itertools.pairwise(s):
        common = 0
        for x, y in zip(a, b, strict=False):
            if x != y:
                break
            common += 1
        need = max(need, common + 1)
    return min(need, max((len(i) for i in ids), default=minimum))
