"""Answer / Quote -> chat markdown and source-panel HTML, with every source character as text."""

from __future__ import annotations

import html
import re

from rag import Answer, Quote, Source

# The ASCII punctuation markdown could act on (CommonMark lets each be backslash-escaped);
# `<`, `>` and `&` become HTML entities instead, as a backslash would keep an entity literal.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:$@=^])")
# Characters of HTML that a client-side template engine could read as an expression.
_TEMPLATE_CHARS = str.maketrans({"{": "&#123;", "}": "&#125;", "$": "&#36;", "`": "&#96;"})
_LEADING_BLANKS = re.compile(r"^[ \t]+", re.MULTILINE)
CONTEXT_CHARS = 400


def escape_markdown(text: str) -> str:
    """Return markdown that renders as exactly `text`: no links, images, HTML or emphasis."""
    escaped = html.escape(_MARKDOWN_PUNCTUATION.sub(r"\\\1", text), quote=False)
    # Leading blanks would start an indented code block, where escapes are shown verbatim.
    return _LEADING_BLANKS.sub(lambda m: "&nbsp;" * len(m.group()), escaped)


def escape_html(text: str) -> str:
    """Return HTML that renders as exactly `text`."""
    return html.escape(text, quote=True).translate(_TEMPLATE_CHARS)


def citation_label(number: int, quote: Quote) -> str:
    """Return the short label of a numbered citation."""
    page = f" · p. {quote.page}" if quote.page is not None else ""
    section = f" · § {quote.section}" if quote.section else ""
    where = f"{quote.source}{page}{section}"
    return f"[{number}] {quote.title} · {where}, characters {quote.start}–{quote.end}"


def citation_marker(number: int, quote: Quote) -> str:
    """Return the clickable [n] after a quote: it opens that citation in the source panel.

    (The page's script finds the citation by its label, the message's nth citation line.)
    """
    where = escape_html(f"{quote.title} · {quote.source}")
    return (
        f"<span class='rag-cite' role='button' tabindex='0' title='Show {where}'>[{number}]</span>"
    )


def format_answer(answer: Answer) -> str:
    """Present an answer as markdown: block quotes with numbered citations, or a refusal.

    Quotes are escaped markdown; the text inside our own HTML blocks is escaped HTML, since
    markdown inside an HTML block is not parsed (its backslashes would show).
    """
    lines: list[str] = []
    if answer.query and answer.query != answer.question:
        lines.append(f"<p class='rag-query'>Searched for: {escape_html(answer.query)}</p>\n")
    if answer.refused:
        lines.append(f"<div class='rag-refusal'>⊘ {escape_html(answer.text)}</div>")
        return "\n".join(lines)
    if answer.short_answer and answer.short_answer_sure:  # only when the reader is confident
        lines.append(f"**{escape_markdown(answer.short_answer)}**\n")
    for number, quote in enumerate(answer.quotes, start=1):
        body = "\n> ".join(escape_markdown(line) for line in quote.text.splitlines())
        lines.append(f"> {body} {citation_marker(number, quote)}\n")
    lines.append(
        "<div class='rag-citations'>"
        + "<br>".join(
            escape_html(citation_label(n, q)) for n, q in enumerate(answer.quotes, start=1)
        )
        + "</div>"
    )
    return "\n".join(lines)


def passage_html(source: Source | None, quote: Quote) -> str:
    """Present a quote inside its surrounding passage, the quoted span highlighted exactly."""
    header = (
        f"<div class='rag-source-title'>{escape_html(quote.title)}</div>"
        f"<div class='rag-source-file'>{escape_html(quote.source)} · characters "
        f"{quote.start}–{quote.end}</div>"
    )
    if source is None or source.text[quote.start : quote.end] != quote.text:
        return (
            header + "<p class='rag-stale'>This source has changed since the answer; the quote "
            f"as cited:</p><div class='rag-passage'><mark>{escape_html(quote.text)}</mark></div>"
        )
    text = source.text
    start = max(text.rfind("\n", 0, quote.start) + 1, quote.start - CONTEXT_CHARS)
    end = text.find("\n", quote.end)
    end = min(len(text) if end < 0 else end, quote.end + CONTEXT_CHARS)
    before = ("…" if start > 0 and text[start - 1] != "\n" else "") + text[start : quote.start]
    after = text[quote.end : end] + ("…" if end < len(text) and text[end] != "\n" else "")
    return (
        header + f"<div class='rag-passage'>{escape_html(before)}<mark>{escape_html(quote.text)}"
        f"</mark>{escape_html(after)}</div>"
    )


def source_html(source: Source | None, quote: Quote) -> str:
    """Present the whole source text, the quoted span highlighted when it still matches."""
    if source is None:
        return "<p>This source is no longer in the index.</p>"
    text = source.text
    if text[quote.start : quote.end] != quote.text:
        return f"<div class='rag-fulltext'>{escape_html(text)}</div>"
    return (
        f"<div class='rag-fulltext'>{escape_html(text[: quote.start])}"
        f"<mark>{escape_html(quote.text)}</mark>{escape_html(text[quote.end :])}</div>"
    )


def plain_answer(answer: Answer | None) -> str:
    """Return an answer as plain text to copy: the verbatim quotes, then their citations."""
    if answer is None:
        return ""
    if answer.refused:
        return answer.text
    quotes = "\n".join(f"“{q.text}” [{n}]" for n, q in enumerate(answer.quotes, start=1))
    cited = "\n".join(citation_label(n, q) for n, q in enumerate(answer.quotes, start=1))
    return f"{quotes}\n\n{cited}"


def count(number: int, noun: str) -> str:
    """Return "1 source", "2 sources": a number with its noun."""
    return f"{number} {noun}{'' if number == 1 else 's'}"
