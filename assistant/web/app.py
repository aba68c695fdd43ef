"""Web UI (Gradio Blocks): a chat with checkable citations, a library and settings.

This module only wires components to ``Assistant`` methods; every piece of HTML comes
from the pure functions in ``web.format``. Chat history, follow-up context and settings
are per browser session.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder as gradio_upload_folder

from assistant.config import Settings
from assistant.dates import DateError
from assistant.library.uploads import UploadError, supported_suffixes
from assistant.locks import IndexBusyError
from assistant.schema import Answer, IndexReport
from assistant.service import Assistant, QuestionError
from assistant.web import feeds_tab
from assistant.web import format as fmt
from assistant.web.security import RequestGuard, deployment_warnings, make_auth, parse_users

log = logging.getLogger(__name__)
N_EXAMPLES = 4
MAX_SHOWN_QUESTION = 2500  # a refused, very long question is echoed only in part
MAX_HISTORY_MESSAGES = 60  # older turns are dropped so a session's payload stays bounded
STATIC = Path(__file__).with_name("static")
BUSY = "Another indexing run is writing to the library; try again when it has finished."


def _empty_context() -> dict:
    """Per-session chat context: earlier (condensed) questions and a turn counter."""
    return {"questions": [], "turns": 0}


class ChatHandlers:
    """The chat tab's callbacks, bound to one ``Assistant``."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant

    def respond(
        self,
        message: str,
        history: list,
        context: dict | None,
        k: float,
        backend: str,
        show_scores: bool,
        period: tuple[str, str] | list[str] = ("", ""),
    ) -> Iterator[tuple]:
        """Stream one answer into the chat: the question, partial text, the cited answer."""
        message = (message or "").strip()
        context = context or _empty_context()
        if not message:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        turn = f"t{context.get('turns', 0)}"  # unique per answer: anchors never collide
        history = [*history[-MAX_HISTORY_MESSAGES:], {"role": "user", "content": ""}]
        history[-1]["content"] = fmt.user_message(message[:MAX_SHOWN_QUESTION])
        pending = {"role": "assistant", "content": fmt.render_partial("")}
        yield "", [*history, pending], context, gr.update(visible=False)
        reply, asked = "", message
        try:
            self.assistant.check_question(message)  # the length cap, before any other work
            asked = self.assistant.condense(message, context.get("questions", []), backend)
            for event in self._events(asked, int(k), backend, *(period or ("", ""))):
                if isinstance(event, Answer):
                    shown_as = asked if asked != message else ""
                    reply = fmt.render_answer(event, turn, show_scores, shown_as)
                else:
                    pending["content"] = fmt.render_partial(event)
                    yield gr.skip(), [*history, pending], gr.skip(), gr.skip()
        except (QuestionError, DateError) as exc:
            reply = fmt.render_error(f"That question can't be asked: {exc}.")
        except Exception:  # the page must keep working whatever one question does
            log.exception("answering %r failed", message)
            reply = fmt.render_error("Something went wrong while answering. Please try again.")
        context = {
            "questions": [*context.get("questions", []), asked][-10:],
            "turns": context.get("turns", 0) + 1,
        }
        yield gr.skip(), [*history, {"role": "assistant", "content": reply}], context, gr.skip()

    def _events(
        self, question: str, k: int, backend: str, since: str = "", until: str = ""
    ) -> Iterator[str | Answer]:
        """Cumulative answer text, then the final Answer (falls back to extractive when the
        chosen backend cannot be loaded)."""
        note = ""
        try:
            self.assistant.answerer_for(backend)
        except Exception as exc:  # a missing model or package: say so and still answer
            note = f"The {backend} answerer is not available ({exc}); answered extractively."
            backend = "extractive"
        text = ""
        stream = self.assistant.ask_stream(question, k, backend, since, until)
        for event in stream:
            if isinstance(event, Answer):
                event.note = " ".join(filter(None, [event.note, note]))
                yield event
            else:
                text += event
                yield text

    def answer_json(
        self, question: str, k: int = 0, answerer: str = "", since: str = "", until: str = ""
    ) -> dict:
        """The JSON contract of ``assistant ask --json``, for API clients; ``since`` and
        ``until`` (YYYY-MM-DD) limit it to articles of that range."""
        final = None
        try:
            for event in self.assistant.ask_stream(
                question, k or None, answerer or None, since, until
            ):
                final = event
        except (QuestionError, ValueError) as exc:  # shown to the caller, not a server fault
            raise gr.Error(str(exc)) from None
        return final.to_json_dict()

    def new_chat(self) -> tuple:
        return [], _empty_context(), "", gr.update(visible=True)

    def check_backend(self, backend: str):
        """Load the chosen answerer now, so a missing one is reported at once."""
        try:
            self.assistant.answerer_for(backend)
        except Exception as exc:
            gr.Warning(f"The {backend} answerer is not available: {exc}")
            return gr.update(value="extractive"), fmt.notice_html(f"{backend}: {exc}", "warn")
        return gr.skip(), fmt.notice_html(f"Answering with: {backend}", "ok")


