"""The chat's page: conversation, source panel, upload and rebuild, wired to `Chat`'s handlers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag import Answer, Assistant, Rebuilder
from ui.chat import QUEUE_PER_SLOT, SEED_EXAMPLES, Chat
from ui.conversation import EMPTY, STORAGE_KEY

# Scroll the whole-source box (not the page) so that its highlight sits a third of the way down:
# when the box opens, and whenever it shows another citation.
_SCROLL = """setTimeout(() => {
  const box = document.querySelector('#full-source .rag-fulltext');
  const mark = box && box.querySelector('mark');
  if (!mark) return;
  const offset = mark.getBoundingClientRect().top - box.getBoundingClientRect().top;
  box.scrollTop += offset - box.clientHeight / 3;
}, 100);"""
SCROLL_TO_MARK = f"() => {{ {_SCROLL} }}"
COPY_ANSWER = """() => {
  const box = document.querySelector('#answer-plain textarea');
  if (box && box.value) navigator.clipboard.writeText(box.value);
}"""
# A click on a quote's [n] shows citation n in the source panel: once the message's citations
# are listed (a click on the message lists them), the one with the nth label is picked.
CITATION_MARKERS = """() => {
  const open = (marker) => {
    const message = marker.closest('.message');
    const lines = message?.querySelector('.rag-citations')?.innerText.split('\\n') ?? [];
    const number = parseInt(marker.textContent.replace(/\\D/g, ''), 10);
    const label = (lines[number - 1] ?? '').trim();
    if (!label) return;
    const find = () => [...document.querySelectorAll('#citations label')]
      .find((l) => l.textContent.trim() === label);
    if (!find()) (message.querySelector('.selectable') ?? message).click();
    let tries = 0;
    const pick = () => {
      const target = find();
      if (target) target.click();
      else if (++tries < 50) setTimeout(pick, 100);
    };
    pick();
  };
  const handle = (event) => {
    const marker = event.target.closest && event.target.closest('.rag-cite');
    if (!marker) return;
    if (event.type === 'keydown' && event.key !== 'Enter' && event.key !== ' ') return;
    event.preventDefault();
    event.stopPropagation();
    open(marker);
  };
  document.addEventListener('click', handle, true);
  document.addEventListener('keydown', handle, true);
  window.ragCitationMarkers = true;
}"""
SCROLL_ON_CHANGE = f"watch(['value'], () => {{ {_SCROLL} }});"
UPLOAD_TYPES = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"]


@dataclass(frozen=True, slots=True)
class Views:
    """The page's components that events read or write."""

    status: gr.Markdown
    chatbot: gr.Chatbot
    question: gr.Textbox
    ask: gr.Button
    citations: gr.Radio
    passage: gr.HTML
    full: gr.HTML
    files: gr.File
    rebuild: gr.Button
    report: gr.Markdown
    plain: gr.Textbox
    new_chat: gr.Button
    page: gr.Blocks
    tuning: tuple[gr.Slider, gr.Slider, gr.Slider]


