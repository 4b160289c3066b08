"""Tutorial example 4: production-style business logic with an audit trail.

An order goes ``validate -> price -> decide``; an invalid order goes
``validate -> reject`` instead. The order is a **pydantic model** (``Order``), stored
in the checkpoints like any other value, and the whole state is a pydantic model
too: LangGraph validates every node's input against it, so even an order read back
from a checkpoint as a plain dict (see ``LANGGRAPH_STRICT_MSGPACK``) arrives in the
nodes as an ``Order``. Every node appends one entry to
``audit_trail`` (reducer ``operator.add``), so the final state tells who did what.

The only wall-clock values are the audit entries' ``timestamp``.

    python sample_graphs/business.py [db_path] [thread_id]
"""

from __future__ import annotations

import operator
import sqlite3
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, Field

AUTO_APPROVE_LIMIT = 1000.0  # orders above this total need a manager
DISCOUNT_RATE = 0.10  # for orders of 10 units or more


class LineItem(BaseModel):
    sku: str
    quantity: int = Field(gt=0)
    unit_price: float = Field(ge=0)


class Order(BaseModel):
    order_id: str
    customer_id: str
    items: list[LineItem]
    currency: str = "EUR"


class BusinessState(BaseModel):
    order: Order
    operator_id: str
    validation_errors: list[str] = []
    pricing: dict[str, float] = {}
    decision: str = ""  # "approved", "needs_review" or "rejected"
    audit_trail: Annotated[list[dict[str, Any]], operator.add] = []


def audit(state: BusinessState, action: str, **details: Any) -> list[dict[str, Any]]:
    """One audit entry, as a one-element list for the operator.add reducer."""
    entry = {
        "seq": len(state.audit_trail) + 1,
        "action": action,
        "order_id": state.order.order_id,
        "operator_id": state.operator_id,
        "details": details,
        "timestamp": datetime.now(UTC).isoformat(),  # wall clock
    }
    return [entry]


def validate(state: BusinessState) -> dict[str, Any]:
    """Business rules that pydantic's field checks do not cover."""
    order = state.order
    errors = []
    if not order.items:
        errors.append("order has no items")
    if order.currency not in {"EUR", "USD"}:
        errors.append(f"unsupported currency {order.currency}")
    return {
        "validation_errors": errors,
        "audit_trail": audit(state, "validated", errors=len(errors)),
    }


def route_after_validation(state: BusinessState) -> str:
    return "reject" if state.validation_errors else "price"


def price(state: BusinessState) -> dict[str, Any]:
    """Compute subtotal, volume discount and total (rounded to cents)."""
    items = state.order.items
    subtotal = round(sum(i.quantity * i.unit_price for i in items), 2)
    units = sum(i.quantity for i in items)
    discount = round(subtotal * DISCOUNT_RATE, 2) if units >= 10 else 0.0
    pricing = {"subtotal": subtotal, "discount": discount, "total": round(subtotal - discount, 2)}
    return {"pricing": pricing, "audit_trail": audit(state, "priced", **pricing)}


def decide(state: BusinessState) -> dict[str, Any]:
    """Approve small orders automatically; flag the others for a manager."""
    total = state.pricing["total"]
    decision = "approved" if total <= AUTO_APPROVE_LIMIT else "needs_review"
    return {
        "decision": decision,
        "audit_trail": audit(state, "decided", decision=decision, limit=AUTO_APPROVE_LIMIT),
    }


def reject(state: BusinessState) -> dict[str, Any]:
    return {
        "decision": "rejected",
        "audit_trail": audit(state, "rejected", reasons=state.validation_errors),
    }


builder = StateGraph(BusinessState)
builder.add_node("validate", validate)
builder.add_node("price", price)
builder.add_node("decide", decide)
builder.add_node("reject", reject)
builder.add_edge(START, "validate")
builder.add_conditional_edges("validate", route_after_validation, ["price", "reject"])
builder.add_edge("price", "decide")
builder.add_edge("decide", END)
builder.add_edge("reject", END)

graph = builder.compile()


def make_graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    """The graph compiled with a checkpointer, so every step is saved."""
    return builder.compile(checkpointer=checkpointer)


def initial_input(order_id: str = "order-7", quantity: int = 12) -> dict[str, Any]:
    """An order of two products; 12 units earn the volume discount."""
    order = Order(
        order_id=order_id,
        customer_id="cust-001",
        items=[
            LineItem(sku="KB-01", quantity=quantity, unit_price=49.90),
            LineItem(sku="MS-02", quantity=2, unit_price=19.50),
        ],
    )
    return {"order": order, "operator_id": "op-alice"}


INITIAL = initial_input()


if __name__ == "__main__":
    from langgraph.checkpoint.sqlite import SqliteSaver

    db_path = sys.argv[1] if len(sys.argv) > 1 else "business.sqlite"
    thread_id = sys.argv[2] if len(sys.argv) > 2 else "orders-7"
    app = make_graph(SqliteSaver(sqlite3.connect(db_path, check_same_thread=False)))
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}

    result = app.invoke(INITIAL, config)
    print(f"[{thread_id}] {result['order'].order_id}: {result['decision']} {result['pricing']}")
    for entry in result["audit_trail"]:
        print(f"  audit #{entry['seq']}: {entry['action']} {entry['details']}")