class LibraryHandlers:
    """The library tab's callbacks: list, add, re-index and remove articles."""

    def __init__(self, assistant: Assistant, read_only: bool, custom_folders: bool):
        self.assistant = assistant
        self.read_only = read_only
        self.custom_folders = custom_folders

    def _refuse_writes(self) -> None:
        if self.read_only:
            raise gr.Error("This library is read-only.")

    def refresh(self, query: str = "") -> tuple:
        """Header, table, summary, removal choices, folders, and the example questions with
        their heading."""
        sources = self.assistant.sources()
        examples = self.assistant.example_questions(N_EXAMPLES)
        buttons = [
            gr.update(value=examples[i], visible=True)
            if i < len(examples)
            else gr.update(value="", visible=False)
            for i in range(N_EXAMPLES)
        ]
        return (
            fmt.header_html(len(sources), self.read_only),
            fmt.library_table(sources, query),
            fmt.library_summary(sources),
            gr.update(choices=fmt.library_choices(sources), value=None),
            gr.update(choices=self.folders(sources)),
            fmt.examples_heading(len(sources), len(examples), self.read_only),
            *buttons,
        )

    def folders(self, sources=None) -> list[str]:
        """Folders that may be re-indexed: the uploads folder and those articles came from."""
        sources = self.assistant.sources() if sources is None else sources
        found = {str(self.assistant.upload_folder)}
        for info in sources:
            for source in info.sources or [info.source]:
                parent = Path(source).parent
                if not fmt.safe_url(source) and parent.is_dir():
                    found.add(str(parent))
        return sorted(found)

    def _progress(self, progress: gr.Progress):
        def report(done: int, total: int, path: str) -> None:
            progress((done, max(total, 1)), desc=f"Indexing {fmt.source_label(path)}")

        return report

    def add_files(self, files: list | None, progress=gr.Progress()) -> tuple:  # noqa: B008
        """Check, store and index uploaded files; report per-file outcomes."""
        self._refuse_writes()
        if not files:
            return fmt.notice_html("Choose one or more files first.", "warn"), gr.skip()
        pairs = [(path, Path(path).name) for path in _paths(files)]
        progress(0, desc="Checking files")
        try:
            report = self.assistant.add_files(pairs, self._progress(progress))
        except IndexBusyError:
            return fmt.notice_html(BUSY, "warn"), gr.skip()
        return fmt.report_html(report, "Upload"), None

    def add_text(self, title: str, text: str, progress=gr.Progress()) -> tuple:  # noqa: B008
        """Save and index pasted article text."""
        self._refuse_writes()
        try:
            report = self.assistant.add_text(text, title, self._progress(progress))
        except UploadError as exc:
            return fmt.notice_html(str(exc), "warn"), gr.skip(), gr.skip()
        except IndexBusyError:
            return fmt.notice_html(BUSY, "warn"), gr.skip(), gr.skip()
        if report.errors:
            return fmt.report_html(report, "Adding text"), gr.skip(), gr.skip()
        return fmt.report_html(report, "Adding text"), "", ""

    def reindex(self, folder: str, progress=gr.Progress()) -> str:  # noqa: B008
        """Re-index one folder: new and changed files are indexed, others left alone."""
        self._refuse_writes()
        folder = (folder or "").strip()
        allowed = self.folders()
        if not folder:
            return fmt.notice_html("Choose a folder first.", "warn")
        if folder not in allowed and not self.custom_folders:
            return fmt.notice_html(
                "Only the folders listed can be re-indexed on a shared server.", "warn"
            )
        if not Path(folder).is_dir():
            if folder == str(self.assistant.upload_folder):
                return fmt.report_html(IndexReport(), "Re-indexing")
            return fmt.notice_html(f"{folder} is not a folder on the server.", "warn")
        try:
            report = self.assistant.index([folder], self._progress(progress))
        except IndexBusyError:
            return fmt.notice_html(BUSY, "warn")
        return fmt.report_html(report, "Re-indexing")

    def ask_remove(self, doc_id: str | None) -> tuple:
        """Show the confirmation row for the chosen article."""
        self._refuse_writes()
        ids = self.assistant.match_sources(doc_id) if doc_id else []
        info = next((s for s in self.assistant.sources() if ids and s.doc_id == ids[0]), None)
        if info is None:
            return gr.update(visible=False), "", fmt.notice_html("Choose an article first.")
        question = (
            f"Remove “{info.title}”? Its {fmt.library_summary([info]).split(',')[1].strip()} "
            "will be deleted from the index (the file itself is kept)."
        )
        return gr.update(visible=True), fmt.escape(question), ""

    def remove(self, doc_id: str | None) -> tuple:
        """Remove the confirmed article."""
        self._refuse_writes()
        if not doc_id:
            return gr.update(visible=False), fmt.notice_html("Choose an article first.")
        try:
            removed = self.assistant.remove(doc_id)
        except IndexBusyError:
            return gr.update(visible=False), fmt.notice_html(BUSY, "warn")
        if not removed:
            return gr.update(visible=False), fmt.notice_html("That article is already gone.")
        return gr.update(visible=False), fmt.notice_html("Article removed.", "ok")

    def filter_table(self, query: str) -> str:
        """The library table narrowed to articles matching ``query``."""
        return fmt.library_table(self.assistant.sources(), query)