def build_ui(
    assistant: Assistant,
    rebuilder: Rebuilder,
    upload_folder: Path,
    examples: Sequence[str] = SEED_EXAMPLES,
) -> gr.Blocks:
    """Build the chat: conversation, source panel, upload and rebuild.

    Args:
        upload_folder: Gradio's upload folder; the chat reads uploads from there only.
    """
    chat = Chat(assistant, rebuilder, upload_folder)
    blocks = gr.Blocks(title="rag: quoted answers", analytics_enabled=False)
    with blocks:
        saved = gr.BrowserState(EMPTY, storage_key=STORAGE_KEY)  # the conversation, kept
        states = (gr.State([]), gr.State([]), gr.State(None), saved)  # turns, answers, shown
        gr.Markdown("## Ask the sources\nEvery answer is quoted word for word from a source.")
        status = gr.Markdown(chat.status, elem_id="index-status")
        with gr.Tabs():
            with gr.Tab("Chat", elem_id="chat-tab"), gr.Row():
                with gr.Column(scale=3):
                    chatbot, question, ask = _conversation(
                        examples, assistant.settings.max_question_chars
                    )
                    new_chat = gr.Button("New chat", elem_id="new-chat", size="sm")
                    tuning = _settings(assistant)
                with gr.Column(scale=2):
                    citations, passage, full, files, rebuild, report = _source_panel()
            with gr.Tab("Sources", elem_id="sources-tab") as sources_tab:
                _sources_tab(chat, sources_tab, status)
        plain = gr.Textbox(visible="hidden", elem_id="answer-plain")  # what Copy copies
        views = Views(
            status, chatbot, question, ask, citations, passage, full, files, rebuild, report, plain,
            new_chat, blocks, tuning,
        )  # fmt: skip
        _wire(chat, views, states, gr.Timer(2.0))
    # Past this many waiting events the chat answers "queue full" rather than queue for ever.
    blocks.queue(max_size=QUEUE_PER_SLOT * assistant.settings.max_answers_in_flight)
    return blocks


def _conversation(
    examples: Sequence[str], max_chars: int
) -> tuple[gr.Chatbot, gr.Textbox, gr.Button]:
    # Copies the answer shown (the last, or the one clicked) as plain text: verbatim quotes and
    # their citations, not the escaped Markdown of the message.
    copy = gr.Button("Copy answer", elem_id="copy-answer", size="sm", render=False)
    copy.click(None, None, None, js=COPY_ANSWER)
    chatbot = gr.Chatbot(
        label="Conversation",
        elem_id="chat",
        height=520,
        examples=[{"text": q} for q in examples],
        latex_delimiters=[],
        allow_tags=False,
        feedback_options=None,
        buttons=[copy],
        placeholder="Ask a question about the sources.",
    )
    with gr.Row():
        question = gr.Textbox(
            elem_id="question",
            show_label=False,
            placeholder="Ask a question…",
            scale=5,
            max_length=max_chars,
        )
        ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=1)
    return chatbot, question, ask


def _source_panel() -> tuple[gr.Radio, gr.HTML, gr.HTML, gr.File, gr.Button, gr.Markdown]:
    gr.Markdown("### Source")
    citations = gr.Radio(label="Citations", choices=[], elem_id="citations")
    passage = gr.HTML(elem_id="passage")
    with gr.Accordion("Whole source", open=False, elem_id="whole-source") as whole:
        full = gr.HTML(elem_id="full-source", js_on_load=SCROLL_ON_CHANGE)
    # Opened, the whole source shows the highlight, not the top of a long text.
    whole.expand(None, None, None, js=SCROLL_TO_MARK)
    with gr.Accordion("Sources and index", open=True):
        files = gr.File(
            label="Upload sources (.txt, .md, .html, .pdf, .docx)",
            file_count="multiple",
            file_types=UPLOAD_TYPES,
            elem_id="upload",
            height=120,
        )
        rebuild = gr.Button("Rebuild index", elem_id="rebuild")
        report = gr.Markdown(elem_id="rebuild-report")
    return citations, passage, full, files, rebuild, report


def _settings(assistant: Assistant) -> tuple[gr.Slider, gr.Slider, gr.Slider]:
    """This session's settings, starting from the server's."""
    settings = assistant.settings
    with gr.Accordion("Settings", open=False, elem_id="settings"):
        top_k = gr.Slider(1, 50, settings.top_k, step=1, label="Passages searched", elem_id="top-k")
        quotes = gr.Slider(
            1, 10, settings.max_quotes, step=1, label="Most quotes", elem_id="max-quotes"
        )
        strictness = gr.Slider(
            0.0,
            1.0,
            assistant.policy.threshold,
            step=0.01,
            label="Refusal strictness (higher refuses more readily)",
            elem_id="strictness",
        )
    return top_k, quotes, strictness


