"""Loading the user's graph and binding it to the opened database.

``--graph`` takes:

- ``path/to/file.py:attr`` — the file is loaded by path, its directory put on
  ``sys.path`` (so it can import its siblings); ``path/to/file.py`` alone means
  ``path/to/file.py:graph``;
- ``package.module:attr`` — imported from the current directory or the environment;
- ``NAME`` — a graph named in ``./langgraph.json`` (``{"graphs": {"agent": "./agent.py:graph"}}``),
  as the LangGraph CLI names them.

The attribute may be a compiled graph (``CompiledStateGraph``, any ``Pregel``), an
uncompiled ``StateGraph`` builder, or a function returning either — called with no
argument, or with a ``RunnableConfig`` when it takes one argument (the LangGraph CLI
convention; a single parameter named ``checkpointer`` gets ``None``: lgtt binds its own).

Whatever checkpointer the module compiled the graph with, :meth:`LoadedGraph.bind`
returns a copy bound to lgtt's saver on the database given by ``--db`` (same nodes,
interrupts, store and options; the module's serializer is kept, so custom or encrypted
serde still reads its own blobs).

This is the only place lgtt runs user code; read commands never import it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from lgtt.errors import GraphError, UsageError

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.pregel import Pregel

DEFAULT_ATTR = "graph"
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True, slots=True)
class GraphSpec:
    """A parsed ``--graph`` value: a file or a module, and an attribute."""

    text: str
    attr: str
    path: Path | None = None
    module: str | None = None

    @property
    def where(self) -> str:
        return str(self.path) if self.path is not None else str(self.module)


@dataclass(frozen=True)
class LoadedGraph:
    """The user's graph, compiled, not yet bound to a database."""

    spec: GraphSpec
    graph: Pregel

    @property
    def nodes(self) -> list[str]:
        return [n for n in self.graph.nodes if not n.startswith("__")]

    @property
    def state_keys(self) -> list[str] | None:
        """The graph's state keys, or None when it is not a ``StateGraph``."""
        builder = getattr(self.graph, "builder", None)
        channels = getattr(builder, "channels", None)
        if not isinstance(channels, dict):
            return None
        return [k for k in channels if not k.startswith("__")]

    @property
    def serde(self) -> Any:
        """The serializer of the checkpointer the module compiled with, if any."""
        from langgraph.checkpoint.base import BaseCheckpointSaver

        cp = self.graph.checkpointer
        return cp.serde if isinstance(cp, BaseCheckpointSaver) else None

    def bind(self, saver: BaseCheckpointSaver[Any]) -> Pregel:
        """A copy of the graph that checkpoints into ``saver``."""
        return self.graph.copy(update={"checkpointer": saver})


def parse_spec(text: str, *, cwd: Path | None = None) -> GraphSpec:
    """``file.py:attr`` / ``pkg.mod:attr`` / ``file.py`` / a langgraph.json name → GraphSpec."""
    from lgtt.config import langgraph_graphs

    text = text.strip()
    if not text:
        raise UsageError("empty --graph", "write path/to/file.py:attr or package.module:attr")
    base = cwd or Path.cwd()
    target, attr = _split(text)
    if attr is None and not target.endswith(".py"):
        names = langgraph_graphs(base)
        if text in names:
            inner = parse_spec(names[text], cwd=base)
            return GraphSpec(text=text, attr=inner.attr, path=inner.path, module=inner.module)
        known = f" (langgraph.json names: {', '.join(sorted(names))})" if names else ""
        raise UsageError(
            f"--graph {text!r} is neither a graph spec nor a name in ./langgraph.json{known}",
            f"write path/to/file.py:attr or package.module:attr;"
            f" a file alone means attribute `{DEFAULT_ATTR}`",
        )
    if not attr:
        if attr == "":
            raise UsageError(f"--graph {text!r} has nothing after ':'", "write FILE_OR_MODULE:attr")
        attr = DEFAULT_ATTR
    if not attr.isidentifier():
        raise UsageError(
            f"--graph {text!r}: {attr!r} is not an attribute name",
            "write path/to/file.py:attr or package.module:attr",
        )
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target)
        return GraphSpec(text=text, attr=attr, path=path if path.is_absolute() else base / path)
    if not _MODULE_NAME.match(target):
        raise UsageError(
            f"--graph {text!r}: {target!r} is neither a .py file nor a module name",
            "write path/to/file.py:attr or package.module:attr",
        )
    return GraphSpec(text=text, attr=attr, module=target)


def _split(text: str) -> tuple[str, str | None]:
    """Split at the last ``:`` that is not a Windows drive letter's."""
    target, sep, attr = text.rpartition(":")
    if not sep or (len(target) == 1 and target.isalpha() and attr[:1] in ("\\", "/")):
        return text, None
    if "/" in attr or "\\" in attr:  # C:\dir\file.py
        return text, None
    return target, attr