def _paths(files: list) -> list[str]:
    return [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in files]


def build_app(assistant: Assistant) -> gr.Blocks:
    """The Blocks app around an ``Assistant`` (settings come from ``assistant.settings``)."""
    s = assistant.settings
    chat = ChatHandlers(assistant)
    library = LibraryHandlers(assistant, s.read_only, custom_folders=_is_private(s))
    with gr.Blocks(title="News assistant", fill_width=False) as demo:
        header = gr.HTML(fmt.header_html(0, s.read_only), elem_id="app-head")
        context = gr.State(_empty_context())
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Chat", id="chat", elem_id="chat-tab"):
                chat_ui = _chat_tab(s)
            with gr.Tab("Library", id="library", elem_id="library-tab"):
                lib_ui = _library_tab(s)
            with gr.Tab("Settings", id="settings", elem_id="settings-tab"):
                set_ui = _settings_tab(assistant)
        _wire_chat(chat, chat_ui, set_ui, context)
        refresh_outputs = [
            header,
            lib_ui["table"],
            lib_ui["summary"],
            lib_ui["choice"],
            lib_ui["folder"],
            chat_ui["examples_heading"],
            *chat_ui["examples"],
        ]
        demo.load(
            library.refresh,
            lib_ui["filter"],
            refresh_outputs,
            api_name="refresh",
            show_progress="hidden",
        )
        lib_ui["filter"].change(
            library.filter_table,
            lib_ui["filter"],
            lib_ui["table"],
            api_name=False,
            show_progress="hidden",
            queue=False,
        )
        _wire_library(library, lib_ui, refresh_outputs, s.read_only)
        feeds = feeds_tab.FeedHandlers(assistant, s.read_only)
        feeds_tab.wire(
            demo, feeds, lib_ui["feeds"], (library.refresh, lib_ui["filter"], refresh_outputs)
        )
        set_ui["backend"].change(
            chat.check_backend, set_ui["backend"], [set_ui["backend"], set_ui["status"]]
        )
        gr.api(chat.answer_json, api_name="answer")
    return demo


