"""Reading -> Answer: verbatim quotes with citations, or a refusal."""

from rag.answering.grounding import REFUSAL, Policy, answer

__all__ = [
    "REFUSAL",
    "Policy",
    "answer",
]
