"""Keeping checkpoint databases healthy: ``stats``, ``prune``, ``export`` and ``import``.

These commands work on LangGraph's rows as stored (sizes, whole threads, exact blobs),
which the read-oriented :class:`~lgtt.store.base.Store` interface does not expose, so
each backend's SQL for them lives in :mod:`lgtt.maintenance.db`, next to nothing else.

- :mod:`lgtt.maintenance.stats` — sizes, growth per step, largest checkpoints and keys;
- :mod:`lgtt.maintenance.prune` — retention: keep the last N, delete whole threads;
- :mod:`lgtt.maintenance.transfer` — a thread to and from one JSON document;
- :mod:`lgtt.maintenance.redact` — blanking state paths in an export;
- :mod:`lgtt.maintenance.rawserde` — stored blobs kept and re-packed byte for byte.
"""
