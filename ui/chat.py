"""Answer -> chat: the Gradio face of the one Assistant, with a source panel and index controls."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from rag import Answer, Assistant, IndexMissing, RagError, Rebuilder, RebuildStatus, Turn, catalog
from ui.conversation import restored, stored
from ui.models import without_paths
from ui.render import (
    citation_label,
    count,
    escape_markdown,
    format_answer,
    passage_html,
    plain_answer,
    source_html,
)
from ui.uploads import UploadRejected, delete_source, save_upload

__all__ = ["CSS", "SEED_EXAMPLES", "Chat", "format_answer"]

SEED_EXAMPLES = (
    "How many North Korean troops were moved into Russia's Kursk region?",
    "What military technology is North Korea mass-producing?",
    "Who won the 2022 football World Cup?",
)
POLL_S = 0.3
QUEUE_PER_SLOT = 8
CSS = """
.rag-refusal { border-left: 4px solid #d97706; background: #fffbeb; color: #78350f;
  padding: .5em .8em; border-radius: 4px; }
.rag-query, .rag-citations { color: #6b7280; font-size: .85em; }
.rag-passage, .rag-fulltext { white-space: pre-wrap; line-height: 1.5; }
.rag-fulltext { max-height: 24em; overflow-y: auto; }
.rag-source-title { font-weight: 600; }
.rag-cite { font-weight: 600; cursor: pointer; color: #2563eb; white-space: nowrap; }
.rag-cite:hover, .rag-cite:focus { text-decoration: underline; }
.rag-source-file { color: #6b7280; font-size: .85em; margin-bottom: .5em; }
/* dark text on yellow, in the light and the dark theme alike */
mark { background: #fde047; color: #1f2937; padding: 0 .1em; }
"""
Messages = list[dict[str, str]]


class Chat:
    """The chat's event handlers, over one Assistant and one Rebuilder."""

    def __init__(self, assistant: Assistant, rebuilder: Rebuilder, upload_folder: Path) -> None:
        self.assistant = assistant
        self.rebuilder = rebuilder
        self.upload_folder = upload_folder.resolve()

    def respond(
        self,
        question: str,
        messages: Messages,
        turns: list[Turn],
        answers: list[Answer | None],
        top_k: float | None = None,
        max_quotes: float | None = None,
        strictness: float | None = None,
    ) -> tuple[Any, ...]:
        """Ask the question with the conversation so far; show the answer and its first quote.

        Args:
            top_k, max_quotes, strictness: this session's settings (the refusal threshold is
                the strictness); None keeps the server's.
        """
        question = question.strip()
        limit = self.assistant.settings.max_question_chars
        if not question:
            return (question, messages, turns, answers, *self.select(None, None))
        answer: Answer | None = None
        if len(question) > limit:
            reply = f"The question is longer than {limit} characters; please shorten it."
        else:
            try:
                answer = self.assistant.ask(
                    question,
                    turns,
                    top_k=int(top_k) if top_k else None,
                    max_quotes=int(max_quotes) if max_quotes else None,
                    threshold=strictness,
                )
                reply = format_answer(answer)
            except RagError as err:
                reply = escape_markdown(_unavailable(err))
        messages = [
            *messages,
            {"role": "user", "content": escape_markdown(question)},
            {"role": "assistant", "content": reply},
        ]
        if answer is not None:
            turns = [*turns, Turn("user", question), Turn("assistant", answer.text)]
        return ("", messages, turns, [*answers, answer], *self.select(answer, 0))

    def select(self, answer: Answer | None, index: int | None) -> tuple[Any, ...]:
        """Return the shown answer, its citation choices, the views of one citation, and the
        answer as plain text (what "Copy answer" copies)."""
        quotes = answer.quotes if answer else ()
        choices = [(citation_label(n, q), i) for i, (n, q) in enumerate(enumerate(quotes, 1))]
        value = index if index is not None and index < len(quotes) else None
        passage, full = self.citation(answer, value)
        radio = gr.Radio(choices=choices, value=value)
        return answer, radio, passage, full, plain_answer(answer)

    def citation(self, answer: Answer | None, index: int | None) -> tuple[str, str]:
        """Return the passage and the whole-source HTML for one citation of an answer."""
        if answer is None or index is None or index >= len(answer.quotes):
            return "<p class='rag-source-file'>Pick a citation to see its passage.</p>", ""
        quote = answer.quotes[index]
        try:
            source = self.assistant.store.sources.get(quote.source)
        except RagError:
            source = None
        return passage_html(source, quote), source_html(source, quote)

    def clear(self) -> tuple[Any, ...]:
        """Forget the conversation: its turns, its answers and the citation shown."""
        return ([], [], *self.select(None, None))

    def new_chat(self) -> tuple[Any, ...]:
        """Start over: no messages, and nothing of the last conversation."""
        return ([], *self.clear())

    def restore(self, saved: Any) -> tuple[Any, ...]:
        """Show the conversation the browser kept, its last answer's first citation open."""
        messages, turns, answers = restored(saved)
        last = next((a for a in reversed(answers) if a is not None), None)
        return (messages, turns, answers, *self.select(last, 0 if last else None))

    def keep(
        self, messages: Messages, turns: list[Turn], answers: list[Answer | None]
    ) -> dict[str, list[Any]]:
        """Return what the browser keeps of the conversation."""
        return stored(messages, turns, answers)

    def pick_message(self, answers: list[Answer | None], message: int) -> tuple[Any, ...]:
        """Show the citations of the answer a clicked chat message belongs to."""
        answer = answers[message // 2] if 0 <= message // 2 < len(answers) else None
        return self.select(answer, 0)

    def upload(self, paths: Sequence[str] | None) -> str:
        """Save uploaded files into the first source folder; report each.

        Only files in this server's upload folder are read: an event's payload names paths,
        and a forged one must not turn a server file into a source.
        """
        settings = self.assistant.settings
        lines = []
        for path in paths or ():
            name = Path(path).name
            try:
                if not Path(path).resolve().is_relative_to(self.upload_folder):
                    raise UploadRejected("not a file uploaded to this chat")
                data = Path(path).read_bytes()
                saved = save_upload(settings.source_dirs[0], name, data, settings.upload_max_bytes)
                lines.append(
                    f"Saved {name}." if saved.id == name else f"Saved {name} as {saved.id}."
                )
            except UploadRejected as err:
                lines.append(f"Refused {name}: {err}")
        return escape_markdown("\n".join(lines) or "No file chosen.")

    def rebuild(self, progress: gr.Progress) -> tuple[str, str]:
        """Rebuild the index with a progress bar; return the counts and the new status."""
        while not self.rebuilder.start():
            self._follow(progress)  # a build already running may predate the latest upload
        return _report(self._follow(progress)), self.status()

    def rebuild_after_upload(self, uploaded: str, progress: gr.Progress) -> tuple[str, str]:
        """Rebuild after an upload, keeping what the upload said (a refusal stays in view).

        Nothing saved, nothing to rebuild: the upload's report is all there is to show.
        """
        if not any(line.startswith("Saved ") for line in uploaded.splitlines()):
            return uploaded, self.status()
        counts, status = self.rebuild(progress)
        return f"{uploaded}\n\n{counts}", status

    def _follow(self, progress: gr.Progress) -> RebuildStatus:
        while (current := self.rebuilder.status()).state == "running":
            fraction = current.done / current.total if current.total else 0.0
            progress(fraction, desc=f"{current.stage} {current.done}/{current.total}")
            time.sleep(POLL_S)
        return current

    def sources(self) -> tuple[Any, ...]:
        """Return the Sources tab's table (one row a source) and the choices to delete."""
        store = self.assistant.store if self.assistant.ready else None
        report = self.rebuilder.status().report  # what the last build could not read
        entries = catalog(self.assistant.settings, store, report.skipped if report else ())
        rows = [
            [
                e.id,
                e.title or "",
                Path(e.id).suffix.lstrip(".").upper(),
                _size(e.size),
                e.chunks,
                "yes" if e.indexed else "no",
                without_paths(e.problem or ""),
            ]
            for e in entries
        ]
        choices = [e.id for e in entries if e.on_disk]
        return rows, gr.Dropdown(choices=choices, value=None)

    def delete(self, source_id: str | None, progress: gr.Progress) -> tuple[Any, ...]:
        """Delete a source's file, rebuild, and show the sources and the index again."""
        if not source_id:
            return (escape_markdown("Pick a source to delete."), *self.sources(), self.status())
        try:
            delete_source(self.assistant.settings.source_dirs, source_id)
        except (UploadRejected, FileNotFoundError):
            note = f"{source_id} is no longer there."
        else:
            counts, _status = self.rebuild(progress)
            note = f"Deleted {source_id}. {counts}"
        return (escape_markdown(note), *self.sources(), self.status())

    def status(self) -> str:
        """Describe the index being served and any rebuild under way."""
        current = self.rebuilder.status()
        if current.state == "running":
            work = f"{current.stage} {current.done}/{current.total}"
            served = f"generation {self.assistant.generation}" if self.assistant.ready else "none"
            return escape_markdown(f"Building the index ({work}); serving: {served}.")
        if not self.assistant.ready:
            return escape_markdown("No index yet: rebuild it below.")
        store = self.assistant.store
        return escape_markdown(
            f"Index generation {store.generation}: {count(len(store.sources), 'source')}, "
            f"{count(len(store.chunks), 'passage')}."
        )


def _unavailable(err: RagError) -> str:
    if isinstance(err, IndexMissing):
        return "No index is ready yet. It is being built: try again in a moment."
    return f"The index cannot be used now: {err.public}."


def _size(size: int | None) -> str:
    if size is None:
        return ""
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{max(1, size // 1000)} kB"


def _report(current: RebuildStatus) -> str:
    report = current.report
    if current.state == "failed" or report is None:
        return escape_markdown(f"Rebuild failed: {without_paths(current.error or 'unknown error')}")
    if not report.published:
        return escape_markdown(f"Nothing changed: generation {report.generation} still serves.")
    return escape_markdown(
        f"Generation {report.generation}: {count(report.sources, 'source')}, "
        f"{count(report.chunks, 'passage')} "
        f"({report.added} added, {report.changed} changed, {report.removed} removed, "
        f"{report.unchanged} unchanged, {len(report.skipped)} skipped; {report.embedded} embedded) "
        f"in {report.seconds:.1f} s."
    )