def _chat_tab(s: Settings) -> dict:
    with gr.Column(elem_id="examples") as examples_box:
        heading = gr.HTML("")
        with gr.Row(elem_classes="example-row"):
            buttons = [
                gr.Button("", visible=False, size="md", elem_classes="example-q", scale=0)
                for _ in range(N_EXAMPLES)
            ]
    chatbot = gr.Chatbot(
        elem_id="chat",
        show_label=False,
        height="62vh",
        min_height=320,
        sanitize_html=True,
        render_markdown=True,
        latex_delimiters=[],
        feedback_options=None,
        buttons=["copy"],
        placeholder=(
            "**Ask anything about the indexed articles.**\n\n"
            "Each sentence of an answer is quoted from an article; click a marker like **[1]** "
            "to see the passage it comes from. Follow-up questions keep the context."
        ),
        allow_tags=False,
        layout="panel",
    )
    with gr.Row(elem_id="ask-row", equal_height=True):
        box = gr.Textbox(
            show_label=False,
            placeholder="Ask about the articles…",
            max_length=s.max_question_chars,
            lines=1,
            max_lines=6,
            scale=8,
            autofocus=True,
            elem_id="question",
            submit_btn=False,
        )
        ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
    with gr.Row(elem_id="chat-actions"):
        new = gr.Button("New chat", size="sm", variant="secondary", elem_id="new-chat", scale=0)
    return {
        "chatbot": chatbot,
        "box": box,
        "ask": ask,
        "new": new,
        "examples": buttons,
        "examples_heading": heading,
        "examples_box": examples_box,
    }


def _library_tab(s: Settings) -> dict:
    ui: dict = {}
    with gr.Row(equal_height=True, elem_id="library-bar"):
        ui["summary"] = gr.Markdown(elem_id="library-summary")
        ui["filter"] = gr.Textbox(
            show_label=False,
            placeholder="Filter by title or source",
            elem_id="library-filter",
            scale=1,
            min_width=200,
        )
    ui["table"] = gr.HTML(elem_id="library-table")
    ui["report"] = gr.HTML(elem_id="library-report")
    if s.read_only:
        gr.HTML(
            '<div class="report warn"><div class="report-head">This library is read-only: '
            "articles cannot be added or removed here.</div></div>"
        )
        ui.update(choice=gr.Dropdown(visible=False), folder=gr.Dropdown(visible=False))
        ui["feeds"] = feeds_tab.feeds_section(read_only=True)
        return ui
    with gr.Row(elem_id="remove-row", equal_height=False):
        ui["choice"] = gr.Dropdown(
            label="Remove an article (type to search)",
            choices=[],
            allow_custom_value=True,  # an id, path or URL typed in works like the CLI
            scale=5,
            elem_id="remove-choice",
        )
        ui["remove"] = gr.Button(
            "Remove…", variant="stop", size="md", scale=1, min_width=110, elem_id="remove"
        )
    with gr.Row(visible=False, elem_id="confirm-row", equal_height=True) as ui["confirm_row"]:
        ui["confirm_text"] = gr.HTML(elem_id="confirm-text")
        ui["confirm"] = gr.Button("Yes, remove it", variant="stop", scale=0, elem_id="confirm")
        ui["cancel"] = gr.Button("Cancel", scale=0, elem_id="cancel")
    gr.HTML('<div class="section-head">Add articles</div>')
    with gr.Row(equal_height=False):
        with gr.Column(min_width=280):
            kinds = sorted(supported_suffixes())
            ui["files"] = gr.File(
                label=f"Upload files ({' '.join(kinds)}; up to "
                f"{s.max_upload_bytes // (1024 * 1024)} MB each)",
                file_count="multiple",
                file_types=kinds,
                type="filepath",
                elem_id="upload",
                height=190,
            )
            ui["add_files"] = gr.Button("Add files", variant="primary", elem_id="add-files")
        with gr.Column(min_width=280):
            ui["title"] = gr.Textbox(label="Title (optional)", elem_id="paste-title")
            ui["text"] = gr.Textbox(
                label="Paste article text", lines=4, max_lines=14, elem_id="paste-text"
            )
            ui["add_text"] = gr.Button("Add text", variant="primary", elem_id="add-text")
    gr.HTML('<div class="section-head">Re-index a folder</div>')
    with gr.Row(equal_height=False, elem_id="reindex-row"):
        ui["folder"] = gr.Dropdown(
            label="New and changed files in the folder are indexed; unchanged ones are skipped",
            choices=[],
            allow_custom_value=_is_private(s),
            scale=5,
            elem_id="folder",
        )
        ui["reindex"] = gr.Button("Re-index", scale=1, min_width=110, elem_id="reindex")
    ui["feeds"] = feeds_tab.feeds_section(read_only=False)
    return ui


