"""rag: answers only with verbatim, cited quotes from its sources."""
