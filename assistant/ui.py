"""Web UI (Gradio): a chat that answers with cited passages.

Formatting lives in pure functions so tests can check it without a server.
"""

from __future__ import annotations

import html

import gradio as gr

from .config import Settings
from .schema import Answer


def render_answer(answer: Answer) -> str:
    """Markdown for one answer: the text, then its numbered sources with quotes."""
    parts = [html.escape(answer.answer)]
    cites = answer.citations or answer.related
    if cites:
        parts.append(
            "\n**Sources**" if answer.citations else "\n**Related passages (not an answer)**"
        )
    for c in cites:
        parts.append(
            f"\n[{c.marker}] *{html.escape(c.title)}*, paragraph {c.paragraph}: "
            f"“{html.escape(c.quote)}”"
        )
    return "\n".join(parts)


def build_app(assistant) -> gr.Blocks:
    """The Blocks app around an ``Assistant``."""
    with gr.Blocks(title="News assistant") as demo:
        gr.Markdown("Ask about the indexed news articles. Every answer cites its passages.")
        chat = gr.Chatbot(label="Chat")
        box = gr.Textbox(label="Question", placeholder="What did Putin say about South Korea?")

        def respond(question: str, history: list):
            answer = assistant.ask(question)
            history = [
                *history,
                {"role": "user", "content": question},
                {"role": "assistant", "content": render_answer(answer)},
            ]
            return "", history

        box.submit(respond, [box, chat], [box, chat])
    return demo


def launch(settings: Settings) -> None:
    """Build the assistant and serve the UI on ``settings.host:settings.port``."""
    from .service import Assistant

    demo = build_app(Assistant(settings))
    demo.queue().launch(server_name=settings.host, server_port=settings.port)