def _settings_tab(assistant: Assistant) -> dict:
    s = assistant.settings
    k = gr.Slider(1, 20, value=s.k, step=1, label="Passages retrieved per question", elem_id="k")
    backend = gr.Dropdown(
        choices=assistant.answerer_names(),
        value=s.answerer,
        label="Answerer backend",
        info="extractive quotes article sentences; LLM backends write answers and cite them",
        elem_id="backend",
    )
    scores = gr.Checkbox(value=s.show_scores, label="Show relevance scores", elem_id="scores")
    with gr.Row(equal_height=True):
        since = gr.Textbox(
            label="Articles published since", placeholder="YYYY-MM-DD", elem_id="since"
        )
        until = gr.Textbox(label="until", placeholder="YYYY-MM-DD", elem_id="until")
    period = gr.State(("", ""))
    for box in (since, until):
        box.change(lambda a, b: (a, b), [since, until], period, api_name=False, queue=False)
    status = gr.HTML()
    gr.Markdown(
        f"Index: `{Path(s.index_dir).name}` · embedding model: `{s.embedding_model}` · "
        f"questions up to {s.max_question_chars:,} characters. "
        "These settings apply to this browser tab only."
    )
    return {
        "k": k,
        "backend": backend,
        "scores": scores,
        "status": status,
        "period": period,
    }


def _wire_chat(chat: ChatHandlers, ui: dict, settings_ui: dict, context) -> None:
    inputs = [
        ui["box"],
        ui["chatbot"],
        context,
        settings_ui["k"],
        settings_ui["backend"],
        settings_ui["scores"],
        settings_ui["period"],  # a State: not a parameter of the /ask API
    ]
    outputs = [ui["box"], ui["chatbot"], context, ui["examples_box"]]
    ui["box"].submit(chat.respond, inputs, outputs, api_name="ask")
    ui["ask"].click(chat.respond, inputs, outputs, api_name=False)
    for button in ui["examples"]:
        button.click(chat.respond, [button, *inputs[1:]], outputs, api_name=False)
    ui["new"].click(
        chat.new_chat,
        None,
        [ui["chatbot"], context, ui["box"], ui["examples_box"]],
        api_name="new_chat",
        queue=False,
    )


