"""Word (.docx) bytes -> text: paragraphs, list items and table rows in document order.

Paragraphs are separated by blank lines; a list paragraph starts with "• " and table rows
are one line each, cells joined by " | ", so that the sentence splitter keeps items and rows
apart (rag/text/blocks.py). The title is the document's Title property, else its first
Title or Heading 1 paragraph, else its first line.
"""

from __future__ import annotations

import io
import zipfile

from rag.errors import SourceError
from rag.sources.titles import first_line

# A .docx is a zip: refuse one whose parts would unpack to more than this (a zip bomb).
MAX_UNPACKED_BYTES = 200_000_000
_TITLE_STYLES = ("Title", "Heading 1")


def extract_docx(file_id: str, data: bytes) -> tuple[str, str]:
    """Return a Word document's text and title, or raise SourceError saying why not."""
    import docx  # python-docx: loaded only when a .docx is read
    from docx.table import Table

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_UNPACKED_BYTES:
            raise SourceError(f"{file_id}: unpacks to more than {MAX_UNPACKED_BYTES} bytes")
        document = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        headings: list[str] = []
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                rows = (" | ".join(" ".join(c.text.split()) for c in r.cells) for r in item.rows)
                blocks.append("\n".join(row for row in rows if row.strip(" |")))
                continue
            text = " ".join(item.text.split())
            style = item.style.name if item.style is not None else ""
            if text and style in _TITLE_STYLES:
                headings.append(text)
            blocks.append(f"• {text}" if text and "List" in style else text)
        title = (document.core_properties.title or "").strip()
    except SourceError:
        raise
    except Exception as err:  # python-docx and zipfile raise many types on damaged files
        raise SourceError(
            f"{file_id}: unreadable Word file ({err or 'damaged file'})"[:300]
        ) from err
    text = "\n\n".join(b for b in blocks if b.strip())
    return text, title or (headings[0] if headings else first_line(text))