@contextlib.contextmanager
def user_code() -> Iterator[None]:
    """Run user code with its prints sent to stderr: stdout carries lgtt's output only."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def require_spec(spec: str | None, what: str) -> str:
    """The ``--graph`` value, or an error saying ``what`` needs it."""
    if not spec:
        raise UsageError(
            f"{what} needs your graph",
            "pass --graph path/to/file.py:attr, package.module:attr or a langgraph.json name;"
            " or set LGTT_GRAPH, or `graph = …` under [tool.lgtt] in pyproject.toml",
        )
    return spec


def load_graph(text: str, *, cwd: Path | None = None) -> LoadedGraph:
    """Import the module named by ``text`` and return its graph, compiled."""
    spec = parse_spec(text, cwd=cwd)
    base = cwd or Path.cwd()
    with user_code():
        module = _load_file(spec) if spec.path is not None else _import_module(spec, base)
    if not hasattr(module, spec.attr):
        found = graph_like_attrs(module)
        hint = (
            f"graph-like attributes there: {', '.join(found)}"
            if found
            else "it has no compiled graph or StateGraph at module level"
        )
        raise GraphError(f"{spec.where} has no attribute {spec.attr!r}", hint)
    obj = getattr(module, spec.attr)
    with user_code():
        return LoadedGraph(spec, _as_graph(obj, spec))


def graph_like_attrs(module: ModuleType) -> list[str]:
    """Module attributes that are compiled graphs or StateGraph builders."""
    from langgraph.graph import StateGraph
    from langgraph.pregel import Pregel

    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and isinstance(value, (Pregel, StateGraph))
    )


def _load_file(spec: GraphSpec) -> ModuleType:
    path = spec.path
    assert path is not None
    if not path.exists():
        raise GraphError(f"no file {path}", "check the path given to --graph")
    if path.is_dir():
        raise GraphError(f"{path} is a directory", "point --graph at a .py file: DIR/file.py:attr")
    path = path.resolve()
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem
    existing = sys.modules.get(name)
    if (
        not name.isidentifier()
        or (existing is not None and getattr(existing, "__file__", None) != str(path))
        or name in sys.stdlib_module_names
    ):
        safe = re.sub(r"\W", "_", path.stem)
        name = f"_lgtt_graph_{abs(hash(str(path))):x}_{safe}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise GraphError(f"cannot load {path} as Python", "pass a .py file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        raise _import_failed(str(path), exc) from exc
    return module


def _import_module(spec: GraphSpec, cwd: Path) -> ModuleType:
    name = spec.module
    assert name is not None
    if str(cwd) not in sys.path:
        sys.path.insert(0, str(cwd))
    try:
        found = importlib.util.find_spec(name)
    except ModuleNotFoundError as exc:  # a parent package is missing
        raise GraphError(
            f"no module named {exc.name or name!r}",
            "check --graph, run lgtt from your project's directory, or install the package",
        ) from None
    except (Exception, SystemExit) as exc:  # a parent package raised on import
        raise _import_failed(name, exc) from exc
    if found is None:
        raise GraphError(
            f"no module named {name!r}",
            "check --graph, run lgtt from your project's directory, or install the package",
        )
    try:
        return importlib.import_module(name)
    except (Exception, SystemExit) as exc:
        raise _import_failed(name, exc) from exc


def _import_failed(where: str, exc: BaseException) -> GraphError:
    detail = str(exc).splitlines()[0] if str(exc) else ""
    what = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return GraphError(
        f"importing {where} raised {what}",
        "fix the module; rerun with --debug for the traceback",
    )


def _as_graph(obj: Any, spec: GraphSpec, *, called: bool = False) -> Pregel:
    from langgraph.graph import StateGraph
    from langgraph.pregel import Pregel

    label = f"{spec.where}:{spec.attr}"
    if isinstance(obj, Pregel):
        return obj
    if isinstance(obj, StateGraph):
        try:
            return obj.compile()
        except Exception as exc:
            raise GraphError(
                f"compiling the StateGraph {label} raised {type(exc).__name__}: {exc}",
                "fix the graph",
            ) from exc
    if not called and callable(obj) and not isinstance(obj, type):
        return _as_graph(_call_factory(obj, label), spec, called=True)
    what = "returned" if called else "is"
    if called and (hasattr(obj, "__enter__") or hasattr(obj, "__aenter__")):
        raise GraphError(
            f"{label}() returned a context manager",
            "lgtt takes a graph or a function returning one: expose the graph itself",
        )
    raise GraphError(
        f"{label} {what} a {type(obj).__module__}.{type(obj).__qualname__}, not a LangGraph graph",
        "point --graph at a compiled graph, a StateGraph, or a function returning one",
    )


def _call_factory(func: Any, label: str) -> Any:
    try:
        params = [
            p
            for p in inspect.signature(func).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    required = [p for p in params if p.default is p.empty]
    args: tuple[Any, ...]
    if not required:
        args = ()
    elif len(required) == 1 and required[0].kind != required[0].KEYWORD_ONLY:
        # LangGraph CLI convention: a one-argument factory gets the run's config.
        # make_graph(checkpointer) factories get None: lgtt binds its own saver.
        args = (None,) if required[0].name == "checkpointer" else ({"configurable": {}},)
    else:
        names = ", ".join(p.name for p in required)
        raise GraphError(
            f"{label} is a function of ({names})",
            "lgtt calls graph factories with no argument or one `config`: point --graph at "
            "the graph itself or such a factory",
        )
    try:
        result = func(*args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except (Exception, SystemExit) as exc:
        raise GraphError(
            f"calling {label}() raised {type(exc).__name__}: {exc}",
            "fix the factory; rerun with --debug for the traceback",
        ) from exc
    return result
