"""The series graph's topology: director → (bible review) → reference sheets → writer → (script review) →
cinematographer → shots (Send fan-out in waves, one render/QC node per shot; graphs/shots.py) → the episode's QC loop →
voices → clips (Send fan-out per shot, where a video backend is configured; graphs/clips.py) → assemble → next
episode or summary.

Backends are not in the state: they arrive as the run's context (`Runtime[AgentContext]`), so the same graph runs
on the embedded CPU default, on GPU backends, on Ray workers, or on fakes in tests, chosen by configuration.
State: graphs/state.py; nodes: graphs/nodes.py, shots.py, clips.py, references.py; policy: graphs/policy.py.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from dramafactory.agents.context import AgentContext

from .clips import clip, fan_out_clips
from .nodes import assemble, cinematographer, director, review_bible, review_script, summary, voices, writer
from .policy import TRANSIENT, next_episode
from .references import reference_sheets
from .shots import fan_out_shots, retry_or_review, review_shots, review_takes, shot
from .state import SeriesState


def build_series_graph() -> StateGraph:
    graph = StateGraph(SeriesState, context_schema=AgentContext)
    graph.add_node("director", director, retry_policy=TRANSIENT)
    graph.add_node("writer", writer, retry_policy=TRANSIENT)
    graph.add_node("cinematographer", cinematographer, retry_policy=TRANSIENT)
    graph.add_node("shot", shot, retry_policy=TRANSIENT)
    graph.add_node("review_takes", review_takes)
    graph.add_node("review_shots", review_shots, destinations=("shot", "voices"))
    graph.add_node("review_bible", review_bible, destinations=("director", "references"))
    graph.add_node("references", reference_sheets)
    graph.add_node("review_script", review_script, destinations=("writer", "cinematographer"))
    graph.add_node("voices", voices)
    graph.add_node("clip", clip, retry_policy=TRANSIENT)
    graph.add_node("assemble", assemble)
    graph.add_node("summary", summary)
    graph.add_edge(START, "director")
    graph.add_edge("director", "review_bible")
    graph.add_edge("writer", "review_script")
    graph.add_conditional_edges("cinematographer", fan_out_shots, ["shot"])
    graph.add_edge("shot", "review_takes")
    graph.add_conditional_edges("review_takes", retry_or_review, ["shot", "review_shots"])
    graph.add_edge("references", "writer")
    graph.add_conditional_edges("voices", fan_out_clips, ["clip", "assemble"])
    graph.add_edge("clip", "assemble")
    graph.add_conditional_edges("assemble", next_episode, ["writer", "summary"])
    graph.add_edge("summary", END)
    return graph
