"""Settings from the current directory: ``[tool.lgtt]`` in pyproject.toml, langgraph.json."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from lgtt.errors import UsageError


def project_settings(cwd: Path | None = None) -> dict[str, Any]:
    """``[tool.lgtt]`` of ./pyproject.toml (``db``, ``graph``), or {}."""
    path = (cwd or Path.cwd()) / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(
            f"cannot read {path}: {exc}", "fix the file or pass --db/--graph"
        ) from None
    section = data.get("tool", {}).get("lgtt", {})
    return section if isinstance(section, dict) else {}


def langgraph_graphs(cwd: Path | None = None) -> dict[str, str]:
    """Graph names → specs from ./langgraph.json (``{"graphs": {"agent": "./a.py:graph"}}``)."""
    path = (cwd or Path.cwd()) / "langgraph.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read {path}: {exc}", "fix langgraph.json or pass --graph"
        ) from None
    graphs = data.get("graphs", {}) if isinstance(data, dict) else {}
    out: dict[str, str] = {}
    for name, spec in graphs.items() if isinstance(graphs, dict) else []:
        if isinstance(spec, str):
            out[str(name)] = spec
        elif isinstance(spec, dict) and isinstance(spec.get("path"), str):
            out[str(name)] = spec["path"]
    return out
