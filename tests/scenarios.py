"""Small real graphs run into a SQLite file, covering what users hit.

Each builder returns the compiled graph (bound to the saver) so tests can ask LangGraph
itself — the oracle — about the same database lgtt reads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import operator
import sqlite3
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, Send, interrupt
from pydantic import BaseModel


def saver_for(path: Path) -> SqliteSaver:
    return SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))


def cfg(thread: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, **extra}}


# --- a counter loop, then a fork made with update_state --------------------------------


class Counter(TypedDict):
    count: int
    steps: Annotated[list[str], operator.add]


def counter_graph(saver: SqliteSaver) -> Any:
    def inc(s: Counter) -> dict[str, Any]:
        return {"count": s["count"] + 1, "steps": [f"step{s['count'] + 1}"]}

    b = StateGraph(Counter)
    b.add_node("inc", inc)
    b.add_edge(START, "inc")
    b.add_conditional_edges("inc", lambda s: "inc" if s["count"] < 4 else END)
    return b.compile(checkpointer=saver)


def run_counter_with_fork(saver: SqliteSaver, thread: str = "count") -> Any:
    g = counter_graph(saver)
    g.invoke({"count": 0, "steps": []}, cfg(thread))
    history = list(g.get_state_history(cfg(thread)))
    fork_at = next(s for s in history if s.values.get("count") == 2)
    forked = g.update_state(fork_at.config, {"count": 1}, as_node="inc")
    g.invoke(None, forked)
    return g


# --- parallel branches joined, then a Send fan-out where one worker fails --------------


class MapState(TypedDict):
    items: list[int]
    results: Annotated[list[int], operator.add]
    left: str
    right: str


def fanout_graph(saver: SqliteSaver) -> Any:
    def work(s: dict[str, Any]) -> dict[str, Any]:
        if s["item"] == 2:
            raise ValueError("cannot handle item 2")
        return {"results": [s["item"] * 10]}

    def spread(s: MapState) -> list[Send]:
        return [Send("work", {"item": i}) for i in s["items"]]

    b = StateGraph(MapState)
    b.add_node("left", lambda s: {"left": "L"})
    b.add_node("right", lambda s: {"right": "R"})
    b.add_node("merge", lambda s: {"results": [0]})
    b.add_node("work", work)
    b.add_edge(START, "left")
    b.add_edge(START, "right")
    b.add_edge(["left", "right"], "merge")
    b.add_conditional_edges("merge", spread, ["work"])
    b.add_edge("work", END)
    return b.compile(checkpointer=saver)


def run_fanout(saver: SqliteSaver, thread: str = "fanout", items: list[int] | None = None) -> Any:
    g = fanout_graph(saver)
    with contextlib.suppress(ValueError):
        g.invoke({"items": items or [1, 2, 3], "results": []}, cfg(thread))
    return g


# --- human approval with interrupt(), inside a graph with a subgraph --------------------


class Approval(TypedDict):
    draft: str
    approved: bool
    notes: Annotated[list[str], operator.add]


def approval_graph(saver: SqliteSaver) -> Any:
    sub = StateGraph(Approval)
    sub.add_node(
        "polish", lambda s: {"draft": s["draft"].strip().capitalize(), "notes": ["polished"]}
    )
    sub.add_edge(START, "polish")

    def ask(s: Approval) -> dict[str, Any]:
        answer = interrupt({"question": "publish?", "draft": s["draft"]})
        return {"approved": answer == "yes", "notes": [f"answer={answer}"]}

    b = StateGraph(Approval)
    b.add_node("prepare", sub.compile())
    b.add_node("ask", ask)
    b.add_edge(START, "prepare")
    b.add_edge("prepare", "ask")
    return b.compile(checkpointer=saver)


def run_approval(saver: SqliteSaver, thread: str = "approval", resume: str | None = None) -> Any:
    g = approval_graph(saver)
    g.invoke({"draft": "  hello world ", "approved": False, "notes": []}, cfg(thread))
    if resume is not None:
        g.invoke(Command(resume=resume), cfg(thread))
    return g


# --- pydantic and dataclass values, LangChain messages ----------------------------------


class Order(BaseModel):
    sku: str
    qty: int = 1
    tags: list[str] = []


@dataclasses.dataclass
class Price:
    amount: float
    currency: str = "EUR"


class Shop(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    order: Order
    price: Price | None


def shop_graph(saver: SqliteSaver) -> Any:
    def price(s: Shop) -> dict[str, Any]:
        return {
            "price": Price(amount=9.5 * s["order"].qty),
            "messages": [
                AIMessage(content=f"{s['order'].sku} costs {9.5 * s['order'].qty}", id="ai-1")
            ],
        }

    def confirm(s: Shop) -> dict[str, Any]:
        order = s["order"].model_copy(update={"tags": [*s["order"].tags, "confirmed"]})
        return {"order": order, "messages": [AIMessage(content="confirmed", id="ai-2")]}

    b = StateGraph(Shop)
    b.add_node("price", price)
    b.add_node("confirm", confirm)
    b.add_edge(START, "price")
    b.add_edge("price", "confirm")
    return b.compile(checkpointer=saver)


def run_shop(saver: SqliteSaver, thread: str = "shop", durability: str = "async") -> Any:
    g = shop_graph(saver)
    g.invoke(
        {
            "messages": [HumanMessage(content="two widgets please", id="h-1")],
            "order": Order(sku="widget", qty=2),
            "price": None,
        },
        cfg(thread),
        durability=durability,  # type: ignore[arg-type]
    )
    return g


def run_failing(saver: SqliteSaver, thread: str = "failing") -> Any:
    class S(TypedDict):
        n: int

    def boom(s: S) -> dict[str, Any]:
        raise RuntimeError("disk full at step 2")

    b = StateGraph(S)
    b.add_node("first", lambda s: {"n": s["n"] + 1})
    b.add_node("boom", boom)
    b.add_edge(START, "first")
    b.add_edge("first", "boom")
    g = b.compile(checkpointer=saver)
    with contextlib.suppress(RuntimeError):
        g.invoke({"n": 0}, cfg(thread))
    return g


# --- the functional API, Command(goto=...), durability="exit" with a failure -----------


def run_functional(saver: SqliteSaver, thread: str, n: int) -> Any:
    from langgraph.func import entrypoint, task

    @task
    def double(x: int) -> int:
        return x * 2

    @entrypoint(checkpointer=saver)
    def workflow(start: int) -> dict[str, Any]:
        a = double(start).result()
        b = double(a).result()
        ok = interrupt({"ok?": b}) if start == 3 else "auto"
        return {"a": a, "b": b, "ok": ok}

    workflow.invoke(n, cfg(thread))
    return workflow


class Routed(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


def run_goto(saver: SqliteSaver, thread: str = "goto") -> Any:
    def router(s: Routed) -> Command[Any]:
        return Command(update={"log": ["router"]}, goto="right" if s["n"] > 0 else "left")

    b = StateGraph(Routed)
    b.add_node("router", router, destinations=("left", "right"))
    b.add_node("left", lambda s: {"log": ["L"]})
    b.add_node("right", lambda s: {"log": ["R"]})
    b.add_edge(START, "router")
    g = b.compile(checkpointer=saver)
    g.invoke({"n": 1, "log": []}, cfg(thread))
    return g


def run_exit_failure(saver: SqliteSaver, thread: str = "exit-fail") -> Any:
    def boom(s: Routed) -> dict[str, Any]:
        raise ValueError("failed at the end")

    b = StateGraph(Routed)
    b.add_node("one", lambda s: {"n": 1, "log": ["one"]})
    b.add_node("boom", boom)
    b.add_edge(START, "one")
    b.add_edge("one", "boom")
    g = b.compile(checkpointer=saver)
    with contextlib.suppress(ValueError):
        g.invoke({"n": 0, "log": []}, cfg(thread), durability="exit")
    return g


def build_all(path: Path) -> tuple[dict[str, Any], SqliteSaver]:
    """Every scenario into one database; thread id → the graph that made it (the saver
    stays open so LangGraph can be asked about the same file; close ``saver.conn``)."""
    saver = saver_for(path)
    graphs = {
        "count": run_counter_with_fork(saver),
        "fanout": run_fanout(saver),
        "approval": run_approval(saver),
        "approved": run_approval(saver, "approved", resume="yes"),
        "shop": run_shop(saver),
        "shop-exit": run_shop(saver, "shop-exit", durability="exit"),
        "failing": run_failing(saver),
        "func": run_functional(saver, "func", 2),
        "func-int": run_functional(saver, "func-int", 3),
        "goto": run_goto(saver),
        "exit-fail": run_exit_failure(saver),
    }
    return graphs, saver
