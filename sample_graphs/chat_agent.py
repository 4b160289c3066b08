"""A tool-calling chat agent over LangChain messages, with a scripted (fake) model.

The classic agent loop: ``agent`` asks the model; if the reply contains tool calls,
``tools_condition`` routes to the prebuilt ``ToolNode``, which runs them and returns
to ``agent``; otherwise the run ends. ``messages`` uses the ``add_messages`` reducer,
so invoking the thread again with a new ``HumanMessage`` continues the conversation.

``ScriptedChatModel`` stands in for a real chat model (swap in e.g. ``ChatOpenAI``):
it answers from the conversation alone, so runs are deterministic, and it gives its
messages stable ids (``ai-1``, ``ai-2``…) instead of random ones. The tool returns a
``ToolMessage`` with a stable id too; ``add_messages`` would give any message
without an id a random uuid.

    python sample_graphs/chat_agent.py [db_path] [thread_id]
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool, InjectedToolCallId, tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition

WEATHER = {"paris": "18°C and sunny", "berlin": "12°C and cloudy", "tokyo": "22°C and clear"}


@tool
def get_weather(city: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> ToolMessage:
    """Return the current weather in a city."""
    report = WEATHER.get(city.lower(), "no data")
    # Returning a ToolMessage (rather than a string) lets us choose its id.
    return ToolMessage(
        f"{city}: {report}",
        name="get_weather",
        tool_call_id=tool_call_id,
        id=f"tool-{tool_call_id}",
    )


class ScriptedChatModel(BaseChatModel):
    """A deterministic stand-in for an LLM.

    * last message is a tool result -> answer with it;
    * last message names a known city -> call ``get_weather`` for it;
    * otherwise -> a polite canned reply.
    """

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self  # the script already knows its one tool

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        n = sum(isinstance(m, AIMessage) for m in messages) + 1  # this is AI message n
        last = messages[-1]
        city = next((c for c in WEATHER if c in str(last.content).lower()), None)
        if isinstance(last, ToolMessage):
            reply = AIMessage(f"Here is the weather: {last.content}.", id=f"ai-{n}")
        elif city:
            call = {"name": "get_weather", "args": {"city": city.title()}, "id": f"call-{n}"}
            reply = AIMessage("", tool_calls=[call], id=f"ai-{n}")
        else:
            reply = AIMessage("You're welcome! Ask me about the weather anytime.", id=f"ai-{n}")
        return ChatResult(generations=[ChatGeneration(message=reply)])


class ChatState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


tools = [get_weather]
model = ScriptedChatModel().bind_tools(tools)


def agent(state: ChatState) -> dict[str, Any]:
    """Ask the model for the next message (an answer or a tool call)."""
    return {"messages": [model.invoke(state["messages"])]}


builder = StateGraph(ChatState)
builder.add_node("agent", agent)
builder.add_node("tools", ToolNode(tools))
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", tools_condition)  # -> "tools" or END
builder.add_edge("tools", "agent")

graph = builder.compile()


def make_graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    """The graph compiled with a checkpointer: a thread remembers its conversation."""
    return builder.compile(checkpointer=checkpointer)


def initial_input(text: str = "What's the weather in Paris?", turn: int = 1) -> ChatState:
    """The input for user turn ``turn``: one HumanMessage with a stable id."""
    return {"messages": [HumanMessage(text, id=f"human-{turn}")]}


INITIAL = initial_input()
SECOND_TURN = initial_input("Thanks!", turn=2)


if __name__ == "__main__":
    from langgraph.checkpoint.sqlite import SqliteSaver

    db_path = sys.argv[1] if len(sys.argv) > 1 else "chat_agent.sqlite"
    thread_id = sys.argv[2] if len(sys.argv) > 2 else "chat-1"
    app = make_graph(SqliteSaver(sqlite3.connect(db_path, check_same_thread=False)))
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}

    app.invoke(INITIAL, config)  # turn 1: tool call, tool result, answer
    result = app.invoke(SECOND_TURN, config)  # turn 2: same thread, history is restored
    for message in result["messages"]:
        print(f"  {message.id:>12} {message.type:>5}: {message.content or message.tool_calls}")
