"""Questions over HTTP: /ask answers with quotes or refuses, /search returns passages."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from rag import Assistant, Turn
from ui import models as m
from ui.errors import declared


def answer_routes(assistant: Assistant) -> APIRouter:
    """Return /ask and /search."""
    settings = assistant.settings
    router = APIRouter()

    @router.post("/ask", response_model=m.AskResponse, responses=declared(413, 422, 503))
    def ask(body: m.AskRequest) -> m.AskResponse:
        question = _checked(body.question, settings.max_question_chars)
        history = [Turn(turn.role, turn.content) for turn in body.history]
        return m.AskResponse.of(assistant.ask(question, history, body.top_k))

    @router.post("/search", response_model=m.SearchResponse, responses=declared(413, 422, 503))
    def search(body: m.SearchRequest) -> m.SearchResponse:
        query = _checked(body.query, settings.max_question_chars)
        generation = assistant.generation
        hits = assistant.search(query, body.k or settings.top_k)
        return m.SearchResponse(
            query=query, generation=generation, hits=[m.HitOut.of(h) for h in hits]
        )

    return router


def _checked(text: str, max_chars: int) -> str:
    """Return the question stripped; its length counts as sent, as the OpenAPI document says."""
    question = text.strip()
    if not question:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the question is empty")
    if len(text) > max_chars:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the question is longer than {max_chars} characters",
        )
    return question
