"""Evaluation and training: `rag eval` and `rag train` (imported by module, not here)."""