def _wire_library(library: LibraryHandlers, ui: dict, refresh_outputs: list, read_only: bool):
    if read_only:
        return  # no write events exist at all, so the API cannot reach them either
    writes = {"concurrency_limit": 1, "concurrency_id": "library-writes"}
    ui["add_files"].click(
        library.add_files, ui["files"], [ui["report"], ui["files"]], api_name="add_files", **writes
    ).then(library.refresh, ui["filter"], refresh_outputs, api_name=False, show_progress="hidden")
    ui["add_text"].click(
        library.add_text,
        [ui["title"], ui["text"]],
        [ui["report"], ui["title"], ui["text"]],
        api_name="add_text",
        **writes,
    ).then(library.refresh, ui["filter"], refresh_outputs, api_name=False, show_progress="hidden")
    ui["reindex"].click(
        library.reindex, ui["folder"], ui["report"], api_name="reindex_folder", **writes
    ).then(library.refresh, ui["filter"], refresh_outputs, api_name=False, show_progress="hidden")
    ui["remove"].click(
        library.ask_remove,
        ui["choice"],
        [ui["confirm_row"], ui["confirm_text"], ui["report"]],
        api_name=False,
    )
    ui["cancel"].click(lambda: gr.update(visible=False), None, ui["confirm_row"], api_name=False)
    ui["confirm"].click(
        library.remove,
        ui["choice"],
        [ui["confirm_row"], ui["report"]],
        api_name="remove",
        **writes,
    ).then(library.refresh, ui["filter"], refresh_outputs, api_name=False, show_progress="hidden")


def _is_private(s: Settings) -> bool:
    """Loopback-only or behind a login: then any server folder may be re-indexed."""
    return s.host in {"127.0.0.1", "localhost", "::1"} or s.auth is not None


def theme() -> gr.themes.Base:
    """A calm theme with the fonts Gradio ships (nothing is fetched from a CDN)."""
    return gr.themes.Default(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate")


def launch_options(settings: Settings) -> dict:
    """Keyword arguments for ``Blocks.launch``: server, login, limits, guards, styling."""
    from starlette.middleware import Middleware

    auth = settings.auth.get_secret_value() if settings.auth else None
    return {
        "server_name": settings.host,
        "server_port": settings.port,
        "auth": make_auth(parse_users(auth)) if auth else None,
        "auth_message": "Sign in to use the news assistant." if auth else None,
        "max_file_size": settings.max_upload_bytes,
        "allowed_paths": [],
        "blocked_paths": _blocked_paths(settings),
        "app_kwargs": {
            "middleware": [
                Middleware(
                    RequestGuard, upload_dir=gradio_upload_folder(), read_only=settings.read_only
                )
            ]
        },
        "theme": theme(),
        "css_paths": [STATIC / "app.css"],
        "show_error": False,
        "footer_links": ["api"],
        "ssr_mode": False,
        "pwa": False,
        "mcp_server": False,
        "enable_monitoring": False,
    }


def _blocked_paths(settings: Settings) -> list[str]:
    """Never served, whatever Gradio would otherwise allow: the index, uploads, secrets and
    the project's own files."""
    project = Path(__file__).resolve().parents[2]
    paths = [
        Path(settings.index_dir),
        settings.upload_folder,
        Path.cwd() / ".env",
        project / ".env",
        project / "assistant",
        project / "tests",
        project / ".git",
        project / "pyproject.toml",
    ]
    return [str(p.resolve()) for p in paths]


def launch(settings: Settings, assistant: Assistant | None = None, **overrides):
    """Build the assistant and serve the UI on ``settings.host:settings.port``."""
    options = {**launch_options(settings), **overrides}  # a bad ASSISTANT_AUTH fails first
    for warning in deployment_warnings(
        settings.host, settings.auth is not None, settings.read_only
    ):
        print(f"warning: {warning}", file=sys.stderr)
    assistant = assistant or Assistant(settings)
    demo = build_app(assistant)
    if settings.feeds_refresh_minutes and not settings.read_only:
        from assistant.library.watch import start_background

        allowed = feeds_tab.private_fetches_allowed(settings)
        demo.feed_refresh = start_background(assistant, settings.feeds_refresh_minutes, allowed)
    demo.queue(
        max_size=settings.queue_max_size, default_concurrency_limit=settings.concurrency_limit
    )
    demo.launch(**options)
    return demo
