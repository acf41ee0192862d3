"""Text -> sentences and passages with offsets, terms, and standalone follow-up queries."""

from rag.text.chunking import chunk, index_text, split_sentences
from rag.text.followup import names, standalone_query
from rag.text.lexicon import Lexicon

__all__ = [
    "Lexicon",
    "chunk",
    "index_text",
    "names",
    "split_sentences",
    "standalone_query",
]