def _sources_tab(chat: Chat, tab: gr.Tab, status: gr.Markdown) -> None:
    """Every source with its title, format, size, passages and problems; delete one."""
    table = gr.Dataframe(
        headers=["File", "Title", "Format", "Size", "Passages", "Indexed", "Problem"],
        interactive=False,
        elem_id="sources-table",
        wrap=True,
    )
    with gr.Row():
        pick = gr.Dropdown(label="Source", choices=[], elem_id="source-pick", scale=3)
        delete = gr.Button("Delete", variant="stop", elem_id="delete-source", scale=1)
    note = gr.Markdown(elem_id="sources-note")

    def delete_with_progress(
        source_id: str | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        return chat.delete(source_id, progress)

    private: dict[str, Any] = {"api_visibility": "private"}
    tab.select(chat.sources, None, [table, pick], **private)
    delete.click(delete_with_progress, pick, [note, table, pick, status], **private)


def _wire(
    chat: Chat,
    v: Views,
    states: tuple[gr.State, gr.State, gr.State, gr.BrowserState],
    timer: gr.Timer,
) -> None:
    turns, answers, shown, saved = states

    def rebuild_with_progress(progress: gr.Progress = gr.Progress()) -> tuple[str, str]:  # noqa: B008
        return chat.rebuild(progress)

    def rebuild_after_upload(
        uploaded: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, str]:
        return chat.rebuild_after_upload(uploaded, progress)

    def pick_example(evt: gr.SelectData) -> str:
        return str(evt.value["text"])

    def pick_message(answers_now: list[Answer | None], evt: gr.SelectData) -> tuple[Any, ...]:
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        return chat.pick_message(answers_now, index)

    shown_views = [shown, v.citations, v.passage, v.full, v.plain]
    asked = [v.question, v.chatbot, turns, answers, *shown_views]
    conversation = [v.chatbot, turns, answers]
    private: dict[str, Any] = {"api_visibility": "private"}
    cheap: dict[str, Any] = {**private, "concurrency_limit": None}
    # One pool of workers for every way of asking; the rest are cheap look-ups.
    asking: dict[str, Any] = {**private, "concurrency_id": "ask", "concurrency_limit": 4}
    asking_inputs = [v.question, *conversation, *v.tuning]
    for trigger in (v.question.submit, v.ask.click):
        trigger(chat.respond, asking_inputs, asked, **asking).then(
            chat.keep, conversation, saved, **cheap
        )
    v.chatbot.example_select(pick_example, None, v.question, **private).then(
        chat.respond, asking_inputs, asked, **asking
    ).then(chat.keep, conversation, saved, **cheap)
    # The browser keeps the conversation: a reload shows it again; New chat starts over.
    v.page.load(chat.restore, saved, [*conversation, *shown_views], **cheap)
    v.new_chat.click(chat.new_chat, None, [*conversation, *shown_views], **cheap).then(
        chat.keep, conversation, saved, **cheap
    )
    v.chatbot.select(pick_message, [answers], shown_views, **cheap)
    v.citations.select(chat.citation, [shown, v.citations], [v.passage, v.full], **cheap)
    # A rebuild's progress shows on the index status line, not over the upload's report.
    building: dict[str, Any] = {**private, "show_progress_on": v.status}
    v.files.upload(chat.upload, v.files, v.report, **private).then(
        rebuild_after_upload, v.report, [v.report, v.status], **building
    )
    v.rebuild.click(rebuild_with_progress, None, [v.report, v.status], **building)
    # Clear empties the conversation and everything that belongs to it, citations included.
    cleared = [turns, answers, *shown_views]
    v.chatbot.clear(chat.clear, None, cleared, **cheap).then(
        chat.keep, conversation, saved, **cheap
    )
    timer.tick(chat.status, None, v.status, show_progress="hidden", **cheap)
